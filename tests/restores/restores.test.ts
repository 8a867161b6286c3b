import { gunzipSync, gzipSync } from "node:zlib";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { s3 } from "../../lib/aws/s3.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { config } from "../../lib/config.ts";
import { deliverBackup, fetchBytes, getBackup, requestBackup } from "../backups/backup-fixtures.ts";
import { call, newApp } from "../support/harness.ts";
import {
  backupOf,
  backupRows,
  counts,
  exportRows,
  getRestore,
  postRestore,
  RESTORES,
  restore,
  seedApp,
  settleRestore,
  startRestore,
  TYPES,
  wipeChat,
  withoutIds,
} from "./support.ts";

describe("POST /restores: a backup restored from storage", () => {
  it("given a wiped application, when its backup is restored, then a fresh export equals the backup's files but for ids; run again, it writes nothing and skips every row", async () => {
    const app = await newApp();
    await seedApp(app, 40);
    const backup = await backupOf(app);
    await wipeChat(app.appId);

    const started = await startRestore(app, backup.unique_id);
    expect(started).toMatchObject({
      backup_id: backup.unique_id,
      status: "started",
      percentage: 0,
      dry_run: false,
      total_rows: 0,
      skipped_rows: 0,
      error_message: "",
    });
    for (const type of TYPES) expect(started.types[type].status).toBe("started");

    const done = await settleRestore(app, started.unique_id);
    expect(done).toMatchObject({ status: "finished", percentage: 100, total_rows: 45 });
    expect(done.types).toEqual({
      users: { status: "finished", percentage: 100, total_rows: 3, skipped_rows: 0, errors: {} },
      rooms: { status: "finished", percentage: 100, total_rows: 2, skipped_rows: 0, errors: {} },
      comments: {
        status: "finished",
        percentage: 100,
        total_rows: 40,
        skipped_rows: 0,
        errors: {},
      },
    });
    for (const type of TYPES) {
      const expected = await backupRows(app, backup.unique_id, type);
      expect(withoutIds(await exportRows(app, type)), type).toEqual(withoutIds(expected));
    }

    const again = await restore(app, backup.unique_id);
    expect(again).toMatchObject({ status: "finished", total_rows: 0, skipped_rows: 45 });
    expect(again.types.comments).toMatchObject({ total_rows: 0, skipped_rows: 40 });
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 40 });

    const listed = await call("GET", RESTORES, { app });
    expect(listed.status).toBe(200);
    expect(listed.body.results.restores.map((r: { unique_id: string }) => r.unique_id)).toEqual([
      again.unique_id,
      done.unique_id,
    ]);
    const empty = await call("GET", `${RESTORES}?page=2`, { app });
    expect(empty.body.results.restores).toEqual([]);
  }, 120_000);

  it("given an application that kept its users but lost rooms and comments, when restored, then users are skipped and the rest written", async () => {
    const app = await newApp();
    await seedApp(app, 10);
    const backup = await backupOf(app);
    await chatDb().query("DELETE FROM comments WHERE app_id = $1", [app.appId]);
    await chatDb().query("DELETE FROM rooms WHERE app_id = $1", [app.appId]);
    const done = await restore(app, backup.unique_id);
    expect(done).toMatchObject({ status: "finished", total_rows: 12, skipped_rows: 3 });
    expect(done.types.users).toMatchObject({ total_rows: 0, skipped_rows: 3 });
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 10 });
  }, 60_000);

  it("given a dry run, then every type is checked and counted and nothing is written", async () => {
    const app = await newApp();
    await seedApp(app, 10);
    const backup = await backupOf(app);
    await wipeChat(app.appId);
    const checked = await restore(app, backup.unique_id, true);
    expect(checked).toMatchObject({ status: "finished", dry_run: true, total_rows: 15 });
    expect(checked.types.rooms).toMatchObject({ status: "finished", total_rows: 2 });
    expect(await counts(app.appId)).toEqual({ users: 0, rooms: 0, comments: 0 });
  }, 60_000);

  it("given a user changed since the backup, then the restore fails at users with that row's error, and writes no room or comment", async () => {
    const app = await newApp();
    await seedApp(app, 5);
    const backup = await backupOf(app);
    await chatDb().query("DELETE FROM comments WHERE app_id = $1", [app.appId]);
    await chatDb().query("DELETE FROM rooms WHERE app_id = $1", [app.appId]);
    await chatDb().query(
      "UPDATE users SET name = 'Renamed' WHERE app_id = $1 AND id = (SELECT min(id) FROM users WHERE app_id = $1)",
      [app.appId],
    );
    const started = await startRestore(app, backup.unique_id);
    const failed = await settleRestore(app, started.unique_id);
    expect(failed.status).toBe("failed");
    expect(failed.error_message).toContain("The backup's users could not be restored");
    expect(failed.types.users.status).toBe("failed");
    expect(failed.types.users.errors.Data).toEqual([
      {
        row: 0,
        field: "Email",
        message:
          "a user with this Email already exists in this application with other content (Name differs)",
      },
      {
        row: 0,
        field: "AuthenticationToken",
        message:
          "a user with this AuthenticationToken already exists in this application with other content (Name differs)",
      },
    ]);
    expect(failed.types.rooms.status).toBe("started");
    expect(failed.types.comments.status).toBe("started");
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 0, comments: 0 });
    const listed = await call("GET", RESTORES, { app });
    expect(listed.body.results.restores[0].types.users.errors.Data).toBeNull();
  }, 60_000);

  it("given a backup file changed in storage, then its type fails on the checksum and writes nothing; the types before it are restored", async () => {
    const app = await newApp();
    await seedApp(app, 8);
    const backup = await backupOf(app);
    await wipeChat(app.appId);
    const original = await fetchBytes(backup.files.comments.download_url);
    const tampered = Buffer.from(original.toString("utf8").replace("message 1", "massage 1"));
    expect(tampered.length).toBe(original.length);
    await s3().send(
      new PutObjectCommand({
        Bucket: config().bucketName,
        Key: `backups/${app.appId}/${backup.unique_id}/comments.json`,
        Body: tampered,
      }),
    );
    const failed = await restore(app, backup.unique_id);
    expect(failed.status).toBe("failed");
    expect(failed.types.users.status).toBe("finished");
    expect(failed.types.rooms.status).toBe("finished");
    expect(failed.types.comments.status).toBe("failed");
    expect(failed.types.comments.errors.Message).toContain("does not match its checksum");
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 0 });
  }, 60_000);
});

