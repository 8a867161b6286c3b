import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import {
  copyFloors,
  type RestoreData,
  type RestoreType,
  TYPES,
  writeRestoreFiles,
} from "./bench-restore-data.ts";
import { deliverBatch } from "./local/deliver.ts";
import { type LocalStack, startScratchStack } from "./local/stack.ts";

/** One type restored through the upload path, beside its floor. */
export interface TypeFigure {
  rows: number;
  bytes: number;
  /** From the start request to the finished job: reading, checking and writing every row. */
  seconds: number;
  rowsPerSecond: number;
  /** PostgreSQL's own COPY FROM of the same rows into the same table(s) of an empty application. */
  floorSeconds: number;
  floorRowsPerSecond: number;
  /** rows/s of the restore divided by rows/s of the floor (target >= 0.8). */
  ratioToFloor: number;
}

/** What one restore of an application (users, rooms, comments) measured. */
export interface RestoreBenchResult {
  comments: number;
  replies: number;
  participants: number;
  types: Record<RestoreType, TypeFigure>;
  /** Peak RSS of the process running the workers, over the three restores. */
  peakRssMb: number;
  startRssMb: number;
  /** The three types through the upload path: seconds summed. */
  uploadSeconds: number;
  /**
   * The same application restored in one call from a backup of it (`POST /restores`, straight
   * from storage, checksums verified), after every user, room and comment of it was deleted:
   * from the request to the finished restore.
   */
  fromBackupSeconds: number;
  fromBackupRowsPerSecond: number;
  /** Upload path seconds over the restore from storage's (target >= 1). */
  fromBackupRatio: number;
}

const MIB = 1024 * 1024;
const RESULT_MARKER = "RESTORE-RESULT ";

/** PUTs a file to a presigned URL as a client would, streamed from disk (never held whole). */
async function putFile(url: string, path: string): Promise<void> {
  const request = httpRequest(url, {
    method: "PUT",
    headers: { "content-length": String(statSync(path).size) },
  });
  const answered = once(request, "response") as Promise<[IncomingMessage]>;
  await pipeline(createReadStream(path), request);
  const [response] = await answered;
  response.resume();
  if (response.statusCode !== 200) throw new Error(`PUT failed: ${response.statusCode}`);
}

