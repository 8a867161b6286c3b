import { randomUUID } from "node:crypto";
import { config } from "../../config.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "../job-queue.ts";
import type { ExportRange, JobRecord } from "../job-record.ts";
import { jobStore } from "../job-store.ts";
import { failureFields, LEASE_FIELDS, LeaseLostError, OPEN } from "./states.ts";

/**
 * Deletes the key range items of a deleted job (a planning invocation that lost its record
 * removes those it stored after the DELETE read the record). Returns those that existed.
 */
export async function removeRanges(
  appId: string,
  jobId: string,
  count: number,
): Promise<ExportRange[]> {
  const ranges: ExportRange[] = [];
  for (let range = 0; range < count; range += 1) {
    const removed = await jobStore().deleteRange(appId, jobId, range);
    if (removed) ranges.push(removed);
  }
  return ranges;
}

/** One invocation's hold on a key range of a parallel export. */
export class RangeLease {
  constructor(
    /** The job as last read. */
    public job: JobRecord,
    public range: ExportRange,
    readonly owner: string,
    readonly seq: number,
  ) {}

  private async write(
    changes: Partial<ExportRange>,
    remove: readonly (keyof ExportRange)[] = [],
  ): Promise<ExportRange> {
    const { appId, jobId, range } = this.range;
    const updated = await jobStore().updateRange(
      appId,
      jobId,
      range,
      changes,
      { statusIn: ["processing"], leaseHeldBy: this.owner },
      remove,
    );
    if (!updated) throw new LeaseLostError(`lost the lease on range ${range} of ${jobId}`);
    // The range's work ends with its job: deleted (cancelled) or ended by another range.
    const job = await jobStore().get(appId, jobId);
    if (job?.status !== "processing") throw new LeaseLostError(`export ${jobId} has ended`);
    this.job = job;
    this.range = updated;
    return updated;
  }

  /** Stores the range's position. */
  checkpoint(changes: Partial<ExportRange>): Promise<ExportRange> {
    return this.write(changes);
  }

  /** Queues the range's next message and gives the lease up with the sequence moved to it. */
  async handOver(): Promise<void> {
    const next = this.seq + 1;
    const { appId, jobId, range } = this.range;
    await sendJobMessage({ kind: "export", appId, jobId, seq: next, range });
    await this.write({ seq: next }, LEASE_FIELDS);
  }

  /** processing → finished: the range file is complete. */
  finish(changes: Partial<ExportRange>): Promise<ExportRange> {
    return this.write({ ...changes, status: "finished" }, LEASE_FIELDS);
  }

  /** Gives the lease up so that a retry can take the range at once. */
  async release(): Promise<void> {
    await this.write({}, LEASE_FIELDS).catch(() => undefined);
  }
}

/**
 * A key range: processing → processing under a new lease for `message`.
 * @returns the lease, or why there is none ("dropped": no such range or it is finished)
 */
export async function claimRange(
  message: JobMessage,
  clock: InvocationClock,
): Promise<RangeLease | "dropped" | "busy"> {
  const store = jobStore();
  const range = message.range ?? 0;
  const current = await store.getRange(message.appId, message.jobId, range);
  if (current?.status !== "processing" || message.seq < current.seq) return "dropped";
  const owner = randomUUID();
  const now = Date.now();
  const leased = await store.updateRange(
    message.appId,
    message.jobId,
    range,
    {
      seq: message.seq,
      leaseOwner: owner,
      leaseUntil: now + clock.getRemainingTimeInMillis() + config().leaseMarginMillis,
    },
    { statusIn: ["processing"], seqAtMost: message.seq, leaseFreeAt: now },
  );
  const job = await store.get(message.appId, message.jobId);
  if (leased && job?.status === "processing")
    return new RangeLease(job, leased, owner, message.seq);
  if (leased) return "dropped";
  const after = await store.getRange(message.appId, message.jobId, range);
  if (after?.status !== "processing" || message.seq < after.seq) return "dropped";
  return "busy";
}

/** A running job's percentage moves up to `percentage` (never down) without taking its lease. */
export async function raiseProgress(
  appId: string,
  jobId: string,
  percentage: number,
): Promise<void> {
  await jobStore().update(
    appId,
    jobId,
    { percentage },
    { statusIn: ["processing"], percentageBelow: percentage },
  );
}

/** processing → failed from a key range, which holds no lease on the job itself. */
export function failFromRange(message: JobMessage, reason: string): Promise<JobRecord | undefined> {
  return jobStore().update(
    message.appId,
    message.jobId,
    { ...failureFields(message.kind, reason), status: "failed" },
    { statusIn: OPEN },
    LEASE_FIELDS,
  );
}
