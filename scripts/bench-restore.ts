import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import bcrypt from "bcryptjs";
import { deliverBatch } from "./local/deliver.ts";
import { type LocalStack, startScratchStack } from "./local/stack.ts";

/** What one restore of a comments file through the upload path measured. */
export interface RestoreBenchResult {
  rows: number;
  replies: number;
  bytes: number;
  /** From the start request to the finished job: reading, checking and writing every row. */
  seconds: number;
  rowsPerSecond: number;
  /** PostgreSQL's own COPY FROM of the same rows (ids resolved) into an empty application. */
  floorSeconds: number;
  floorRowsPerSecond: number;
  /** rows/s of the import divided by rows/s of the floor. */
  ratioToFloor: number;
  peakRssMb: number;
  startRssMb: number;
  /**
   * The same rows restored in one call from a backup of the application (`POST /restores`,
   * straight from storage, checksums verified, users and rooms skipped as already there), after
   * its comments were deleted: from the request to the finished restore.
   */
  fromBackupSeconds?: number;
  fromBackupRowsPerSecond?: number;
  /** rows/s from the backup divided by rows/s through the upload path (target >= 1). */
  fromBackupRatio?: number;
}

const MIB = 1024 * 1024;
const RESULT_MARKER = "RESTORE-RESULT ";
const MEMBERS = 40;
const ROOMS = 20;

