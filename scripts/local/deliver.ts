import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse } from "aws-lambda";
import { type LambdaRuntime, lambdaContext } from "./lambda-runtime.ts";
import { sqsEvent } from "./sqs-event.ts";

/** A queue and the function its messages go to, as an SQS event source mapping ties them. */
export interface QueueBinding {
  functionName: string;
  queueUrl: string;
  queueArn: string;
  batchSize: number;
}

export interface DeliveryOptions {
  region?: string;
  /** Long-polling wait of the receive. */
  waitSeconds?: number;
  /** Visibility timeout while the function runs; renewed every third of it. */
  visibilitySeconds?: number;
  /**
   * A failed message becomes visible again after this long. Unset: as on AWS, it comes again
   * when the visibility the function left it with runs out (its retry backoff), or after two
   * seconds when the invocation itself failed.
   */
  retryDelaySeconds?: number;
  /** The function's remaining time at the start of the invocation (default: its timeout). */
  budgetMs?: number;
  signal?: AbortSignal;
}

/**
 * Receives one batch and delivers it the way Lambda's SQS event source mapping does: the
 * function gets the batch as an SQS event; messages it names in `batchItemFailures` (all of
 * them, when it throws) return to the queue after `retryDelaySeconds`, the others are deleted.
 * While the function runs, the batch's visibility is extended so that it is not delivered twice.
 * @returns how many messages were delivered (0 when the queue had none)
 */
export async function deliverBatch(
  runtime: LambdaRuntime,
  sqs: SQSClient,
  binding: QueueBinding,
  options: DeliveryOptions = {},
): Promise<number> {
  const visibilitySeconds = options.visibilitySeconds ?? 30;
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: binding.queueUrl,
      MaxNumberOfMessages: binding.batchSize,
      WaitTimeSeconds: options.waitSeconds ?? 1,
      VisibilityTimeout: visibilitySeconds,
      MessageSystemAttributeNames: ["All"],
    }),
    { abortSignal: options.signal },
  );
  if (Messages.length === 0) return 0;
  const extend = (VisibilityTimeout: number, receiptHandle: string | undefined) =>
    sqs
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: binding.queueUrl,
          ReceiptHandle: receiptHandle,
          VisibilityTimeout,
        }),
      )
      .catch(() => {});
  const heartbeat = setInterval(
    () => {
      for (const message of Messages) void extend(visibilitySeconds, message.ReceiptHandle);
    },
    (visibilitySeconds * 1000) / 3,
  );
  let failed: Set<string>;
  let crashed = false;
  try {
    const event = sqsEvent(
      Messages.map((message) => ({
        body: message.Body ?? "",
        messageId: message.MessageId,
        receiptHandle: message.ReceiptHandle,
        receiveCount: message.Attributes?.ApproximateReceiveCount,
        sentTimestamp: message.Attributes?.SentTimestamp,
        md5OfBody: message.MD5OfBody,
      })),
      binding.queueArn,
      options.region,
    );
    const fn = runtime.definition(binding.functionName);
    const result = (await runtime.invoke(
      binding.functionName,
      event,
      lambdaContext(fn, options.budgetMs),
    )) as SQSBatchResponse | undefined;
    failed = new Set((result?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
  } catch (error) {
    console.error(`local queue: ${binding.functionName} failed`, (error as Error).message);
    failed = new Set(Messages.map((message) => message.MessageId as string));
    crashed = true;
  } finally {
    clearInterval(heartbeat);
  }
  for (const message of Messages) {
    if (failed.has(message.MessageId as string)) {
      const delay = options.retryDelaySeconds ?? (crashed ? 2 : undefined);
      if (delay !== undefined) await extend(delay, message.ReceiptHandle);
    } else {
      await sqs
        .send(
          new DeleteMessageCommand({
            QueueUrl: binding.queueUrl,
            ReceiptHandle: message.ReceiptHandle,
          }),
        )
        .catch(() => {});
    }
  }
  return Messages.length;
}
