import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { generateChatData } from "./bench-data.ts";
import { copyAsJson } from "./bench-export.ts";
import { startScratchStack } from "./local/stack.ts";

/** What one backup benchmark run measured. */
export interface BackupBenchResult {
  comments: number;
  users: number;
  rooms: number;
  /** Rows of the set (users + rooms + comments). */
  rows: number;
  /** Backup wall time through the API: POST /backups → the record says `finished`. */
  seconds: number;
  /** Of `seconds`: POST until a worker took the job (API, queue delivery, lease). */
  pickupSeconds: number;
  /** PostgreSQL's own `COPY (SELECT row_to_json(t) ...) TO STDOUT` of the three tables, summed, same run. */
  copySeconds: number;
  /** seconds / copySeconds (target <= 2.2). */
  ratio: number;
  /** Every round's backup/COPY ratio, lowest first (the median round is the one reported). */
  ratios: number[];
  rowsPerSecond: number;
  /** Bytes of the three files. */
  bytes: number;
  /** Highest resident set size of the process running the API and the backup worker, MiB. */
  peakRssMb: number;
  startRssMb: number;
  generateSeconds: number;
}

const MIB = 1024 * 1024;
/** Rounds of dump + backup per size (`BENCH_ROUNDS`, default 3). */
const REPEATS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const RESULT_MARKER = "BACKUP_BENCH_RESULT ";
/** The ratio target of a 1M-comment backup over PostgreSQL's own JSON COPY of its three tables. */
export const BACKUP_RATIO_TARGET = 2.2;

interface BackupRecord {
  unique_id: string;
  status: string;
  percentage: number;
  size: number;
  error_message: string;
  files: Record<"users" | "rooms" | "comments", { rows: number; bytes: number }>;
}

interface BenchApp {
  appId: string;
  secret: string;
}

/**
 * In a fresh local stack (API, queue poller and backup worker in this process; AWS emulators in
 * a child process, S3's objects in memory; PostgreSQL with autovacuum off): generates an
 * application with `comments` comments and its users and rooms, never analyzed, then per round
 * times PostgreSQL's own JSON COPY of the application's users, rooms and comments and right after
 * it a backup from `POST /backups` to `finished`, sampling RSS every 50 ms.
 */
