import type { ScheduledEvent } from "aws-lambda";
import { runNightlyBackups } from "../../lib/backups/nightly-backups.ts";
import { config } from "../../lib/config.ts";
import { runNightlyExports } from "../../lib/exports/nightly.ts";
import { instrumented, logger } from "../../lib/observability.ts";

type NightlyDetail = { day?: string; day_slices?: boolean };

/**
 * The EventBridge schedule's event. A plain run makes the nightly backups (and, when
 * `NIGHTLY_DAY_SLICES=true` or `day_slices` is set, the old per-type exports of yesterday).
 * For a rerun of a given night's day slices, invoke the function with `{"day": "YYYY-MM-DD"}`
 * (or an EventBridge event whose `detail.day` is set).
 */
export type NightlyEvent = Partial<ScheduledEvent<NightlyDetail | undefined>> & NightlyDetail;

/**
 * The schedule (every few hours): one backup per night for every application that has nightly
 * backups switched on, retried at the next run when it failed, and retention of the newest N.
 * Throws when some jobs could not be created, so that the asynchronous invocation is retried;
 * jobs already created are not created again.
 */
export const handler = instrumented(async (event: NightlyEvent | undefined, context) => {
  logger.setCorrelationId(event?.id ?? context.awsRequestId);
  const parsed = event?.time ? new Date(event.time) : new Date();
  const at = Number.isNaN(parsed.getTime()) ? new Date() : parsed;
  const day = event?.day ?? event?.detail?.day;
  const slices =
    day !== undefined ||
    config().nightlyDaySlices ||
    Boolean(event?.day_slices ?? event?.detail?.day_slices);
  const backups = day === undefined ? await runNightlyBackups({ at }) : [];
  const outcomes = slices ? await runNightlyExports({ at, day }) : [];
  const failed = [...outcomes, ...backups].filter((outcome) => outcome.outcome === "failed");
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} nightly jobs could not be created; a rerun creates only the missing ones`,
    );
  }
  return { outcomes, backups };
});
