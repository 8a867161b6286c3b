import { PutCommand } from "@aws-sdk/lib-dynamodb";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { dynamo } from "../lib/aws/dynamodb.ts";
import { setNightlyExport } from "../lib/chat-db/applications.ts";
import { config } from "../lib/config.ts";
import { localDate, previousDay } from "../lib/exports/nightly.ts";
import { call, drainQueue, newApp, runtime, type TestApp } from "./support/harness.ts";

/** The schedule fires at 00:15 UTC on 10 March 2024. */
const SCHEDULED_AT = "2024-03-10T00:15:00Z";

function scheduledEvent(time = SCHEDULED_AT, extra: Record<string, unknown> = {}) {
  return {
    version: "0",
    id: `event-${Math.random().toString(16).slice(2)}`,
    "detail-type": "Scheduled Event",
    source: "aws.events",
    account: "000000000000",
    time,
    region: "us-east-1",
    resources: ["arn:aws:events:us-east-1:000000000000:rule/nightly"],
    detail: { day_slices: true },
    ...extra,
  };
}

async function optedInApp(timezone?: string): Promise<TestApp> {
  const app = await newApp();
  await setNightlyExport(app.appId, true, timezone);
  return app;
}

async function exportsOf(app: TestApp) {
  const response = await call("GET", "/api/v2.1/rest/exports", { app });
  expect(response.status).toBe(200);
  return response.body.results.backup_histories as Record<string, unknown>[];
}

const optedIn: TestApp[] = [];

// Each test sees only its own opted-in app; nothing else finds this file's nightly jobs later.
afterEach(async () => {
  for (const app of optedIn.splice(0)) await setNightlyExport(app.appId, false);
});
afterAll(() => drainQueue("ExportQueue"));

describe("day arithmetic", () => {
  it("given the schedule time, when computing yesterday, then each time zone gets its own yesterday", () => {
    const at = new Date(SCHEDULED_AT);
    expect(previousDay(at, "UTC")).toBe("2024-03-09");
    expect(previousDay(at, "Asia/Jakarta")).toBe("2024-03-09");
    expect(previousDay(at, "America/Los_Angeles")).toBe("2024-03-08");
    expect(previousDay(new Date("2024-03-01T03:00:00Z"), "UTC")).toBe("2024-02-29");
    expect(localDate(new Date("2024-12-31T20:00:00Z"), "Asia/Tokyo")).toBe("2025-01-01");
  });
});

describe("nightly export", () => {
  it("given an opted-in app and an opted-out app, when the schedule fires, then the opted-in app gets one export per type of yesterday and the other none", async () => {
    const app = await optedInApp();
    optedIn.push(app);
    const other = await newApp();

    await runtime.invoke("nightlyExport", scheduledEvent());

    const jobs = await exportsOf(app);
    expect(jobs.map((job) => job.resource_name).sort()).toEqual(["comments", "rooms", "users"]);
    for (const job of jobs) {
      expect(job).toMatchObject({
        status: "started",
        trigger: "schedule",
        start_date: "2024-03-09",
        end_date: "2024-03-09",
        timezone: "UTC",
        percentage: 0,
      });
    }
    expect(await exportsOf(other)).toEqual([]);
  });

  it("given the schedule fired already, when it fires again for the same night, then no job is added", async () => {
    const app = await optedInApp("Asia/Jakarta");
    optedIn.push(app);

    const first = (await runtime.invoke("nightlyExport", scheduledEvent())) as {
      outcomes: { appId: string; outcome: string }[];
    };
    await runtime.invoke("nightlyExport", scheduledEvent());

    expect(
      first.outcomes.filter((o) => o.appId === app.appId && o.outcome === "created"),
    ).toHaveLength(3);
    const jobs = await exportsOf(app);
    expect(jobs).toHaveLength(3);
    expect(new Set(jobs.map((job) => job.resource_name)).size).toBe(3);
    expect(jobs.every((job) => job.timezone === "Asia/Jakarta")).toBe(true);
  });

  it("given an app in a time zone behind UTC, when the schedule fires after UTC midnight, then it exports its own yesterday", async () => {
    const app = await optedInApp("America/Los_Angeles");
    optedIn.push(app);

    await runtime.invoke("nightlyExport", scheduledEvent());

    const jobs = await exportsOf(app);
    expect(jobs).toHaveLength(3);
    expect(
      jobs.every((job) => job.start_date === "2024-03-08" && job.end_date === "2024-03-08"),
    ).toBe(true);
  });

  it("given an explicit day in the event, when rerun, then that day's exports are created once", async () => {
    const app = await optedInApp();
    optedIn.push(app);

    await runtime.invoke("nightlyExport", { day: "2024-01-31" });
    await runtime.invoke(
      "nightlyExport",
      scheduledEvent(SCHEDULED_AT, { detail: { day: "2024-01-31" } }),
    );

    const jobs = await exportsOf(app);
    expect(jobs).toHaveLength(3);
    expect(jobs.every((job) => job.start_date === "2024-01-31")).toBe(true);
  });

  it("given an impossible day, when rerun, then the invocation fails and nothing is created", async () => {
    const app = await optedInApp();
    optedIn.push(app);

    await expect(runtime.invoke("nightlyExport", { day: "2024-02-30" })).rejects.toThrow(
      /invalid nightly export day/,
    );
    expect(await exportsOf(app)).toEqual([]);
  });

  it("given a claim left by an invocation that died, when the schedule fires, then the stale claim is taken over and a fresh one is respected", async () => {
    const app = await optedInApp();
    optedIn.push(app);
    const claim = (resource: string, claimedAt: number) =>
      dynamo().send(
        new PutCommand({
          TableName: config().jobsTable,
          Item: {
            pk: app.appId,
            sk: `nightly#2024-03-09#${resource}`,
            state: "claimed",
            jobId: "00000000-0000-4000-8000-000000000000",
            claimedAt,
            expiresAt: Math.floor(Date.now() / 1000) + 3600,
          },
        }),
      );
    await claim("users", Date.now() - 60 * 60 * 1000);
    await claim("rooms", Date.now());

    await runtime.invoke("nightlyExport", scheduledEvent());

    const jobs = await exportsOf(app);
    expect(jobs.map((job) => job.resource_name).sort()).toEqual(["comments", "users"]);
  });

  it("given the export queue is unreachable, when the schedule fires, then it fails for a retry and the retry creates the jobs", async () => {
    const app = await optedInApp();
    optedIn.push(app);
    const event = scheduledEvent(SCHEDULED_AT, { day: "2023-07-01" });
    const queueUrl = config().exportQueueUrl;
    config().exportQueueUrl = `${queueUrl}-missing`;
    try {
      await expect(runtime.invoke("nightlyExport", event)).rejects.toThrow(/could not be created/);
    } finally {
      config().exportQueueUrl = queueUrl;
    }

    await runtime.invoke("nightlyExport", event);

    const jobs = await exportsOf(app);
    const started = jobs.filter((job) => job.status === "started");
    expect(started.map((job) => job.resource_name).sort()).toEqual(["comments", "rooms", "users"]);
    expect(jobs.filter((job) => job.status === "failed")).toHaveLength(3);
  });

  it("given nightly jobs were queued, when the export worker runs, then they finish like any export", async () => {
    const app = await optedInApp();
    optedIn.push(app);
    await runtime.invoke("nightlyExport", scheduledEvent());

    await drainQueue("ExportQueue");

    const jobs = await exportsOf(app);
    expect(jobs).toHaveLength(3);
    for (const job of jobs) {
      expect(job).toMatchObject({ status: "finished", total_rows: 0, trigger: "schedule" });
    }
  });
});
