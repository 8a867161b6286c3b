import { describe, expect, it } from "vitest";
import type { JobKind } from "../lib/jobs/job-record.ts";
import { jobStore } from "../lib/jobs/job-store.ts";
import { newJob } from "../lib/jobs/jobs.ts";
import { call, newApp, type TestApp } from "./support/harness.ts";

const PAGE_SIZE = 20;

/**
 * Stores `count` jobs of one kind for `app`, one second apart (the newest last), as the API
 * leaves them when it creates them; answers their ids newest first.
 */
async function storeJobs(app: TestApp, kind: JobKind, count: number): Promise<string[]> {
  const start = Date.parse("2026-01-01T00:00:00Z");
  const ids: string[] = [];
  for (let k = 0; k < count; k += 1) {
    const createdAt = new Date(start + k * 1000).toISOString();
    const job = newJob(app.appId, kind, "users", {
      createdAt,
      updatedAt: createdAt,
      originalFilename: `${createdAt}_${kind}_users.json`,
      ...(kind === "import" ? { errors: { Message: "", Data: null }, dryRun: false } : {}),
    });
    expect(await jobStore().create(job)).toBe(true);
    ids.push(job.jobId);
  }
  return ids.reverse();
}

async function page(app: TestApp, path: string, query = ""): Promise<string[]> {
  const response = await call("GET", `${path}${query}`, { app });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.results.backup_histories.map((job: { unique_id: string }) => job.unique_id);
}

describe.each([
  ["export", "/api/v2.1/rest/exports"],
  ["import", "/api/v2.1/rest/imports"],
] as const)("the list of %s jobs", (kind, path) => {
  it("given 45 jobs, pages of 20 hold them newest first, each job on exactly one page", async () => {
    const app = await newApp();
    const newestFirst = await storeJobs(app, kind, 45);
    // Another application's jobs never appear, whatever the page.
    await storeJobs(await newApp(), kind, 3);

    const first = await page(app, path);
    expect(first).toEqual(newestFirst.slice(0, PAGE_SIZE));
    expect(await page(app, path, "?page=1")).toEqual(first);
    expect(await page(app, path, "?page=2")).toEqual(newestFirst.slice(20, 40));
    expect(await page(app, path, "?page=3")).toEqual(newestFirst.slice(40));
    expect(await page(app, path, "?page=4")).toEqual([]);
  });

  it.each(["0", "-1", "two", "1.5", "10001"])("answers 400 for page=%s", async (value) => {
    const app = await newApp();
    const response = await call("GET", `${path}?page=${value}`, { app });
    expect(response.status).toBe(400);
    expect(response.body.error.detailed_messages.join(" ")).toContain("page");
  });
});
