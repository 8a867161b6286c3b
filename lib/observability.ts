import { Logger } from "@aws-lambda-powertools/logger";
import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import type { MetricUnit } from "@aws-lambda-powertools/metrics/types";
import middy from "@middy/core";
import type { Context } from "aws-lambda";
import { config } from "./config.ts";

/** The service's name on every log line and metric. */
export const SERVICE_NAME = "chat-data-backup";
/** CloudWatch namespace of the service's metrics (the dashboard and alarms read it). */
export const METRICS_NAMESPACE = "ChatDataBackup";

/**
 * The one structured JSON logger of the service. Its level is Powertools' own setting
 * (`POWERTOOLS_LOG_LEVEL`, or `LOG_LEVEL`; default INFO). Keys appended during an invocation
 * belong to that invocation, also where several run at once in one process.
 */
export const logger = new Logger({ serviceName: SERVICE_NAME });

/**
 * Diagnostics of the metrics library go to the service logger. An invocation that records no
 * metric (most HTTP requests) is normal here, so that notice is only a debug line.
 */
const metricsDiagnostics = {
  debug: (...content: unknown[]) => logger.debug(String(content[0])),
  info: (...content: unknown[]) => logger.info(String(content[0])),
  warn: (...content: unknown[]) => {
    const message = String(content[0]);
    if (message.startsWith("No application metrics to publish")) logger.debug(message);
    else logger.warn(message);
  },
  error: (...content: unknown[]) => logger.error(String(content[0])),
};

/** CloudWatch metrics in embedded metric format, flushed once per invocation (see `instrumented`). */
export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: SERVICE_NAME,
  logger: metricsDiagnostics,
});

/**
 * Publishes one job metric at once, with the dimensions [service, resource]: several jobs of
 * different resources in one invocation never share (and overwrite) each other's dimension.
 * Job metrics are named `<Kind>s<Event>` (ExportsStarted, ImportsFailed, ExportsDeadLettered...);
 * the dashboard and alarms in serverless.yml read them with these dimensions.
 */
export function jobMetric(name: string, unit: MetricUnit, value: number, resource: string): void {
  const single = metrics.singleMetric();
  single.addDimension("resource", resource);
  single.addMetric(name, unit, value);
}

/**
 * Wraps any Lambda handler (queue consumer, schedule, worker) in the service's instrumentation:
 * Lambda context and a fresh set of keys on every log line, and the invocation's metrics flushed
 * when it ends (also when it throws). Set a correlation id with `logger.setCorrelationId(...)`
 * (request id, SQS message id, EventBridge event id) inside the handler. The configuration is read
 * and validated when the handler is created (cold start).
 */
export function instrumented<TEvent, TResult>(
  handler: (event: TEvent, context: Context) => Promise<TResult>,
) {
  config();
  return middy<TEvent, TResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .handler(handler);
}
