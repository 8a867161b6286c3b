import { describe, expect, it } from "vitest";
import { call, drainQueue, newApp } from "../support/harness.ts";
import { getImport, importOk, postImport, settle, user } from "./support.ts";

const IMPORTS = "/api/v2.1/rest/imports";
const MAX_BYTES = 4 * 1024 * 1024;

describe("POST /imports", () => {
  it("given a users file, when posted, then the job answers at once in the seed's shape", async () => {
    const app = await newApp();
    const content = JSON.stringify([user()]);
    const response = await postImport(app, "users", content, { filename: "my users.json" });
    expect(response.status).toBe(200);
    expect(response.body.status).toBe(200);
    const job = response.body.results.backup_history;
    expect(job).toMatchObject({
      errors: { Message: "", Data: null },
      original_filename: "my users.json",
      resource_name: "users",
      size: Buffer.byteLength(content),
      status: "started",
      total_rows: 0,
    });
    expect(job.created_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    expect(job.unique_id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await settle(app, job.unique_id)).status).toBe("finished");
  });

  it("given a JSON body instead of a form, when posted, then 415", async () => {
    const app = await newApp();
    const response = await call("POST", IMPORTS, { app, json: { type: "users" } });
    expect(response.status).toBe(415);
    expect(response.body.status).toBe(415);
  });

  it("given an unknown type, when posted, then 400 naming the permitted types", async () => {
    const app = await newApp();
    const response = await postImport(app, "messages", "[]");
    expect(response.status).toBe(400);
    expect(response.body.error.detailed_messages.join(" ")).toContain("users, rooms, comments");
  });

  it("given a form without type, when posted, then 400", async () => {
    const app = await newApp();
    const form = new FormData();
    form.set("file", new Blob(["[]"]), "users.json");
    const response = await call("POST", IMPORTS, { app, form });
    expect(response.status).toBe(400);
    expect(response.body.error.detailed_messages).toContain("type is required");
  });

  it("given a form without file, when posted, then 400", async () => {
    const app = await newApp();
    const form = new FormData();
    form.set("type", "users");
    const response = await call("POST", IMPORTS, { app, form });
    expect(response.status).toBe(400);
    expect(response.body.error.detailed_messages.join(" ")).toContain("file is required");
  });

  it("given a file one byte above 4 MiB, when posted, then 413; exactly 4 MiB is accepted", async () => {
    const app = await newApp();
    const tooLarge = await postImport(app, "users", new Uint8Array(MAX_BYTES + 1).fill(32));
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.status).toBe(413);
    const atLimit = await postImport(app, "users", new Uint8Array(MAX_BYTES).fill(32));
    expect(atLimit.status).toBe(200);
    expect(atLimit.body.results.backup_history.size).toBe(MAX_BYTES);
    const job = await settle(app, atLimit.body.results.backup_history.unique_id);
    expect(job.status).toBe("failed");
    expect(job.errors.Message).toMatch(/empty/);
  });

  it("given no credentials, when posted, then 401 and no job", async () => {
    const response = await call("POST", IMPORTS, { form: new FormData() });
    expect(response.status).toBe(401);
  });
});

describe("GET /imports and /imports/:id", () => {
  it("given two imports, when listed, then newest first with light errors; the job has them in full", async () => {
    const app = await newApp();
    const good = await importOk(app, "users", [user()]);
    const bad = await settle(
      app,
      (await postImport(app, "users", "not json")).body.results.backup_history.unique_id,
    );
    const list = await call("GET", IMPORTS, { app });
    expect(list.status).toBe(200);
    const ids = list.body.results.backup_histories.map(
      (job: { unique_id: string }) => job.unique_id,
    );
    expect(ids).toEqual([bad.unique_id, good.unique_id]);
    expect(list.body.results.backup_histories[1].errors).toEqual({});
    expect(list.body.results.backup_histories[0].errors.Message).toBe(bad.errors.Message);
    expect((await getImport(app, good.unique_id)).total_rows).toBe(1);
  });

  it("given a bad page, when listed, then 400", async () => {
    const app = await newApp();
    expect((await call("GET", `${IMPORTS}?page=zero`, { app })).status).toBe(400);
  });

  it("given another app's import id, when fetched, then 404 like a missing one", async () => {
    const [owner, stranger] = [await newApp(), await newApp()];
    const job = await importOk(owner, "users", [user()]);
    const foreign = await call("GET", `${IMPORTS}/${job.unique_id}`, { app: stranger });
    expect(foreign.status).toBe(404);
    const missing = await call("GET", `${IMPORTS}/${crypto.randomUUID()}`, { app: stranger });
    expect(missing.status).toBe(404);
    expect(foreign.body.error.message).toBe(missing.body.error.message);
    const list = await call("GET", IMPORTS, { app: stranger });
    expect(list.body.results.backup_histories).toEqual([]);
  });

  it("given a queue with nothing left, when drained, then no message remains behind", async () => {
    expect(await drainQueue("ImportQueue", { maxMessages: 5 })).toBe(0);
  });
});
