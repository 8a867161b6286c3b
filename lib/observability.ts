import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";

/** The one structured JSON logger of the service (level from POWERTOOLS_LOG_LEVEL / LOG_LEVEL). */
export const logger = new Logger({
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "chat-data-backup",
  logLevel: (process.env.LOG_LEVEL ?? process.env.POWERTOOLS_LOG_LEVEL ?? "INFO") as "INFO",
});

/** CloudWatch metrics in embedded metric format. */
export const metrics = new Metrics({
  namespace: process.env.POWERTOOLS_METRICS_NAMESPACE ?? "ChatDataBackup",
  serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? "chat-data-backup",
});
