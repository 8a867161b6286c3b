import { spawn } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { generateChatData } from "./bench-data.ts";
import { copyAsJson, deleteExport, exportThroughApi } from "./bench-export.ts";
import { startLocalStack } from "./local/stack.ts";

/** What the first export after a start measured, with its floor and the warm export after it. */
export interface ColdExportResult {
  rows: number;
  /** The first request of the started service: POST /exports until the record says finished. */
  coldSeconds: number;
  /** Of coldSeconds: until a worker took the job. */
  coldPickupSeconds: number;
  /** PostgreSQL's own COPY (SELECT row_to_json(t) ...) TO STDOUT of the same rows, right after. */
  copySeconds: number;
  /** coldSeconds / copySeconds (target <= 2.0). */
  ratio: number;
  /** The same export once more (the code warm), and the COPY right before it. */
  warmSeconds: number;
  warmCopySeconds: number;
  warmRatio: number;
  /** CPU seconds per process (this one, the AWS emulators', PostgreSQL's) of each step. */
  cpu: Record<"cold" | "copy" | "warm", { node: number; aws: number; postgres: number }>;
  /** Starting the service (emulators, PostgreSQL, migrations, HTTP API, pollers). */
  startSeconds: number;
  generateSeconds: number;
}

const RESULT_MARKER = "COLD_EXPORT_RESULT ";

/** The stack as `npm start` runs it: state on disk, AWS emulators in a child, pollers on. */
function startAsNpmStart(stateDir: string) {
  return startLocalStack({
    stateDir,
    httpPort: 0,
    ports: { postgres: 0, dynamodb: 0, sqs: 0, s3: 0, secretsManager: 0 },
    dbPassword: "bench-cold-only",
    awsInChildProcess: true,
    preloadFunctions: process.env.COLD_PRELOAD !== "0",
    // Nothing analyzes the table behind the benchmark's back: the rows stay never analyzed.
    postgresSettings: { autovacuum: "off" },
    env: { LOG_LEVEL: process.env.COLD_LOG_LEVEL ?? "WARN", POWERTOOLS_METRICS_DISABLED: "true" },
  });
}

/** First process: writes the application and stops, as a finished import leaves the database. */
async function generate(stateDir: string, rows: number) {
  const stack = await startAsNpmStart(stateDir);
  try {
    const { chatDb } = await import("../lib/chat-db/pool.ts");
    const { upsertApplication } = await import("../lib/chat-db/applications.ts");
    const app = {
      appId: `cold-${randomUUID().slice(0, 8)}`,
      secret: randomBytes(12).toString("hex"),
    };
    await upsertApplication(app);
    const started = performance.now();
    await generateChatData(chatDb(), app.appId, rows);
    return { app, generateSeconds: (performance.now() - started) / 1000 };
  } finally {
    await stack.stop();
  }
}

/**
 * Second process, a fresh start on the same state: the first request is the export (nothing
 * loaded, no connection open, PostgreSQL's cache empty), then the floor, then the same again.
 */
async function measure(stateDir: string, app: { appId: string; secret: string }, rows: number) {
  const started = performance.now();
  const stack = await startAsNpmStart(stateDir);
  const startSeconds = (performance.now() - started) / 1000;
  try {
    const { chatDb } = await import("../lib/chat-db/pool.ts");
    const exportOnce = async () => {
      const cpuBefore = cpuSeconds(stateDir);
      const begun = performance.now();
      const { record, pickupSeconds } = await exportThroughApi(stack.url, app);
      const seconds = (performance.now() - begun) / 1000;
      const cpu = cpuSince(stateDir, cpuBefore);
      if (record.status !== "finished" || record.total_rows !== rows) {
        throw new Error(`export ended ${record.status} with ${record.total_rows} of ${rows} rows`);
      }
      await deleteExport(stack.url, app, record.unique_id);
      return { seconds, pickupSeconds, bytes: record.size, cpu };
    };
    // Monotonic microseconds around each export, on the clock of a --cpu-prof profile.
    const mark = () => Number(process.hrtime.bigint() / 1000n);
    const marks: number[] = [mark()];
    const cold = await exportOnce();
    marks.push(mark());
    const copyCpuBefore = cpuSeconds(stateDir);
    const copySeconds = await copyAsJson(chatDb(), app.appId);
    const copyCpu = cpuSince(stateDir, copyCpuBefore);
    const warmCopySeconds = await copyAsJson(chatDb(), app.appId);
    marks.push(mark());
    const warm = await exportOnce();
    marks.push(mark());
    return {
      rows,
      coldSeconds: round(cold.seconds),
      coldPickupSeconds: round(cold.pickupSeconds),
      copySeconds: round(copySeconds),
      ratio: round(cold.seconds / copySeconds),
      warmSeconds: round(warm.seconds),
      warmCopySeconds: round(warmCopySeconds),
      warmRatio: round(warm.seconds / warmCopySeconds),
      startSeconds: round(startSeconds),
      bytes: cold.bytes,
      cpu: { cold: cold.cpu, copy: copyCpu, warm: warm.cpu },
      marks,
    };
  } finally {
    await stack.stop();
  }
}

/** utime + stime (+ reaped children's) of a process from /proc, in seconds; 0 when gone. */
function procCpu(pid: number, withChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // Fields after the name, from 3 (state): utime 14, stime 15, cutime 16, cstime 17.
    const at = (n: number) => Number(fields[n - 3]);
    return (at(14) + at(15) + (withChildren ? at(16) + at(17) : 0)) / 100;
  } catch {
    return 0;
  }
}

