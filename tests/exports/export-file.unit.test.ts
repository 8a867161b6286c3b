import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import {
  CopyRowReader,
  cursorOf,
  fieldBytes,
  type StreamedRow,
} from "../../lib/chat-db/copy-row-reader.ts";
import { NameCache, type NamedTable } from "../../lib/chat-db/export-names.ts";
import { RowWriter } from "../../lib/chat-db/export-row-writer.ts";
import { exportFile, PartBuffer } from "../../lib/exports/export-file.ts";

/** A binary timestamptz: microseconds since 2000-01-01T00:00:00Z as int8. */
function timestamp(iso: string, extraMicros = 0): Buffer {
  const bytes = Buffer.alloc(8);
  const micros = BigInt(Date.parse(iso) - Date.UTC(2000, 0, 1)) * 1000n + BigInt(extraMicros);
  bytes.writeBigInt64BE(micros);
  return bytes;
}

function int8(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64BE(BigInt(value));
  return bytes;
}

type Field = Buffer | string | null;

/** A binary COPY as PostgreSQL sends it: header, rows of fields (null = -1), trailer. */
function binaryCopy(rows: Field[][]): Buffer {
  const chunks: Buffer[] = [Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    chunks.push(count);
    for (const field of row) {
      const length = Buffer.alloc(4);
      const bytes =
        field === null ? Buffer.alloc(0) : Buffer.isBuffer(field) ? field : Buffer.from(field);
      length.writeInt32BE(field === null ? -1 : bytes.length);
      chunks.push(length, bytes);
    }
  }
  chunks.push(Buffer.from([0xff, 0xff]));
  return Buffer.concat(chunks);
}

async function readAll(bytes: Buffer, chunkSize: number): Promise<StreamedRow[]> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize)
    pieces.push(bytes.subarray(at, at + chunkSize));
  const reader = new CopyRowReader(Readable.from(pieces));
  const rows: StreamedRow[] = [];
  for (let row = await reader.next(); row; row = await reader.next()) {
    rows.push(CopyRowReader.keep(row));
  }
  return rows;
}

/** Comment rows as the export statement sends them: time, id, head, user, room, payload, tail. */
const ROWS: Field[][] = [
  [
    timestamp("2024-01-01T00:00:00Z"),
    int8(1),
    '{"Message":"a","CreatorEmail":',
    int8(7),
    int8(70),
    null,
    ',"P":""}',
  ],
  [
    timestamp("2024-01-01T00:00:00.5Z"),
    int8(22),
    '{"Message":"👋 é","CreatorEmail":',
    int8(8),
    int8(70),
    '{"b": 1.0, "10": [1e5]}',
    ',"P":"x"}',
  ],
  [
    timestamp("1999-12-31T23:59:59Z", 999_999),
    int8(333),
    '{"Message":"","CreatorEmail":',
    int8(7),
    int8(71),
    null,
    ',"P":""}',
  ],
];

/** A name source over fixed names that records what it was asked. */
function namesOf(names: Record<NamedTable, Record<number, string>>) {
  const asked: [NamedTable, number[]][] = [];
  const source = async (table: NamedTable, ids: number[]) => {
    asked.push([table, [...ids].sort((a, b) => a - b)]);
    const found = new Map<number, Buffer>();
    for (const id of ids) {
      const name = names[table][id];
      if (name !== undefined) found.set(id, Buffer.from(JSON.stringify(name)));
    }
    return found;
  };
  return { source, asked };
}

const NAMES = {
  users: { 7: "seven@example.com", 8: 'eight "8"@example.com' },
  rooms: { 70: "room-70", 71: "room-71" },
};

