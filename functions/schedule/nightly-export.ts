import type { ScheduledEvent } from "aws-lambda";
import { runNightlyExports } from "../../lib/exports/nightly.ts";
import { instrumented, logger } from "../../lib/observability.ts";

/**
 * The EventBridge schedule's event. For a rerun of a given night, invoke the function with
 * `{"day": "YYYY-MM-DD"}` (or an EventBridge event whose `detail.day` is set): every opted-in
 * application then gets that day's exports, if it does not have them yet.
 */
export type NightlyEvent = Partial<ScheduledEvent<{ day?: string } | undefined>> & {
  day?: string;
};

/**
 * Nightly export: one export job per resource for yesterday, for every application that has it
 * switched on. Throws when some jobs could not be created, so that the asynchronous invocation is
 * retried; jobs already created are not created again.
 */
export const handler = instrumented(async (event: NightlyEvent | undefined, context) => {
  logger.setCorrelationId(event?.id ?? context.awsRequestId);
  const at = event?.time ? new Date(event.time) : new Date();
  const day = event?.day ?? event?.detail?.day;
  const outcomes = await runNightlyExports({
    at: Number.isNaN(at.getTime()) ? new Date() : at,
    day,
  });
  const failed = outcomes.filter((outcome) => outcome.outcome === "failed");
  if (failed.length > 0) {
    throw new Error(
      `${failed.length} of ${outcomes.length} nightly exports could not be created; a rerun creates only the missing ones`,
    );
  }
  return { outcomes };
});
