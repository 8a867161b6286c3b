/** Why an import file cannot be read as rows at all: one sentence for `errors.Message`. */
export class ImportFileError extends Error {
  override name = "ImportFileError";
}

function lineAndColumn(text: string, position: number): string {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  const column = position - before.lastIndexOf("\n");
  return `line ${line}, column ${column}`;
}

/**
 * Reads an import file as a JSON array of rows. The parser's own message is not repeated: it
 * quotes the file, and a users file holds passwords.
 */
export function parseImportFile(bytes: Uint8Array, resource: string): unknown[] {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ImportFileError("The file is not valid UTF-8 text.");
  }
  if (text.trim() === "") {
    throw new ImportFileError(`The file is empty; it must hold a JSON array of ${resource}.`);
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    const where = position === undefined ? "" : ` (at ${lineAndColumn(text, Number(position))})`;
    throw new ImportFileError(`The file is not valid JSON${where}.`);
  }
  if (!Array.isArray(value)) {
    const kind = value === null ? "null" : typeof value === "object" ? "an object" : typeof value;
    throw new ImportFileError(
      `The file must hold a JSON array of ${resource}, but it holds ${kind}.`,
    );
  }
  return value;
}

const RFC3339 =
  /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}(?::?\d{2})?)$/;

export interface Instant {
  /** Normalised RFC 3339 text PostgreSQL stores exactly (at most microseconds). */
  text: string;
  /** Microseconds since the epoch, PostgreSQL's precision. */
  micros: number;
}

/** Reads an RFC 3339 timestamp (already checked by the row schema). */
export function instant(value: string): Instant {
  const match = RFC3339.exec(value);
  if (!match) throw new Error(`not an RFC 3339 timestamp: ${value.slice(0, 40)}`);
  const [, date, hoursMinutes, seconds, fraction = "", zone = "Z"] = match;
  let offset = zone.toUpperCase();
  if (offset !== "Z") {
    const digits = offset.slice(1).replace(":", "");
    offset = `${offset[0]}${digits.slice(0, 2)}:${digits.slice(2, 4) || "00"}`;
  }
  const micro = fraction.slice(0, 6).padEnd(6, "0");
  // A leap second (23:59:60) counts as the first instant of the next minute, as in PostgreSQL.
  const leap = seconds === "60";
  const ms =
    Date.parse(`${date}T${hoursMinutes}:${leap ? "59" : seconds}${offset}`) + (leap ? 1000 : 0);
  return {
    text: `${new Date(ms).toISOString().slice(0, 19)}.${micro}Z`,
    micros: ms * 1000 + Number(micro),
  };
}