/** Writes `rows` comments as an export would (a JSON array, one row a line, a third replies). */
async function writeCommentsFile(path: string, rows: number, members: string[], rooms: string[]) {
  const out = createWriteStream(path);
  const start = Date.parse("2024-01-01T00:00:00Z");
  // The last comment of each room, replied to by every third comment.
  const last = new Map<string, string>();
  let replies = 0;
  let buffer = "[\n";
  for (let i = 0; i < rows; i += 1) {
    const room = rooms[i % rooms.length] as string;
    const parent = i % 3 === 2 ? last.get(room) : undefined;
    const uniqueId = `restore-${i}-${randomUUID().slice(0, 8)}`;
    last.set(room, uniqueId);
    if (parent) replies += 1;
    const row = {
      Message: `Halo, ini pesan nomor ${i} dari percakapan yang cukup panjang untuk menyerupai obrolan sehari-hari. Sampai jumpa besok pagi di kantor ya, jangan lupa bawa laporan bulanan dan kopi.`,
      DisableLinkPreview: false,
      Type: parent ? "reply" : "text",
      UniqueId: uniqueId,
      CreatorEmail: members[(i * 7) % members.length],
      RoomUniqueId: room,
      CreatedAt: new Date(start + i * 1000).toISOString().replace(".000Z", "Z"),
      Payload: parent ? { text: "Setuju", replied_comment_id: 1 } : null,
      ParentCommentUniqueId: parent ?? "",
    };
    buffer += `${JSON.stringify(row)}${i + 1 < rows ? "," : ""}\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, "drain");
      buffer = "";
    }
  }
  out.end(`${buffer}]\n`);
  await finished(out);
  return { replies, bytes: statSync(path).size };
}

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
async function child(rows: number, commentsPath: string): Promise<RestoreBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-restore-"));
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
    const headers = { "QISCUS-SDK-APP-ID": app.appId, "QISCUS-SDK-SECRET": app.secret };

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
    const restore = async (type: string, file: string, onStart?: () => void) => {
      const { upload } = await api("POST", "/imports/uploads", { type, filename: `${type}.json` });
      await putFile(upload.upload_url, file);
      onStart?.();
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

    // Ground: members (bcrypt hashes given, nothing to hash) in group rooms.
    const hash = bcrypt.hashSync("x", 4);
    const members = Array.from({ length: MEMBERS }, (_, i) => `member.${i}@example.com`);
    const rooms = Array.from({ length: ROOMS }, (_, i) => `restore-room-${i}`);
    const usersPath = join(dir, "users.json");
    const roomsPath = join(dir, "rooms.json");
    const write = async (path: string, value: unknown) => {
      const out = createWriteStream(path);
      out.end(JSON.stringify(value));
      await finished(out);
    };
    await write(
      usersPath,
      members.map((email, i) => ({
        Email: email,
        Name: `Member ${i}`,
        AuthenticationToken: `member-${i}`,
        PasswordHash: hash,
      })),
    );
    await write(
      roomsPath,
      rooms.map((uniqueId) => ({
        Name: uniqueId,
        Type: "group",
        CreatorEmail: members[0],
        UniqueId: uniqueId,
        ParticipantEmails: members,
        CreatedAt: "2023-12-31T00:00:00Z",
      })),
    );
    await restore("users", usersPath);
    await restore("rooms", roomsPath);
    const bytes = statSync(commentsPath).size;

    let peak = 0;
    let startRss = 0;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage.rss());
    }, 20);
    const run = await restore("comments", commentsPath, () => {
      (globalThis as { gc?: () => void }).gc?.();
      startRss = process.memoryUsage.rss();
      peak = startRss;
    });
    clearInterval(sampler);

    const fromBackup = await restoreFromBackup(
      api,
      deliverAll,
      async () => {
        await chatDb().query("DELETE FROM comments WHERE app_id = $1", [app.appId]);
        // As autovacuum would soon after: the restore starts from a table without the deleted rows'
        // dead tuples, like the upload path's import started from a table that never held them.
        await chatDb().query("VACUUM ANALYZE comments");
      },
      local,
    );
    if (fromBackup.rows !== rows) throw new Error(`restored ${fromBackup.rows} rows, not ${rows}`);

    // The floor: PostgreSQL's own COPY of the same rows into a second, empty application.
    const floorApp = `restore-floor-${randomUUID().slice(0, 8)}`;
    await upsertApplication({ appId: floorApp, secret: randomUUID() });
    const db = chatDb();
    await db.query(
      `CREATE UNLOGGED TABLE floor_rows AS SELECT room_id, user_id, unique_id, type, message, payload,
         disable_link_preview, parent_id, created_at FROM comments WHERE app_id = $1 ORDER BY id`,
      [app.appId],
    );
    const floorSeconds = await copyFloor(db, floorApp);
    await closeChatDb();
    if (run.rows !== rows) throw new Error(`imported ${run.rows} rows, not ${rows}`);
    return {
      rows: run.rows,
      replies: 0,
      bytes,
      seconds: run.seconds,
      rowsPerSecond: Math.round(run.rows / run.seconds),
      floorSeconds,
      floorRowsPerSecond: Math.round(run.rows / floorSeconds),
      ratioToFloor: Number((run.seconds > 0 ? floorSeconds / run.seconds : 0).toFixed(3)),
      peakRssMb: Math.round(peak / MIB),
      startRssMb: Math.round(startRss / MIB),
      fromBackupSeconds: Number(fromBackup.seconds.toFixed(3)),
      fromBackupRowsPerSecond: Math.round(fromBackup.rows / fromBackup.seconds),
      fromBackupRatio: Number((run.seconds / fromBackup.seconds).toFixed(3)),
    };
  } finally {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

type Api = (method: string, path: string, body?: unknown) => Promise<Record<string, any>>;

/**
 * Backs the application up (`POST /backups`), loses its comments (`wipe`), then restores the
 * backup in one call (`POST /restores`): the rows come straight from storage, nothing through
 * this client. Returns the comments written and the time from the request to the finished restore.
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
      return { rows: now.types.comments.total_rows, seconds: (performance.now() - started) / 1000 };
    }
  }
}

/**
 * COPY FROM STDIN of the imported rows into the floor application's comments (same columns,
 * same indexes and foreign keys), streamed from the database through this process.
 */
async function copyFloor(db: import("pg").Pool, appId: string): Promise<number> {
  const { to: copyTo, from: copyFrom } = await import("pg-copy-streams");
  const source = await db.connect();
  const target = await db.connect();
  try {
    const reading = source.query(
      copyTo(`COPY (SELECT '${appId}', room_id, user_id, 'floor-' || unique_id, type, message,
        payload, disable_link_preview, NULL::bigint, created_at FROM floor_rows) TO STDOUT`),
    );
    // Read everything first so that the COPY FROM alone is timed.
    const chunks: Buffer[] = [];
    for await (const chunk of reading) chunks.push(chunk as Buffer);
    const started = performance.now();
    const writing = target.query(
      copyFrom(`COPY comments (app_id, room_id, user_id, unique_id, type, message, payload,
        disable_link_preview, parent_id, created_at) FROM STDIN`),
    );
    await finished(Readable.from(chunks).pipe(writing));
    return (performance.now() - started) / 1000;
  } finally {
    source.release();
    target.release();
  }
}

/**
 * Runs one size in a child process of its own, so that its peak RSS is the import's alone; the
 * file is written here first, outside the measured process.
 */
export async function benchRestoreIsolated(rows: number): Promise<RestoreBenchResult> {
  const dir = mkdtempSync(join(tmpdir(), "bench-restore-file-"));
  try {
    const path = join(dir, "comments.json");
    const members = Array.from({ length: MEMBERS }, (_, i) => `member.${i}@example.com`);
    const rooms = Array.from({ length: ROOMS }, (_, i) => `restore-room-${i}`);
    const { replies } = await writeCommentsFile(path, rows, members, rooms);
    return { ...(await runChild(rows, path)), replies };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runChild(rows: number, path: string): Promise<RestoreBenchResult> {
  return new Promise((resolve, reject) => {
    const spawned = spawn(
      process.execPath,
      [...process.execArgv, "--expose-gc", import.meta.filename, "--child", String(rows), path],
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
        reject(new Error(`restore benchmark for ${rows} rows exited with ${code}\n${output}`));
        return;
      }
      resolve(JSON.parse(line.slice(RESULT_MARKER.length)) as RestoreBenchResult);
    });
  });
}

/** A human-readable line for one result. */
export function describeRestore(result: RestoreBenchResult): string {
  return [
    `restore ${result.rows.toLocaleString("en-US")} comments (${result.replies.toLocaleString("en-US")} replies, ${(result.bytes / MIB).toFixed(0)} MiB) through the upload path:`,
    `${result.seconds.toFixed(1)} s = ${result.rowsPerSecond.toLocaleString("en-US")} rows/s checked and written;`,
    `PostgreSQL's own COPY of the same rows ${result.floorSeconds.toFixed(1)} s = ${result.floorRowsPerSecond.toLocaleString("en-US")} rows/s (import at ${(result.ratioToFloor * 100).toFixed(0)}% of it);`,
    `peak RSS ${result.peakRssMb} MiB (start ${result.startRssMb} MiB);`,
    result.fromBackupSeconds === undefined
      ? ""
      : `from a backup in one call (POST /restores, straight from storage): ${result.fromBackupSeconds.toFixed(1)} s = ${result.fromBackupRowsPerSecond?.toLocaleString("en-US")} rows/s, ${result.fromBackupRatio?.toFixed(2)}x the upload path's rate (target >= 1)`,
  ].join(" ");
}

// `tsx scripts/bench-restore.ts [rows ...]`, or `--child N` (one size, used by the parent).
if (process.argv[1] === import.meta.filename) {
  const at = process.argv.indexOf("--child");
  if (at > 0) {
    const result = await child(Number(process.argv[at + 1]), String(process.argv[at + 2]));
    console.log(`${RESULT_MARKER}${JSON.stringify(result)}`);
    process.exit(0);
  }
  const sizes = process.argv.slice(2).map(Number).filter(Boolean);
  const results: RestoreBenchResult[] = [];
  for (const rows of sizes.length ? sizes : [100_000, 1_000_000]) {
    const result = await benchRestoreIsolated(rows);
    results.push(result);
    console.log(describeRestore(result));
  }
  const [small, large] = [results[0], results.at(-1)];
  if (small && large && small !== large) {
    const ratio = large.peakRssMb / small.peakRssMb;
    console.log(`restore peak RSS ratio ${ratio.toFixed(2)}x (target <= 1.5x)`);
  }
  process.exit(0);
}
