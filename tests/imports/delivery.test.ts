import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { loadedRows } from "../../lib/chat-db/staging.ts";
import { runImport } from "../../lib/imports/import-worker.ts";
import { sendJobMessage } from "../../lib/jobs/job-queue.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { clock, drainQueue, newApp, unhurried } from "../support/harness.ts";
import {
  comment,
  countRows,
  getImport,
  importOk,
  importRows,
  postImport,
  roomWithTwoUsers,
  settle,
  user,
} from "./support.ts";

describe("import delivery", () => {
  it("given one bad row among good ones, when imported, then nothing at all is written", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const rows = Array.from({ length: 50 }, () => comment(alice, roomId));
    rows.push(comment(alice, "missing-room"));
    const job = await importRows(app, "comments", rows);
    expect(job.status).toBe("failed");
    expect(job.errors.Data).toEqual([
      { row: 50, field: "RoomUniqueId", message: "RoomUniqueId is not a room of this application" },
    ]);
    expect(await countRows(app.appId, "comments")).toBe(0);
  });

  it("given the same message delivered twice, when both are processed, then rows are written once", async () => {
    const app = await newApp();
    const posted = await postImport(app, "users", JSON.stringify([user(), user()]));
    const jobId = posted.body.results.backup_history.unique_id;
    await sendJobMessage({ kind: "import", appId: app.appId, jobId, seq: 0 });
    const job = await settle(app, jobId);
    await settle(app, jobId);
    expect(job).toMatchObject({ status: "finished", total_rows: 2 });
    expect(await countRows(app.appId, "users")).toBe(2);
  });

  it("given two deliveries at the same moment, when processed, then one writes and both finish", async () => {
    const app = await newApp();
    const posted = await postImport(app, "users", JSON.stringify([user(), user(), user()]));
    const jobId = posted.body.results.backup_history.unique_id;
    const message = { kind: "import" as const, appId: app.appId, jobId, seq: 0 };
    await Promise.all([runImport(message, unhurried), runImport(message, unhurried)]);
    // The passwords are hashed by chunk messages; the job's message then writes, once.
    await settle(app, jobId);
    expect(await getImport(app, jobId)).toMatchObject({ status: "finished", total_rows: 3 });
    expect(await countRows(app.appId, "users")).toBe(3);
  });

  it("given a crash after the commit but before the job was marked, when redelivered, then it finishes without writing again", async () => {
    const app = await newApp();
    const job = await importOk(app, "users", [user(), user()]);
    // The record as a worker that died right after its commit would have left it.
    await jobStore().update(app.appId, job.unique_id, { status: "processing", totalRows: 0 });
    await runImport({ kind: "import", appId: app.appId, jobId: job.unique_id, seq: 0 }, unhurried);
    expect(await getImport(app, job.unique_id)).toMatchObject({
      status: "finished",
      total_rows: 2,
    });
    expect(await countRows(app.appId, "users")).toBe(2);
  });

  it("given a finished import, when its message comes again after other data landed, then it stays finished", async () => {
    const app = await newApp();
    const job = await importOk(app, "users", [user()]);
    await runImport({ kind: "import", appId: app.appId, jobId: job.unique_id, seq: 0 }, unhurried);
    const again = await getImport(app, job.unique_id);
    expect(again).toMatchObject({ status: "finished", total_rows: 1 });
    expect(again.errors).toEqual({ Message: "", Data: null });
  });

  it("given files that are not a JSON array, when imported, then each fails with one sentence", async () => {
    const app = await newApp();
    const cases: [string | Uint8Array, RegExp][] = [
      ['[{"Email": "a@b.c",', /^The file is not valid JSON \(at line 1, column \d+\)\.$/],
      [
        '{"Email": "a@b.c"}',
        /^The file must hold a JSON array of users, but it holds an object\.$/,
      ],
      [new Uint8Array([0x5b, 0xff, 0xfe, 0x5d]), /^The file is not valid UTF-8 text\.$/],
    ];
    for (const [content, message] of cases) {
      const posted = await postImport(app, "users", content);
      const job = await settle(app, posted.body.results.backup_history.unique_id);
      expect(job.status).toBe("failed");
      expect(job.errors.Message).toMatch(message);
      expect(job.errors.Data).toBeNull();
    }
  });

  it("given an invocation with too little time left after loading the file, when processed, then the next one checks and writes from the staging tables", async () => {
    const app = await newApp();
    const { alice, roomId } = await roomWithTwoUsers(app);
    const rows = Array.from({ length: 50 }, () => comment(alice, roomId));
    const posted = await postImport(app, "comments", JSON.stringify(rows));
    const jobId = posted.body.results.backup_history.unique_id;
    const message = { kind: "import" as const, appId: app.appId, jobId, seq: 0 };
    // Less time left than the worker keeps in reserve: it loads the file, then hands over.
    expect(await runImport(message, clock(30_000))).toBe("continued");
    expect(await loadedRows(chatDb(), jobId)).toBe(50);
    expect(await countRows(app.appId, "comments")).toBe(0);
    expect((await getImport(app, jobId)).status).toBe("processing");
    // The next invocation does not load again, even with as little time: it checks and writes.
    await drainQueue("ImportQueue", { budgetMs: 30_000 });
    expect(await getImport(app, jobId)).toMatchObject({ status: "finished", total_rows: 50 });
    expect(await countRows(app.appId, "comments")).toBe(50);
    expect(await loadedRows(chatDb(), jobId)).toBeUndefined();
  });
});
