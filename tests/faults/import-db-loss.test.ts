import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { runImport } from "../../lib/imports/import-worker.ts";
import { getImport, postImport } from "../imports/support.ts";
import { newApp, unhurried } from "../support/harness.ts";

const BCRYPT_HASH = "$2b$04$abcdefghijklmnopqrstuuA5bWc0w2JmE3Zs3fBqWnsOGGbJrJCMi";

async function userCount(appId: string): Promise<number> {
  const { rows } = await chatDb().query<{ n: number }>(
    "SELECT count(*)::int AS n FROM users WHERE app_id = $1",
    [appId],
  );
  return rows[0]?.n ?? -1;
}

describe("the chat database lost in the middle of an import", () => {
  it("given the import's connection killed after its rows were inserted, then nothing is visible, and the retry writes every row once", async () => {
    const app = await newApp();
    const users = Array.from({ length: 3000 }, (_, i) => ({
      Email: `person${i}@example.com`,
      Name: `Person ${i}`,
      AvatarUrl: "https://example.com/a.png",
      AuthenticationToken: `token-${i}`,
      PasswordHash: BCRYPT_HASH,
      CreateAt: "2024-03-01T10:00:00Z",
    }));
    const posted = await postImport(app, "users", JSON.stringify(users));
    expect(posted.status).toBe(200);
    const jobId: string = posted.body.results.backup_history.unique_id;
    const message = { kind: "import" as const, appId: app.appId, jobId, seq: 0 };

    // Hold the table the import writes its completion marker to: the worker inserts every user,
    // then waits for this lock inside its transaction. That is where its connection dies.
    const blocker = await chatDb().connect();
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE import_jobs_applied IN EXCLUSIVE MODE");
    // Settled into a value at once, so that its rejection is never "unhandled" while we wait.
    const attempt = runImport(message, unhurried).then(
      () => undefined,
      (error: unknown) => error,
    );
    let victim: number | undefined;
    for (let i = 0; i < 200 && victim === undefined; i += 1) {
      // Activity is a snapshot per transaction: take a fresh one on every look.
      await blocker.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await blocker.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND query ILIKE '%import_jobs_applied%' AND pid <> pg_backend_pid()`,
      );
      victim = rows[0]?.pid;
      if (victim === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(victim, "the import never reached its completion marker").toBeDefined();
    await blocker.query("SELECT pg_terminate_backend($1)", [victim]);
    await blocker.query("ROLLBACK");
    blocker.release();
    expect(await attempt).toBeInstanceOf(Error);

    expect(await userCount(app.appId)).toBe(0);
    const halfway = await getImport(app, jobId);
    expect(halfway.status).not.toBe("finished");
    expect(halfway.status).not.toBe("failed");

    // SQS delivers the message again: the import completes, each row exactly once.
    await runImport(message, unhurried);
    expect(await userCount(app.appId)).toBe(3000);
    const done = await getImport(app, jobId);
    expect(done.status).toBe("finished");
    expect(done.total_rows).toBe(3000);

    // A further duplicate delivery changes nothing.
    await runImport(message, unhurried);
    expect(await userCount(app.appId)).toBe(3000);
  }, 60_000);
});
