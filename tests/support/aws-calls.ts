import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RecordedCall } from "../../lib/aws/call-recorder.ts";

/** Every distinct call recorded in `dir` so far, by every process of the run. */
export function readCallRecords(dir: string): RecordedCall[] {
  if (!existsSync(dir)) return [];
  const lines = new Set<string>();
  for (const file of readdirSync(dir)
    .filter((name) => name.endsWith(".ndjson"))
    .sort()) {
    for (const line of readFileSync(join(dir, file), "utf8").split("\n")) {
      if (line) lines.add(line);
    }
  }
  return [...lines].map((line) => JSON.parse(line) as RecordedCall);
}

/** Writes the run's records into one file, one line per distinct call. */
export function mergeCallRecords(dir: string, file: string): void {
  const records = readCallRecords(dir);
  writeFileSync(file, records.map((record) => `${JSON.stringify(record)}\n`).join(""));
}
