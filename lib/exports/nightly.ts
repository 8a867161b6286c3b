import { randomUUID } from "node:crypto";
import { type Application, listNightlyApplications } from "../chat-db/applications.ts";
import { BadRequestError } from "../errors.ts";
import { objectKey } from "../jobs/files.ts";
import { RESOURCES, type Resource } from "../jobs/job-record.ts";
import { jobStore } from "../jobs/job-store.ts";
import { logger, metrics } from "../observability.ts";
import { isTimeZone, startExport, validateExportRequest } from "./export-jobs.ts";

/**
 * A claim older than this was left by an invocation that died between claiming and creating the
 * job (the nightly function's timeout is 5 minutes), so a rerun may take it over.
 */
const STALE_CLAIM_MS = 10 * 60 * 1000;
/** Applications handled at the same time. */
const CONCURRENCY = 8;

/** What happened to one application's export of one resource for one day. */
export interface NightlyOutcome {
  appId: string;
  resource: Resource;
  day: string;
  timezone: string;
  outcome: "created" | "exists" | "failed";
  jobId?: string;
  error?: string;
}

/** The calendar date (`YYYY-MM-DD`) of `instant` in `timeZone`. */
export function localDate(instant: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
  }).formatToParts(instant);
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/** The day before the calendar date of `instant` in `timeZone`. */
export function previousDay(instant: Date, timeZone: string): string {
  const [year, month, day] = localDate(instant, timeZone).split("-").map(Number);
  return new Date(Date.UTC(year as number, (month as number) - 1, (day as number) - 1))
    .toISOString()
    .slice(0, 10);
}

/** True for a real calendar date written `YYYY-MM-DD`. */
export function isCalendarDay(day: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(day)) return false;
  return new Date(`${day}T00:00:00Z`).toISOString().slice(0, 10) === day;
}

async function exportOne(
  app: Application,
  resource: Resource,
  day: string,
  timezone: string,
): Promise<NightlyOutcome> {
  const base = { appId: app.appId, resource, day, timezone };
  const jobId = randomUUID();
  const guard = { appId: app.appId, day, resource, jobId };
  if (!(await jobStore().claimNightly(guard, Date.now() - STALE_CLAIM_MS))) {
    return { ...base, outcome: "exists" };
  }
  try {
    const request = validateExportRequest({
      type: resource,
      start_date: day,
      end_date: day,
      timezone,
    });
    const job = await startExport(app.appId, request, "schedule", {
      jobId,
      objectKey: objectKey("export", app.appId, jobId),
    });
    await jobStore().markNightlyCreated(guard);
    return { ...base, outcome: "created", jobId: job.jobId };
  } catch (error) {
    logger.error("nightly export could not be created", {
      app_id: app.appId,
      job_id: jobId,
      resource,
      day,
      error: error as Error,
    });
    await jobStore()
      .releaseNightly(guard)
      .catch((releaseError: unknown) =>
        logger.error("nightly claim could not be released", {
          app_id: app.appId,
          resource,
          day,
          error: releaseError as Error,
        }),
      );
    return { ...base, outcome: "failed", jobId, error: (error as Error).message };
  }
}

async function exportApplication(app: Application, at: Date, day?: string) {
  let timezone = app.timezone || "UTC";
  if (!isTimeZone(timezone)) {
    logger.warn("application time zone is unknown, using UTC", {
      app_id: app.appId,
      timezone,
    });
    timezone = "UTC";
  }
  const exportDay = day ?? previousDay(at, timezone);
  const outcomes: NightlyOutcome[] = [];
  for (const resource of RESOURCES) {
    outcomes.push(await exportOne(app, resource, exportDay, timezone));
  }
  return outcomes;
}

/**
 * Creates the nightly exports: for every application with nightly export switched on, one
 * export job per resource (users, rooms, comments) covering the previous day in the
 * application's time zone as seen at `at` — or exactly `day` when given (reruns). Each
 * (application, day, resource) gets at most one job, however often this runs.
 */
export async function runNightlyExports(options: {
  at: Date;
  day?: string;
}): Promise<NightlyOutcome[]> {
  if (options.day !== undefined && !isCalendarDay(options.day)) {
    throw new BadRequestError("invalid nightly export day", [
      `day must be a calendar date written YYYY-MM-DD, got "${String(options.day).slice(0, 40)}"`,
    ]);
  }
  const apps = await listNightlyApplications();
  const outcomes: NightlyOutcome[] = [];
  for (let i = 0; i < apps.length; i += CONCURRENCY) {
    const batch = apps.slice(i, i + CONCURRENCY);
    const results = await Promise.all(
      batch.map((app) => exportApplication(app, options.at, options.day)),
    );
    outcomes.push(...results.flat());
  }
  const count = (outcome: NightlyOutcome["outcome"]) =>
    outcomes.filter((o) => o.outcome === outcome).length;
  metrics.addMetric("NightlyJobsCreated", "Count", count("created"));
  metrics.addMetric("NightlyJobsFailed", "Count", count("failed"));
  logger.info("nightly exports done", {
    applications: apps.length,
    created: count("created"),
    already_existing: count("exists"),
    failed: count("failed"),
  });
  return outcomes;
}
