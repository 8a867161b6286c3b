import { finished } from "node:stream/promises";
import type pg from "pg";
import { from as copyFrom } from "pg-copy-streams";

/**
 * How the one-pass write (`streamed-write.ts`) puts one batch of a file's rows into the chat
 * tables. Rows are prepared one by one as the file streams, while PostgreSQL still writes the
 * batch before; a batch is written once the one before it has been, in the file's order, inside
 * the import's transaction.
 */
export interface BatchWriter<P = unknown> {
  /** The row's prepared form: whatever can be done with the row alone (its COPY text, mostly). */
  prepare(index: number, values: readonly unknown[]): P;
  /** Characters of a prepared row, to keep a batch's COPY text bounded. */
  size(row: P): number;
  /**
   * Writes the rows (file order, contiguous). Throws NotStreamable when a row breaks a rule the
   * write checks; an integrity error of PostgreSQL means the same.
   * @returns how many rows were skipped as already in the application
   */
  write(client: pg.PoolClient, rows: P[]): Promise<number>;
}

/** The one-pass write cannot go on; the import is done again through staging tables. */
export class NotStreamable extends Error {}

/** Sends `text` (COPY text format, whole lines) into a `COPY ... FROM STDIN` statement. */
export async function copyText(client: pg.PoolClient, sql: string, text: string): Promise<void> {
  const copy = client.query(copyFrom(sql));
  copy.end(text);
  await finished(copy);
}

const sequences = new Map<string, string>();

/**
 * `count` fresh ids of `table` from its own sequence, rising (one statement: another session's
 * ids may come between, never inside the order). Rows that refer to each other in one batch know
 * each other's ids before they are copied; an import that fails leaves a gap, as any rolled-back
 * insert does.
 */
export async function reserveIds(
  client: pg.PoolClient,
  table: "rooms" | "comments",
  count: number,
): Promise<number[]> {
  if (count === 0) return [];
  let sequence = sequences.get(table);
  if (!sequence) {
    const { rows } = await client.query<{ name: string }>(
      "SELECT pg_get_serial_sequence($1, 'id') AS name",
      [table],
    );
    sequence = rows[0]?.name as string;
    sequences.set(table, sequence);
  }
  const { rows } = await client.query<{ ids: string }>(
    `SELECT string_agg(id::text, ',' ORDER BY id) AS ids
     FROM (SELECT nextval($1::regclass) AS id FROM generate_series(1, $2::int)) taken`,
    [sequence, count],
  );
  return (rows[0]?.ids ?? "").split(",").map(Number);
}
