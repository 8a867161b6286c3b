import type { Resource } from "../jobs/job-record.ts";
import { int8, TimePrinter } from "./binary-values.ts";
import { CREATED_AT, ID, type StreamedRow } from "./copy-row-reader.ts";
import { type CachedNames, NameCache, type NamedTable } from "./export-names.ts";
import { type Piece, pieceColumn, SHAPES } from "./export-row-shapes.ts";
import { javascriptJson } from "./jsonb-text.ts";

/** A row no export file can hold: exporting again cannot help. */
export class UnexportableRowError extends Error {
  override name = "UnexportableRowError";
}

/** Where a row's bytes are written. */
export interface RowOutput {
  appendBytes(bytes: Buffer): void;
  /** Appends `data[start, end)`. */
  appendRange(data: Buffer, start: number, end: number): void;
  appendText(text: string): void;
}

const NULL_PAYLOAD = Buffer.from("null");

/**
 * Writes the file rows of one resource: the pieces in order, names from the cache. A row is
 * written only once its names are known ({@link RowWriter.ready}, {@link RowWriter.fetchNames}).
 */
export class RowWriter {
  private readonly pieces: Piece[];
  /** For each piece that reads a column, the column's index among the row's fields. */
  private readonly columns: number[];
  private readonly nameColumns: { table: NamedTable; column: number; cache: CachedNames }[] = [];
  /** For each piece that names a row, its place among the row's names. */
  private readonly nameIndexes: number[];
  /** The names of the row being written, in the order of `nameColumns`. */
  private readonly found: Buffer[] = [];
  private readonly times = new TimePrinter();

  constructor(
    private readonly resource: Resource,
    private readonly names = new NameCache(),
  ) {
    this.pieces = SHAPES[resource].pieces;
    let column = ID + 1;
    this.columns = this.pieces.map((piece) => (pieceColumn(piece) === undefined ? -1 : column++));
    this.nameIndexes = this.pieces.map((piece, index) => {
      if (piece.kind !== "name") return -1;
      const cache = names.table(piece.table);
      this.nameColumns.push({ table: piece.table, column: this.columns[index] as number, cache });
      return this.nameColumns.length - 1;
    });
  }

  /** Fetches the names noted by resolve() for `waiting`, the rows not yet written. */
  async fetchNames(waiting: StreamedRow[]): Promise<void> {
    await this.names.fetch(() => {
      const ids: Record<NamedTable, number[]> = { users: [], rooms: [] };
      for (const row of waiting) {
        for (const { table, column } of this.nameColumns) {
          ids[table].push(int8(row.data, start(row, column)));
        }
      }
      return ids;
    });
  }

  /**
   * Looks up the names the row refers to. True when all are known: the row can be written next.
   * Otherwise the missing ones are noted for fetchNames().
   */
  resolve(row: StreamedRow): boolean {
    const { nameColumns, found } = this;
    let known = true;
    for (let k = 0; k < nameColumns.length; k += 1) {
      const { column, cache } = nameColumns[k] as (typeof nameColumns)[number];
      const id = int8(row.data, start(row, column));
      const name = cache.names.get(id);
      if (name === undefined) {
        cache.wanted.add(id);
        known = false;
      } else found[k] = name;
    }
    return known;
  }

  /** Appends the JSON text of the row resolve() last returned true for. */
  write(row: StreamedRow, out: RowOutput): void {
    const { pieces, columns, found, nameIndexes } = this;
    const { data, bounds } = row;
    for (let index = 0; index < pieces.length; index += 1) {
      const piece = pieces[index] as Piece;
      const column = columns[index] as number;
      switch (piece.kind) {
        case "literal":
          out.appendBytes(piece.bytes);
          break;
        case "text":
          out.appendRange(data, start(row, column), bounds[2 * column + 1] as number);
          break;
        case "time": {
          const time = this.times.fileTime(data, bounds[2 * CREATED_AT] as number);
          if (time === undefined) {
            throw new UnexportableRowError(
              `${this.resource} row ${int8(data, bounds[2 * ID] as number)} has a creation time outside the years 0000-9999, which an export file cannot hold`,
            );
          }
          out.appendText(time);
          break;
        }
        case "name":
          out.appendBytes(found[nameIndexes[index] as number] as Buffer);
          break;
        case "payload": {
          const from = bounds[2 * column] as number;
          if (from < 0) out.appendBytes(NULL_PAYLOAD);
          else out.appendBytes(javascriptJson(data, from, bounds[2 * column + 1] as number));
          break;
        }
      }
    }
  }
}

/** Where a field that cannot be NULL starts. */
function start(row: StreamedRow, column: number): number {
  const at = row.bounds[2 * column] ?? -1;
  if (at < 0) throw new Error("the chat database sent an incomplete row");
  return at;
}