describe("POST /restores: a gzip-compressed backup", () => {
  it("given a gzip backup, then it restores; a file replaced by another valid gzip fails its type on the checksum", async () => {
    const app = await newApp();
    await seedApp(app, 12);
    const id = await requestBackup(app, { compression: "gzip" });
    await deliverBackup(id);
    const backup = await getBackup(app, id);
    expect(backup.status).toBe("finished");
    await wipeChat(app.appId);
    const done = await restore(app, id);
    expect(done).toMatchObject({ status: "finished", total_rows: 17 });

    await wipeChat(app.appId);
    const original = gunzipSync(await fetchBytes(backup.files.rooms.download_url)).toString("utf8");
    await s3().send(
      new PutObjectCommand({
        Bucket: config().bucketName,
        Key: `backups/${app.appId}/${id}/rooms.json.gz`,
        Body: gzipSync(original.replace("Family", "Famine")),
      }),
    );
    const failed = await restore(app, id);
    expect(failed.status).toBe("failed");
    expect(failed.types.rooms.errors.Message).toContain("does not match its checksum");
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 0, comments: 0 });
  }, 60_000);
});

describe("POST /restores: what is refused", () => {
  it("given an unknown or another application's backup id, then 404 alike; a restore id of another application is 404", async () => {
    const [app, other] = [await newApp(), await newApp()];
    await seedApp(other, 2);
    const foreign = await backupOf(other);
    const unknown = await postRestore(app, { backup_id: "6f0c1f5e-8b1a-4c59-9a53-8f0f0e4b7d11" });
    const theirs = await postRestore(app, { backup_id: foreign.unique_id });
    expect(unknown.status).toBe(404);
    expect(theirs.status).toBe(404);
    expect(theirs.body.error.message).toBe(unknown.body.error.message);
    const mine = await startRestore(other, foreign.unique_id, true);
    expect((await call("GET", `${RESTORES}/${mine.unique_id}`, { app })).status).toBe(404);
    expect((await call("GET", `${RESTORES}/not-a-uuid`, { app })).status).toBe(404);
    expect((await call("GET", RESTORES, { app })).body.results.restores).toEqual([]);
  }, 60_000);

  it("given a bad body, then 400 naming the problem; another content type 415; no restore", async () => {
    const app = await newApp();
    const missing = await postRestore(app, { dry_run: true });
    expect(missing.status).toBe(400);
    expect(missing.body.error.detailed_messages.join(" ")).toContain("backup_id");
    expect((await postRestore(app, { backup_id: "nope" })).status).toBe(400);
    expect(
      (
        await postRestore(app, {
          backup_id: "6f0c1f5e-8b1a-4c59-9a53-8f0f0e4b7d11",
          dry_run: "yes",
        })
      ).status,
    ).toBe(400);
    // Unknown members are dropped, as in every request of the service: the id is looked up.
    expect(
      (await postRestore(app, { backup_id: "6f0c1f5e-8b1a-4c59-9a53-8f0f0e4b7d11", force: true }))
        .status,
    ).toBe(404);
    const form = await call("POST", RESTORES, {
      app,
      form: new URLSearchParams({ backup_id: "6f0c1f5e-8b1a-4c59-9a53-8f0f0e4b7d11" }),
    });
    expect(form.status).toBe(415);
    expect((await call("DELETE", RESTORES, { app })).status).toBe(405);
    expect((await call("GET", RESTORES, { app })).body.results.restores).toEqual([]);
  });

  it("given the same Idempotency-Key twice, then one restore", async () => {
    const app = await newApp();
    await seedApp(app, 2);
    const backup = await backupOf(app);
    const body = { backup_id: backup.unique_id, dry_run: true };
    const first = await postRestore(app, body, { "Idempotency-Key": "restore-1" });
    const second = await postRestore(app, body, { "Idempotency-Key": "restore-1" });
    expect(second.body.results.restore.unique_id).toBe(first.body.results.restore.unique_id);
    const done = await settleRestore(app, first.body.results.restore.unique_id);
    expect(done.status).toBe("finished");
    expect((await getRestore(app, done.unique_id)).unique_id).toBe(done.unique_id);
  }, 60_000);
});
