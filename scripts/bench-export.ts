import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { type LocalStack, startScratchStack } from "./local/stack.ts";

/** What one export benchmark run measured. */
export interface ExportBenchResult {
  rows: number;
  /** Wall time of the export itself (data generation excluded). */
  seconds: number;
  rowsPerSecond: number;
  /** File MiB written per second. */
  mbPerSecond: number;
  bytes: number;
  /** Highest resident set size of this process while the export ran, MiB. */
  peakRssMb: number;
  /** Resident set size just before the export began, MiB. */
  startRssMb: number;
  generateSeconds: number;
}

const MIB = 1024 * 1024;
const RESULT_MARKER = "EXPORT_BENCH_RESULT ";

let running: LocalStack | undefined;

/** Starts (once per process) a local stack on free ports in a temporary directory. */
async function benchStack(): Promise<LocalStack> {
  // The emulated S3 keeps its bytes in another process: this process's memory is the worker's.
  running ??= await startScratchStack("bench", { awsInChildProcess: true });
  return running;
}

/** Stops the benchmark's local stack and removes its state. */
export async function stopBenchStack(): Promise<void> {
  const current = running;
  running = undefined;
  await current?.stop();
}

/**
 * Generates `rows` comments for a new application and exports them with the export worker in
 * this process (default page and part sizes), sampling RSS every 50 ms. Starts a local stack on
 * free ports on first use; call stopBenchStack() when done.
 */
export async function benchExport(rows: number): Promise<ExportBenchResult> {
  await benchStack();
  // Loaded after the stack has put its endpoints into the environment.
  const { chatDb } = await import("../lib/chat-db/pool.ts");
  const { upsertApplication } = await import("../lib/chat-db/applications.ts");
  const { runExport } = await import("../lib/exports/export-worker.ts");
  const { jobStore } = await import("../lib/jobs/job-store.ts");
  const { newJob } = await import("../lib/jobs/jobs.ts");

  const appId = `bench-${randomUUID().slice(0, 8)}`;
  await upsertApplication({ appId, secret: randomUUID() });
  const generateStart = performance.now();
  const { rows: users } = await chatDb().query<{ id: number }>(
    `INSERT INTO users (app_id, email, name, authentication_token, password_hash, created_at)
     VALUES ($1, 'bench@example.com', 'Bench', $2, '$2b$10$abcdefghijklmnopqrstuuQ1Zz7sGmJxYh0b1Yp5nD0yqK9V8fQ2m',
       '2024-01-01T00:00:00Z') RETURNING id`,
    [appId, randomUUID()],
  );
  const userId = users[0]?.id;
  const { rows: rooms } = await chatDb().query<{ id: number }>(
    `INSERT INTO rooms (app_id, unique_id, name, type, creator_id, created_at)
     VALUES ($1, $2, 'Bench room', 'group', $3, '2024-01-01T00:00:00Z') RETURNING id`,
    [appId, randomUUID(), userId],
  );
  await chatDb().query(
    "INSERT INTO room_participants (room_id, user_id, position) VALUES ($1, $2, 0)",
    [rooms[0]?.id, userId],
  );
  // Text comments of varied length, every tenth a custom comment with a JSON payload.
  await chatDb().query(
    `INSERT INTO comments (app_id, room_id, user_id, unique_id, type, message, payload, created_at)
     SELECT $1, $2, $3, 'bench-' || g,
       CASE WHEN g % 10 = 0 THEN 'custom' ELSE 'text' END,
       'Message number ' || g || ' ' || repeat('lorem ipsum ', 1 + g % 8),
       CASE WHEN g % 10 = 0 THEN jsonb_build_object('type', 'promo', 'content', jsonb_build_object('n', g)) END,
       timestamptz '2024-02-01T00:00:00Z' + g * interval '10 millisecond'
     FROM generate_series(1, $4::int) AS g`,
    [appId, rooms[0]?.id, userId, rows],
  );
  await chatDb().query("ANALYZE comments");
  const generateSeconds = (performance.now() - generateStart) / 1000;

  const job = newJob(appId, "export", "comments", { originalFilename: "bench.json" });
  await jobStore().create(job);
  global.gc?.();
  const startRss = process.memoryUsage.rss();
  let peakRss = startRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 50);
  const started = performance.now();
  let outcome: string;
  try {
    outcome = await runExport(
      { kind: "export", appId, jobId: job.jobId, seq: 0 },
      { getRemainingTimeInMillis: () => 15 * 60 * 1000 },
    );
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  peakRss = Math.max(peakRss, process.memoryUsage.rss());
  const record = await jobStore().get(appId, job.jobId);
  if (outcome !== "finished" || record?.totalRows !== rows) {
    throw new Error(`export ended ${outcome} with ${record?.totalRows} of ${rows} rows`);
  }
  return {
    rows,
    seconds: round(seconds, 2),
    rowsPerSecond: Math.round(rows / seconds),
    mbPerSecond: round(record.size / MIB / seconds, 1),
    bytes: record.size,
    peakRssMb: round(peakRss / MIB, 1),
    startRssMb: round(startRss / MIB, 1),
    generateSeconds: round(generateSeconds, 2),
  };
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * Runs benchExport(rows) in a fresh Node process of its own, so that each size's peak RSS is
 * measured from the same starting point.
 */
export function benchExportIsolated(rows: number): Promise<ExportBenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, import.meta.filename, "--child", String(rows)],
      { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_NO_WARNINGS: "1" } },
    );
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) => {
      const line = output.split("\n").find((candidate) => candidate.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) {
        reject(new Error(`export benchmark for ${rows} rows exited with ${code}\n${output}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as ExportBenchResult);
    });
  });
}

function describe(result: ExportBenchResult): string {
  return [
    `${result.rows.toLocaleString("en-US")} comments:`,
    `${result.seconds} s,`,
    `${result.rowsPerSecond.toLocaleString("en-US")} rows/s,`,
    `${result.mbPerSecond} MiB/s,`,
    `file ${(result.bytes / MIB).toFixed(1)} MiB,`,
    `peak RSS ${result.peakRssMb} MiB (start ${result.startRssMb} MiB)`,
  ].join(" ");
}

async function main(args: string[]): Promise<void> {
  if (args[0] === "--child") {
    try {
      const result = await benchExport(Number(args[1]));
      console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    } finally {
      await stopBenchStack();
    }
    return;
  }
  const sizes = (args.length ? args : ["100000", "1000000"]).map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new Error("usage: tsx scripts/bench-export.ts [rows ...]  (default 100000 1000000)");
  }
  const results: ExportBenchResult[] = [];
  for (const size of sizes) {
    const result = await benchExportIsolated(size);
    results.push(result);
    console.log(describe(result));
  }
  const smallest = results[0];
  const largest = results[results.length - 1];
  if (smallest && largest && largest !== smallest) {
    const ratio = largest.peakRssMb / smallest.peakRssMb;
    console.log(
      `peak RSS ${largest.rows.toLocaleString("en-US")} / ${smallest.rows.toLocaleString("en-US")} rows: ${ratio.toFixed(2)}x (bound 1.5x) ${ratio <= 1.5 ? "ok" : "EXCEEDED"}`,
    );
    if (ratio > 1.5) process.exitCode = 1;
  }
}

if (process.argv[1] === import.meta.filename) {
  await main(process.argv.slice(2));
}
