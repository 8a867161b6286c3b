import { importCommentSchema } from "../../schemas/import-comments.ts";
import { rfc3339 } from "../../schemas/import-fields.ts";
import { importRoomSchema } from "../../schemas/import-rooms.ts";
import { importUserSchema } from "../../schemas/import-users.ts";
import type { ImportLimits } from "../config.ts";
import type { Resource } from "../jobs/job-record.ts";
import { instant } from "./file-rows.ts";
import { inexactNumbersOf, OversizedRow } from "./row-text.ts";

/**
 * The checks that keep a row the chat database would reject, or would store other than it was
 * written, from ever reaching it: every import path runs them on every row before anything of
 * the row is copied anywhere (see `stageRow` in `staged-import.ts`). Each finding is a row
 * error `{row, field, message}`:
 * - `\u0000` in any string or key (PostgreSQL text and jsonb cannot hold it): rejected, never stripped;
 * - a lone UTF-16 surrogate (`"\ud800"` in the JSON): not Unicode text, it would become U+FFFD;
 * - a time outside years 0001-9999 in UTC (PostgreSQL has no year 0; RFC 3339 has 4-digit years);
 * - a number that would not come back with the same value (more digits than a double keeps,
 *   beyond its range): the file's own digits are compared, not the parsed value;
 * - a Payload (or any value) nested deeper than IMPORT_MAX_PAYLOAD_DEPTH;
 * - a row larger than IMPORT_MAX_ROW_BYTES (found by the row splitter, whose bytes it never keeps).
 * Only the fields of the resource's row schema are looked at: unknown keys are discarded anyway.
 */

/** Where a problem is written: the row's problem list. */
export interface ProblemSink {
  add(field: string, message: string): void;
}

const ROW_SCHEMAS: Record<Resource, { properties: Record<string, unknown> }> = {
  users: importUserSchema,
  rooms: importRoomSchema,
  comments: importCommentSchema,
};

/** The fields of each resource's rows, and which of them are times. */
const FIELDS = Object.fromEntries(
  Object.entries(ROW_SCHEMAS).map(([resource, schema]) => [
    resource,
    Object.entries(schema.properties).map(([name, property]) => ({
      name,
      time: property === rfc3339,
    })),
  ]),
) as Record<Resource, { name: string; time: boolean }[]>;

const KNOWN = Object.fromEntries(
  Object.entries(FIELDS).map(([resource, fields]) => [
    resource,
    new Set(fields.map((field) => field.name)),
  ]),
) as Record<Resource, Set<string>>;

function hasNul(text: string): boolean {
  return text.includes("\u0000");
}

function isWellFormed(text: string): boolean {
  return (text as string & { isWellFormed(): boolean }).isWellFormed();
}

/** True when the chat database stores the string as it is. */
function isClean(text: string): boolean {
  return !hasNul(text) && isWellFormed(text);
}

/** What is wrong with one string (a value or a key) for the chat database, if anything. */
function stringProblem(text: string, what: string): string | undefined {
  if (hasNul(text)) {
    return `${what} contains a NUL character (\\u0000), which the chat database cannot store; remove it from the file`;
  }
  if (!isWellFormed(text)) {
    return `${what} contains a lone UTF-16 surrogate (an unpaired \\ud800-\\udfff escape), which is not Unicode text`;
  }
  return undefined;
}

/** An object or array met while walking a field; its path is only spelled out for a problem. */
interface Frame {
  value: object;
  depth: number;
  parent: Frame | undefined;
  key: string;
}

function pathOf(frame: Frame | undefined, last?: string): string {
  const parts: string[] = last === undefined ? [] : [last];
  for (let at = frame; at; at = at.parent) parts.push(at.key);
  return parts.reverse().join(".");
}

/**
 * Walks one field's value without recursion (however deep it is), reporting the first string
 * problem and a nesting deeper than the limit. Only objects and arrays take a frame, and paths
 * are built only for a problem: a clean row costs one look at each value.
 */