export async function benchBackup(comments: number): Promise<BackupBenchResult> {
  const stack = await startScratchStack("bench-backup", {
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
    const generated = await generateChatData(chatDb(), app.appId, comments);
    const generateSeconds = (performance.now() - generateStart) / 1000;

    // A first small backup loads the functions' code, as a warm Lambda container has it.
    const warmUp = { appId: `${app.appId}-warm`, secret: app.secret };
    await upsertApplication(warmUp);
    await generateChatData(chatDb(), warmUp.appId, 100);
    await deleteBackup(stack.url, warmUp, (await backupThroughApi(stack.url, warmUp)).record);
    // The dump runs once ahead: it warms the cache the backups will find warm as well.
    await copyTablesAsJson(chatDb(), app.appId);
    const rows = generated.users + generated.rooms + generated.comments;
    const rounds: { seconds: number; copySeconds: number; pickupSeconds: number }[] = [];
    global.gc?.();
    const startRss = process.memoryUsage.rss();
    let peakRss = startRss;
    let bytes = 0;
    for (let round = 0; round < REPEATS; round += 1) {
      const copySeconds = await copyTablesAsJson(chatDb(), app.appId);
      const sampler = setInterval(() => {
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      }, 50);
      const started = performance.now();
      let outcome: { record: BackupRecord; pickupSeconds: number };
      try {
        outcome = await backupThroughApi(stack.url, app);
      } finally {
        clearInterval(sampler);
      }
      const seconds = (performance.now() - started) / 1000;
      const { record } = outcome;
      const files = record.files;
      const inSet = files.users.rows + files.rooms.rows + files.comments.rows;
      if (record.status !== "finished" || inSet !== rows) {
        throw new Error(
          `backup ended ${record.status} (${record.error_message}) with ${inSet} of ${rows} rows`,
        );
      }
      bytes = record.size;
      rounds.push({ seconds, copySeconds, pickupSeconds: outcome.pickupSeconds });
      // Each round starts from the same state: the set of the one before is deleted.
      await deleteBackup(stack.url, app, record);
    }
    const ratioOf = (r: (typeof rounds)[number]) => r.seconds / r.copySeconds;
    const median = rounds.sort((a, b) => ratioOf(a) - ratioOf(b))[
      Math.floor(rounds.length / 2)
    ] as (typeof rounds)[number];
    return {
      comments: generated.comments,
      users: generated.users,
      rooms: generated.rooms,
      rows,
      seconds: round(median.seconds, 2),
      pickupSeconds: round(median.pickupSeconds, 2),
      copySeconds: round(median.copySeconds, 2),
      ratio: round(ratioOf(median), 2),
      ratios: rounds.map((r) => round(ratioOf(r), 2)),
      rowsPerSecond: Math.round(rows / median.seconds),
      bytes,
      peakRssMb: round(peakRss / MIB, 1),
      startRssMb: round(startRss / MIB, 1),
      generateSeconds: round(generateSeconds, 2),
    };
  } finally {
    await stack.stop();
  }
}

/** PostgreSQL's own JSON COPY of the application's users, rooms and comments, one after the other: seconds summed. */
async function copyTablesAsJson(db: import("pg").Pool, appId: string): Promise<number> {
  let seconds = 0;
  for (const table of ["users", "rooms", "comments"] as const) {
    seconds += await copyAsJson(db, appId, table);
  }
  return seconds;
}

function headersOf(app: BenchApp): Record<string, string> {
  return {
    "QISCUS-SDK-APP-ID": app.appId,
    "QISCUS-SDK-SECRET": app.secret,
    "content-type": "application/json",
  };
}

/** Requests a backup through the HTTP API and polls it until it ends. */
async function backupThroughApi(
  url: string,
  app: BenchApp,
): Promise<{ record: BackupRecord; pickupSeconds: number }> {
  const started = performance.now();
  let pickupSeconds = 0;
  const headers = headersOf(app);
  const created = await fetch(`${url}/api/v2.1/rest/backups`, {
    method: "POST",
    headers,
    body: "{}",
  });
  const body = (await created.json()) as { results?: { backup: BackupRecord } };
  if (!created.ok || !body.results) throw new Error(`POST /backups: ${JSON.stringify(body)}`);
  const id = body.results.backup.unique_id;
  for (;;) {
    const response = await fetch(`${url}/api/v2.1/rest/backups/${id}`, { headers });
    const record = ((await response.json()) as { results: { backup: BackupRecord } }).results
      .backup;
    if (!pickupSeconds && (record.status !== "started" || record.percentage > 0)) {
      pickupSeconds = (performance.now() - started) / 1000;
    }
    if (record.status === "finished" || record.status === "failed") {
      return { record, pickupSeconds };
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Deletes a backup (its record and its files) through the HTTP API. */
async function deleteBackup(url: string, app: BenchApp, record: BackupRecord): Promise<void> {
  const response = await fetch(`${url}/api/v2.1/rest/backups/${record.unique_id}`, {
    method: "DELETE",
    headers: headersOf(app),
  });
  if (!response.ok) throw new Error(`deleting backup ${record.unique_id}: ${response.status}`);
  await response.arrayBuffer();
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

/**
 * Runs benchBackup(comments) in a fresh Node process with a stack of its own, so that each size's
 * peak RSS is measured from the same starting point. `BENCH_CPU_PROF_DIR` writes a CPU profile of
 * that process (API and backup worker) there.
 */
export function benchBackupIsolated(comments: number): Promise<BackupBenchResult> {
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...process.execArgv, ...profile, import.meta.filename, "--child", String(comments)],
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
        reject(
          new Error(`backup benchmark for ${comments} comments exited with ${code}\n${output}`),
        );
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as BackupBenchResult);
    });
  });
}

