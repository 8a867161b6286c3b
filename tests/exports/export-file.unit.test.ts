import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { CopyRowReader, cursorOf, type StreamedRow } from "../../lib/chat-db/export-stream.ts";
import { exportFile, PartBuffer } from "../../lib/exports/export-file.ts";

/** A binary COPY as PostgreSQL sends it: header, rows of five text fields (null = -1), trailer. */
function binaryCopy(rows: (string | null)[][]): Buffer {
  const chunks = [Buffer.from("PGCOPY\n\xff\r\n\0", "latin1"), Buffer.alloc(8)];
  for (const row of rows) {
    const count = Buffer.alloc(2);
    count.writeInt16BE(row.length);
    chunks.push(count);
    for (const field of row) {
      const length = Buffer.alloc(4);
      const bytes = field === null ? Buffer.alloc(0) : Buffer.from(field, "utf8");
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
  for (let row = await reader.next(); row; row = await reader.next()) rows.push(row);
  return rows;
}

const ROWS: (string | null)[][] = [
  ["2024-01-01 00:00:00+00", "1", '{"Message":"a","Payload":null}', null, null],
  [
    "2024-01-01 00:00:00.5+00",
    "22",
    '{"Message":"👋 é","Payload":',
    '{"b": 1.0, "10": [1e5]}',
    "}",
  ],
  ["2024-01-02 03:04:05.000001+00", "333", '{"Message":""}', null, null],
];

describe("binary COPY rows and the file they make", () => {
  it("given any chunking of the stream, then every row and its keyset position are read whole", async () => {
    const bytes = binaryCopy(ROWS);
    for (const size of [1, 2, 3, 7, 19, 64, bytes.length]) {
      const rows = await readAll(bytes, size);
      expect(rows.map((row) => row.head.toString())).toEqual(ROWS.map((row) => row[2]));
      expect(rows.map((row) => row.payload?.toString())).toEqual([
        undefined,
        ROWS[1]?.[3],
        undefined,
      ]);
      expect(rows.map(cursorOf)).toEqual([
        { createdAt: "2024-01-01 00:00:00+00", id: 1 },
        { createdAt: "2024-01-01 00:00:00.5+00", id: 22 },
        { createdAt: "2024-01-02 03:04:05.000001+00", id: 333 },
      ]);
    }
  });

  it("given a stream cut inside a row, then reading fails instead of writing half a row", async () => {
    const bytes = binaryCopy(ROWS);
    await expect(readAll(bytes.subarray(0, bytes.length - 10), 5)).rejects.toThrow(
      /middle of a row/,
    );
  });

  it("given rows, then the file is a JSON array of one row per line with payloads as JavaScript prints them", async () => {
    const rows = await readAll(binaryCopy(ROWS), 11);
    const part = new PartBuffer(16);
    rows.forEach((row, index) => {
      exportFile.appendRow(part, row, index);
    });
    exportFile.appendEnd(part, rows.length);
    const text = part.bytes().toString("utf8");
    expect(text).toBe(
      '[\n{"Message":"a","Payload":null},\n{"Message":"👋 é","Payload":{"10":[100000],"b":1}},\n{"Message":""}\n]\n',
    );
    const empty = new PartBuffer(16);
    exportFile.appendEnd(empty, 0);
    expect(empty.bytes().toString()).toBe("[]\n");
  });
});
