import type { Readable } from "node:stream";
import type pg from "pg";
import { to as copyTo } from "pg-copy-streams";
import { CopyRowReader } from "./copy-row-reader.ts";
import { NameCache, type NameSource, namesFrom } from "./export-names.ts";
import { orderedScan } from "./export-queries.ts";
import { exportRowsQuery } from "./export-row-shapes.ts";
import { RowWriter } from "./export-row-writer.ts";
import type { ExportCursor, ExportScope } from "./export-scope.ts";
import { chatDb } from "./pool.ts";

/** A connection streaming one export's rows; close() gives it back (or drops it mid-stream). */
export interface ExportRowStream {
  /** Rows of the next statement: at most `limit` rows after `cursor`. */
  rows(cursor: ExportCursor | undefined, limit: number, upTo?: ExportCursor): CopyRowReader;
  /** Writes the rows of this stream's resource into the file. */
  writer: RowWriter;
  close(): Promise<void>;
}

/**
 * Stops reading a COPY in the middle. Ending its connection then fails the statement, which the
 * COPY stream reports as an `error` event: expected here, and without a listener it would be an
 * uncaught exception that ends the process (an export cancelled while it ran did).
 */
function abandon(stream: Readable): void {
  stream.on("error", () => {});
  stream.destroy();
}

/**
 * Opens a connection for streaming the rows of `scope` with the ordered-scan settings. Each
 * rows() call runs one COPY statement; read its rows to the end before the next call. Closing
 * while a COPY is still being read discards the connection (the server stops on its own).
 */
export async function openExportRowStream(
  scope: ExportScope,
  snapshot?: pg.PoolClient,
): Promise<ExportRowStream> {
  if (snapshot) return borrowedRowStream(scope, snapshot);
  const client = await chatDb().connect();
  let broken: Error | undefined;
  const onError = (error: Error) => {
    broken = error;
  };
  client.on("error", onError);
  let current: Readable | undefined;
  try {
    // Session settings, not a transaction: a long export must not hold one snapshot open.
    await client.query(orderedScan.on);
  } catch (error) {
    client.release(true);
    throw error;
  }
  return {
    writer: new RowWriter(scope.resource),
    rows(cursor, limit, upTo) {
      const sql = exportRowsQuery(scope, cursor, limit, upTo);
      const stream = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
      current = stream;
      stream.once("end", () => {
        if (current === stream) current = undefined;
      });
      return new CopyRowReader(stream);
    },
    async close() {
      const unfinished = current !== undefined && !current.readableEnded;
      if (unfinished || broken) {
        if (current) abandon(current);
        client.release(true);
        return;
      }
      try {
        await client.query(orderedScan.reset);
        client.off("error", onError);
        client.release();
      } catch {
        client.release(true);
      }
    },
  };
}

/**
 * A row stream on a connection its caller holds inside a snapshot (a backup's one cut): rows are
 * read in that snapshot. The caller gives the connection back; a stream closed in the middle of a
 * COPY leaves it unusable, which the caller learns from its next statement.
 *
 * Names are looked up while a COPY is still streaming on that connection, so they cannot be read
 * on it: they are read on a second connection that imports the same snapshot
 * (`pg_export_snapshot()`, as pg_dump's parallel workers do), opened at the first look-up.
 */
async function borrowedRowStream(
  scope: ExportScope,
  client: pg.PoolClient,
): Promise<ExportRowStream> {
  // SET LOCAL: the settings end with the snapshot's transaction.
  await client.query(orderedScan.on.replaceAll("SET ", "SET LOCAL "));
  const { rows: exported } = await client.query<{ id: string }>(
    "SELECT pg_export_snapshot() AS id",
  );
  const snapshotId = exported[0]?.id as string;
  const names = new SnapshotNames(snapshotId);
  let current: Readable | undefined;
  return {
    writer: new RowWriter(scope.resource, new NameCache(names.source)),
    rows(cursor, limit, upTo) {
      const sql = exportRowsQuery(scope, cursor, limit, upTo);
      current = client.query(copyTo(`COPY (${sql}) TO STDOUT (FORMAT binary)`));
      return new CopyRowReader(current);
    },
    async close() {
      if (current && !current.readableEnded) abandon(current);
      await names.close();
    },
  };
}

/** A second connection reading names in an exported snapshot, opened when first needed. */
class SnapshotNames {
  private opened?: Promise<pg.PoolClient>;

  constructor(private readonly snapshotId: string) {}

  readonly source: NameSource = async (table, ids) =>
    namesFrom(await this.connection())(table, ids);

  private connection(): Promise<pg.PoolClient> {
    this.opened ??= (async () => {
      const client = await chatDb().connect();
      try {
        await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
        await client.query(`SET TRANSACTION SNAPSHOT ${literal(this.snapshotId)}`);
        return client;
      } catch (error) {
        client.release(true);
        throw error;
      }
    })();
    return this.opened;
  }

  async close(): Promise<void> {
    const opened = this.opened;
    this.opened = undefined;
    if (!opened) return;
    const client = await opened.catch(() => undefined);
    if (!client) return;
    try {
      await client.query("COMMIT");
      client.release();
    } catch {
      client.release(true);
    }
  }
}

/** A snapshot id (digits, hex and dashes) as an SQL string literal. */
function literal(snapshotId: string): string {
  if (!/^[0-9A-F-]+$/i.test(snapshotId))
    throw new Error("unexpected snapshot id from the database");
  return `'${snapshotId}'`;
}
