import type { JobKind, JobRecord, Resource } from "./job-record.ts";

/**
 * The key layout of the jobs table, known here and nowhere else. One table holds three kinds of
 * item, all under the application's partition so that no application can reach another's:
 *
 * | item | pk | sk | listed by `by-created` |
 * |---|---|---|---|
 * | job record | app id | job id | `listKey` = `<app>#<kind>`, `listSort` = `<createdAt>#<job id>` |
 * | nightly guard | app id | `nightly#<day>#<resource>` | no |
 * | import upload | app id | `upload#<upload id>` | no |
| export key range | app id | `range#<job id>#<range>` | no |
 * | idempotency key | `#idempotency` | Powertools' hash of (kind, app, key) | no |
 * | fair-use counter | `#limit#<what>#<app or source>` | window number | no |
 *
 * `serverless.yml` declares the same attribute names (table, index and TTL attribute).
 */

/** Name of the index listing an application's jobs of one kind by creation time. */
export const LIST_INDEX = "by-created";

/** The attribute DynamoDB's TTL reads on every item (epoch seconds). */
export const EXPIRY_ATTRIBUTE = "expiresAt";

/** Where Powertools idempotency keeps its records in this table. */
export const IDEMPOTENCY_KEYS = {
  keyAttr: "pk",
  sortKeyAttr: "sk",
  staticPkValue: "#idempotency",
  expiryAttr: EXPIRY_ATTRIBUTE,
} as const;

export interface ItemKey {
  pk: string;
  sk: string;
}

/** The primary key of a job record. */
export function jobKey(appId: string, jobId: string): ItemKey {
  return { pk: appId, sk: jobId };
}

/** The partition of the list index holding one application's jobs of one kind. */
export function jobListKey(appId: string, kind: JobKind): string {
  return `${appId}#${kind}`;
}

/** A job record as stored: the record plus its table and index keys. */
export type JobItem = JobRecord & ItemKey & { listKey: string; listSort: string };

export function toJobItem(job: JobRecord): JobItem {
  return {
    ...job,
    ...jobKey(job.appId, job.jobId),
    listKey: jobListKey(job.appId, job.kind),
    listSort: `${job.createdAt}#${job.jobId}`,
  };
}

export function fromJobItem(item: Record<string, unknown> | undefined): JobRecord | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, listKey: _lk, listSort: _ls, ...job } = item as unknown as JobItem;
  return job;
}

/** The guard that lets one nightly export of (application, day, resource) exist. It has no list key. */
export function nightlyGuardKey(appId: string, day: string, resource: Resource): ItemKey {
  return { pk: appId, sk: `nightly#${day}#${resource}` };
}

/** An upload of a large import file; it lives beside the application's jobs, never listed with them. */
export function uploadKey(appId: string, uploadId: string): ItemKey {
  return { pk: appId, sk: `upload#${uploadId}` };
}

/** One key range of a parallel export; it lives beside its job, never listed with the jobs. */
export function rangeKey(appId: string, jobId: string, range: number): ItemKey {
  return { pk: appId, sk: `range#${jobId}#${range}` };
}

/** A fair-use counter of one window (`lib/http/window-counter.ts`); it expires with its window. */
export function limitCounterKey(name: string, window: number): ItemKey {
  return { pk: `#limit#${name}`, sk: String(window) };
}
