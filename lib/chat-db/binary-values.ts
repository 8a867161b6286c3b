/** PostgreSQL's binary int8 and timestamptz values, read where they sit in a COPY row. */

/** A binary int8 at `at` as a number (ids of a chat database are far inside 2^53). */
export function int8(data: Buffer, at: number): number {
  const high = data.readInt32BE(at);
  const low = data.readUInt32BE(at + 4);
  // Most ids fit the low word: kept a small integer, they are cheaper map keys than a double.
  return high === 0 ? low : high * 2 ** 32 + low;
}

/** Milliseconds from 1970 to PostgreSQL's epoch, 2000-01-01T00:00:00Z. */
const POSTGRES_EPOCH_MS = Date.UTC(2000, 0, 1);

/**
 * A binary timestamptz (int8 microseconds since 2000) as whole seconds and microseconds. The
 * int8 is split in its two words so that no step leaves the range a double holds exactly.
 */
function timeParts(data: Buffer, at: number): { seconds: number; micros: number } {
  const high = data.readInt32BE(at);
  // 2^32 µs = 4294 s + 967296 µs.
  const low = high * 967_296 + data.readUInt32BE(at + 4);
  const carry = Math.floor(low / 1_000_000);
  return { seconds: high * 4294 + carry, micros: low - carry * 1_000_000 };
}

/**
 * Prints creation times; consecutive rows mostly share their second, so the date text of the
 * last second is kept.
 */
export class TimePrinter {
  private second = Number.NaN;
  private secondText = "";

  /**
   * `YYYY-MM-DDTHH:MM:SS`, then `.ffffff` unless the fraction is zero, then `Z`; undefined for a
   * time outside the years 0000-9999, which the file's four-digit years cannot hold.
   */
  fileTime(data: Buffer, at: number): string | undefined {
    const { seconds, micros } = timeParts(data, at);
    if (seconds !== this.second) {
      const date = new Date(POSTGRES_EPOCH_MS + seconds * 1000);
      const year = date.getUTCFullYear();
      if (!(year >= 0 && year <= 9999)) return undefined;
      const iso = date.toISOString();
      this.second = seconds;
      this.secondText = iso.slice(0, 19);
    }
    return micros === 0
      ? `${this.secondText}Z`
      : `${this.secondText}.${String(micros).padStart(6, "0")}Z`;
  }

  /** The keyset position text of a time: ISO 8601 with all six fraction digits. */
  cursorTime(data: Buffer, at: number): string {
    const { seconds, micros } = timeParts(data, at);
    const iso = new Date(POSTGRES_EPOCH_MS + seconds * 1000).toISOString().slice(0, -5);
    return `${iso}.${String(micros).padStart(6, "0")}Z`;
  }
}
