import type { ExportRange, JobKind, JobRecord, JobStatus, Resource } from "./job-record.ts";

/**
 * What must hold for a change to apply; a change whose condition fails changes nothing. Only the
 * job lifecycle (`lifecycle/`) builds these: every status change, lease and message sequence
 * check of every kind of job is one of its named transitions.
 */
export interface JobCondition {
  statusIn?: readonly JobStatus[];
  /** The lease must be held by this owner. */
  leaseHeldBy?: string;
  /** The lease must be free: absent or expired at this epoch millisecond. */
  leaseFreeAt?: number;
  /** The record's message sequence must not be above this. */
  seqAtMost?: number;
  /** The record's percentage must be below this (progress never falls). */
  percentageBelow?: number;
}

/** The one nightly export of an application, day and resource. */
export interface NightlyGuard {
  appId: string;
  day: string;
  resource: Resource;
  /** The job this run means to create. */
  jobId: string;
}

/**
 * Persistence of job records and nightly guards. Everything else depends on this interface,
 * never on DynamoDB: `dynamo-job-store.ts` is the service's, `memory-job-store.ts` the unit tests'.
 */
export interface JobStore {
  /** Stores a new record; false when a record with that id exists. */
  create(job: JobRecord): Promise<boolean>;
  get(appId: string, jobId: string): Promise<JobRecord | undefined>;
  /** One page (1-based) of an application's jobs of one kind, newest first. */
  list(appId: string, kind: JobKind, page: number, pageSize: number): Promise<JobRecord[]>;
  /**
   * How many of an application's jobs of one kind created at or after `since` (RFC 3339, as
   * `createdAt`) are still open (`started` or `processing`).
   */
  countOpen(appId: string, kind: JobKind, since: string): Promise<number>;
  /**
   * Applies `changes` (and removes `remove`) when the record exists and meets `condition`.
   * @returns the record after the change, or undefined when it is gone or the condition failed
   */
  update(
    appId: string,
    jobId: string,
    changes: Partial<JobRecord>,
    condition?: JobCondition,
    remove?: readonly (keyof JobRecord)[],
  ): Promise<JobRecord | undefined>;
  /** Deletes the record; returns it as it was, or undefined when there was none. */
  delete(appId: string, jobId: string): Promise<JobRecord | undefined>;
  /**
   * Claims a nightly guard: succeeds when nobody claimed it, or when the earlier claim was made
   * before `staleBefore` (epoch ms) and never led to a job.
   */
  claimNightly(guard: NightlyGuard, staleBefore: number): Promise<boolean>;
  /** Stores a parallel export's key range unless it exists; false when it did. */
  createRange(range: ExportRange): Promise<boolean>;
  getRange(appId: string, jobId: string, range: number): Promise<ExportRange | undefined>;
  /** As `update`, on a key range item. */
  updateRange(
    appId: string,
    jobId: string,
    range: number,
    changes: Partial<ExportRange>,
    condition?: JobCondition,
    remove?: readonly (keyof ExportRange)[],
  ): Promise<ExportRange | undefined>;
  /** Deletes a key range item; returns it as it was. */
  deleteRange(appId: string, jobId: string, range: number): Promise<ExportRange | undefined>;
  /** Marks a claimed guard as having created its job. */
  markNightlyCreated(guard: NightlyGuard): Promise<void>;
  /** Gives a claim up (only this run's own) so that a rerun tries again. */
  releaseNightly(guard: NightlyGuard): Promise<void>;
}