/** Live processes whose parent is `pid`. */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
      .trim()
      .split(" ")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * CPU seconds used so far by this process (API, pollers, workers), the AWS emulators' process and
 * PostgreSQL (the postmaster with every backend and helper, live or ended).
 */
function cpuSeconds(stateDir: string): { node: number; aws: number; postgres: number } {
  const usage = process.cpuUsage();
  const node = (usage.user + usage.system) / 1e6;
  const postmaster = Number(
    readFileSync(join(stateDir, "postgres", "postmaster.pid"), "utf8").split("\n")[0],
  );
  const postgres =
    procCpu(postmaster, true) + childrenOf(postmaster).reduce((sum, pid) => sum + procCpu(pid), 0);
  const aws = childrenOf(process.pid)
    .filter((pid) => pid !== postmaster)
    .reduce((sum, pid) => sum + procCpu(pid), 0);
  return { node, aws, postgres };
}

function cpuSince(stateDir: string, before: ReturnType<typeof cpuSeconds>) {
  const now = cpuSeconds(stateDir);
  return {
    node: round(now.node - before.node),
    aws: round(now.aws - before.aws),
    postgres: round(now.postgres - before.postgres),
  };
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/** Runs this file with `args` in a fresh Node process and answers the JSON it reports. */
function child<T>(args: string[]): Promise<T> {
  return new Promise((resolve, reject) => {
    const spawned = spawn(process.execPath, [...process.execArgv, import.meta.filename, ...args], {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, NODE_NO_WARNINGS: "1" },
    });
    let output = "";
    spawned.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      if (process.env.COLD_LOG_LEVEL) process.stderr.write(chunk);
    });
    spawned.on("error", reject);
    spawned.on("close", (code) => {
      const line = output.split("\n").find((candidate) => candidate.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) {
        reject(new Error(`cold export benchmark ${args[0]} exited with ${code}\n${output}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as T);
    });
  });
}

/**
 * The first export after a start, as a user has it: one process writes `rows` comments (never
 * analyzed) and stops; a fresh process starts the service on the same state, as `npm start`
 * does, and its first request exports them. PostgreSQL's own JSON COPY of the same rows is
 * measured right after, then the export once more with its code warm.
 */
export async function benchColdExport(rows: number): Promise<ColdExportResult> {
  // COLD_KEEP_DIR keeps the state for another measurement of the same rows (then read before).
  const kept = process.env.COLD_KEEP_DIR;
  if (kept) mkdirSync(kept, { recursive: true });
  const stateDir = kept ?? mkdtempSync(join(tmpdir(), "chat-backup-bench-cold-"));
  const generatedFile = join(stateDir, "generated.json");
  try {
    const generated = existsSync(generatedFile)
      ? (JSON.parse(readFileSync(generatedFile, "utf8")) as Awaited<ReturnType<typeof generate>>)
      : await child<Awaited<ReturnType<typeof generate>>>(["--generate", stateDir, String(rows)]);
    if (kept) writeFileSync(generatedFile, JSON.stringify(generated));
    const { app, generateSeconds } = generated;
    const measured = await child<Omit<ColdExportResult, "generateSeconds">>([
      "--measure",
      stateDir,
      String(rows),
      JSON.stringify(app),
    ]);
    return { ...measured, generateSeconds: round(generateSeconds) };
  } finally {
    if (!kept) rmSync(stateDir, { recursive: true, force: true });
  }
}

function cpuText(cpu: { node: number; aws: number; postgres: number }): string {
  return `${cpu.node}/${cpu.aws}/${cpu.postgres}`;
}

/** One line describing a run. */
export function describeColdExport(result: ColdExportResult): string {
  const ok = result.ratio <= 2.0 ? "ok" : "EXCEEDED";
  return [
    `first export after a start, ${result.rows.toLocaleString("en-US")} comments (never analyzed):`,
    `${result.coldSeconds} s POST→finished (worker started after ${result.coldPickupSeconds} s),`,
    `PostgreSQL JSON COPY right after ${result.copySeconds} s: ratio ${result.ratio.toFixed(2)} (target <= 2.0) ${ok};`,
    `the same export warm ${result.warmSeconds} s against a COPY of ${result.warmCopySeconds} s: ratio ${result.warmRatio.toFixed(2)}`,
    `(service start ${result.startSeconds} s);`,
    `CPU s node/aws/postgres: cold ${cpuText(result.cpu.cold)}, COPY ${cpuText(result.cpu.copy)}, warm ${cpuText(result.cpu.warm)}`,
  ].join(" ");
}

// `tsx scripts/bench-cold-export.ts [rows]` (default 1,000,000)
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [mode, stateDir, rows, app] = process.argv.slice(2);
  if (mode === "--generate") {
    const result = await generate(stateDir as string, Number(rows));
    console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    process.exit(0);
  }
  if (mode === "--measure") {
    const result = await measure(stateDir as string, JSON.parse(app as string), Number(rows));
    console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    process.exit(0);
  }
  const result = await benchColdExport(Number(mode) || 1_000_000);
  console.log(describeColdExport(result));
  console.log(JSON.stringify(result));
  process.exit(0);
}
