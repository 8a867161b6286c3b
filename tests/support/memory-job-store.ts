import type { ExportRange, JobKind, JobRecord } from "../../lib/jobs/job-record.ts";
import type { JobCondition, JobStore, NightlyGuard } from "../../lib/jobs/job-store.ts";

type Guard = { jobId: string; state: "claimed" | "created"; claimedAt: number };

/**
 * Job records in memory with the same conditional-write semantics as the DynamoDB store: a write
 * applies only when the record exists and meets its condition; records are copies, never shared.
 */
export class MemoryJobStore implements JobStore {
  readonly jobs = new Map<string, JobRecord>();
  readonly guards = new Map<string, Guard>();
  readonly ranges = new Map<string, ExportRange>();

  private static key(appId: string, jobId: string): string {
    return `${appId}\u0000${jobId}`;
  }

  async create(job: JobRecord): Promise<boolean> {
    const key = MemoryJobStore.key(job.appId, job.jobId);
    if (this.jobs.has(key)) return false;
    this.jobs.set(key, structuredClone(job));
    return true;
  }

  async get(appId: string, jobId: string): Promise<JobRecord | undefined> {
    const job = this.jobs.get(MemoryJobStore.key(appId, jobId));
    return job && structuredClone(job);
  }

  async countOpen(appId: string, kind: JobKind, since: string): Promise<number> {
    return [...this.jobs.values()].filter(
      (job) =>
        job.appId === appId &&
        job.kind === kind &&
        job.createdAt >= since &&
        (job.status === "started" || job.status === "processing"),
    ).length;
  }

  async list(appId: string, kind: JobKind, page: number, pageSize: number): Promise<JobRecord[]> {
    return [...this.jobs.values()]
      .filter((job) => job.appId === appId && job.kind === kind)
      .sort((a, b) => `${b.createdAt}#${b.jobId}`.localeCompare(`${a.createdAt}#${a.jobId}`))
      .slice((page - 1) * pageSize, page * pageSize)
      .map((job) => structuredClone(job));
  }

  async update(
    appId: string,
    jobId: string,
    changes: Partial<JobRecord>,
    condition: JobCondition = {},
    remove: readonly (keyof JobRecord)[] = [],
  ): Promise<JobRecord | undefined> {
    const key = MemoryJobStore.key(appId, jobId);
    const job = this.jobs.get(key);
    if (!job || !meets(job, condition)) return undefined;
    const updated: JobRecord = { ...job, updatedAt: new Date().toISOString() };
    for (const [field, value] of Object.entries(structuredClone(changes))) {
      if (value !== undefined) (updated as unknown as Record<string, unknown>)[field] = value;
    }
    for (const field of remove) delete updated[field];
    this.jobs.set(key, updated);
    return structuredClone(updated);
  }

  async delete(appId: string, jobId: string): Promise<JobRecord | undefined> {
    const key = MemoryJobStore.key(appId, jobId);
    const job = this.jobs.get(key);
    this.jobs.delete(key);
    return job;
  }

  async createRange(range: ExportRange): Promise<boolean> {
    const key = `${range.appId}\u0000${range.jobId}\u0000${range.range}`;
    if (this.ranges.has(key)) return false;
    this.ranges.set(key, structuredClone(range));
    return true;
  }

  async getRange(appId: string, jobId: string, range: number): Promise<ExportRange | undefined> {
    const item = this.ranges.get(`${appId}\u0000${jobId}\u0000${range}`);
    return item && structuredClone(item);
  }

  async updateRange(
    appId: string,
    jobId: string,
    range: number,
    changes: Partial<ExportRange>,
    condition: JobCondition = {},
    remove: readonly (keyof ExportRange)[] = [],
  ): Promise<ExportRange | undefined> {
    const key = `${appId}\u0000${jobId}\u0000${range}`;
    const item = this.ranges.get(key);
    if (!item || !meets(item as unknown as JobRecord, condition)) return undefined;
    const updated: ExportRange = { ...item, ...structuredClone(changes) };
    for (const field of remove) delete updated[field];
    this.ranges.set(key, updated);
    return structuredClone(updated);
  }

  async deleteRange(appId: string, jobId: string, range: number): Promise<ExportRange | undefined> {
    const key = `${appId}\u0000${jobId}\u0000${range}`;
    const item = this.ranges.get(key);
    this.ranges.delete(key);
    return item;
  }

  async claimNightly(guard: NightlyGuard, staleBefore: number): Promise<boolean> {
    const key = `${guard.appId}\u0000${guard.day}\u0000${guard.resource}`;
    const existing = this.guards.get(key);
    if (existing && !(existing.state === "claimed" && existing.claimedAt < staleBefore)) {
      return false;
    }
    this.guards.set(key, { jobId: guard.jobId, state: "claimed", claimedAt: Date.now() });
    return true;
  }

  async markNightlyCreated(guard: NightlyGuard): Promise<void> {
    const existing = this.guards.get(`${guard.appId}\u0000${guard.day}\u0000${guard.resource}`);
    if (existing?.jobId !== guard.jobId) throw new Error("the guard is not this run's");
    existing.state = "created";
  }

  async releaseNightly(guard: NightlyGuard): Promise<void> {
    const key = `${guard.appId}\u0000${guard.day}\u0000${guard.resource}`;
    if (this.guards.get(key)?.jobId === guard.jobId) this.guards.delete(key);
  }
}

function meets(job: JobRecord, condition: JobCondition): boolean {
  if (condition.statusIn && !condition.statusIn.includes(job.status)) return false;
  if (condition.leaseHeldBy !== undefined && job.leaseOwner !== condition.leaseHeldBy) return false;
  if (
    condition.leaseFreeAt !== undefined &&
    job.leaseUntil !== undefined &&
    !(job.leaseUntil < condition.leaseFreeAt)
  ) {
    return false;
  }
  if (condition.seqAtMost !== undefined && !(job.seq <= condition.seqAtMost)) return false;
  if (condition.percentageBelow !== undefined && !(job.percentage < condition.percentageBelow)) {
    return false;
  }
  return true;
}
