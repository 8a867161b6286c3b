/** Room in a part buffer beyond the part size for the row that crosses it. */
const PART_SLACK_BYTES = 1024 * 1024;

/**
 * A reusable buffer for one part's bytes, written in place so that memory stays flat however
 * many rows pass through. Grows only for a row larger than its slack.
 */
export class PartBuffer {
  private buffer: Buffer;
  length = 0;

  constructor(partBytes: number) {
    this.buffer = Buffer.allocUnsafe(partBytes + PART_SLACK_BYTES);
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(grown, 0, 0, this.length);
    this.buffer = grown;
  }

  appendText(text: string): void {
    // A UTF-16 code unit never takes more than 3 bytes in UTF-8.
    this.reserve(text.length * 3);
    this.length += this.buffer.write(text, this.length, "utf8");
  }

  appendBytes(bytes: Buffer): void {
    this.reserve(bytes.length);
    // TypedArray#set: no native call per piece, the most frequent write of an export.
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
  }

  appendRange(data: Buffer, start: number, end: number): void {
    this.reserve(end - start);
    this.length += data.copy(this.buffer, this.length, start, end);
  }

  /** The bytes written so far (a view, valid until the next clear). */
  bytes(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  clear(): void {
    this.length = 0;
  }
}

const OPEN = Buffer.from("[\n");
const SEPARATOR = Buffer.from(",\n");
const CLOSE = Buffer.from("\n]\n");
const EMPTY = Buffer.from("[]\n");

/**
 * The export file's framing: a JSON array with one row per line (`[\n`, rows joined by `,\n`,
 * `\n]\n`; an empty export is `[]\n`). The rows themselves are written by the row stream.
 */
export const exportFile = {
  /** Appends what precedes row number `index` (0-based over the whole file). */
  appendRowStart(part: PartBuffer, index: number): void {
    part.appendBytes(index === 0 ? OPEN : SEPARATOR);
  },

  /** Ends a file of `rows` rows. */
  appendEnd(part: PartBuffer, rows: number): void {
    part.appendBytes(rows === 0 ? EMPTY : CLOSE);
  },
};
