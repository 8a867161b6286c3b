import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { importRowOptions, streamImportRows } from "../../lib/imports/file-rows.ts";
import { OversizedRow } from "../../lib/imports/row-text.ts";

async function rowsOf(bytes: Uint8Array, options: Parameters<typeof streamImportRows>[2]) {
  const rows: unknown[] = [];
  for await (const batch of streamImportRows(Readable.from([bytes]), "comments", options))
    rows.push(...batch);
  return rows;
}

describe("the row stream's limits", () => {
  it("given each way in, then its own inflated limit and setting, and the row limit", () => {
    expect(importRowOptions(false)).toEqual({
      ndjson: false,
      maxRowBytes: 1024 * 1024,
      maxInflatedBytes: 64 * 1024 ** 2,
      inflatedLimitName: "IMPORT_MAX_FORM_INFLATED_BYTES",
    });
    expect(importRowOptions(true)).toEqual({
      ndjson: true,
      maxRowBytes: 1024 * 1024,
      maxInflatedBytes: 64 * 1024 ** 3,
      inflatedLimitName: "IMPORT_MAX_INFLATED_BYTES",
    });
  });

  it("given an uploaded gzip file inflating past its limit, then one sentence naming IMPORT_MAX_INFLATED_BYTES", async () => {
    const bomb = gzipSync(Buffer.from(`[${" ".repeat(100_000)}]`));
    const options = { ...importRowOptions(true), maxInflatedBytes: 50_000 };
    await expect(rowsOf(bomb, options)).rejects.toThrow(
      "The gzip file inflates to more than 50000 bytes, the limit for this way of importing (IMPORT_MAX_INFLATED_BYTES).",
    );
    // The same file as it is, not compressed, is not an inflated file.
    expect(await rowsOf(Buffer.from(`[${" ".repeat(100_000)}]`), options)).toEqual([]);
  });

  it("given rows above the row limit, in an array and in NDJSON, then only their size comes out, and the rows around them", async () => {
    const big = JSON.stringify({ a: "x".repeat(5000) });
    const options = { ndjson: true, maxRowBytes: 1024 };
    const array = await rowsOf(Buffer.from(`[{"a":1},${big},{"b":2}]`), options);
    expect(array).toEqual([{ a: 1 }, new OversizedRow(big.length), { b: 2 }]);
    const lines = await rowsOf(Buffer.from(`{"a":1}\n${big}\n{"b":2}\n`), options);
    expect(lines).toEqual([{ a: 1 }, new OversizedRow(big.length), { b: 2 }]);
  });
});
