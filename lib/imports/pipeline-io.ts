/** What the pipeline needs from the invocation running it. */
export interface PipelineIo {
  /** The file's bytes from the start (again, when a load must be redone). */
  open(): Promise<AsyncIterable<Uint8Array>>;
  /** NDJSON is accepted (uploaded files); otherwise only a JSON array. */
  ndjson: boolean;
  /** Milliseconds left in this invocation. */
  remainingMs(): number;
  /** Time an invocation keeps in reserve for handing over (IMPORT_RESERVE_MS). */
  reserveMs: number;
  /** The job's percentage, rising. */
  progress(percentage: number): void;
}
