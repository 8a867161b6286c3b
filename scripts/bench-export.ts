import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { to as copyTo } from "pg-copy-streams";
import { generateChatData } from "./bench-data.ts";
import { startScratchStack } from "./local/stack.ts";

/** What one export benchmark run measured. */
export interface ExportBenchResult {
  rows: number;
  /** Export wall time through the API: POST → the record says `finished`. */
  seconds: number;
  /** Of `seconds`: POST until a worker took the job (API, queue delivery, lease). */
  pickupSeconds: number;
  /** PostgreSQL's own `COPY (SELECT row_to_json(t) FROM comments t ...) TO STDOUT`, same rows, same run. */
  copySeconds: number;
  /** seconds / copySeconds: how far the export is from the database's own JSON dump. */
  ratio: number;
  rowsPerSecond: number;
  bytes: number;
  /** Highest resident set size of the process running the API and the export worker, MiB. */
  peakRssMb: number;
  startRssMb: number;
  generateSeconds: number;
  /** Statistics PostgreSQL had on the comments table during the export (always 0 here). */
  statisticsRows: number;
  /** Key ranges the export was split into (1: serial). */
  ranges: number;
  /** Every round's export/COPY ratio, lowest first (the median round is the one reported). */
  ratios: number[];
}

const MIB = 1024 * 1024;
/** Rounds of dump + export per size (`BENCH_ROUNDS`, default 3). */
const REPEATS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const RESULT_MARKER = "EXPORT_BENCH_RESULT ";

/**
 * In a fresh local stack (API, queue poller and worker in this process; AWS emulators in a child
 * process; PostgreSQL with autovacuum off, so that nothing analyzes the table behind the
 * benchmark's back): generates an application with `rows` comments, never analyzed, measures
 * PostgreSQL's own JSON COPY of them, then exports them through the HTTP API and the export
 * queue's consumer, sampling RSS every 50 ms.
 */
export async function benchExport(rows: number): Promise<ExportBenchResult> {
  const stack = await startScratchStack("bench", {
    awsInChildProcess: true,
    pollQueues: true,
    postgresSettings: { autovacuum: "off" },
    s3InMemory: true,
  });
  try {
    const { chatDb } = await import("../lib/chat-db/pool.ts");
    const { upsertApplication } = await import("../lib/chat-db/applications.ts");
    const app = {
      appId: `bench-${randomUUID().slice(0, 8)}`,
      secret: randomBytes(12).toString("hex"),
    };
    await upsertApplication(app);
    const generateStart = performance.now();
    await generateChatData(chatDb(), app.appId, rows);
    const generateSeconds = (performance.now() - generateStart) / 1000;
    const statisticsRows = await statistics(chatDb());

    // A first small export loads the functions' code, as a warm Lambda container has it.
    const warmUp = { appId: `${app.appId}-warm`, secret: app.secret };
    await upsertApplication(warmUp);
    await generateChatData(chatDb(), warmUp.appId, 100);
    await exportThroughApi(stack.url, warmUp);
    // The dump runs once ahead: it warms the cache the exports will find warm as well.
    await copyAsJson(chatDb(), app.appId);
    // Each round measures the dump, then the export, back to back; the median round is reported,
    // as one round on a shared 2-core machine can be off by a third either way.
    const rounds: { seconds: number; copySeconds: number; pickupSeconds: number }[] = [];
    global.gc?.();
    const startRss = process.memoryUsage.rss();
    let peakRss = startRss;
    let record: ExportRecord | undefined;
    let ranges = 1;
    for (let round = 0; round < REPEATS; round += 1) {
      const copySeconds = await copyAsJson(chatDb(), app.appId);
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }, 50);
      const started = performance.now();
      let pickupSeconds: number;
      try {
        ({ record, pickupSeconds } = await exportThroughApi(stack.url, app));
      } finally {
        clearInterval(sampler);
      }
      const seconds = (performance.now() - started) / 1000;
      if (record.status !== "finished" || record.total_rows !== rows) {
        throw new Error(`export ended ${record.status} with ${record.total_rows} of ${rows} rows`);
      }
      rounds.push({ seconds, copySeconds, pickupSeconds });
      ranges = await rangesOf(chatDb(), app.appId);
      // Each round starts from the same state: the file of the one before is deleted.
      await deleteExport(stack.url, app, (record as ExportRecord).unique_id);
    }
    const median = rounds.sort((a, b) => a.seconds / a.copySeconds - b.seconds / b.copySeconds)[
      Math.floor(rounds.length / 2)
    ] as (typeof rounds)[number];
    const { seconds, copySeconds, pickupSeconds } = median;
    return {
      rows,
      seconds: round(seconds, 2),
      copySeconds: round(copySeconds, 2),
      pickupSeconds: round(pickupSeconds, 2),
      ratio: round(seconds / copySeconds, 2),
      ratios: rounds.map((r) => round(r.seconds / r.copySeconds, 2)).sort((a, b) => a - b),
      rowsPerSecond: Math.round(rows / seconds),
      bytes: (record as ExportRecord).size,
      peakRssMb: round(peakRss / MIB, 1),
      startRssMb: round(startRss / MIB, 1),
      generateSeconds: round(generateSeconds, 2),
      statisticsRows: await statistics(chatDb()).then((after) => Math.max(after, statisticsRows)),
      ranges,
    };
  } finally {
    await stack.stop();
  }
}

