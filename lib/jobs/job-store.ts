import type { JobKind, JobRecord, JobStatus } from "./job-record.ts";

/** Conditions a change must meet; a change whose condition fails changes nothing. */
export interface JobCondition {
  statusIn?: JobStatus[];
  /** The caller must hold the lease. */
  leaseOwner?: string;
  /** The lease must be free (absent or expired at this epoch millisecond). */
  leaseFreeAt?: number;
  /** The record's sequence must not be above this. */
  seqAtMost?: number;
}

/** Persistence of job records. Handlers and workers depend on this, not on DynamoDB. */
export interface JobStore {
  /** Stores a new record; false when a record with that id (or idempotency key) exists. */
  create(job: JobRecord): Promise<boolean>;
  get(appId: string, jobId: string): Promise<JobRecord | undefined>;
  /** One page (1-based) of an application's jobs of one kind, newest first. */
  list(appId: string, kind: JobKind, page: number, pageSize: number): Promise<JobRecord[]>;
  /**
   * Applies `changes` when the record exists and meets `condition`.
   * @returns the record after the change, or undefined when it is gone or the condition failed
   */
  update(
    appId: string,
    jobId: string,
    changes: Partial<JobRecord>,
    condition?: JobCondition,
    remove?: (keyof JobRecord)[],
  ): Promise<JobRecord | undefined>;
  /** Deletes the record; returns it as it was, or undefined when there was none. */
  delete(appId: string, jobId: string): Promise<JobRecord | undefined>;
}
