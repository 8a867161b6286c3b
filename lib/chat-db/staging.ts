import type { Writable } from "node:stream";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";
import type { Queryable } from "./import-queries.ts";

/** One column of a staging table: its name and PostgreSQL type. */
export interface StagingColumn {
  name: string;
  type: string;
}

/** The quoted names of one import job's staging tables. */
export interface StagingTables {
  /** The file's rows: `row` (0-based index), `ok` (passed the per-row rules), then the resource's columns. */
  rows: string;
  /** Every problem found: `row`, `seq` (which check), `sub` (order within it), `field`, `message`. */
  problems: string;
}

/** Staging tables are named after the job, so that any invocation of the job finds them. */
export function stagingTables(jobId: string): StagingTables {
  const name = jobId.replace(/[^0-9a-z]/gi, "").toLowerCase();
  return {
    rows: `import_staging."rows_${name}"`,
    problems: `import_staging."problems_${name}"`,
  };
}

/** Rows loaded for the job, or undefined when its staging tables are not complete. */
export async function loadedRows(db: Queryable, jobId: string): Promise<number | undefined> {
  const { rows } = await db.query<{ rows: number }>(
    "SELECT rows FROM import_staging.loaded WHERE job_id = $1",
    [jobId],
  );
  return rows[0]?.rows;
}

/**
 * The column list of a table holding a file's rows: the resource's columns and, for rows that
 * refer to each other, `new_id`. Each row takes its id from the chat table's own sequence as COPY
 * stores it, in the file's order: a reply's id is above its parent's, and the write needs no
 * numbering step. An import that fails leaves a gap in the sequence, as any rolled-back insert does.
 */
async function declaredColumns(
  db: Queryable,
  columns: readonly StagingColumn[],
  idsOf?: "rooms" | "comments",
): Promise<string[]> {
  const declared = columns.map((column) => `${column.name} ${column.type}`);
  if (idsOf) {
    const { rows } = await db.query<{ sequence: string }>(
      "SELECT pg_get_serial_sequence($1, 'id') AS sequence",
      [idsOf],
    );
    declared.push(`new_id bigint NOT NULL DEFAULT nextval('${rows[0]?.sequence}')`);
  }
  return declared;
}

/** (Re)creates empty staging tables for the job; anything an interrupted load left is dropped. */
export async function createStaging(
  db: Queryable,
  jobId: string,
  columns: readonly StagingColumn[],
  idsOf?: "rooms" | "comments",
): Promise<StagingTables> {
  const tables = stagingTables(jobId);
  await dropStaging(db, jobId);
  const declared = await declaredColumns(db, columns, idsOf);
  await db.query(
    `CREATE UNLOGGED TABLE ${tables.rows} (row integer NOT NULL, ok boolean NOT NULL, ${declared.join(", ")})`,
  );
  await db.query(
    `CREATE UNLOGGED TABLE ${tables.problems} (row integer NOT NULL, seq integer NOT NULL,
       sub integer NOT NULL, field text NOT NULL, message text NOT NULL)`,
  );
  return tables;
}

/** The temporary table of one batch of rows written while the file streams (see `createBatchTable`). */
export const BATCH_TABLE = "pg_temp.import_batch";

/**
 * Creates, inside the caller's transaction, the temporary table that holds one batch of the
 * file's rows at a time (`row`, the resource's columns, `new_id`); it is gone at the end of the
 * transaction, whatever its outcome.
 */
export async function createBatchTable(
  client: pg.PoolClient,
  columns: readonly StagingColumn[],
  idsOf?: "rooms" | "comments",
): Promise<void> {
  const declared = await declaredColumns(client, columns, idsOf);
  await client.query(
    `CREATE TEMPORARY TABLE import_batch (row integer NOT NULL, ${declared.join(", ")}) ON COMMIT DROP`,
  );
}

/** Marks the job's staging tables complete, with indexes for the checks and fresh statistics. */
export async function finishLoad(
  db: Queryable,
  jobId: string,
  rowCount: number,
  indexes: readonly string[],
): Promise<void> {
  const tables = stagingTables(jobId);
  for (const columns of indexes) await db.query(`CREATE INDEX ON ${tables.rows} (${columns})`);
  // The planner knows nothing of a table filled a moment ago; the checks join it with the app's data.
  await db.query(`ANALYZE ${tables.rows}`);
  await db.query(
    "INSERT INTO import_staging.loaded (job_id, rows) VALUES ($1, $2) ON CONFLICT (job_id) DO UPDATE SET rows = EXCLUDED.rows",
    [jobId, rowCount],
  );
}

/** Removes the job's staging tables (the job ended, or its load starts again). */
export async function dropStaging(db: Queryable, jobId: string): Promise<void> {
  const tables = stagingTables(jobId);
  await db.query("DELETE FROM import_staging.loaded WHERE job_id = $1", [jobId]);
  await db.query(`DROP TABLE IF EXISTS ${tables.rows}, ${tables.problems}`);
}

