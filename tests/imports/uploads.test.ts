import { gzipSync } from "node:zlib";
import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import bcrypt from "bcryptjs";
import { describe, expect, it } from "vitest";
import { dynamo } from "../../lib/aws/dynamodb.ts";
import { config } from "../../lib/config.ts";
import { apiFetch } from "../support/api-fetch.ts";
import { call, newApp, type TestApp } from "../support/harness.ts";
import { countRows, getImport, settle, user } from "./support.ts";

const UPLOADS = "/api/v2.1/rest/imports/uploads";
const IMPORTS = "/api/v2.1/rest/imports";

async function requestUpload(app: TestApp, type: string, filename = `${type}.json`) {
  const response = await call("POST", UPLOADS, { app, json: { type, filename } });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.upload as {
    upload_id: string;
    upload_url: string;
    expires_at: string;
    max_size: number;
  };
}

/** Sends the file as a client would: the raw bytes, no form, no credentials. */
async function put(url: string, content: string | Uint8Array) {
  const response = await apiFetch(url, { method: "PUT", body: content });
  expect(response.status).toBe(200);
}

function start(app: TestApp, body: Record<string, unknown>, headers: Record<string, string> = {}) {
  return call("POST", IMPORTS, { app, json: body, headers });
}

/** Uploads rows and starts their import; returns the started job. */
async function uploadAndStart(
  app: TestApp,
  type: "users" | "rooms" | "comments",
  content: string | Uint8Array,
  options: { dryRun?: boolean; filename?: string } = {},
) {
  const upload = await requestUpload(app, type, options.filename);
  await put(upload.upload_url, content);
  const response = await start(app, {
    type,
    upload_id: upload.upload_id,
    dry_run: options.dryRun ?? false,
  });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.backup_history;
}

describe("POST /imports/uploads", () => {
  it("given a type and a file name, when asked, then a PUT URL for one object of this app, valid an hour, up to 5 GiB", async () => {
    const app = await newApp();
    const before = Date.now();
    const upload = await requestUpload(app, "comments", "comments.json");
    expect(upload.upload_id).toMatch(/^[0-9a-f-]{36}$/);
    const url = new URL(upload.upload_url);
    expect(decodeURIComponent(url.pathname)).toContain(`uploads/${app.appId}/${upload.upload_id}`);
    expect(url.searchParams.get("X-Amz-Expires")).toBe("3600");
    expect(upload.max_size).toBe(5 * 1024 ** 3);
    expect(upload.expires_at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$/);
    expect(Date.parse(upload.expires_at)).toBeGreaterThanOrEqual(before + 3599_000 - 1000);
  });

  it("given a bad body, when asked, then 400 naming the problems; no credentials 401", async () => {
    const app = await newApp();
    const bad = await call("POST", UPLOADS, { app, json: { type: "messages" } });
    expect(bad.status).toBe(400);
    const text = bad.body.error.detailed_messages.join(" ");
    expect(text).toContain("users, rooms, comments");
    expect(text).toContain("filename is required");
    expect((await call("POST", UPLOADS, { json: { type: "users", filename: "u" } })).status).toBe(
      401,
    );
  });
});

