import { createHash } from "node:crypto";
import { MetricUnit } from "@aws-lambda-powertools/metrics";
import { type Application, listNightlyApplications } from "../chat-db/applications.ts";
import { config } from "../config.ts";
import { isTimeZone } from "../exports/export-jobs.ts";
import { localDate } from "../exports/nightly.ts";
import type { JobRecord } from "../jobs/job-record.ts";
import { jobStore } from "../jobs/job-store.ts";
import { listJobs, PAGE_SIZE } from "../jobs/jobs.ts";
import { OPEN } from "../jobs/lifecycle/index.ts";
import { logger, metrics } from "../observability.ts";
import { removeBackupFiles, startBackup } from "./backup-jobs.ts";

/** Applications handled at the same time. */
const CONCURRENCY = 8;

/** What one run of the schedule did for one application. */
export interface NightlyBackupOutcome {
  appId: string;
  /** The application's calendar day (its time zone) the backup is the night's backup of. */
  night: string;
  outcome: "created" | "exists" | "failed";
  backupId?: string;
  /** How often this night's backup was started before (a retry of a failed night has 1 or more). */
  attempt: number;
  /** Older nightly backups deleted by retention in this run. */
  deleted: string[];
  /** Hours since the newest finished backup of the application, if it has one. */
  newestFinishedAgeHours?: number;
  error?: string;
}

/**
 * The id of the `attempt`-th backup of an application's night: the same inputs give the same
 * id, so that two runs of the schedule at once create one backup, not two (the record's create
 * is conditional). Shaped as a UUID like every job id.
 */
export function nightlyBackupId(appId: string, night: string, attempt: number): string {
  const hex = createHash("sha256").update(`${appId}\0${night}\0${attempt}`).digest("hex");
  const variant = ((Number.parseInt(hex[16] as string, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** Every backup record of the application, newest first. */
async function allBackups(appId: string): Promise<JobRecord[]> {
  const found: JobRecord[] = [];
  for (let page = 1; ; page += 1) {
    const jobs = await listJobs(appId, "backup", page);
    found.push(...jobs);
    if (jobs.length < PAGE_SIZE) return found;
  }
}

/**
 * Retention: the application's newest `kept` finished nightly backups stay; every nightly backup
 * older than the oldest of them (finished or failed) is deleted, files and record. Backups made
 * through the API are left to their own expiry.
 */
async function applyRetention(backups: JobRecord[], kept: number): Promise<string[]> {
  const nightly = backups.filter((job) => job.trigger === "schedule");
  const finished = nightly.filter((job) => job.status === "finished");
  const oldestKept = finished[kept - 1];
  if (!oldestKept) return [];
  const deleted: string[] = [];
  for (const job of nightly) {
    if (job.createdAt >= oldestKept.createdAt || OPEN.includes(job.status)) continue;
    const removed = await jobStore().delete(job.appId, job.jobId);
    if (removed) await removeBackupFiles(removed);
    deleted.push(job.jobId);
  }
  return deleted;
}

async function backupApplication(app: Application, at: Date): Promise<NightlyBackupOutcome> {
  const timezone = app.timezone && isTimeZone(app.timezone) ? app.timezone : "UTC";
  const night = localDate(at, timezone);
  const base = { appId: app.appId, night, deleted: [] as string[] };
  const backups = await allBackups(app.appId);
  const tonight = backups.filter(
    (job) => job.trigger === "schedule" && job.backup?.night === night,
  );
  const attempt = tonight.length;
  let outcome: NightlyBackupOutcome;
  if (tonight.some((job) => job.status === "finished" || OPEN.includes(job.status))) {
    outcome = { ...base, outcome: "exists", attempt, backupId: tonight[0]?.jobId };
  } else {
    const backupId = nightlyBackupId(app.appId, night, attempt);
    try {
      if (!(await jobStore().get(app.appId, backupId))) {
        const expiry = Math.floor(Date.now() / 1000) + config().nightlyBackupExpiryDays * 86400;
        await startBackup(app.appId, {}, "schedule", { jobId: backupId, expiresAt: expiry }, night);
      }
      outcome = { ...base, outcome: "created", attempt, backupId };
      if (attempt > 0)
        logger.warn("a failed night's backup is made again", { app_id: app.appId, night, attempt });
    } catch (error) {
      logger.error("nightly backup could not be created", {
        app_id: app.appId,
        night,
        error: error as Error,
      });
      outcome = { ...base, outcome: "failed", attempt, backupId, error: (error as Error).message };
    }
  }
  outcome.deleted = await applyRetention(
    backups,
    app.nightlyBackupsKept ?? config().nightlyBackupsKept,
  );
  const newest = backups.find((job) => job.status === "finished");
  if (newest) {
    const ageHours = (at.getTime() - Date.parse(newest.updatedAt)) / 3_600_000;
    outcome.newestFinishedAgeHours = Math.max(0, Math.round(ageHours * 100) / 100);
  }
  return outcome;
}

/**
 * One run of the backup schedule (it runs every few hours): every application with nightly
 * backups switched on gets its night's backup unless one finished or is running, so a night
 * whose backup failed gets a new one at the next run; then older nightly backups beyond the
 * newest N are deleted. Publishes, per application, the age of its newest finished backup.
 */
export async function runNightlyBackups(options: { at: Date }): Promise<NightlyBackupOutcome[]> {
  const apps = await listNightlyApplications();
  const outcomes: NightlyBackupOutcome[] = [];
  for (let i = 0; i < apps.length; i += CONCURRENCY) {
    const batch = apps.slice(i, i + CONCURRENCY);
    outcomes.push(...(await Promise.all(batch.map((app) => backupApplication(app, options.at)))));
  }
  let oldest = 0;
  for (const outcome of outcomes) {
    // An application without any finished backup counts as old as the retention window.
    const age = outcome.newestFinishedAgeHours ?? config().nightlyBackupExpiryDays * 24;
    oldest = Math.max(oldest, age);
    const single = metrics.singleMetric();
    single.addDimension("app_id", outcome.appId);
    single.addMetric("NewestBackupAgeHours", MetricUnit.Count, age);
  }
  const count = (what: NightlyBackupOutcome["outcome"]) =>
    outcomes.filter((o) => o.outcome === what).length;
  metrics.addMetric("NightlyBackupsCreated", MetricUnit.Count, count("created"));
  metrics.addMetric("NightlyBackupsFailed", MetricUnit.Count, count("failed"));
  metrics.addMetric(
    "NightlyBackupRetries",
    MetricUnit.Count,
    outcomes.filter((o) => o.outcome === "created" && o.attempt > 0).length,
  );
  if (outcomes.length > 0)
    metrics.addMetric("OldestNewestBackupAgeHours", MetricUnit.Count, oldest);
  logger.info("nightly backups done", {
    applications: apps.length,
    created: count("created"),
    already_there: count("exists"),
    failed: count("failed"),
    deleted: outcomes.reduce((sum, o) => sum + o.deleted.length, 0),
  });
  return outcomes;
}
