import { fork } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { runImport } from "../../lib/imports/import-worker.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import {
  backupOf,
  backupRows,
  counts,
  exportRows,
  getRestore,
  restore,
  seedApp,
  startRestore,
  takeImportMessage,
  wipeChat,
  withoutIds,
} from "../restores/support.ts";
import { newApp, unhurried } from "../support/harness.ts";

describe("a worker killed in the middle of a restore", () => {
  it("given a restore killed while it writes comments, when run again (a new restore, then the same message), then both finish, each row once", async () => {
    const app = await newApp();
    // (A backup of more than 2,000 comments does not finish yet: see the backups' name look-ups.)
    await seedApp(app, 1500);
    const backup = await backupOf(app);
    await wipeChat(app.appId);
    const started = await startRestore(app, backup.unique_id);
    const message = await takeImportMessage(started.unique_id);

    // Comments cannot be written while this lock is held: the restore gets through users and
    // rooms, then waits inside its comments transaction. That is where it dies.
    const blocker = await chatDb().connect();
    await blocker.query("BEGIN");
    await blocker.query("LOCK TABLE comments IN EXCLUSIVE MODE");
    const child = fork(join(import.meta.dirname, "restore-child.ts"), {
      execArgv: ["--import", "tsx"],
      env: { ...process.env, LEASE_MARGIN_MS: "0", IMPORT_RESERVE_MS: "0" },
      stdio: ["ignore", "ignore", "inherit", "ipc"],
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    await new Promise<void>((resolve) => child.once("message", () => resolve()));
    child.send({ message, budgetMs: 4000 });
    let victim: number | undefined;
    for (let i = 0; i < 400 && victim === undefined; i += 1) {
      await blocker.query("SELECT pg_stat_clear_snapshot()");
      const { rows } = await blocker.query<{ pid: number }>(
        `SELECT pid FROM pg_stat_activity
         WHERE wait_event_type = 'Lock' AND pid <> pg_backend_pid()
           AND (query ILIKE '%INSERT INTO comments%' OR query ILIKE 'COPY comments%')`,
      );
      victim = rows[0]?.pid;
      if (victim === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(victim, "the restore never reached its comments").toBeDefined();
    child.kill("SIGKILL");
    await exited;
    await blocker.query("SELECT pg_terminate_backend($1)", [victim]);
    await blocker.query("ROLLBACK");
    blocker.release();

    const halfway = await getRestore(app, started.unique_id);
    expect(halfway.status).toBe("processing");
    expect(halfway.types.users).toMatchObject({ status: "finished", total_rows: 3 });
    expect(halfway.types.rooms).toMatchObject({ status: "finished", total_rows: 2 });
    expect(halfway.types.comments.status).toBe("processing");
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 0 });

    // A new restore of the same backup runs to the end, skipping what the first one wrote.
    const second = await restore(app, backup.unique_id);
    expect(second).toMatchObject({ status: "finished", total_rows: 1500, skipped_rows: 5 });
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 1500 });

    // The dead worker's lease runs out; SQS delivers its message again: it finishes, writing nothing twice.
    const record = await jobStore().get(app.appId, started.unique_id);
    const leaseUntil = record?.leaseUntil ?? 0;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, leaseUntil - Date.now()) + 100));
    expect(await runImport(message, unhurried)).toBe("finished");
    const first = await getRestore(app, started.unique_id);
    expect(first).toMatchObject({ status: "finished", total_rows: 5 });
    expect(first.types.comments).toMatchObject({ total_rows: 0, skipped_rows: 1500 });
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 1500 });
    const comments = await exportRows(app, "comments");
    expect(withoutIds(comments)).toEqual(
      withoutIds(await backupRows(app, backup.unique_id, "comments")),
    );
  }, 180_000);
});