describe("POST /imports with an upload_id", () => {
  it("given an uploaded file, when started, then the job carries its name and size and imports it", async () => {
    const app = await newApp();
    const content = JSON.stringify([user(), user()]);
    const job = await uploadAndStart(app, "users", content, { filename: "backup users.json" });
    expect(job).toMatchObject({
      status: "started",
      original_filename: "backup users.json",
      size: Buffer.byteLength(content),
      resource_name: "users",
    });
    const done = await settle(app, job.unique_id);
    expect(done).toMatchObject({ status: "finished", total_rows: 2 });
    expect(await countRows(app.appId, "users")).toBe(2);
  });

  it("given a gzip-compressed file of any name, when started, then it is recognised and imported", async () => {
    const app = await newApp();
    const content = gzipSync(JSON.stringify([user(), user(), user()]));
    const job = await uploadAndStart(app, "users", content, { filename: "users.json" });
    expect(job.size).toBe(content.length);
    expect(await settle(app, job.unique_id)).toMatchObject({ status: "finished", total_rows: 3 });
  });

  it("given a dry run, when started, then it is checked and nothing is written", async () => {
    const app = await newApp();
    const job = await uploadAndStart(app, "users", JSON.stringify([user()]), { dryRun: true });
    expect(await settle(app, job.unique_id)).toMatchObject({ status: "finished", total_rows: 1 });
    expect(await countRows(app.appId, "users")).toBe(0);
  });

  it("given an upload that started an import, when started again, then 409; the same Idempotency-Key returns the same job", async () => {
    const app = await newApp();
    const upload = await requestUpload(app, "users");
    await put(upload.upload_url, JSON.stringify([user()]));
    const body = { type: "users", upload_id: upload.upload_id };
    const first = await start(app, body, { "Idempotency-Key": "restore-1" });
    expect(first.status).toBe(200);
    const repeat = await start(app, body, { "Idempotency-Key": "restore-1" });
    expect(repeat.status).toBe(200);
    expect(repeat.body.results.backup_history.unique_id).toBe(
      first.body.results.backup_history.unique_id,
    );
    const second = await start(app, body);
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(first.body.results.backup_history.unique_id);
    const otherKey = await start(app, body, { "Idempotency-Key": "restore-2" });
    expect(otherKey.status).toBe(409);
    await settle(app, first.body.results.backup_history.unique_id);
    expect(await countRows(app.appId, "users")).toBe(1);
  });

  it("given an unknown, foreign, not yet uploaded or expired upload, when started, then 400 with one sentence and no job", async () => {
    const app = await newApp();
    const other = await newApp();
    const foreign = await requestUpload(other, "users");
    await put(foreign.upload_url, JSON.stringify([user()]));
    const empty = await requestUpload(app, "users");
    const expired = await requestUpload(app, "users");
    await put(expired.upload_url, JSON.stringify([user()]));
    await dynamo().send(
      new UpdateCommand({
        TableName: config().jobsTable,
        Key: { pk: app.appId, sk: `upload#${expired.upload_id}` },
        UpdateExpression: "SET startableUntil = :past",
        ExpressionAttributeValues: { ":past": new Date(Date.now() - 1000).toISOString() },
      }),
    );
    const cases: [string, RegExp][] = [
      ["9b2f6f0e-5d4c-4c1e-9a43-2f1d6c1f0a11", /no upload/],
      ["not-a-uuid", /invalid import request/],
      [foreign.upload_id, /no upload/],
      [empty.upload_id, /Nothing has been uploaded/],
      [expired.upload_id, /expired/],
    ];
    for (const [uploadId, message] of cases) {
      const response = await start(app, { type: "users", upload_id: uploadId });
      expect(response.status, uploadId).toBe(400);
      expect(response.body.error.message).toMatch(message);
      if (uploadId !== "not-a-uuid") expect(response.body.error.message).toMatch(/^[^.]+\.$/);
    }
    const list = await call("GET", IMPORTS, { app });
    expect(list.body.results.backup_histories).toEqual([]);
    // The other application's upload is still its own to start.
    const own = await start(other, { type: "users", upload_id: foreign.upload_id });
    expect(own.status).toBe(200);
  });

  it("given a type other than the upload's, when started, then 400; the right type then works", async () => {
    const app = await newApp();
    const upload = await requestUpload(app, "users");
    await put(upload.upload_url, JSON.stringify([user()]));
    const wrong = await start(app, { type: "comments", upload_id: upload.upload_id });
    expect(wrong.status).toBe(400);
    expect(wrong.body.error.message).toContain("holds users");
    const right = await start(app, { type: "users", upload_id: upload.upload_id });
    expect(right.status).toBe(200);
    const job = await getImport(app, right.body.results.backup_history.unique_id);
    expect(job.original_filename).toBe("users.json");
  });

  it("given a JSON start with bad fields, when posted, then 400 listing them", async () => {
    const app = await newApp();
    const response = await start(app, { type: "users", upload_id: "", dry_run: "yes" });
    expect(response.status).toBe(400);
    const text = response.body.error.detailed_messages.join(" ");
    expect(text).toContain("dry_run must be a boolean");
  });

  it("given NDJSON, gzip-compressed or not, when started, then every line is a row", async () => {
    const app = await newApp();
    const lines = [user(), user(), user()].map((row) => JSON.stringify(row)).join("\n");
    const plain = await uploadAndStart(app, "users", `${lines}\n`, { filename: "users.ndjson" });
    expect(await settle(app, plain.unique_id)).toMatchObject({ status: "finished", total_rows: 3 });
    const zipped = gzipSync(`${[user(), user()].map((row) => JSON.stringify(row)).join("\r\n")}`);
    const job = await uploadAndStart(app, "users", zipped, { filename: "users.bin" });
    expect(await settle(app, job.unique_id)).toMatchObject({ status: "finished", total_rows: 2 });
    expect(await countRows(app.appId, "users")).toBe(5);
  });

  it("given a broken line in NDJSON, when started, then one sentence names the line and nothing is written", async () => {
    const app = await newApp();
    const content = `${JSON.stringify(user())}\n${JSON.stringify(user())}\n{"Email": oops}\n`;
    const job = await uploadAndStart(app, "users", content);
    const done = await settle(app, job.unique_id);
    expect(done.status).toBe("failed");
    expect(done.errors.Message).toMatch(/^The file is not valid JSON \(at line 3, column \d+\)\.$/);
    expect(await countRows(app.appId, "users")).toBe(0);
  });

  it("given a dry run of a file whose every row is a duplicate, when started, then it fails with 1,000 listed, the sentence counts the rows, and nothing is written", async () => {
    const app = await newApp();
    const rows = Array.from({ length: 1500 }, (_, i) =>
      user({ Email: `same.${i}@example.com`, AuthenticationToken: `token-${i}` }),
    );
    const first = await uploadAndStart(app, "users", JSON.stringify(rows));
    expect((await settle(app, first.unique_id)).status).toBe("finished");
    const again = await uploadAndStart(app, "users", JSON.stringify(rows), { dryRun: true });
    const done = await settle(app, again.unique_id);
    expect(done.status).toBe("failed");
    expect(done.errors.Data).toHaveLength(1000);
    expect(done.errors.Data[0]).toMatchObject({ row: 0, field: "Email" });
    expect(done.errors.Data[999].row).toBe(499);
    expect(done.errors.Message).toBe(
      "1500 of 1500 users rows break the import rules, so nothing was imported; the first 1000 problems are listed, 2000 more are not.",
    );
    expect(await countRows(app.appId, "users")).toBe(1500);
  });

  it("given one bad row deep in a large file, when started, then nothing of it is written", async () => {
    const app = await newApp();
    const hash = bcrypt.hashSync("x", 4);
    const rows = Array.from({ length: 3000 }, () =>
      user({ PasswordHash: hash, Password: undefined }),
    );
    rows[2999] = { ...rows[2999], Email: "not an address" };
    const job = await uploadAndStart(app, "users", JSON.stringify(rows));
    const done = await settle(app, job.unique_id);
    expect(done.status).toBe("failed");
    expect(done.errors.Data).toEqual([expect.objectContaining({ row: 2999, field: "Email" })]);
    expect(await countRows(app.appId, "users")).toBe(0);
  });
});
