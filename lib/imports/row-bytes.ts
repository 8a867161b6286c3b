import { OversizedRow } from "./row-text.ts";

/**
 * The bytes of the row the splitter is inside of, gathered across chunks up to the row limit;
 * past the limit only their count is kept, so that a huge row costs no memory.
 */
export class RowBytes {
  private pending: Uint8Array[] = [];
  /** Bytes held so far. */
  held = 0;
  /** The open row went past the limit: its bytes are counted, not held. */
  oversized = false;
  private dropped = 0;

  constructor(private readonly maxRowBytes: number) {}

  /** True while no byte of an open row was met. */
  get empty(): boolean {
    return this.held === 0 && !this.oversized;
  }

  /** Keeps bytes of the open row, up to the row limit; past it only their count. */
  keep(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    if (this.oversized || this.held + bytes.length > this.maxRowBytes) {
      this.dropped += this.held + bytes.length;
      this.pending = [];
      this.held = 0;
      this.oversized = true;
      return;
    }
    this.pending.push(bytes);
    this.held += bytes.length;
  }

  /** Keeps bytes whatever the limit (a file that is no array, kept to describe it). */
  keepAll(bytes: Uint8Array): void {
    this.pending.push(bytes);
    this.held += bytes.length;
  }

  /** Every byte held, as one buffer. */
  all(): Buffer {
    return Buffer.concat(this.pending);
  }

  /**
   * The row's bytes: those held and `chunk[rowStart, end)` (`rowStart` < 0: from the chunk's
   * start), or an OversizedRow when they are more than the row limit. Starts the next row.
   */
  take(chunk: Uint8Array, rowStart: number, end: number): Uint8Array | OversizedRow {
    const from = Math.max(rowStart, 0);
    const size = this.held + this.dropped + Math.max(end - from, 0);
    if (this.oversized || size > this.maxRowBytes) {
      this.pending = [];
      this.held = 0;
      this.oversized = false;
      this.dropped = 0;
      return new OversizedRow(size);
    }
    if (this.held === 0) return chunk.subarray(from, end);
    const parts = [...this.pending, chunk.subarray(from, end)];
    this.pending = [];
    this.held = 0;
    return Buffer.concat(parts);
  }
}
