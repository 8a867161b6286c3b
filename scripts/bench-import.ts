import { randomBytes, randomUUID } from "node:crypto";
import { availableParallelism } from "node:os";
import { pathToFileURL } from "node:url";
import bcrypt from "bcryptjs";
import { deliverBatch } from "./local/deliver.ts";
import { type LocalStack, startScratchStack } from "./local/stack.ts";

/** What one import run measured, from the upload to the job's end. */
export interface ImportRunResult {
  rows: number;
  bytes: number;
  seconds: number;
  rowsPerSecond: number;
}

export interface ImportBenchResult {
  comments: ImportRunResult & { replies: number };
  users: ImportRunResult & {
    bcryptCost: number;
    cores: number;
    hashThreads: number;
    /** Hashes per second of one core, measured here before the run. */
    hashesPerSecondOneCore: number;
    /** cores x hashes/s: no users import can be faster. */
    boundRowsPerSecond: number;
    /** rows/s divided by the bound. */
    ratioToBound: number;
    /** Hashes per second of the thread pool alone, measured just before the run. */
    poolHashesPerSecond: number;
    /** rows/s divided by what the pool alone achieved: the import's own overhead. */
    ratioToPool: number;
  };
}

const MIB = 1024 * 1024;
const MAX_FILE_BYTES = 4 * MIB;

/** Grows each row's `grow` field evenly so that the JSON array is just under `targetBytes`. */
function fillTo<T>(rows: T[], targetBytes: number, grow: (row: T, extra: string) => void): string {
  const base = Buffer.byteLength(JSON.stringify(rows));
  const extra = Math.max(0, Math.floor((targetBytes - base - 64) / rows.length));
  const padding = "lorem ipsum dolor sit amet ".repeat(Math.ceil(extra / 27) + 1).slice(0, extra);
  for (const row of rows) grow(row, padding);
  return JSON.stringify(rows);
}

function commentsFile(users: string[], rooms: string[], count: number) {
  const perRoom = new Map<string, string[]>(rooms.map((room) => [room, []]));
  const start = Date.parse("2024-01-01T00:00:00Z");
  let replies = 0;
  const rows = Array.from({ length: count }, (_, i) => {
    const room = rooms[i % rooms.length] as string;
    const earlier = perRoom.get(room) as string[];
    const uniqueId = `bench-${i}-${randomUUID()}`;
    const createdAt = new Date(start + i * 1000).toISOString();
    const creator = users[(i * 7) % users.length] as string;
    const parent =
      i % 3 === 2 && earlier.length
        ? earlier[earlier.length - 1 - (i % earlier.length)]
        : undefined;
    earlier.push(uniqueId);
    if (parent) replies += 1;
    return {
      Message: "m",
      DisableLinkPreview: false,
      Type: parent ? "reply" : "text",
      UniqueId: uniqueId,
      CreatorEmail: creator,
      RoomUniqueId: room,
      CreatedAt: createdAt,
      Payload: parent ? { text: "re", replied_comment_id: 1 } : null,
      ParentCommentUniqueId: parent ?? "",
    };
  });
  const text = fillTo(rows, MAX_FILE_BYTES, (row, extra) => {
    row.Message = `m${extra}`.slice(0, 4000);
  });
  return { text, replies };
}

function usersFile(requested?: number) {
  const make = (i: number) => ({
    Email: `bench.user.${i}@example.com`,
    Name: "U",
    AvatarUrl: `https://avatars.example.com/${i}.png`,
    AuthenticationToken: randomBytes(16).toString("hex"),
    Password: randomBytes(9).toString("base64"),
    CreateAt: new Date(Date.parse("2024-01-01T00:00:00Z") + i * 1000).toISOString(),
  });
  // By default as many realistic users as fit in the file.
  const count =
    requested ??
    Math.floor((MAX_FILE_BYTES - 64) / (Buffer.byteLength(JSON.stringify(make(99999))) + 1));
  const rows = Array.from({ length: count }, (_, i) => make(i));
  return fillTo(rows, MAX_FILE_BYTES, (row, extra) => {
    row.Name = `U${extra}`.slice(0, 255);
  });
}

/** Single-thread bcrypt rate at `cost`, hashes per second, measured after a warm-up. */
function bcryptRate(cost: number, seconds = 6): number {
  // The first hashes run before the JIT has optimised bcryptjs and would understate the rate.
  for (let i = 0; i < 10; i += 1) bcrypt.hashSync("warm-up", bcrypt.genSaltSync(cost));
  const started = performance.now();
  let hashes = 0;
  while (performance.now() - started < seconds * 1000) {
    bcrypt.hashSync("benchmark-password", bcrypt.genSaltSync(cost));
    hashes += 1;
  }
  return hashes / ((performance.now() - started) / 1000);
}

/**
 * Runs imports end to end on a local stack of its own (free ports, temporary state, queue
 * pollers off): a ~4 MiB comments file (about `commentRows` rows, a third of them replies) and a
 * ~4 MiB users file (`userRows` users, by default as many as fit) hashed with bcrypt at `bcryptCost`.
 */
