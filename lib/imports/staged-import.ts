import type { ErrorObject } from "ajv";
import type { StagingColumn, StagingTables } from "../chat-db/staging.ts";
import { config } from "../config.ts";
import type { Resource } from "../jobs/job-record.ts";
import { logger } from "../observability.ts";
import { errorField } from "../validation.ts";
import type { BatchWriter } from "./batch-writer.ts";
import type { Instant } from "./file-rows.ts";
import { describeSchemaError } from "./problems.ts";
import { checkRowValues } from "./row-checks.ts";

export interface ImportContext {
  appId: string;
  /** Rows without a creation time are created at this instant (when the import began). */
  importedAt: Instant;
}

/** Text with NUL and lone surrogates written as `\u0000`-style escapes, storable and readable. */
export function printable(text: string): string {
  return text.replace(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is what this escapes
    /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** Problems of the row being read, in the order the checks find them. */
export class RowProblemList {
  readonly items: { field: string; message: string }[] = [];

  /** Field names and messages may quote the file's keys: NUL and lone surrogates are escaped. */
  add(field: string, message: string): void {
    this.items.push({ field: printable(field), message: printable(message) });
  }

  /** Adds one problem per schema error, in words; `fieldPrefix` names a nested object. */
  addSchemaErrors(errors: ErrorObject[] | null | undefined, fieldPrefix = ""): void {
    for (const error of errors ?? []) {
      const field = [fieldPrefix, errorField(error)].filter(Boolean).join(".");
      this.add(field, describeSchemaError(error, field));
    }
  }

  clear(): void {
    this.items.length = 0;
  }
}

/**
 * How one resource is imported. Every importer has the same steps, run by one pipeline
 * (`import-pipeline.ts`) whatever the file's size or the way it arrived:
 * 1. `stage`: each row, as it streams by, gets the rules that need that row alone (schema,
 *    payload, password, ...) and becomes one row of the job's staging table.
 * 2. `fileChecks`: rules across the whole file (values used twice), in SQL over the staging table.
 * 3. `appChecks`: rules against the application's data (uniques taken, references), in SQL; run
 *    again under the application's lock just before writing.
 * 4. `write`: INSERT ... SELECT from the staging table, in the import's one transaction.
 *    (Streaming the same SELECT through COPY FROM measured no faster: the time goes to the
 *    indexes and foreign keys of the chat tables, as it does for PostgreSQL's own COPY.)
 * SQL statements take the application id as `$1` and insert their findings into the problems
 * table as `(row, seq, sub, field, message)`; `seq` orders checks within a row.
 */
export interface ImportSpec {
  resource: Resource;
  /** Staging columns after `row` and `ok`, declared once for the table and its COPY. */
  columns: readonly StagingColumn[];
  /** Rows take fresh ids of this table as they are loaded (`new_id`), for rows that refer to each other. */
  idsOf?: "rooms" | "comments";
  /** Indexes the checks need on the staging table. */
  indexes: readonly string[];
  /** Checks one row; returns its staging values (in `columns` order) and whether it passed. */
  stage(
    row: unknown,
    problems: RowProblemList,
    context: ImportContext,
  ): { ok: boolean; values: readonly unknown[] };
  fileChecks(tables: StagingTables): string[];
  appChecks(tables: StagingTables): string[];
  write(tables: StagingTables): string[];
  /**
   * The one-pass write of a file whose rows all keep the rules (see `streamed-write.ts`), straight
   * into the chat tables with PostgreSQL's own COPY, references resolved by the worker
   * (`lib/imports/direct/`): used unless rows may have to be skipped as already there.
   */
  direct?(appId: string): BatchWriter;
  /**
   * The one-pass write through a batch table (`batch-table-write.ts`), for `on_existing: skip`
   * into an application that holds rows of the type: statements that write the rows of `batch`
   * (rows in the file's order, each one passed `stage`), `$1` the application id, resolving
   * references in SQL. The first statement writes one chat row per batch row: a row it leaves out
   * (the caller counts) or an integrity error it raises (a value used twice, a reference that
   * resolves to NULL) sends the file through staging. Absent (and no `direct`): the resource is
   * always imported through staging tables.
   */
  streamedWrite?(batch: string): string[];
  /** Why a staged row cannot be written in one pass (a plain password is hashed first), if so. */
  notOnePass?(values: readonly unknown[]): string | undefined;
  /**
   * For `on_existing: skip` (see `existing-rows.ts`): a SELECT of `(row, field, differs)` with one
   * line per row of `rows` (alias `s`, restricted by the condition `ok`) and application row
   * (`$1`) holding one of its unique keys: `field` names the key, `differs` (text[]) the fields
   * whose content is not the same, empty when the row is already in the application as it is.
   */
  existing(rows: string, ok: string): string;
}

/**
 * The in-file uniqueness rule in SQL: among the rows that `registered` (for most resources, rows
 * that passed the schema), a later row with the same value than the first one fails with
 * "<field> is already used by row <first> of this file", and is no longer ok.
 */
export function uniqueInFile(
  tables: StagingTables,
  options: { column: string; field: string; seq: number; registered: string; checked: string },
): string[] {
  const { column, field, seq, registered, checked } = options;
  return [
    `INSERT INTO ${tables.problems} (row, seq, sub, field, message)
     SELECT row, ${seq}, 0, '${field}', '${field} is already used by row ' || first || ' of this file'
     FROM (SELECT row, ${checked} AS checked, min(row) OVER (PARTITION BY ${column}) AS first
           FROM ${tables.rows} WHERE ${column} IS NOT NULL AND ${registered}) found
     WHERE checked AND row > first`,
    `UPDATE ${tables.rows} SET ok = false
     WHERE ok AND row IN (SELECT row FROM ${tables.problems} WHERE seq = ${seq})`,
  ];
}

/**
 * The one step every import path takes with every row before anything of it is written
 * anywhere: first the values the chat database would reject or change (`row-checks.ts`: NUL,
 * lone surrogates, times, inexact numbers, nesting, row size), then the resource's own rules
 * (`spec.stage`). A row that fails the first checks is staged with no values at all (only
 * `schema_ok = false`), so that nothing of it reaches a COPY; a row that makes a check throw is a
 * row error too, never a failed invocation.
 */
export function stageRow(
  spec: ImportSpec,
  row: unknown,
  problems: RowProblemList,
  context: ImportContext,
): { ok: boolean; values: readonly unknown[] } {
  if (!checkRowValues(spec.resource, row, config().importLimits, problems)) {
    return { ok: false, values: [false] };
  }
  try {
    return spec.stage(row, problems, context);
  } catch (error) {
    logger.warn("a row could not be checked", { error: error as Error });
    problems.clear();
    problems.add("", "the row could not be checked: it holds values of an unexpected kind");
    return { ok: false, values: [false] };
  }
}