/** One size, on a stack of its own, in this process (run by `benchRestoreIsolated`). */
async function child(data: RestoreData): Promise<RestoreBenchResult> {
  let stack: LocalStack | undefined;
  try {
    // RESTORE_LOG_LEVEL=INFO shows the import's phases and their durations.
    // The S3 emulator in a process of its own: it receives the whole PUT, which is not the import's memory.
    stack = await startScratchStack("bench-restore", {
      awsInChildProcess: true,
      env: process.env.RESTORE_LOG_LEVEL ? { LOG_LEVEL: process.env.RESTORE_LOG_LEVEL } : {},
    });
    const local = stack;
    const { upsertApplication } = await import("../lib/chat-db/applications.ts");
    const { sqs } = await import("../lib/aws/sqs.ts");
    const { chatDb, closeChatDb } = await import("../lib/chat-db/pool.ts");
    const app = { appId: `restore-${randomUUID().slice(0, 8)}`, secret: randomUUID() };
    await upsertApplication(app);
    const warm = { appId: `${app.appId}-warm`, secret: randomUUID() };
    await upsertApplication(warm);
    let headers = { "QISCUS-SDK-APP-ID": warm.appId, "QISCUS-SDK-SECRET": warm.secret };

    const deliverAll = () =>
      deliverBatch(local.runtime, sqs(), {
        functionName: "importWorker",
        queueUrl: local.queues.ImportQueue as string,
        queueArn: "arn:aws:sqs:us-east-1:000000000000:imports",
        batchSize: 1,
      });

    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${local.url}/api/v2.1/rest${path}`, {
        method,
        headers: { ...headers, ...(body ? { "content-type": "application/json" } : {}) },
        body: body ? JSON.stringify(body) : undefined,
      });
      const json = (await response.json()) as { results?: Record<string, any> };
      if (!response.ok || !json.results)
        throw new Error(`${method} ${path}: ${JSON.stringify(json)}`);
      return json.results;
    };

    /** Upload path: ask for an upload, PUT the file, start, deliver until the job ends. */
    const restore = async (type: string, file: string) => {
      const { upload } = await api("POST", "/imports/uploads", { type, filename: `${type}.json` });
      await putFile(upload.upload_url, file);
      const started = performance.now();
      const { backup_history: job } = await api("POST", "/imports", {
        type,
        upload_id: upload.upload_id,
      });
      for (;;) {
        await deliverAll();
        const { backup_history: now } = await api("GET", `/imports/${job.unique_id}`);
        if (now.status === "failed") throw new Error(JSON.stringify(now.errors).slice(0, 600));
        if (now.status === "finished") {
          return { rows: now.total_rows as number, seconds: (performance.now() - started) / 1000 };
        }
      }
    };

    // A small application restored first loads the workers' code, as a warm Lambda container has it.
    const warmDir = mkdtempSync(join(tmpdir(), "bench-restore-warm-"));
    try {
      const warmData = await writeRestoreFiles(warmDir, 100);
      for (const type of TYPES) await restore(type, warmData.files[type].path);
    } finally {
      rmSync(warmDir, { recursive: true, force: true });
    }
    headers = { "QISCUS-SDK-APP-ID": app.appId, "QISCUS-SDK-SECRET": app.secret };

    (globalThis as { gc?: () => void }).gc?.();
    const startRss = process.memoryUsage.rss();
    let peak = startRss;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    const runs = {} as Record<RestoreType, { rows: number; seconds: number }>;
    for (const type of TYPES) {
      runs[type] = await restore(type, data.files[type].path);
      const expected = data[type];
      if (runs[type].rows !== expected) {
        throw new Error(`imported ${runs[type].rows} ${type}, not ${expected}`);
      }
    }
    clearInterval(sampler);

    const fromBackup = await restoreFromBackup(
      api,
      deliverAll,
      async () => {
        // A disaster: every user, room and comment of the application is gone.
        for (const table of ["comments", "rooms", "users"]) {
          await chatDb().query(`DELETE FROM ${table} WHERE app_id = $1`, [app.appId]);
        }
        // As autovacuum would soon after: the restore starts from tables without the deleted rows'
        // dead tuples, like the upload path's imports started from tables that never held them.
        await chatDb().query("VACUUM ANALYZE users, rooms, room_participants, comments");
      },
      local,
    );
    const total = data.users + data.rooms + data.comments;
    if (fromBackup.rows !== total)
      throw new Error(`restored ${fromBackup.rows} rows, not ${total}`);

    // The floors: PostgreSQL's own COPY of the same rows into a second, empty application.
    const floorApp = `restore-floor-${randomUUID().slice(0, 8)}`;
    await upsertApplication({ appId: floorApp, secret: randomUUID() });
    const floors = await copyFloors(chatDb(), app.appId, floorApp, data);
    await closeChatDb();
    const types = {} as Record<RestoreType, TypeFigure>;
    for (const type of TYPES) {
      const { rows, seconds } = runs[type];
      types[type] = {
        rows,
        bytes: data.files[type].bytes,
        seconds: round(seconds, 3),
        rowsPerSecond: Math.round(rows / seconds),
        floorSeconds: round(floors[type], 3),
        floorRowsPerSecond: Math.round(rows / floors[type]),
        ratioToFloor: round(floors[type] / seconds, 3),
      };
    }
    const uploadSeconds = TYPES.reduce((sum, type) => sum + runs[type].seconds, 0);
    return {
      comments: data.comments,
      replies: data.replies,
      participants: data.participants,
      types,
      peakRssMb: Math.round(peak / MIB),
      startRssMb: Math.round(startRss / MIB),
      uploadSeconds: round(uploadSeconds, 3),
      fromBackupSeconds: round(fromBackup.seconds, 3),
      fromBackupRowsPerSecond: Math.round(fromBackup.rows / fromBackup.seconds),
      fromBackupRatio: round(uploadSeconds / fromBackup.seconds, 3),
    };
  } finally {
    await stack?.stop();
  }
}

const round = (value: number, digits: number) => Number(value.toFixed(digits));

type Api = (method: string, path: string, body?: unknown) => Promise<Record<string, any>>;

/**
 * Backs the application up (`POST /backups`), loses it (`wipe`), then restores the backup in one
 * call (`POST /restores`): the rows come straight from storage, nothing through this client.
 * Returns the rows written and the time from the request to the finished restore.
 */
async function restoreFromBackup(
  api: Api,
  deliverImports: () => Promise<number>,
  wipe: () => Promise<void>,
  local: LocalStack,
): Promise<{ rows: number; seconds: number }> {
  const { sqs } = await import("../lib/aws/sqs.ts");
  const { backup } = await api("POST", "/backups");
  for (;;) {
    await deliverBatch(local.runtime, sqs(), {
      functionName: "backupWorker",
      queueUrl: local.queues.BackupQueue as string,
      queueArn: "arn:aws:sqs:us-east-1:000000000000:backups",
      batchSize: 1,
    });
    const { backup: now } = await api("GET", `/backups/${backup.unique_id}`);
    if (now.status === "failed") throw new Error(`backup failed: ${now.error_message}`);
    if (now.status === "finished") break;
  }
  await wipe();
  const started = performance.now();
  const { restore } = await api("POST", "/restores", { backup_id: backup.unique_id });
  for (;;) {
    await deliverImports();
    const { restore: now } = await api("GET", `/restores/${restore.unique_id}`);
    if (now.status === "failed") throw new Error(JSON.stringify(now).slice(0, 600));
    if (now.status === "finished") {
      const rows = TYPES.reduce((sum, type) => sum + (now.types[type].total_rows as number), 0);
      return { rows, seconds: (performance.now() - started) / 1000 };
    }
  }
}

/**
 * Runs one size in a child process of its own, so that its peak RSS is the restore's alone; the
 * files are written here first, outside the measured process.
 */
export async function benchRestoreIsolated(comments: number): Promise<RestoreBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-restore-file-"));
  try {
    return await runChild(await writeRestoreFiles(dir, comments));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `BENCH_CPU_PROF_DIR` writes a CPU profile of the child (API and import workers) there. */
function runChild(data: RestoreData): Promise<RestoreBenchResult> {
  const profileDir = process.env.BENCH_CPU_PROF_DIR;
  const profile = profileDir ? ["--cpu-prof", "--cpu-prof-dir", profileDir] : [];
  return new Promise((resolve, reject) => {
    const spawned = spawn(
      process.execPath,
      [
        ...process.execArgv,
        ...profile,
        "--expose-gc",
        import.meta.filename,
        "--child",
        JSON.stringify(data),
      ],
      { stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, NODE_NO_WARNINGS: "1" } },
    );
    let output = "";
    spawned.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("utf8");
      // With RESTORE_LOG_LEVEL set, the import's log lines (its phases and their durations) are shown.
      if (process.env.RESTORE_LOG_LEVEL) process.stderr.write(chunk);
    });
    spawned.on("error", reject);
    spawned.on("close", (code) => {
      const line = output.split("\n").find((candidate) => candidate.startsWith(RESULT_MARKER));
      if (code !== 0 || !line) {
        reject(
          new Error(
            `restore benchmark for ${data.comments} comments exited with ${code}\n${output}`,
          ),
        );
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as RestoreBenchResult);
    });
  });
}

const n = (value: number) => value.toLocaleString("en-US");

/** Human-readable lines for one result: each type's figure beside its floor. */
export function describeRestore(result: RestoreBenchResult): string[] {
  const { users, rooms, comments } = result.types;
  const what = {
    users: `${n(users.rows)} users with a PasswordHash`,
    rooms: `${n(rooms.rows)} rooms with ${n(result.participants)} participants`,
    comments: `${n(comments.rows)} comments (${n(result.replies)} replies)`,
  };
  const lines = TYPES.map((type) => {
    const figure = result.types[type];
    return `restore ${what[type]}, ${(figure.bytes / MIB).toFixed(1)} MiB, through the upload path: ${figure.seconds.toFixed(2)} s = ${n(figure.rowsPerSecond)} rows/s; PostgreSQL's own COPY of the same rows ${figure.floorSeconds.toFixed(2)} s = ${n(figure.floorRowsPerSecond)} rows/s; ratio ${figure.ratioToFloor.toFixed(2)} (target >= 0.8)`;
  });
  lines.push(
    `restore of ${n(result.comments)} comments with their users and rooms: peak RSS ${result.peakRssMb} MiB (start ${result.startRssMb} MiB); from a backup in one call (POST /restores, straight from storage): ${result.fromBackupSeconds.toFixed(2)} s = ${n(result.fromBackupRowsPerSecond)} rows/s against the upload path's ${result.uploadSeconds.toFixed(2)} s: ${result.fromBackupRatio.toFixed(2)}x its speed (target >= 1)`,
  );
  return lines;
}