export async function benchImport(
  options: { commentRows?: number; userRows?: number; bcryptCost?: number } = {},
): Promise<ImportBenchResult> {
  const commentRows = options.commentRows ?? 10000;
  const userRows = options.userRows;
  const bcryptCost = options.bcryptCost ?? 10;
  let stack: LocalStack | undefined;
  try {
    stack = await startScratchStack("bench-import", { env: { BCRYPT_COST: String(bcryptCost) } });
    const local = stack;
    // Loaded after the stack has put its endpoints into the environment.
    const { upsertApplication } = await import("../lib/chat-db/applications.ts");
    const { sqs } = await import("../lib/aws/sqs.ts");
    const { config } = await import("../lib/config.ts");
    const { passwordHasher } = await import("../lib/imports/password-hasher.ts");
    const app = { appId: `bench-${randomUUID().slice(0, 8)}`, secret: randomUUID() };
    await upsertApplication(app);

    const deliver = () =>
      deliverBatch(local.runtime, sqs(), {
        functionName: "importWorker",
        queueUrl: local.queues.ImportQueue as string,
        queueArn: "arn:aws:sqs:us-east-1:000000000000:imports",
        batchSize: 1,
      });

    /** Uploads a file through the HTTP API and delivers queue messages until the job ends. */
    const run = async (type: string, text: string): Promise<ImportRunResult> => {
      const headers = { "QISCUS-SDK-APP-ID": app.appId, "QISCUS-SDK-SECRET": app.secret };
      const form = new FormData();
      form.set("type", type);
      form.set("file", new Blob([text], { type: "application/json" }), `${type}.json`);
      const started = performance.now();
      const posted = await fetch(`${local.url}/api/v2.1/rest/imports`, {
        method: "POST",
        headers,
        body: form,
      });
      const body = (await posted.json()) as { results?: { backup_history: { unique_id: string } } };
      if (!posted.ok || !body.results) throw new Error(`upload failed: ${JSON.stringify(body)}`);
      const jobId = body.results.backup_history.unique_id;
      for (;;) {
        await deliver();
        const response = await fetch(`${local.url}/api/v2.1/rest/imports/${jobId}`, { headers });
        const { results } = (await response.json()) as {
          results: { backup_history: { status: string; total_rows: number; errors: unknown } };
        };
        const job = results.backup_history;
        if (job.status === "failed")
          throw new Error(`${type} import failed: ${JSON.stringify(job.errors).slice(0, 500)}`);
        if (job.status === "finished") {
          const seconds = (performance.now() - started) / 1000;
          return {
            rows: job.total_rows,
            bytes: Buffer.byteLength(text),
            seconds,
            rowsPerSecond: job.total_rows / seconds,
          };
        }
      }
    };

    // Ground for the comments: 40 users (PasswordHash, no hashing) in 20 group rooms.
    const hash = bcrypt.hashSync("x", 4);
    const people = Array.from({ length: 40 }, (_, i) => `member.${i}@example.com`);
    await run(
      "users",
      JSON.stringify(
        people.map((address, i) => ({
          Email: address,
          Name: `Member ${i}`,
          AuthenticationToken: `member-${i}`,
          PasswordHash: hash,
        })),
      ),
    );
    const rooms = Array.from({ length: 20 }, (_, i) => `bench-room-${i}`);
    await run(
      "rooms",
      JSON.stringify(
        rooms.map((uniqueId) => ({
          Name: uniqueId,
          Type: "group",
          CreatorEmail: people[0],
          UniqueId: uniqueId,
          ParticipantEmails: people,
          CreatedAt: "2023-12-31T00:00:00Z",
        })),
      ),
    );
    const generated = commentsFile(people, rooms, commentRows);
    const comments = { ...(await run("comments", generated.text)), replies: generated.replies };

    const cores = availableParallelism();
    const oneCore = bcryptRate(bcryptCost);
    await passwordHasher().hashAll(["warm-up"], 4);
    const poolSample = Array.from({ length: cores * 12 }, (_, i) => `sample-${i}`);
    const poolStart = performance.now();
    await passwordHasher().hashAll(poolSample, bcryptCost);
    const poolRate = poolSample.length / ((performance.now() - poolStart) / 1000);
    const users = await run("users", usersFile(userRows));
    const bound = cores * oneCore;
    await passwordHasher().close();
    return {
      comments,
      users: {
        ...users,
        bcryptCost,
        cores,
        hashThreads: config().hashThreads,
        hashesPerSecondOneCore: oneCore,
        boundRowsPerSecond: bound,
        ratioToBound: users.rowsPerSecond / bound,
        poolHashesPerSecond: poolRate,
        ratioToPool: users.rowsPerSecond / poolRate,
      },
    };
  } finally {
    await stack?.stop();
  }
}

/** Human-readable lines for a benchmark result. */
export function describeImportBench(result: ImportBenchResult): string {
  const { comments: c, users: u } = result;
  const mib = (bytes: number) => (bytes / MIB).toFixed(2);
  return [
    `comments import: ${c.rows} rows (${c.replies} replies), ${mib(c.bytes)} MiB in ${c.seconds.toFixed(2)} s = ${Math.round(c.rowsPerSecond)} rows/s`,
    `users import:    ${u.rows} rows, ${mib(u.bytes)} MiB, bcrypt cost ${u.bcryptCost}, ${u.hashThreads} threads, in ${u.seconds.toFixed(1)} s = ${u.rowsPerSecond.toFixed(1)} rows/s`,
    `bcrypt bound:    ${u.cores} cores x ${u.hashesPerSecondOneCore.toFixed(1)} hashes/s = ${u.boundRowsPerSecond.toFixed(1)} rows/s; ratio ${u.ratioToBound.toFixed(2)}`,
    `hash pool alone: ${u.poolHashesPerSecond.toFixed(1)} hashes/s just before the run; users import reached ${(u.ratioToPool * 100).toFixed(0)}% of it`,
  ].join("\n");
}

// `tsx scripts/bench-import.ts [--users N] [--comments N] [--cost N]`
if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const flag = (name: string) => {
    const at = process.argv.indexOf(`--${name}`);
    return at > 0 ? Number(process.argv[at + 1]) : undefined;
  };
  const result = await benchImport({
    userRows: flag("users"),
    commentRows: flag("comments"),
    bcryptCost: flag("cost"),
  });
  console.log(describeImportBench(result));
  console.log(JSON.stringify(result));
  process.exit(0);
}
