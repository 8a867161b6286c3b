import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { backupOf, counts, seedApp, wipeChat } from "../restores/support.ts";
import { newApp, type TestApp } from "../support/harness.ts";
import { apiUrl, BIN, chatBackup, cliEnv, deliverJobMessages, run } from "./support.ts";

let work: string;
let stopDelivery: (() => Promise<void>) | undefined;
let app: TestApp;
let backupId: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "chat-backup-restore-"));
  app = await newApp();
  await seedApp(app, 20);
  backupId = (await backupOf(app)).unique_id;
  await wipeChat(app.appId);
  // From here on the workers take messages as Lambda would, while the command line waits.
  stopDelivery = deliverJobMessages();
}, 120_000);

afterAll(async () => {
  await stopDelivery?.();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("chat-backup restore --backup", () => {
  it("given a wiped application, then the service restores the backup; plain lines per type, the record with --json", async () => {
    const result = await chatBackup(["restore", "--backup", backupId, "--json"], {
      app,
      cwd: work,
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/restore users: finished, 3 rows in/);
    expect(result.stderr).toMatch(/restore rooms: finished, 2 rows in/);
    expect(result.stderr).toMatch(/restore comments: finished, 20 rows in/);
    const record = JSON.parse(result.stdout);
    expect(record).toMatchObject({ backup_id: backupId, status: "finished", total_rows: 25 });
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 20 });
  });

  it("on a terminal, run again: a bar per type at 100 %, nothing written, every row skipped", async () => {
    const command = `${process.execPath} ${BIN} restore --backup ${backupId}`;
    const result = await run("script", ["-qec", command, "/dev/null"], {
      env: { ...cliEnv(app, await apiUrl()), TERM: "xterm" },
      cwd: work,
    });
    expect(result.code, result.stdout).toBe(0);
    for (const type of ["users", "rooms", "comments"]) {
      expect(result.stdout).toMatch(new RegExp(`restore ${type}\\s+\\u2588{24} 100% \\| finished`));
    }
    expect(result.stdout).toMatch(/comments\s+0 written\s+20 skipped/);
    expect(await counts(app.appId)).toEqual({ users: 3, rooms: 2, comments: 20 });
  });

  it("given a user changed since the backup, then its row errors are printed and the exit code is 1", async () => {
    await chatDb().query(
      "UPDATE users SET avatar_url = 'https://example.com/new.png' WHERE app_id = $1 AND id = (SELECT max(id) FROM users WHERE app_id = $1)",
      [app.appId],
    );
    const result = await chatBackup(["restore", "--backup", backupId], { app, cwd: work });
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(
      "restore users failed: 1 of 3 users rows break the import rules",
    );
    expect(result.stdout).toMatch(/row 2 {2}Email: .*with other content \(AvatarUrl differs\)/);
    expect(result.stderr).toMatch(/failed: The backup's users could not be restored/);
  });

  it("given an unknown backup, or a directory and --backup together, then one line and exit code 2", async () => {
    const unknown = await chatBackup(
      ["restore", "--backup", "6f0c1f5e-8b1a-4c59-9a53-8f0f0e4b7d11"],
      { app, cwd: work },
    );
    expect(unknown.code).toBe(2);
    expect(unknown.stderr.trim().split("\n")).toHaveLength(1);
    expect(unknown.stderr).toContain("HTTP 404");
    const both = await chatBackup(["restore", work, "--backup", backupId], { app, cwd: work });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("either a backup directory or --backup ID");
  });
});
