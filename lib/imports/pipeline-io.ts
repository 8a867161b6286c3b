import type { ImportErrors } from "../jobs/job-record.ts";

/** What the pipeline needs from the invocation running it. */
export interface PipelineIo {
  /** The file's bytes from the start (again, when a load must be redone). */
  open(): Promise<AsyncIterable<Uint8Array>>;
  /**
   * The file was uploaded: NDJSON is accepted and the upload path's limits apply; otherwise it
   * came in a form (a JSON array only, the form path's limits).
   */
  ndjson: boolean;
  /** Milliseconds left in this invocation. */
  remainingMs(): number;
  /** Time an invocation keeps in reserve for handing over (IMPORT_RESERVE_MS). */
  reserveMs: number;
  /** The job's percentage, rising. */
  progress(percentage: number): void;
  /** A dry run passes problems whose message matches this (PostgreSQL regex), e.g. a restore's. */
  tolerated?: string;
  /** Plain passwords fail the import with this sentence instead of being hashed (restores). */
  refusePlainPasswords?: string;
}

/** What one invocation of the pipeline achieved. */
export type PipelineOutcome =
  /** `rows` written (or, on a dry run, that would be); `skipped` already in the application. */
  | { status: "finished"; rows: number; skipped: number; replayed?: boolean }
  | { status: "failed"; errors: ImportErrors }
  /** Time ran low: what is done is kept in PostgreSQL, and another invocation goes on. */
  | { status: "continued" }
  /** Passwords are being hashed by chunk messages; the last chunk queues the job's message again. */
  | { status: "waiting"; chunks: number };

export function failed(message: string, data: ImportErrors["Data"] = null): PipelineOutcome {
  return { status: "failed", errors: { Message: message, Data: data } };
}