const ESCAPES: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };
const NEEDS_ESCAPE = /[\\\n\r\t]/;
const ESCAPED = /[\\\n\r\t]/g;

/** One value in COPY's text format. */
export function copyValue(value: unknown): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "boolean") return value ? "t" : "f";
  const text = Array.isArray(value) ? arrayLiteral(value) : String(value);
  return NEEDS_ESCAPE.test(text) ? text.replace(ESCAPED, (c) => ESCAPES[c] as string) : text;
}

/** A text[] literal: `{"a","b"}`. */
function arrayLiteral(values: unknown[]): string {
  return `{${values.map((v) => `"${String(v).replace(/["\\]/g, (c) => `\\${c}`)}"`).join(",")}}`;
}

/** One row in COPY's text format, without its line end; missing trailing values are NULL. */
export function copyLine(values: readonly unknown[], width = values.length): string {
  let line = copyValue(values[0]);
  for (let i = 1; i < width; i += 1) line += `\t${copyValue(values[i])}`;
  return line;
}

/**
 * Writes rows into a table with COPY FROM STDIN on a connection of its own, with backpressure;
 * rows are buffered into blocks so that the stream sees few, large writes. The connection goes
 * back to the pool exactly once: whole after a COPY that ended well, destroyed after any failure
 * (a connection left in the middle of a COPY would hold the table's lock for as long as it lives).
 */
export class CopyWriter {
  private stream: Writable | undefined;
  private buffer: string[] = [];
  private bufferedChars = 0;
  private failure: Error | undefined;
  private released = false;
  private readonly onClientError = (error: Error) => {
    this.failure ??= error;
  };

  private constructor(private readonly client: pg.PoolClient) {}

  static async open(pool: pg.Pool, table: string, columns: readonly string[]): Promise<CopyWriter> {
    const client = await pool.connect();
    const writer = new CopyWriter(client);
    // A connection error while the COPY runs must not reach the process as an unhandled event.
    client.on("error", writer.onClientError);
    try {
      writer.stream = client.query(
        copyFrom(`COPY ${table} (${columns.join(", ")}) FROM STDIN`),
      ) as unknown as Writable;
    } catch (error) {
      writer.failure = error as Error;
      writer.release();
      throw error;
    }
    writer.stream.on("error", (error: Error) => {
      writer.failure ??= error;
    });
    return writer;
  }

  /** Adds one row; resolves when the stream can take more. */
  async write(values: readonly unknown[]): Promise<void> {
    const line = copyLine(values);
    this.buffer.push(line);
    this.bufferedChars += line.length;
    if (this.bufferedChars >= 256 * 1024) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.buffer.length === 0) return;
    const block = `${this.buffer.join("\n")}\n`;
    this.buffer = [];
    this.bufferedChars = 0;
    const stream = this.stream as Writable;
    if (!stream.write(block)) await drained(stream);
    if (this.failure) throw this.failure;
  }

  /** Ends the COPY and waits until PostgreSQL has every row. */
  async close(): Promise<void> {
    try {
      await this.flush();
      const stream = this.stream as Writable;
      stream.end();
      if (!this.failure) await finishedOrFailed(stream);
      if (this.failure) throw this.failure;
    } catch (error) {
      this.failure ??= error as Error;
      throw error;
    } finally {
      this.release();
    }
  }

  /**
   * Gives the connection up after a failure elsewhere; the COPY is abandoned with it. Safe to
   * call at any time and more than once (also after `close`), and never throws.
   */
  abort(): void {
    if (this.released) return;
    this.failure ??= new Error("COPY abandoned");
    try {
      (this.stream as Writable | undefined)?.destroy(this.failure);
    } catch {
      // the connection is destroyed below either way
    }
    this.release();
  }

  private release(): void {
    if (this.released) return;
    this.released = true;
    // A destroyed connection may still report its end: it keeps the listener.
    if (!this.failure) this.client.off("error", this.onClientError);
    try {
      // With an error, pg destroys the connection instead of pooling it: its backend ends,
      // and with it any COPY and lock it held.
      this.client.release(this.failure ?? undefined);
    } catch {
      // already given back by pg itself
    }
  }
}

/** Resolves on `drain`, or when the stream fails or closes first. */
function drained(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("drain", done);
      stream.off("error", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("drain", done);
    stream.on("error", done);
    stream.on("close", done);
  });
}

/** Resolves when the COPY stream finished, or failed (the failure is kept by its listener). */
function finishedOrFailed(stream: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off("finish", done);
      stream.off("error", done);
      stream.off("close", done);
      resolve();
    };
    stream.on("finish", done);
    stream.on("error", done);
    stream.on("close", done);
  });
}
