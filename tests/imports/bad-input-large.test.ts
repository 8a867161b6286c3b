import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { constants, createGzip } from "node:zlib";
import { describe, expect, it } from "vitest";
import { newApp } from "../support/harness.ts";
import { settleHostile, uploadImport } from "./hostile.ts";

/** A gzip file of `head`, `size` bytes of `fill`, then `tail`, made without holding the whole. */
async function gzipStream(head: string, fill: number, size: number, tail: string) {
  const chunk = Buffer.alloc(1024 * 1024, fill);
  async function* parts() {
    yield Buffer.from(head);
    for (let sent = 0; sent < size; sent += chunk.length) yield chunk;
    yield Buffer.from(tail);
  }
  return buffer(Readable.from(parts()).pipe(createGzip({ level: constants.Z_BEST_SPEED })));
}

/** Samples the process's resident memory while `work` runs; returns the growth at its peak. */
async function peakGrowth<T>(work: () => Promise<T>): Promise<{ result: T; growth: number }> {
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const result = await work();
    return { result, growth: peak - base };
  } finally {
    clearInterval(timer);
  }
}

describe("files far beyond the limits: bounded memory, an end within seconds", () => {
  it("given a 640 MiB single row (gzip upload), then a row error naming the row limit, and the worker's memory stays bounded", async () => {
    const app = await newApp();
    const file = await gzipStream('[{"Message":"', 0x61, 640 * 1024 * 1024, '"}]');
    const jobId = await uploadImport(app, "comments", file);
    const { result, growth } = await peakGrowth(() => settleHostile(app, jobId, 60_000));
    console.log(
      `640 MiB row: failed in ${Math.round(result.elapsedMs)} ms, RSS growth ${Math.round(growth / 2 ** 20)} MiB`,
    );
    expect(result.job.status).toBe("failed");
    expect(result.job.errors.Data).toEqual([
      { row: 0, field: "", message: expect.stringContaining("IMPORT_MAX_ROW_BYTES") },
    ]);
    expect(growth).toBeLessThan(256 * 1024 * 1024);
  }, 120_000);

  it("given 256 MiB of zeros (gzip upload), then it fails naming what the file holds after its first bytes", async () => {
    const app = await newApp();
    const file = await gzipStream("", 0, 256 * 1024 * 1024, "");
    const jobId = await uploadImport(app, "comments", file);
    const { result, growth } = await peakGrowth(() => settleHostile(app, jobId, 30_000));
    console.log(
      `256 MiB of zeros: failed in ${Math.round(result.elapsedMs)} ms, RSS growth ${Math.round(growth / 2 ** 20)} MiB`,
    );
    expect(result.job.status).toBe("failed");
    expect(result.job.errors.Message).toMatch(/^The file (must hold a JSON array|is not valid)/);
    expect(growth).toBeLessThan(256 * 1024 * 1024);
  }, 120_000);
});
