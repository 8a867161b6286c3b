import type { ErrorObject } from "ajv";
import { PATTERN_HINTS } from "../../schemas/import-fields.ts";
import { describeError, errorField } from "../validation.ts";

/** At most this many row problems are kept in a job's `errors.Data`. */
export const MAX_LISTED_PROBLEMS = 1000;

/** A schema error in words, naming the field from the row. */
export function describeSchemaError(error: ErrorObject, field: string): string {
  const name = field || "row";
  if (error.keyword === "type" && !field) return "row must be a JSON object";
  if (error.keyword === "pattern") {
    const leaf = field.split(".").pop() ?? field;
    return `${name} ${PATTERN_HINTS[leaf] ?? "has an invalid format"}`;
  }
  if (error.keyword === "maxLength")
    return `${name} must be at most ${error.params.limit} characters`;
  if (error.keyword === "minLength" && error.params.limit === 1) return `${name} must not be empty`;
  const described = describeError(error);
  // describeError names the field relative to the validated value; name it from the row.
  const own = errorField(error) || "value";
  return described.startsWith(own) ? `${name}${described.slice(own.length)}` : described;
}

/** One sentence for `errors.Message` from the counts of a failed import. */
export function problemSummary(
  resource: string,
  rowCount: number,
  failedRows: number,
  total: number,
  listed: number,
): string {
  const hidden = total - listed;
  const more =
    hidden > 0 ? `; the first ${listed} problems are listed, ${hidden} more are not` : "";
  return `${failedRows} of ${rowCount} ${resource} rows break the import rules, so nothing was imported${more}.`;
}

/**
 * The row error of a value PostgreSQL refused while a file's rows were copied into staging (a
 * data exception, class 22, which the row checks did not foresee): its COPY line names the row.
 * Undefined for any other error.
 */
export function rowErrorFromDatabase(
  error: unknown,
): { row: number; field: string; message: string } | undefined {
  const { code, where } = error as { code?: unknown; where?: unknown };
  if (typeof code !== "string" || !code.startsWith("22")) return undefined;
  const found = /COPY rows_\w+, line (\d+)(?:, column (\w+))?/.exec(String(where ?? ""));
  if (!found) return undefined;
  const detail = String((error as Error).message).slice(0, 200);
  return {
    row: Number(found[1]) - 1,
    field: found[2] ?? "",
    message: `the chat database cannot store this row (${detail})`,
  };
}
