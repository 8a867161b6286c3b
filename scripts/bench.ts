import {
  benchExportIsolated,
  describeExportBench,
  type ExportBenchResult,
  exportTargets,
} from "./bench-export.ts";
import { benchImport, describeImportBench } from "./bench-import.ts";

/**
 * `npm run bench`: the service's speed and memory targets, each as a ratio to a bound measured
 * in the same run.
 * - export: 100,000, 300,000 and 1,000,000 comments (a third replies, users and rooms to match),
 *   freshly written and never analyzed, exported through the API and the export queue's consumer;
 *   time over PostgreSQL's own JSON COPY of the same rows (<= 2.0 at 300k and 1M), 1M/300k time
 *   (<= 3.6: linear) and peak RSS 1M/100k (<= 1.5x: memory does not grow with rows);
 * - import: a 4 MiB comments file (a third replies) and a 4 MiB users file with bcrypt cost 10,
 *   rows/s, and for users the ratio to the pure bcrypt bound (cores x hashes/s).
 * `npm run bench -- --quick` runs 10,000 / 30,000 / 100,000 comments and skips nothing else.
 */
const quick = process.argv.includes("--quick");
const sizes = quick ? [10_000, 30_000, 100_000] : [100_000, 300_000, 1_000_000];

const exports: ExportBenchResult[] = [];
for (const rows of sizes) {
  const result = await benchExportIsolated(rows);
  exports.push(result);
  console.log(describeExportBench(result));
}
const targets = exportTargets(
  ...(exports as [ExportBenchResult, ExportBenchResult, ExportBenchResult]),
);
for (const line of targets.lines) console.log(line);

const imports = await benchImport();
console.log(describeImportBench(imports));

console.log(JSON.stringify({ exports, exportTargets: targets, imports }));
process.exit(targets.ok ? 0 : 1);
