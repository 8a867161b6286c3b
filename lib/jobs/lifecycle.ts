import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { config } from "../config.ts";
import { logger } from "../observability.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "./job-queue.ts";
import type { ExportRange, ImportRowError, JobKind, JobRecord, JobStatus } from "./job-record.ts";
import { type JobCondition, jobStore } from "./job-store.ts";

/**
 * The life of every job, export or import:
 *
 * ```
 *            claim                     finish
 * started ─────────▶ processing ─────────────────▶ finished
 *    │                │  ▲  │
 *    │                │  └──┘ checkpoint, hand over (next message, next invocation)
 *    │ fail           │ fail
 *    └───────────────▶└──────────────────────────▶ failed
 * cancel (DELETE): the record is removed in any status; a worker holding the lease notices.
 * ```
 *
 * A parallel export's key ranges (`ExportRange` items) follow the same rules with their own lease
 * and sequence: processing → finished. The job's own lease is free while they run (the planning
 * invocation parks the job); the invocation that sees every range finished queues the job's next
 * message, whose holder joins the range files.
 *
 * Each transition below is one conditional write whose condition lives here and nowhere else.
 * Work on a job happens under a lease (owner + expiry on the record) taken by `claim`; every write
 * under it checks the owner, and throws `LeaseLostError` when the lease is gone.
 */

/** The status changes a job may make; a finished or failed job never changes again. */
export const ALLOWED_MOVES: Readonly<Record<JobStatus, readonly JobStatus[]>> = {
  started: ["processing", "failed"],
  processing: ["processing", "finished", "failed"],
  finished: [],
  failed: [],
};

/** Statuses from which a job can still move. */
export const OPEN: readonly JobStatus[] = ["started", "processing"];

/** True when a job may move from `from` to `to`. */
export function canMove(from: JobStatus, to: JobStatus): boolean {
  return ALLOWED_MOVES[from].includes(to);
}

/** What one delivery of a job message achieved. */
export type JobOutcome =
  /** The job ended `finished`. */
  | "finished"
  /** Time ran low: the position is on the record and a continuation message is queued. */
  | "continued"
  /** The job ended `failed` with a reason a user can read. */
  | "failed"
  /** The record was deleted while the job ran; what the job had begun is cleaned up. */
  | "cancelled"
  /** Nothing to do: no such job, the job has ended, or the message is older than the record. */
  | "dropped"
  /** Another invocation holds the job's lease; the message must be delivered again later. */
  | "busy";

/** A write under a lease found the lease gone: the job was deleted or another invocation took it. */
export class LeaseLostError extends Error {
  override name = "LeaseLostError";
}

/** The job cannot succeed however often it is retried; the message is what its user reads. */
export class PermanentJobError extends Error {
  override name = "PermanentJobError";

