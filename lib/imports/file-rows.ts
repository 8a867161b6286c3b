import { pipeline, Readable } from "node:stream";
import { createGunzip, type Gunzip } from "node:zlib";
import { config } from "../config.ts";
import { ImportFileError } from "./import-file-error.ts";
import { RowSplitter } from "./row-splitter.ts";

export { ImportFileError };

/** True when the bytes begin like a gzip stream (1f 8b), whatever the file is called. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes[0] === 0x1f && bytes[1] === 0x8b;
}

const NOT_GZIP = "The file starts like a gzip file but could not be decompressed.";

export interface RowStreamOptions {
  /** NDJSON is accepted besides a JSON array. */
  ndjson?: boolean;
  /** A row above this many bytes of JSON comes out as an `OversizedRow`, not kept. */
  maxRowBytes?: number;
  /** A gzip file inflating to more than this many bytes fails the file. */
  maxInflatedBytes?: number;
  /** The setting that sets `maxInflatedBytes`, named in the sentence of its failure. */
  inflatedLimitName?: string;
}

/**
 * The limits of SPEC 11 for a file that came in a form (gzip inflating to at most
 * IMPORT_MAX_FORM_INFLATED_BYTES, JSON array only) or was uploaded (IMPORT_MAX_INFLATED_BYTES,
 * NDJSON accepted); rows at most IMPORT_MAX_ROW_BYTES either way.
 */
export function importRowOptions(uploaded: boolean): RowStreamOptions {
  const limits = config().importLimits;
  return {
    ndjson: uploaded,
    maxRowBytes: limits.rowBytes,
    maxInflatedBytes: uploaded ? limits.uploadInflatedBytes : limits.formInflatedBytes,
    inflatedLimitName: uploaded ? "IMPORT_MAX_INFLATED_BYTES" : "IMPORT_MAX_FORM_INFLATED_BYTES",
  };
}

/**
 * Streams an import file's rows in batches, never holding the file: gzip is recognised by its
 * first bytes and decompressed on the way, up to `maxInflatedBytes`.
 */
export async function* streamImportRows(
  source: AsyncIterable<Uint8Array>,
  resource: string,
  options: RowStreamOptions = {},
): AsyncGenerator<unknown[]> {
  const splitter = new RowSplitter(resource, options.ndjson ?? false, options.maxRowBytes);
  const maxInflated = options.maxInflatedBytes ?? Number.POSITIVE_INFINITY;
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  if (first.done) {
    yield splitter.end();
    return;
  }
  const head = first.value;
  async function* rest(): AsyncGenerator<Uint8Array> {
    yield head;
    for (let next = await iterator.next(); !next.done; next = await iterator.next())
      yield next.value;
  }
  let chunks: AsyncIterable<Uint8Array> = rest();
  let gunzip: Gunzip | undefined;
  if (isGzip(head)) {
    gunzip = createGunzip();
    // pipeline, not pipe: a source that fails (a read error, a checksum that does not match)
    // fails the gunzip stream with its error instead of leaving it waiting for an end.
    chunks = pipeline(Readable.from(rest()), gunzip, () => {});
  }
  let inflated = 0;
  try {
    for await (const chunk of chunks) {
      if (gunzip) {
        inflated += chunk.length;
        if (inflated > maxInflated) {
          throw new ImportFileError(
            `The gzip file inflates to more than ${maxInflated} bytes, the limit for this way of importing (${options.inflatedLimitName ?? "the inflated size limit"}).`,
          );
        }
      }
      const rows = splitter.push(chunk);
      if (rows.length) yield rows;
    }
  } catch (error) {
    // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR, ...) mean a damaged or cut compressed file.
    if (gunzip && /^Z_/.test(String((error as { code?: unknown }).code))) {
      throw new ImportFileError(NOT_GZIP);
    }
    throw error;
  } finally {
    // A file given up on half-way (a bad row, a limit, an error) releases its stream and socket.
    gunzip?.destroy();
    (source as { destroy?: () => void }).destroy?.();
  }
  const last = splitter.end();
  if (last.length) yield last;
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
