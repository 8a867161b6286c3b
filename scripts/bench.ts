import { benchExportIsolated, type ExportBenchResult } from "./bench-export.ts";
import { benchImport, describeImportBench } from "./bench-import.ts";

/**
 * `npm run bench`: the service's speed and memory targets.
 * - export: 100,000 and 1,000,000 generated comments streamed from PostgreSQL to S3; rows/s,
 *   MiB/s and peak RSS, which must stay within 1.5x of the smaller run (memory does not grow with rows);
 * - import: a 4 MiB comments file (a third replies) and a 4 MiB users file with bcrypt cost 10,
 *   rows/s, and for users the ratio to the pure bcrypt bound (cores x hashes/s).
 * `npm run bench -- --quick` runs 10,000 / 100,000 comments and skips nothing else.
 */
const quick = process.argv.includes("--quick");
const sizes = quick ? [10_000, 100_000] : [100_000, 1_000_000];

const exports: ExportBenchResult[] = [];
for (const rows of sizes) {
  const result = await benchExportIsolated(rows);
  exports.push(result);
  console.log(
    `export ${rows.toLocaleString("en-US")} comments: ${result.seconds} s, ${result.rowsPerSecond.toLocaleString("en-US")} rows/s, ${result.mbPerSecond} MiB/s, file ${(result.bytes / 1048576).toFixed(1)} MiB, peak RSS ${result.peakRssMb} MiB`,
  );
}
const [small, large] = exports as [ExportBenchResult, ExportBenchResult];
const ratio = large.peakRssMb / small.peakRssMb;
console.log(
  `export peak RSS ratio ${ratio.toFixed(2)}x (target <= 1.5x): ${ratio <= 1.5 ? "ok" : "EXCEEDED"}`,
);

const imports = await benchImport();
console.log(describeImportBench(imports));

console.log(JSON.stringify({ exports, exportRssRatio: Number(ratio.toFixed(3)), imports }));
process.exit(ratio <= 1.5 ? 0 : 1);
