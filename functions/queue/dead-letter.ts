import { jobConsumer } from "../../lib/jobs/consumer.ts";
import { settleDeadLetter } from "../../lib/jobs/dead-letters.ts";

/**
 * Consumer of the dead-letter queue: every job whose message SQS gave up on ends `failed`.
 * A message that cannot be settled now (e.g. DynamoDB unavailable) stays on the queue; a
 * malformed one is dropped.
 */
export const handler = jobConsumer(["export", "import"], settleDeadLetter);
