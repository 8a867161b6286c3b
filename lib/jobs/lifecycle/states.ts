import type { ImportRowError, JobKind, JobRecord, JobStatus } from "../job-record.ts";

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

/** Fields a lease holds on the record, and those that work under it adds. */
export const LEASE_FIELDS = ["leaseOwner", "leaseUntil"] as const;
export const WORK_FIELDS = [...LEASE_FIELDS, "checkpoint"] as const;