  constructor(
    message: string,
    readonly rowErrors: ImportRowError[] | null = null,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The fields that tell a user why a job failed: `error_message`, and an import's `errors`. */
export function failureFields(
  kind: JobKind,
  message: string,
  rowErrors: ImportRowError[] | null = null,
): Partial<JobRecord> {
  return {
    errorMessage: message,
    ...(kind === "import" ? { errors: { Message: message, Data: rowErrors } } : {}),
  };
}

const LEASE_FIELDS = ["leaseOwner", "leaseUntil"] as const;
const WORK_FIELDS = [...LEASE_FIELDS, "checkpoint"] as const;

/** A continuation may arrive before its sender released the lease: wait this long for it. */
const HANDOVER_WAIT_MS = 250;
const HANDOVER_ATTEMPTS = 20;

/** One invocation's hold on a job. Every write checks the hold and throws LeaseLostError without it. */
export class Lease {
  constructor(
    /** The record as this lease last wrote it. */
    public job: JobRecord,
    readonly owner: string,
    /** The sequence of the message this invocation is working on. */
    readonly seq: number,
  ) {}

  private async write(
    changes: Partial<JobRecord>,
    remove: readonly (keyof JobRecord)[] = [],
  ): Promise<JobRecord> {
    const condition: JobCondition = { statusIn: ["processing"], leaseHeldBy: this.owner };
    const updated = await jobStore().update(
      this.job.appId,
      this.job.jobId,
      changes,
      condition,
      remove,
    );
    if (!updated) throw new LeaseLostError(`lost the lease on ${this.job.kind} ${this.job.jobId}`);
    this.job = updated;
    return updated;
  }

  /** Stores progress (position, percentage, ...) while keeping the job `processing`. */
  checkpoint(changes: Partial<JobRecord>): Promise<JobRecord> {
    return this.write(changes);
  }

  /**
   * Queues the job's next message, then gives the lease up with the record's sequence moved to
   * it, so that only that message carries the job on. A crash in between heals on lease expiry.
   */
  async handOver(): Promise<void> {
    const next = this.seq + 1;
    await sendJobMessage({
      kind: this.job.kind,
      appId: this.job.appId,
      jobId: this.job.jobId,
      seq: next,
    });
    await this.write({ seq: next }, LEASE_FIELDS);
  }

  /**
   * Gives the lease up with the sequence moved on but no message queued: the job's key ranges
   * run under their own leases, and the last of them queues the job's next message.
   */
  async park(changes: Partial<JobRecord>): Promise<void> {
    await this.write({ ...changes, seq: this.seq + 1 }, LEASE_FIELDS);
  }

  /** processing → finished. */
  finish(changes: Partial<JobRecord>): Promise<JobRecord> {
    return this.write({ ...changes, status: "finished" }, WORK_FIELDS);
  }

  /** processing → failed, with the reason a user reads. */
  fail(message: string, rowErrors: ImportRowError[] | null = null): Promise<JobRecord> {
    return this.write(
      { ...failureFields(this.job.kind, message, rowErrors), status: "failed" },
      WORK_FIELDS,
    );
  }

  /** Gives the lease up without any other change, so that a retry can take the job at once. */
  async release(): Promise<void> {
    await this.write({}, LEASE_FIELDS).catch((error) => {
      if (!(error instanceof LeaseLostError)) throw error;
    });
  }
}

/**
 * started|processing → processing under a new lease, for the message `message`. Waits briefly
 * when the record shows the sender of this very message is still handing over.
 * @returns the lease, or why there is none
 */
export async function claim(
  message: JobMessage,
  clock: InvocationClock,
): Promise<Lease | "dropped" | "busy"> {
  const store = jobStore();
  const owner = randomUUID();
  for (let attempt = 0; ; attempt += 1) {
    const current = await store.get(message.appId, message.jobId);
    if (current?.kind !== message.kind || !OPEN.includes(current.status)) return "dropped";
    if (message.seq < current.seq) return "dropped";
    const now = Date.now();
    const leased = await store.update(
      message.appId,
      message.jobId,
      {
        status: "processing",
        seq: message.seq,
        leaseOwner: owner,
        leaseUntil: now + clock.getRemainingTimeInMillis() + config().leaseMarginMillis,
      },
      { statusIn: OPEN, seqAtMost: message.seq, leaseFreeAt: now },
    );
    if (leased) return new Lease(leased, owner, message.seq);
    // An older sequence on the record means its holder is handing this message its work.
    const after = await store.get(message.appId, message.jobId);
    if (after && after.seq < message.seq && attempt < HANDOVER_ATTEMPTS) {
      await sleep(HANDOVER_WAIT_MS);
      continue;
    }
    if (!after || !OPEN.includes(after.status) || message.seq < after.seq) return "dropped";
    return "busy";
  }
}

/** One invocation's work on a job, with what to undo when the job is deleted under it. */
export interface LeasedWork {
  run(): Promise<JobOutcome>;
  /** The record is gone (DELETE): remove whatever the work created (uploads, files). */
  cancelled?(): Promise<void>;
  /** The job ended `failed`: give up whatever the work had begun. */
  failed?(): Promise<void>;
}

/**
 * Claims the job of `message` and runs its work under the lease. The one place where a lost
 * lease and an error are turned into an outcome: a lost lease is a cancellation when the record
 * is gone and "busy" otherwise; a PermanentJobError ends the job `failed`; any other error gives
 * the lease up (so that the queue's retry can take over at once) and is thrown for a retry.
 */
export async function runLeased(
  message: JobMessage,
  clock: InvocationClock,
  start: (lease: Lease) => LeasedWork,
): Promise<JobOutcome> {
  const lease = await claim(message, clock);
  if (typeof lease === "string") return lease;
  const work = start(lease);
  try {
    return await work.run();
  } catch (error) {
    if (error instanceof LeaseLostError) return leaseLost(lease, work);
    if (!(error instanceof PermanentJobError)) {
      await lease.release().catch(() => undefined);
      throw error;
    }
    try {
      await lease.fail(error.message, error.rowErrors);
    } catch (failError) {
      if (failError instanceof LeaseLostError) return leaseLost(lease, work);
      throw failError;
    }
    await work.failed?.();
    // Row errors quote the file's values: only their count is logged.
    logger.warn(`${lease.job.kind} failed`, {
      reason: error.message,
      row_errors: error.rowErrors?.length ?? 0,
      ...(error.cause ? { error: error.cause as Error } : {}),
    });
    return "failed";
  }
}

async function leaseLost(lease: Lease, work: LeasedWork): Promise<JobOutcome> {
  if (await jobStore().get(lease.job.appId, lease.job.jobId)) {
    logger.warn(`${lease.job.kind} lease lost to another invocation`);
    return "busy";
  }
  await work.cancelled?.();
  logger.info(`${lease.job.kind} cancelled while it ran`);
  return "cancelled";
}

/** A new job: stores the record (`started`) and queues its first message; a queue failure fails it. */
export async function open(job: JobRecord, queueFailure: string): Promise<void> {
  await jobStore().create(job);
  try {
    await sendJobMessage({ kind: job.kind, appId: job.appId, jobId: job.jobId, seq: 0 });
  } catch (error) {
    await jobStore().update(
      job.appId,
      job.jobId,
      { ...failureFields(job.kind, queueFailure), status: "failed" },
      { statusIn: ["started"] },
    );
    throw error;
  }
}

/**
 * started|processing → failed for a message SQS gave up on, unless a newer message of the job
 * carries it on. Lease and position are dropped with it.
 * @returns the record after the change, or undefined when the job had ended or moved on
 */
export function failAbandoned(message: JobMessage, reason: string): Promise<JobRecord | undefined> {
  // A key range's sequence is its own: a range given up on fails its job.
  const seqAtMost = message.range === undefined ? message.seq : undefined;
  return jobStore().update(
    message.appId,
    message.jobId,
    { ...failureFields(message.kind, reason), status: "failed" },
    { statusIn: OPEN, seqAtMost },
    WORK_FIELDS,
  );
}

/**
 * Removes a job in any status (DELETE) with its key ranges; a worker holding its lease (or a
 * range's) notices at its next write.
 * @returns the record and the ranges as they were
 */
export async function cancel(
  appId: string,
  jobId: string,
): Promise<{ job?: JobRecord; ranges: ExportRange[] }> {
  const job = await jobStore().delete(appId, jobId);
  const count = job?.checkpoint?.ranges ? job.checkpoint.ranges.length + 1 : 0;
  return { job, ranges: await removeRanges(appId, jobId, count) };
}

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
