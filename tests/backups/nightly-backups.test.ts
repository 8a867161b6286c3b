import { afterAll, afterEach, describe, expect, it } from "vitest";
import { setNightlyBackupsKept, setNightlyExport } from "../../lib/chat-db/applications.ts";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { jobStore } from "../../lib/jobs/job-store.ts";
import { insertManyComments } from "../exports/export-fixtures.ts";
import { apiFetch } from "../support/api-fetch.ts";
import { call, drainQueue, newApp, runtime, type TestApp } from "../support/harness.ts";
import { BACKUPS, deliverBackup, fetchBytes, getBackup, rowsOf } from "./backup-fixtures.ts";

function scheduled(time: string) {
  return {
    version: "0",
    id: `event-${Math.random().toString(16).slice(2)}`,
    "detail-type": "Scheduled Event",
    source: "aws.events",
    time,
    detail: {},
  };
}

interface Outcome {
  appId: string;
  night: string;
  outcome: string;
  backupId?: string;
  attempt: number;
  deleted: string[];
}

async function runSchedule(app: TestApp, time: string): Promise<Outcome> {
  const result = (await runtime.invoke("nightlyExport", scheduled(time))) as {
    backups: Outcome[];
    outcomes: unknown[];
  };
  // The old per-type day slices are an option now, off by default.
  expect(result.outcomes).toEqual([]);
  const mine = result.backups.find((outcome) => outcome.appId === app.appId);
  expect(mine).toBeDefined();
  return mine as Outcome;
}

const optedIn: TestApp[] = [];
async function optedInApp(): Promise<TestApp> {
  const app = await newApp();
  await setNightlyExport(app.appId, true);
  optedIn.push(app);
  return app;
}
afterEach(async () => {
  for (const app of optedIn.splice(0)) await setNightlyExport(app.appId, false);
});
afterAll(() => drainQueue("BackupQueue"));

describe("nightly backups", () => {
  it("given 1,000 comments imported with a CreatedAt in 2017, when the schedule runs twice in a night, then one backup holds them all and the second run makes none", async () => {
    const app = await optedInApp();
    await insertManyComments(app, 1000, "2017-05-01T00:00:00Z");

    const first = await runSchedule(app, "2026-12-04T00:15:00Z");
    const second = await runSchedule(app, "2026-12-04T03:15:00Z");

    expect(first).toMatchObject({ outcome: "created", night: "2026-12-04", attempt: 0 });
    expect(second).toMatchObject({ outcome: "exists", backupId: first.backupId });
    await deliverBackup(first.backupId as string);
    const backup = await getBackup(app, first.backupId as string);
    expect(backup).toMatchObject({ status: "finished", trigger: "schedule" });
    const comments = rowsOf(await fetchBytes(backup.files.comments.download_url));
    expect(comments).toHaveLength(1000);
    expect(String(comments[0]?.CreatedAt)).toMatch(/^2017-05-01T/);
    const list = await call("GET", BACKUPS, { app });
    expect(list.body.results.backups.map((b: { unique_id: string }) => b.unique_id)).toEqual([
      first.backupId,
    ]);
  });

  it("given a night whose backup failed, when the schedule runs again hours later, then that night gets a new backup", async () => {
    const app = await optedInApp();
    const first = await runSchedule(app, "2026-12-05T00:15:00Z");
    await jobStore().update(app.appId, first.backupId as string, {
      status: "failed",
      errorMessage: "the chat database was unreachable",
    });

    const retry = await runSchedule(app, "2026-12-05T03:15:00Z");
    const after = await runSchedule(app, "2026-12-05T06:15:00Z");

    expect(retry).toMatchObject({ outcome: "created", night: "2026-12-05", attempt: 1 });
    expect(retry.backupId).not.toBe(first.backupId);
    expect(after).toMatchObject({ outcome: "exists", backupId: retry.backupId });
    await deliverBackup(retry.backupId as string);
    expect((await getBackup(app, retry.backupId as string)).status).toBe("finished");
  });

  it("given an application keeping 2 nightly backups, when four more nights pass, then only the newest 2 finished ones stay, files and records", async () => {
    const app = await optedInApp();
    await setNightlyBackupsKept(app.appId, 2);
    const made: string[] = [];
    for (const day of ["10", "11", "12", "13"]) {
      const outcome = await runSchedule(app, `2026-11-${day}T00:15:00Z`);
      expect(outcome.outcome).toBe("created");
      await deliverBackup(outcome.backupId as string);
      made.push(outcome.backupId as string);
    }
    // The fourth night already removed the first one.
    expect((await call("GET", `${BACKUPS}/${made[0]}`, { app })).status).toBe(404);
    const second = await getBackup(app, made[1] as string);
    const secondUrl = second.files.users.download_url as string;
    expect((await apiFetch(secondUrl)).status).toBe(200);

    const last = await runSchedule(app, "2026-11-14T00:15:00Z");

    expect(last.deleted).toEqual([made[1]]);
    const list = await call("GET", BACKUPS, { app });
    expect(list.body.results.backups.map((b: { unique_id: string }) => b.unique_id)).toEqual([
      last.backupId,
      made[3],
      made[2],
    ]);
    expect((await call("GET", `${BACKUPS}/${made[1]}`, { app })).status).toBe(404);
    expect((await apiFetch(secondUrl)).status).toBe(404);
    await chatDb().query("UPDATE applications SET nightly_backups_kept = NULL WHERE app_id = $1", [
      app.appId,
    ]);
  });
});