function checkValue(field: string, value: unknown, maxDepth: number, sink: ProblemSink): boolean {
  if (typeof value === "string") {
    const problem = stringProblem(value, field);
    if (problem) sink.add(field, problem);
    return problem === undefined;
  }
  if (value === null || typeof value !== "object") return true;
  let ok = true;
  let stringReported = false;
  const report = (path: string, problem: string | undefined) => {
    if (problem === undefined || stringReported) return;
    sink.add(path, problem);
    stringReported = true;
    ok = false;
  };
  const stack: Frame[] = [{ value, depth: 1, parent: undefined, key: field }];
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    if (frame.depth > maxDepth) {
      sink.add(
        field,
        `${field} is nested more than ${maxDepth} levels deep; at most ${maxDepth} levels are allowed (IMPORT_MAX_PAYLOAD_DEPTH)`,
      );
      return false;
    }
    const isArray = Array.isArray(frame.value);
    const keys = isArray ? undefined : Object.keys(frame.value);
    const count = isArray ? (frame.value as unknown[]).length : (keys as string[]).length;
    for (let index = count - 1; index >= 0; index -= 1) {
      const key = isArray ? String(index) : ((keys as string[])[index] as string);
      if (!isArray && !stringReported && !isClean(key)) {
        report(pathOf(frame, key), stringProblem(key, `a key of ${pathOf(frame)}`));
      }
      const child = isArray
        ? (frame.value as unknown[])[index]
        : (frame.value as Record<string, unknown>)[key];
      if (typeof child === "string") {
        if (!stringReported && !isClean(child)) {
          report(pathOf(frame, key), stringProblem(child, pathOf(frame, key)));
        }
      } else if (child !== null && typeof child === "object") {
        stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
      }
    }
  }
  return ok;
}

/** True when PostgreSQL stores the RFC 3339 time `value` as written (years 0001-9999 in UTC). */
function timeProblem(name: string, value: string): string | undefined {
  // Years 0002-9998 stay within 0001-9999 in UTC whatever the offset: no need to compute it.
  const year = Number(value.slice(0, 4));
  if (year >= 2 && year <= 9998 && value[4] === "-") return undefined;
  let text: string;
  try {
    text = instant(value).text;
  } catch {
    return `${name} must be an RFC 3339 time such as 2017-07-17T10:19:44+07:00`;
  }
  if (/^\d{4}-/.test(text) && !text.startsWith("0000")) return undefined;
  return `${name} ${value.slice(0, 40)} is outside the times the chat database stores (0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z)`;
}

/**
 * Runs every check above on one parsed row of `resource`, adding a problem per finding.
 * @returns true when the row holds nothing the chat database would reject or change
 */
export function checkRowValues(
  resource: Resource,
  row: unknown,
  limits: Pick<ImportLimits, "rowBytes" | "payloadDepth">,
  sink: ProblemSink,
): boolean {
  if (row instanceof OversizedRow) {
    sink.add(
      "",
      `the row is ${row.bytes} bytes of JSON; a row may be at most ${limits.rowBytes} bytes (IMPORT_MAX_ROW_BYTES)`,
    );
    return false;
  }
  if (row === null || typeof row !== "object" || Array.isArray(row)) return true;
  let ok = true;
  const record = row as Record<string, unknown>;
  for (const { name, time } of FIELDS[resource]) {
    const value = record[name];
    if (value === undefined || value === null) continue;
    if (!checkValue(name, value, limits.payloadDepth, sink)) {
      ok = false;
      continue;
    }
    const problem = time && typeof value === "string" ? timeProblem(name, value) : undefined;
    if (problem) {
      sink.add(name, problem);
      ok = false;
    }
  }
  const known = KNOWN[resource];
  // A few are enough to show what is wrong; a row of thousands of such numbers lists ten.
  for (const path of inexactNumbersOf(row).slice(0, 10)) {
    if (!known.has(path.split(".")[0] as string)) continue;
    sink.add(
      path,
      `${path} is a number with more digits (or a larger exponent) than can be kept exactly; write it with at most 15 significant digits, or as a string`,
    );
    ok = false;
  }
  return ok;
}
