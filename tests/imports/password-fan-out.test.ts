import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { sqs } from "../../lib/aws/sqs.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { stagingTables } from "../../lib/chat-db/staging.ts";
import { PASSWORDS_PER_CHUNK } from "../../lib/imports/password-stage.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { drainQueue, newApp, stack } from "../support/harness.ts";
import { countRows, getImport, postImport, user } from "./support.ts";

const QUEUE = () => stack.queues.ImportQueue as string;

/** Staging rows of the job whose password is hashed, and those still waiting. */
async function staged(jobId: string) {
  const { rows } = await chatDb().query<{ hashed: number; plain: number }>(
    `SELECT count(*) FILTER (WHERE password IS NULL)::int AS hashed,
       count(password)::int AS plain FROM ${stagingTables(jobId).rows}`,
  );
  return rows[0] as { hashed: number; plain: number };
}

/** Takes the messages waiting on the import queue off it (they are put back by the caller). */
async function takeMessages(): Promise<string[]> {
  const bodies: string[] = [];
  for (let idle = 0; idle < 2; ) {
    const { Messages = [] } = await sqs().send(
      new ReceiveMessageCommand({ QueueUrl: QUEUE(), MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    if (!Messages.length) idle += 1;
    for (const message of Messages) {
      bodies.push(message.Body ?? "");
      await sqs().send(
        new (await import("@aws-sdk/client-sqs")).DeleteMessageCommand({
          QueueUrl: QUEUE(),
          ReceiptHandle: message.ReceiptHandle,
        }),
      );
    }
  }
  return bodies;
}

/** The job's count of plain passwords at fan-out and of those hashed since. */
async function hashingCounts(jobId: string) {
  const { rows } = await chatDb().query(
    "SELECT passwords, passwords_hashed AS hashed FROM import_staging.loaded WHERE job_id = $1",
    [jobId],
  );
  return rows[0];
}

/** Whether the job still has staging tables or a completion mark. */
async function hasStaging(jobId: string): Promise<boolean> {
  const { rows } = await chatDb().query(
    `SELECT to_regclass($1) IS NOT NULL AS tables,
       EXISTS (SELECT 1 FROM import_staging.loaded WHERE job_id = $2) AS mark`,
    [stagingTables(jobId).rows, jobId],
  );
  return rows[0].tables || rows[0].mark;
}

async function put(body: string) {
  await sqs().send(new SendMessageCommand({ QueueUrl: QUEUE(), MessageBody: body }));
}

async function storedHashes(appId: string) {
  const { rows } = await chatDb().query<{ email: string; password_hash: string }>(
    "SELECT email, password_hash FROM users WHERE app_id = $1 ORDER BY id",
    [appId],
  );
  return rows;
}

describe("password hashing fanned out", () => {
  it("given plain passwords, when imported, then chunks are hashed apart, a crashed or repeated chunk redoes nothing done, and the rows are written once when the last chunk is done", async () => {
    // Earlier files' messages may still wait on the shared queue: this test counts its own.
    await drainQueue("ImportQueue");
    const app = await newApp();
    const count = PASSWORDS_PER_CHUNK * 2 + 40;
    const rows = Array.from({ length: count }, (_, i) => user({ Password: `secret-${i}` }));
    const posted = await postImport(app, "users", JSON.stringify(rows));
    const jobId = posted.body.results.backup_history.unique_id;

    // The job's message loads and checks the file, then hands the passwords out in chunks.
    await drainQueue("ImportQueue", { maxMessages: 1 });
    const chunks = (await takeMessages()).map((body) => JSON.parse(body));
    expect(chunks).toHaveLength(3);
    expect(chunks.map((chunk) => chunk.chunk.from)).toEqual([
      0,
      PASSWORDS_PER_CHUNK,
      PASSWORDS_PER_CHUNK * 2,
    ]);
    expect(await staged(jobId)).toEqual({ hashed: 0, plain: count });
    expect((await getImport(app, jobId)).status).toBe("processing");

    // A repeated job message queues no second set of chunks.
    await put(JSON.stringify({ kind: "import", appId: app.appId, jobId, seq: 0 }));
    await drainQueue("ImportQueue", { maxMessages: 1 });
    expect(await takeMessages()).toEqual([]);

    // The first chunk is hashed; delivered twice, the second delivery changes nothing.
    await put(JSON.stringify(chunks[0]));
    await drainQueue("ImportQueue", { maxMessages: 1 });
    const afterFirst = await chatDb().query(
      `SELECT row, password_hash FROM ${stagingTables(jobId).rows} WHERE row < 3 ORDER BY row`,
    );
    await put(JSON.stringify(chunks[0]));
    await drainQueue("ImportQueue", { maxMessages: 1 });
    const again = await chatDb().query(
      `SELECT row, password_hash FROM ${stagingTables(jobId).rows} WHERE row < 3 ORDER BY row`,
    );
    expect(again.rows).toEqual(afterFirst.rows);
    expect(await staged(jobId)).toEqual({
      hashed: PASSWORDS_PER_CHUNK,
      plain: count - PASSWORDS_PER_CHUNK,
    });
    // The percentage follows the passwords hashed (256 of 552: 50 + 45 x 0.46, in steps of 5),
    // counted once however often the chunk came.
    expect(await hashingCounts(jobId)).toEqual({ passwords: count, hashed: PASSWORDS_PER_CHUNK });
    expect((await getImport(app, jobId)).percentage).toBe(70);

    // The second chunk's invocation crashed after storing part of its work: its message comes
    // back and only the rest is hashed. Nothing is written while a chunk is missing.
    const partial = await chatDb().query<{ row: number; password: string }>(
      `SELECT row, password FROM ${stagingTables(jobId).rows}
       WHERE row >= $1 ORDER BY row LIMIT 10`,
      [PASSWORDS_PER_CHUNK],
    );
    for (const { row, password } of partial.rows) {
      await chatDb().query(
        `UPDATE ${stagingTables(jobId).rows} SET password_hash = $2, password = NULL WHERE row = $1`,
        [row, bcrypt.hashSync(password, 4)],
      );
    }
    const crashedHashes = await chatDb().query(
      `SELECT password_hash FROM ${stagingTables(jobId).rows} WHERE row = $1`,
      [PASSWORDS_PER_CHUNK],
    );
    await put(JSON.stringify(chunks[1]));
    await drainQueue("ImportQueue", { maxMessages: 1 });
    expect(
      (
        await chatDb().query(
          `SELECT password_hash FROM ${stagingTables(jobId).rows} WHERE row = $1`,
          [PASSWORDS_PER_CHUNK],
        )
      ).rows,
    ).toEqual(crashedHashes.rows);
    expect(await countRows(app.appId, "users")).toBe(0);
    expect(await takeMessages()).toEqual([]);

    // The last chunk leaves no plain password: it queues the job's message, which writes.
    await put(JSON.stringify(chunks[2]));
    await drainQueue("ImportQueue");
    const job = await getImport(app, jobId);
    expect(job).toMatchObject({ status: "finished", total_rows: count, percentage: 100 });
    const stored = await storedHashes(app.appId);
    expect(stored).toHaveLength(count);
    for (const i of [0, PASSWORDS_PER_CHUNK, PASSWORDS_PER_CHUNK + 5, count - 1]) {
      expect(bcrypt.compareSync(`secret-${i}`, stored[i]?.password_hash as string)).toBe(true);
    }
    // The staging rows, and with them every plain password, are gone.
    await expect(staged(jobId)).rejects.toThrow(/does not exist/);
    // A late duplicate of a chunk finds nothing to do.
    await put(JSON.stringify(chunks[0]));
    await drainQueue("ImportQueue");
    expect(await countRows(app.appId, "users")).toBe(count);
  });

  it("given a chunk whose invocation runs short of time, when delivered, then it hashes a round and queues itself again", async () => {
    const app = await newApp();
    const rows = Array.from({ length: 40 }, (_, i) => user({ Password: `pw-${i}` }));
    const posted = await postImport(app, "users", JSON.stringify(rows));
    const jobId = posted.body.results.backup_history.unique_id;
    await drainQueue("ImportQueue", { maxMessages: 1 });
    // Less time left than the worker keeps in reserve: one round per invocation.
    await drainQueue("ImportQueue", { maxMessages: 1, budgetMs: 30_000 });
    const { hashed, plain } = await staged(jobId);
    expect(hashed).toBeGreaterThan(0);
    expect(plain).toBeGreaterThan(0);
    expect(await countRows(app.appId, "users")).toBe(0);
    await drainQueue("ImportQueue", { budgetMs: 30_000 });
    expect(await getImport(app, jobId)).toMatchObject({ status: "finished", total_rows: 40 });
  });

  it("given a job whose record is gone while its passwords wait, when its chunk or its own message comes, then its staging tables are dropped", async () => {
    await drainQueue("ImportQueue");
    for (const first of ["chunk", "job"] as const) {
      const app = await newApp();
      const rows = Array.from({ length: 3 }, (_, i) => user({ Password: `pw-${i}` }));
      const posted = await postImport(app, "users", JSON.stringify(rows));
      const jobId = posted.body.results.backup_history.unique_id;
      await drainQueue("ImportQueue", { maxMessages: 1 });
      const [chunk] = await takeMessages();
      expect(await hasStaging(jobId)).toBe(true);
      // The record expires (retention) or is removed while the passwords wait.
      await jobStore().delete(app.appId, jobId);
      await put(
        first === "chunk"
          ? (chunk as string)
          : JSON.stringify({ kind: "import", appId: app.appId, jobId, seq: 0 }),
      );
      await drainQueue("ImportQueue");
      expect(await hasStaging(jobId)).toBe(false);
      expect(await countRows(app.appId, "users")).toBe(0);
    }
  });
});
