import type { SQSClient } from "@aws-sdk/client-sqs";
import { type DeliveryOptions, deliverBatch, type QueueBinding } from "./deliver.ts";
import type { LambdaRuntime } from "./lambda-runtime.ts";

/**
 * Delivers a queue's messages to its consumer function continuously, the way Lambda's event
 * source mapping does, with `concurrency` batches in flight at most. Returns a function that
 * stops polling and waits for the batches in flight.
 */
export function startQueuePoller(
  runtime: LambdaRuntime,
  sqs: SQSClient,
  binding: QueueBinding,
  options: DeliveryOptions & { concurrency: number },
): () => Promise<void> {
  const abort = new AbortController();
  const loop = async () => {
    while (!abort.signal.aborted) {
      try {
        await deliverBatch(runtime, sqs, binding, { ...options, signal: abort.signal });
      } catch {
        if (abort.signal.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  };
  const loops = Array.from({ length: options.concurrency }, loop);
  return async () => {
    abort.abort();
    await Promise.allSettled(loops);
  };
}