/** The targets over a smaller and a larger run. */
export function restoreTargets(results: RestoreBenchResult[]): { ok: boolean; lines: string[] } {
  const lines: string[] = [];
  let ok = true;
  for (const result of results) {
    for (const type of TYPES) {
      if (result.types[type].ratioToFloor < 0.8) ok = false;
    }
    if (result.fromBackupRatio < 1) ok = false;
  }
  const [small, large] = [results[0], results.at(-1)];
  if (small && large && small !== large) {
    const ratio = large.peakRssMb / small.peakRssMb;
    if (ratio > 1.5) ok = false;
    lines.push(
      `restore peak RSS ${n(large.comments)}/${n(small.comments)} comments: ${ratio.toFixed(2)}x (target <= 1.5x)`,
    );
  }
  lines.push(`restore targets: ${ok ? "ok" : "NOT MET"}`);
  return { ok, lines };
}

// `tsx scripts/bench-restore.ts [comments ...]`, or `--child DATA` (one size, used by the parent).
if (process.argv[1] === import.meta.filename) {
  const at = process.argv.indexOf("--child");
  if (at > 0) {
    const result = await child(JSON.parse(String(process.argv[at + 1])) as RestoreData);
    console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    process.exit(0);
  }
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  const results: RestoreBenchResult[] = [];
  for (const comments of sizes.length ? sizes : [100_000, 1_000_000]) {
    const result = await benchRestoreIsolated(comments);
    results.push(result);
    for (const line of describeRestore(result)) console.log(line);
  }
  for (const line of restoreTargets(results).lines) console.log(line);
  console.log(JSON.stringify(results));
  process.exit(0);
}
