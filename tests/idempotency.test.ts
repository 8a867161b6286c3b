import { describe, expect, it } from "vitest";
import { call, newApp } from "./support/harness.ts";

const EXPORTS = "/api/v2.1/rest/exports";

describe("Idempotency-Key on POST /exports", () => {
  it("given the same key twice, when creating an export, then the same job comes back and only one exists", async () => {
    const app = await newApp();
    const headers = { "Idempotency-Key": "nightly-retry-1" };
    const first = await call("POST", EXPORTS, { app, json: { type: "users" }, headers });
    const second = await call("POST", EXPORTS, { app, json: { type: "users" }, headers });
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(second.body.results.unique_id).toBe(first.body.results.unique_id);
    const list = await call("GET", EXPORTS, { app });
    expect(list.body.results.backup_histories).toHaveLength(1);
  });

  it("given a key reused with other parameters, then 409 and no new job", async () => {
    const app = await newApp();
    const headers = { "Idempotency-Key": "k-2" };
    await call("POST", EXPORTS, { app, json: { type: "users" }, headers });
    const conflict = await call("POST", EXPORTS, { app, json: { type: "rooms" }, headers });
    expect(conflict.status).toBe(409);
    expect(conflict.body.status).toBe(409);
    const list = await call("GET", EXPORTS, { app });
    expect(list.body.results.backup_histories).toHaveLength(1);
  });

  it("keys are scoped to the application: two apps with one key get two jobs", async () => {
    const [a, b] = [await newApp(), await newApp()];
    const headers = { "Idempotency-Key": "shared-key" };
    const fromA = await call("POST", EXPORTS, { app: a, json: { type: "users" }, headers });
    const fromB = await call("POST", EXPORTS, { app: b, json: { type: "users" }, headers });
    expect(fromB.body.results.unique_id).not.toBe(fromA.body.results.unique_id);
  });

  it("without a key, two requests create two jobs; a malformed key is a 400", async () => {
    const app = await newApp();
    await call("POST", EXPORTS, { app, json: { type: "users" } });
    await call("POST", EXPORTS, { app, json: { type: "users" } });
    const list = await call("GET", EXPORTS, { app });
    expect(list.body.results.backup_histories).toHaveLength(2);
    const bad = await call("POST", EXPORTS, {
      app,
      json: { type: "users" },
      headers: { "Idempotency-Key": "has space" },
    });
    expect(bad.status).toBe(400);
  });

  it("a failed validation is not remembered: fixing the request with the same key works", async () => {
    const app = await newApp();
    const headers = { "Idempotency-Key": "fix-me" };
    const bad = await call("POST", EXPORTS, { app, json: { type: "userz" }, headers });
    expect(bad.status).toBe(400);
    const good = await call("POST", EXPORTS, { app, json: { type: "users" }, headers });
    expect(good.status).toBe(200);
  });
});

describe("Idempotency-Key on POST /imports", () => {
  function importForm(content: string) {
    const form = new FormData();
    form.set("type", "users");
    form.set("file", new Blob([content], { type: "application/json" }), "users.json");
    return form;
  }

  it("given the same key and file twice, then one import job; the same key with another file is a 409", async () => {
    const app = await newApp();
    const headers = { "Idempotency-Key": "upload-1" };
    const first = await call("POST", "/api/v2.1/rest/imports", {
      app,
      form: importForm("[]"),
      headers,
    });
    const again = await call("POST", "/api/v2.1/rest/imports", {
      app,
      form: importForm("[]"),
      headers,
    });
    expect(first.status).toBe(200);
    expect(again.body.results.backup_history.unique_id).toBe(
      first.body.results.backup_history.unique_id,
    );
    const other = await call("POST", "/api/v2.1/rest/imports", {
      app,
      form: importForm("[ ]"),
      headers,
    });
    expect(other.status).toBe(409);
    const list = await call("GET", "/api/v2.1/rest/imports", { app });
    expect(list.body.results.backup_histories).toHaveLength(1);
  });
});