/** One line describing a run. */
export function describeBackupBench(result: BackupBenchResult): string {
  const n = (value: number) => value.toLocaleString("en-US");
  return [
    `backup ${n(result.comments)} comments + ${n(result.users)} users + ${n(result.rooms)} rooms (never analyzed):`,
    `${result.seconds} s POST→finished (worker started after ${result.pickupSeconds} s),`,
    `PostgreSQL JSON COPY of the three tables ${result.copySeconds} s, ratio ${result.ratio.toFixed(2)} (median of ${result.ratios.join(", ")}; target <= ${BACKUP_RATIO_TARGET}),`,
    `${n(result.rowsPerSecond)} rows/s,`,
    `files ${(result.bytes / MIB).toFixed(1)} MiB,`,
    `peak RSS ${result.peakRssMb} MiB (start ${result.startRssMb} MiB)`,
  ].join(" ");
}

/**
 * The backup targets over a run of the small size and, when given, the large one: lines to print
 * and whether they hold (the ratio is a target at the large size only, RSS large/small <= 1.5).
 */
export function backupTargets(
  small: BackupBenchResult,
  large?: BackupBenchResult,
): { lines: string[]; ok: boolean } {
  if (!large || large === small) {
    return {
      lines: [
        `backup/COPY at ${small.comments.toLocaleString("en-US")} comments: ${small.ratio.toFixed(2)} (the target of ${BACKUP_RATIO_TARGET} is at 1,000,000)`,
      ],
      ok: true,
    };
  }
  const rssRatio = large.peakRssMb / small.peakRssMb;
  // The ratio target is set at 1M comments, where the fixed costs of a job (pick-up, cut,
  // manifest) no longer weigh; a smaller run (`--quick`) prints its ratio without judging it.
  const ratioLine = `backup/COPY at ${large.comments.toLocaleString("en-US")} comments`;
  const judged = large.comments >= 1_000_000;
  const checks: [string, number, number][] = [
    ...(judged ? [[ratioLine, large.ratio, BACKUP_RATIO_TARGET] as [string, number, number]] : []),
    [
      `backup peak RSS ${large.comments.toLocaleString("en-US")}/${small.comments.toLocaleString("en-US")}`,
      rssRatio,
      1.5,
    ],
  ];
  return {
    lines: [
      ...(judged
        ? []
        : [
            `${ratioLine}: ${large.ratio.toFixed(2)} (the target of ${BACKUP_RATIO_TARGET} is at 1,000,000)`,
          ]),
      ...checks.map(
        ([name, value, bound]) =>
          `${name}: ${value.toFixed(2)} (target <= ${bound}) ${value <= bound ? "ok" : "EXCEEDED"}`,
      ),
    ],
    ok: checks.every(([, value, bound]) => value <= bound),
  };
}

// `tsx scripts/bench-backup.ts [comments ...]` (default 100000 1000000), or `--child N`.
if (process.argv[1] === import.meta.filename) {
  const args = process.argv.slice(2);
  if (args[0] === "--child") {
    const result = await benchBackup(Number(args[1]));
    console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    process.exit(0);
  }
  const sizes = (args.length ? args : ["100000", "1000000"]).map(Number);
  if (sizes.some((size) => !Number.isInteger(size) || size < 1)) {
    throw new Error("usage: tsx scripts/bench-backup.ts [comments ...]  (default 100000 1000000)");
  }
  const results: BackupBenchResult[] = [];
  for (const size of sizes) {
    const result = await benchBackupIsolated(size);
    results.push(result);
    console.log(describeBackupBench(result));
  }
  const { lines, ok } = backupTargets(results[0] as BackupBenchResult, results.at(-1));
  for (const line of lines) console.log(line);
  process.exit(ok ? 0 : 1);
}