type Db = import("pg").Pool;

interface ExportRecord {
  unique_id: string;
  status: string;
  total_rows: number;
  size: number;
  error_message: string;
}

/** Requests a comments export through the HTTP API and polls it until it ends. */
export async function exportThroughApi(
  url: string,
  app: { appId: string; secret: string },
): Promise<{ record: ExportRecord; pickupSeconds: number }> {
  const started = performance.now();
  let pickupSeconds = 0;
  const headers = {
    "QISCUS-SDK-APP-ID": app.appId,
    "QISCUS-SDK-SECRET": app.secret,
    "content-type": "application/json",
  };
  const created = await fetch(`${url}/api/v2.1/rest/exports`, {
    method: "POST",
    headers,
    body: JSON.stringify({ type: "comments" }),
  });
  const id = ((await created.json()) as { results: { unique_id: string } }).results.unique_id;
  for (;;) {
    const response = await fetch(`${url}/api/v2.1/rest/exports/${id}`, { headers });
    const record = ((await response.json()) as { results: { backup_history: ExportRecord } })
      .results.backup_history;
    if (!pickupSeconds && record.status !== "started") {
      pickupSeconds = (performance.now() - started) / 1000;
    }
    if (record.status === "finished" || record.status === "failed") {
      return { record, pickupSeconds };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Deletes an export (its record and its file) through the HTTP API. */
export async function deleteExport(
  url: string,
  app: { appId: string; secret: string },
  id: string,
): Promise<void> {
  const response = await fetch(`${url}/api/v2.1/rest/exports/${id}`, {
    method: "DELETE",
    headers: { "QISCUS-SDK-APP-ID": app.appId, "QISCUS-SDK-SECRET": app.secret },
  });
  if (!response.ok) throw new Error(`deleting export ${id} answered ${response.status}`);
}

/** How many key ranges the application's export was split into (1 when it ran serially). */
async function rangesOf(_db: Db, appId: string): Promise<number> {
  const { config } = await import("../lib/config.ts");
  const { jobStore } = await import("../lib/jobs/job-store.ts");
  const [job] = await jobStore().list(appId, "export", 1, 1);
  if (!job) return 1;
  let ranges = 0;
  while (await jobStore().getRange(appId, job.jobId, ranges)) ranges += 1;
  return Math.max(1, Math.min(ranges, config().exportRanges));
}

/** Rows of planner statistics on the comments table (0: never analyzed). */
async function statistics(db: Db): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stats WHERE schemaname = 'public' AND tablename = 'comments'",
  );
  return rows[0]?.n ?? 0;
}

/** Seconds PostgreSQL takes to COPY the application's rows of `table` out as JSON, one per line. */
export async function copyAsJson(
  db: Db,
  appId: string,
  table: "users" | "rooms" | "comments" = "comments",
): Promise<number> {
  const client = await db.connect();
  try {
    const started = performance.now();
    const stream = client.query(
      copyTo(
        `COPY (SELECT row_to_json(t) FROM ${table} t WHERE t.app_id = ${client.escapeLiteral(appId)}) TO STDOUT`,
      ),
    );
    for await (const _chunk of stream) {
      // Bytes are only counted by the server; reading them is the floor's client side.
    }
    return (performance.now() - started) / 1000;
  } finally {
    client.release();
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * Runs benchExport(rows) in a fresh Node process with a stack of its own, so that each size's
 * peak RSS is measured from the same starting point.
 */
export function benchExportIsolated(
  rows: number,
  env: Record<string, string> = {},
): Promise<ExportBenchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, import.meta.filename, "--child", String(rows)],
      {
        stdio: ["ignore", "pipe", "inherit"],
        env: { ...process.env, ...env, NODE_NO_WARNINGS: "1" },
      },
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

/** One line describing a run. */
export function describeExportBench(result: ExportBenchResult): string {
  return [
    `export ${result.rows.toLocaleString("en-US")} comments${result.ranges > 1 ? ` in ${result.ranges} key ranges` : ""} (never analyzed: ${result.statisticsRows === 0}):`,
    `${result.seconds} s POST→finished (worker started after ${result.pickupSeconds} s),`,
    `PostgreSQL JSON COPY ${result.copySeconds} s, ratio ${result.ratio.toFixed(2)} (median of ${result.ratios.join(", ")}),`,
    `${result.rowsPerSecond.toLocaleString("en-US")} rows/s,`,
    `file ${(result.bytes / MIB).toFixed(1)} MiB,`,
    `peak RSS ${result.peakRssMb} MiB (start ${result.startRssMb} MiB)`,
  ].join(" ");
}

/** The settings that split an export of `rows` rows into `ranges` key ranges. */
export function parallelEnv(rows: number, ranges = 4): Record<string, string> {
  return {
    EXPORT_PARALLEL_ROWS: String(Math.max(1, Math.floor(rows / ranges))),
    EXPORT_RANGES: String(ranges),
  };
}

/** One line comparing a parallel run with the serial run of the same size. */
export function describeParallel(serial: ExportBenchResult, parallel: ExportBenchResult): string {
  return `serial vs parallel at ${serial.rows.toLocaleString("en-US")}: ${serial.seconds} s (ratio to COPY ${serial.ratio.toFixed(2)}) vs ${parallel.seconds} s in ${parallel.ranges} ranges (ratio to COPY ${parallel.ratio.toFixed(2)}); parallel/serial time ${(parallel.seconds / serial.seconds).toFixed(2)}`;
}

/** The export targets over runs of (small, medium, large) sizes; lines to print and whether all hold. */
export function exportTargets(
  small: ExportBenchResult,
  medium: ExportBenchResult,
  large: ExportBenchResult,
): { lines: string[]; ok: boolean } {
  const checks: [string, number, number][] = [
    [`export/COPY at ${medium.rows.toLocaleString("en-US")}`, medium.ratio, 2.0],
    [`export/COPY at ${large.rows.toLocaleString("en-US")}`, large.ratio, 2.0],
    [
      `export time ${large.rows.toLocaleString("en-US")}/${medium.rows.toLocaleString("en-US")} (rows x${(large.rows / medium.rows).toFixed(2)})`,
      large.seconds / medium.seconds,
      3.6,
    ],
    [
      `peak RSS ${large.rows.toLocaleString("en-US")}/${small.rows.toLocaleString("en-US")}`,
      large.peakRssMb / small.peakRssMb,
      1.5,
    ],
  ];
  return {
    lines: [
      ...checks.map(
        ([name, value, bound]) =>
          `${name}: ${value.toFixed(2)} (target <= ${bound}) ${value <= bound ? "ok" : "EXCEEDED"}`,
      ),
      // The machine's own pace between the two runs, for reading the line above.
      `PostgreSQL's JSON COPY time ${large.rows.toLocaleString("en-US")}/${medium.rows.toLocaleString("en-US")} in the same runs: ${(large.copySeconds / medium.copySeconds).toFixed(2)}`,
    ],
    ok: checks.every(([, value, bound]) => value <= bound),
  };
}

async function main(args: string[]): Promise<void> {
  if (args[0] === "--child") {
    const result = await benchExport(Number(args[1]));
    console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    return;
  }
  const sizes = (args.length ? args : ["100000", "300000", "1000000"]).map(Number);
  if (sizes.length !== 3 || sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new Error(
      "usage: tsx scripts/bench-export.ts [small medium large]  (default 100000 300000 1000000)",
    );
  }
  const results: ExportBenchResult[] = [];
  for (const size of sizes) {
    const result = await benchExportIsolated(size);
    results.push(result);
    console.log(describeExportBench(result));
  }
  const { lines, ok } = exportTargets(
    ...(results as [ExportBenchResult, ExportBenchResult, ExportBenchResult]),
  );
  for (const line of lines) console.log(line);
  if (!ok) process.exitCode = 1;
}

if (process.argv[1] === import.meta.filename) {
  await main(process.argv.slice(2));
}