describe("binary COPY rows and the file they make", () => {
  it("given any chunking of the stream, then every row and its keyset position are read whole", async () => {
    const bytes = binaryCopy(ROWS);
    for (const size of [1, 2, 3, 7, 19, 64, bytes.length]) {
      const rows = await readAll(bytes, size);
      expect(rows.map((row) => fieldBytes(row, 2)?.toString())).toEqual(ROWS.map((row) => row[2]));
      expect(rows.map((row) => fieldBytes(row, 5)?.toString())).toEqual([
        undefined,
        ROWS[1]?.[5],
        undefined,
      ]);
      expect(rows.map(cursorOf)).toEqual([
        { createdAt: "2024-01-01T00:00:00.000000Z", id: 1 },
        { createdAt: "2024-01-01T00:00:00.500000Z", id: 22 },
        { createdAt: "1999-12-31T23:59:59.999999Z", id: 333 },
      ]);
    }
  });

  it("given rows longer than the bytes bridged between chunks, then they are read whole too", async () => {
    const long = ROWS.map((row, index) =>
      row.map((field, k) => (k === 2 ? "x".repeat(3000 * (index + 1)) : field)),
    );
    const bytes = binaryCopy(long);
    for (const size of [100, 4097, 5000, 9001]) {
      const rows = await readAll(bytes, size);
      expect(rows.map((row) => fieldBytes(row, 2)?.length)).toEqual([3000, 6000, 9000]);
      expect(rows.map((row) => cursorOf(row).id)).toEqual([1, 22, 333]);
    }
  });

  it("given a stream cut inside a row, then reading fails instead of writing half a row", async () => {
    const bytes = binaryCopy(ROWS);
    await expect(readAll(bytes.subarray(0, bytes.length - 10), 5)).rejects.toThrow(
      /middle of a row/,
    );
  });

  it("given rows, then the file is a JSON array of one row per line with names, times and payloads in the file's form", async () => {
    const rows = await readAll(binaryCopy(ROWS), 11);
    const { source, asked } = namesOf(NAMES);
    const writer = new RowWriter("comments", new NameCache(source));
    expect(rows.map((row) => writer.resolve(row))).toEqual([false, false, false]);
    await writer.fetchNames(rows);
    // One look-up per table for every name the waiting rows lack.
    expect(asked).toEqual([
      ["users", [7, 8]],
      ["rooms", [70, 71]],
    ]);
    expect(rows.map((row) => writer.resolve(row))).toEqual([true, true, true]);
    const part = new PartBuffer(16);
    rows.forEach((row, index) => {
      // Each row is written right after its names were resolved.
      expect(writer.resolve(row)).toBe(true);
      exportFile.appendRowStart(part, index);
      writer.write(row, part);
    });
    exportFile.appendEnd(part, rows.length);
    expect(part.bytes().toString("utf8")).toBe(
      [
        "[",
        '{"Message":"a","CreatorEmail":"seven@example.com","RoomUniqueId":"room-70","CreatedAt":"2024-01-01T00:00:00Z","Payload":null,"P":""},',
        '{"Message":"👋 é","CreatorEmail":"eight \\"8\\"@example.com","RoomUniqueId":"room-70","CreatedAt":"2024-01-01T00:00:00.500000Z","Payload":{"10":[100000],"b":1},"P":"x"},',
        '{"Message":"","CreatorEmail":"seven@example.com","RoomUniqueId":"room-71","CreatedAt":"1999-12-31T23:59:59.999999Z","Payload":null,"P":""}',
        "]",
        "",
      ].join("\n"),
    );
    const empty = new PartBuffer(16);
    exportFile.appendEnd(empty, 0);
    expect(empty.bytes().toString()).toBe("[]\n");
  });

  it("given more names than the cache holds, then it starts afresh with every name the waiting rows need", async () => {
    const rows = await readAll(binaryCopy(ROWS), 64);
    const [more] = await readAll(
      binaryCopy([[timestamp("2024-01-02T00:00:00Z"), int8(4), "{", int8(9), int8(70), null, "}"]]),
      64,
    );
    const { source, asked } = namesOf({
      users: { ...NAMES.users, 9: "nine@example.com" },
      rooms: NAMES.rooms,
    });
    const writer = new RowWriter("comments", new NameCache(source, 2));
    for (const row of rows) writer.resolve(row);
    await writer.fetchNames(rows);
    // Users 7 and 8 fill the cache; a row naming user 9 waits behind the first row (user 7).
    const waiting = [rows[0], more] as StreamedRow[];
    expect(waiting.map((row) => writer.resolve(row))).toEqual([true, false]);
    await writer.fetchNames(waiting);
    expect(asked.at(-1)).toEqual(["users", [7, 9]]);
    expect(waiting.map((row) => writer.resolve(row))).toEqual([true, true]);
    expect(writer.resolve(rows[1] as StreamedRow)).toBe(false);
  });

  it("given a row naming a user that is gone, then the look-up fails with the id", async () => {
    const rows = await readAll(binaryCopy(ROWS), 64);
    const { source } = namesOf({ users: {}, rooms: NAMES.rooms });
    const writer = new RowWriter("comments", new NameCache(source));
    writer.resolve(rows[0] as StreamedRow);
    await expect(writer.fetchNames(rows.slice(0, 1))).rejects.toThrow(/users row 7, which is gone/);
  });
});
