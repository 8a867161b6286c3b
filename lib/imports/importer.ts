import type pg from "pg";
import type { Queryable } from "../chat-db/import-queries.ts";
import type { Instant } from "./file-rows.ts";
import type { RowProblems } from "./problems.ts";

export interface ImportContext {
  appId: string;
  /** Rows without a creation time are created at this instant (when the import ran). */
  importedAt: Instant;
}

/**
 * One import file of one resource, from its parsed rows to the database. Creating a session
 * applies the schema and the rules within the file; the other steps follow in order.
 */
export interface ImportSession {
  /** Rules against the application's data; may run twice (before hashing, inside the write). */
  checkAgainstApp(db: Queryable, problems: RowProblems): Promise<void>;
  /**
   * Slow work that must not hold a transaction open (password hashing), resumable across
   * invocations: returns true when done, or false after saving its progress with `work.save`.
   */
  prepare(work: Preparation): Promise<boolean>;
  /** Writes every row inside the caller's transaction; returns how many were written. */
  write(client: pg.PoolClient): Promise<number>;
}

/** What a session's slow preparation may carry over from one invocation of its job to the next. */
export interface Preparation {
  /** Results saved by earlier invocations of this job (password hashes, in row order); read on demand. */
  earlier(): Promise<string[]>;
  /** True once the invocation should hand over rather than start more work. */
  timeIsUp(): boolean;
  /** Keeps the results so far for the next invocation. */
  save(results: string[]): Promise<void>;
  /** Progress of the slow work: `done` of `total` units. */
  progress(done: number, total: number): void;
}

export type ImporterFactory = (
  rows: unknown[],
  problems: RowProblems,
  context: ImportContext,
) => ImportSession;
