import type pg from "pg";
import { BATCH_TABLE, copyLine, createBatchTable } from "../chat-db/staging.ts";
import { type BatchWriter, copyText, NotStreamable } from "./batch-writer.ts";
import { skipSameRows } from "./existing-rows.ts";
import type { ImportSpec } from "./staged-import.ts";

/**
 * The one-pass write through a temporary table, for `on_existing: skip` into an application that
 * already holds rows of the type: each batch is copied into the table as staged, its rows the
 * application holds as they are leave it (`skipSameRows`, the one place that says what "the same"
 * means), and the resource's `streamedWrite` statements write the rest with their references
 * resolved by PostgreSQL. A key taken by other content meets the chat table's unique index.
 */
export async function batchTableWriter(
  client: pg.PoolClient,
  spec: ImportSpec,
  appId: string,
  skip: boolean,
): Promise<BatchWriter<string>> {
  const statements = spec.streamedWrite;
  if (!statements) throw new NotStreamable(`${spec.resource} have no batch-table write`);
  await createBatchTable(client, spec.columns, spec.idsOf);
  const columns = ["row", ...spec.columns.map((column) => column.name)].join(", ");
  const width = spec.columns.length;
  let first = true;
  return {
    prepare: (index, values) => `${index}\t${copyLine(values, width)}`,
    size: (line) => line.length,
    async write(target, lines) {
      await copyText(
        target,
        `COPY ${BATCH_TABLE} (${columns}) FROM STDIN`,
        `${lines.join("\n")}\n`,
      );
      // The planner knows nothing of a table filled a moment ago; one look at the first batch is
      // enough for every batch after it (the statistics outlive TRUNCATE), and keeps joins hashed.
      if (first) await target.query(`ANALYZE ${BATCH_TABLE}`);
      first = false;
      const skipped = skip ? await skipSameRows(target, spec, BATCH_TABLE, "true", appId) : 0;
      const [main, ...after] = statements(BATCH_TABLE);
      const written = await target.query(main as string, [appId]);
      if (written.rowCount !== lines.length - skipped) {
        throw new NotStreamable(
          `${lines.length - skipped - (written.rowCount ?? 0)} rows of a batch break a rule`,
        );
      }
      for (const sql of after) await target.query(sql, [appId]);
      await target.query(`TRUNCATE ${BATCH_TABLE}`);
      return skipped;
    },
  };
}
