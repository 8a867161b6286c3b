import type { ErrorObject } from "ajv";
import { PATTERN_HINTS } from "../../schemas/import-fields.ts";
import type { ImportRowError } from "../jobs/job-record.ts";
import { describeError, errorField } from "../validation.ts";

/** At most this many row problems are kept in a job's `errors.Data`. */
export const MAX_LISTED_PROBLEMS = 1000;

/** Every problem found in an import file, by 0-based row index; the list is capped. */
export class RowProblems {
  readonly listed: ImportRowError[] = [];
  readonly rows = new Set<number>();
  total = 0;

  /** Keeps the problems of the lowest rows, in row order, whatever order the checks find them in. */
  add(row: number, field: string, message: string): void {
    this.total += 1;
    this.rows.add(row);
    const full = this.listed.length >= MAX_LISTED_PROBLEMS;
    if (full && row >= (this.listed.at(-1)?.row ?? 0)) return;
    let low = 0;
    let high = this.listed.length;
    while (low < high) {
      const middle = (low + high) >> 1;
      if ((this.listed[middle]?.row ?? 0) <= row) low = middle + 1;
      else high = middle;
    }
    this.listed.splice(low, 0, { row, field, message });
    if (full) this.listed.pop();
  }

  /**
   * Checks that `value` of `field` is used by one row of the file only: remembers the first row
   * in `seen`, reports any later one. Returns false when the value was taken.
   */
  unique(seen: Map<string, number>, value: string, row: number, field: string): boolean {
    const first = seen.get(value);
    if (first === undefined) {
      seen.set(value, row);
      return true;
    }
    this.add(row, field, `${field} is already used by row ${first} of this file`);
    return false;
  }

  /** Adds one problem per schema error, in words; `fieldPrefix` names a nested object. */
  addSchemaErrors(row: number, errors: ErrorObject[] | null | undefined, fieldPrefix = ""): void {
    for (const error of errors ?? []) {
      const field = [fieldPrefix, errorField(error)].filter(Boolean).join(".");
      this.add(row, field, describeSchemaError(error, field));
    }
  }

  get empty(): boolean {
    return this.total === 0;
  }

  /** One sentence for `errors.Message`. */
  summary(resource: string, rowCount: number): string {
    const rows = this.rows.size;
    const hidden = this.total - this.listed.length;
    const listed =
      hidden > 0
        ? `; the first ${this.listed.length} problems are listed, ${hidden} more are not`
        : "";
    return `${rows} of ${rowCount} ${resource} rows break the import rules, so nothing was imported${listed}.`;
  }
}

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
