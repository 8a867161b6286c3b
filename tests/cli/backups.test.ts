import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiFetch } from "../support/api-fetch.ts";
import { call, newApp, type TestApp } from "../support/harness.ts";
import { chatBackup, deliverJobMessages, sampleData, withoutDatabaseIds } from "./support.ts";

const sha256 = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const rows = (bytes: Buffer) =>
  JSON.parse((bytes[0] === 0x1f ? gunzipSync(bytes) : bytes).toString("utf8")) as Record<
    string,
    unknown
  >[];
const TYPES = ["users", "rooms", "comments"] as const;

let work: string;
let stopDelivery: () => Promise<void>;
let source: TestApp;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "chat-backup-backups-"));
  stopDelivery = deliverJobMessages();
  source = await newApp();
  const data = sampleData(source.appId);
  for (const type of TYPES) {
    const file = join(work, `seed-${type}.json`);
    writeFileSync(file, JSON.stringify(data[type]));
    const result = await chatBackup(["import", type, file], { app: source, cwd: work });
    expect(result.code, result.stderr).toBe(0);
  }
});

afterAll(async () => {
  await stopDelivery?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

/** The target application's export of `type`, made with the command line. */
async function exported(app: TestApp, type: (typeof TYPES)[number]) {
  const file = join(work, `${app.appId}-${type}-${Date.now()}.json`);
  const result = await chatBackup(["export", type, "-o", file], { app, cwd: work });
  expect(result.code, result.stderr).toBe(0);
  return readFileSync(file);
}

describe("chat-backup backups", () => {
  it.each([
    ["uncompressed", []],
    ["gzip", ["--gzip"]],
  ])(
    "given a %s backup made on the server, when downloaded and restored with restore DIR into another application, then its exports equal the backup's files but for database ids",
    async (_label, flags) => {
      const created = await chatBackup(["backups", "create", ...flags, "--json"], {
        app: source,
        cwd: work,
      });
      expect(created.code, created.stderr).toBe(0);
      const backup = JSON.parse(created.stdout);
      expect(backup).toMatchObject({ status: "finished", percentage: 100, trigger: "api" });
      expect(created.stderr).toMatch(/^backup: finished, 15 rows in [\d.]+ s$/m);

      const listed = await chatBackup(["backups", "list"], { app: source, cwd: work });
      expect(listed.code).toBe(0);
      expect(listed.stdout).toContain(backup.unique_id);
      const got = await chatBackup(["backups", "get", backup.unique_id, "--json"], {
        app: source,
        cwd: work,
      });
      expect(JSON.parse(got.stdout)).toMatchObject({
        unique_id: backup.unique_id,
        cut_at: backup.cut_at,
      });

      const dir = join(work, `download-${backup.unique_id}`);
      const downloaded = await chatBackup(["backups", "download", backup.unique_id, dir], {
        app: source,
        cwd: work,
      });
      expect(downloaded.code, downloaded.stderr).toBe(0);
      const suffix = flags.length ? ".json.gz" : ".json";
      expect(readdirSync(dir).sort()).toEqual(
        ["comments", "manifest.json", "rooms", "users"]
          .map((n) => (n.endsWith(".json") ? n : `${n}${suffix}`))
          .sort(),
      );
      for (const type of TYPES) {
        expect(sha256(readFileSync(join(dir, `${type}${suffix}`)))).toBe(backup.files[type].sha256);
      }
      expect(sha256(readFileSync(join(dir, "manifest.json")))).toBe(backup.manifest_sha256);
      // A second download into the same directory refuses to overwrite the set.
      const again = await chatBackup(["backups", "download", backup.unique_id, dir], {
        app: source,
        cwd: work,
      });
      expect(again.code).toBe(2);

      const target = await newApp();
      const restored = await chatBackup(["restore", dir], { app: target, cwd: work });
      expect(restored.code, restored.stdout + restored.stderr).toBe(0);
      for (const type of TYPES) {
        const original = rows(readFileSync(join(dir, `${type}${suffix}`)));
        expect(withoutDatabaseIds(rows(await exported(target, type)))).toEqual(
          withoutDatabaseIds(original),
        );
      }

      const deleted = await chatBackup(["backups", "delete", backup.unique_id], {
        app: source,
        cwd: work,
      });
      expect(deleted.code).toBe(0);
      const gone = await chatBackup(["backups", "get", backup.unique_id], {
        app: source,
        cwd: work,
      });
      expect(gone.code).toBe(2);
      expect(gone.stderr).toContain("HTTP 404");
    },
    120_000,
  );

  it("given a backup made by the command line (backup DIR), when each file is uploaded unchanged through the upload path, then the imports restore the application", async () => {
    const dir = join(work, "cli-backup");
    const made = await chatBackup(["backup", dir], { app: source, cwd: work });
    expect(made.code, made.stderr).toBe(0);
    const target = await newApp();
    for (const type of TYPES) {
      const upload = await call("POST", "/api/v2.1/rest/imports/uploads", {
        app: target,
        json: { type, filename: `${type}.json` },
      });
      expect(upload.status).toBe(200);
      const put = await apiFetch(upload.body.results.upload.upload_url, {
        method: "PUT",
        body: readFileSync(join(dir, `${type}.json`)),
      });
      expect(put.status).toBe(200);
      const started = await call("POST", "/api/v2.1/rest/imports", {
        app: target,
        json: { type, upload_id: upload.body.results.upload.upload_id, dry_run: false },
      });
      expect(started.status, JSON.stringify(started.body)).toBe(200);
      const id = started.body.results.backup_history.unique_id;
      let job = started.body.results.backup_history;
      for (let i = 0; i < 200 && job.status !== "finished" && job.status !== "failed"; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, 250));
        job = (await call("GET", `/api/v2.1/rest/imports/${id}`, { app: target })).body.results
          .backup_history;
      }
      const manifest = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8"));
      expect(job, JSON.stringify(job.errors)).toMatchObject({
        status: "finished",
        total_rows: manifest.files[type].rows,
      });
    }
    for (const type of TYPES) {
      expect(withoutDatabaseIds(rows(await exported(target, type)))).toEqual(
        withoutDatabaseIds(rows(readFileSync(join(dir, `${type}.json`)))),
      );
    }
    expect(existsSync(join(dir, "manifest.json"))).toBe(true);
  }, 120_000);
});
