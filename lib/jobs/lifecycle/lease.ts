import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { config } from "../../config.ts";
import { logger } from "../../observability.ts";
import { permanentFailure } from "../failures.ts";
import { type InvocationClock, type JobMessage, sendJobMessage } from "../job-queue.ts";
import type { ImportRowError, JobRecord } from "../job-record.ts";
import { type JobCondition, jobStore } from "../job-store.ts";
import {
  failureFields,
  type JobOutcome,
  LEASE_FIELDS,
  LeaseLostError,
  OPEN,
  PermanentJobError,
  WORK_FIELDS,
} from "./states.ts";

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
 * the lease up (so that the queue's retry can take over at once) and is thrown for a retry,
 * unless no retry can cure it (`permanentFailure`: a value the database refuses, a limit): then
 * the job ends `failed` at once with a sentence.
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
  } catch (thrown) {
    if (thrown instanceof LeaseLostError) return leaseLost(lease, work);
    let error: PermanentJobError;
    if (thrown instanceof PermanentJobError) error = thrown;
    else {
      const sentence = permanentFailure(thrown);
      if (sentence === undefined) {
        await lease.release().catch(() => undefined);
        throw thrown;
      }
      error = new PermanentJobError(sentence, null, { cause: thrown });
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
