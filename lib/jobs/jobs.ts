import { randomUUID } from "node:crypto";
import { config } from "../config.ts";
import { NotFoundError } from "../errors.ts";
import { objectKey } from "./files.ts";
import type { JobKind, JobRecord, Resource } from "./job-record.ts";
import { jobStore } from "./job-store.ts";

export const PAGE_SIZE = 20;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when `id` has the shape of a job's unique id (a UUID). */
export function isJobId(id: string | undefined): id is string {
  return typeof id === "string" && UUID.test(id);
}

/** A fresh job record in status `started`. */
export function newJob(
  appId: string,
  kind: JobKind,
  resource: Resource,
  fields: Partial<JobRecord> & { originalFilename?: string } = {},
): JobRecord {
  const jobId = randomUUID();
  const now = new Date();
  const createdAt = now.toISOString();
  return {
    appId,
    jobId,
    kind,
    resource,
    status: "started",
    trigger: "api",
    createdAt,
    updatedAt: createdAt,
    originalFilename: "",
    objectKey: objectKey(kind, appId, jobId),
    percentage: 0,
    totalRows: 0,
    size: 0,
    errorMessage: "",
    seq: 0,
    expiresAt: Math.floor(now.getTime() / 1000) + config().retentionDays * 86400,
    ...fields,
  };
}

/** The application's job of this kind, or a 404 exactly like an id that never existed. */
export async function findJob(
  appId: string,
  kind: JobKind,
  jobId: string | undefined,
): Promise<JobRecord> {
  const job = isJobId(jobId) ? await jobStore().get(appId, jobId.toLowerCase()) : undefined;
  if (!job || job.kind !== kind) {
    throw new NotFoundError(`${kind} not found`, [
      `no ${kind} with unique_id "${String(jobId).slice(0, 64)}" in this application`,
    ]);
  }
  return job;
}

/** One page of the application's jobs of this kind, newest first. */
export function listJobs(appId: string, kind: JobKind, page: number): Promise<JobRecord[]> {
  return jobStore().list(appId, kind, page, PAGE_SIZE);
}
