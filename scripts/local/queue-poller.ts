import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import type { LambdaRuntime } from "./lambda-runtime.ts";
import { sqsEvent } from "./sqs-event.ts";

export interface QueueBinding {
  functionName: string;
  queueUrl: string;
  queueArn: string;
  batchSize: number;
}

function toEvent(messages: Message[], binding: QueueBinding, region: string): SQSEvent {
  return sqsEvent(
    messages.map((message) => ({
      body: message.Body ?? "",
      messageId: message.MessageId,
      receiptHandle: message.ReceiptHandle,
      receiveCount: message.Attributes?.ApproximateReceiveCount,
      sentTimestamp: message.Attributes?.SentTimestamp,
      md5OfBody: message.MD5OfBody,
    })),
    binding.queueArn,
    region,
  );
}

/**
 * Delivers queue messages to a consumer function as SQS batch events, the way Lambda's event
 * source mapping does: messages named in `batchItemFailures` (or all, when the handler throws)
 * stay on the queue and come back; the rest are deleted. While a handler runs, the messages'
 * visibility is extended so that a long job is not delivered twice.
 */
export function startQueuePoller(
  runtime: LambdaRuntime,
  sqs: SQSClient,
  binding: QueueBinding,
  options: {
    region: string;
    concurrency: number;
    visibilitySeconds: number;
    retryDelaySeconds: number;
  },
): () => Promise<void> {
  const abort = new AbortController();
  const loops: Promise<void>[] = [];
  const loop = async () => {
    while (!abort.signal.aborted) {
      let messages: Message[] = [];
      try {
        const output = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: binding.queueUrl,
            MaxNumberOfMessages: binding.batchSize,
            WaitTimeSeconds: 1,
            VisibilityTimeout: options.visibilitySeconds,
            MessageSystemAttributeNames: ["All"],
          }),
          { abortSignal: abort.signal },
        );
        messages = output.Messages ?? [];
      } catch {
        if (abort.signal.aborted) return;
        await new Promise((resolve) => setTimeout(resolve, 500));
        continue;
      }
      if (messages.length === 0) continue;
      const heartbeat = setInterval(
        () => {
          for (const message of messages) {
            sqs
              .send(
                new ChangeMessageVisibilityCommand({
                  QueueUrl: binding.queueUrl,
                  ReceiptHandle: message.ReceiptHandle,
                  VisibilityTimeout: options.visibilitySeconds,
                }),
              )
              .catch(() => {});
          }
        },
        (options.visibilitySeconds * 1000) / 3,
      );
      let failed: Set<string>;
      try {
        const result = (await runtime.invoke(
          binding.functionName,
          toEvent(messages, binding, options.region),
        )) as SQSBatchResponse | undefined;
        failed = new Set((result?.batchItemFailures ?? []).map((item) => item.itemIdentifier));
      } catch (error) {
        console.error(`local queue: ${binding.functionName} failed`, (error as Error).message);
        failed = new Set(messages.map((message) => message.MessageId as string));
      } finally {
        clearInterval(heartbeat);
      }
      for (const message of messages) {
        const command = failed.has(message.MessageId as string)
          ? new ChangeMessageVisibilityCommand({
              QueueUrl: binding.queueUrl,
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: options.retryDelaySeconds,
            })
          : new DeleteMessageCommand({
              QueueUrl: binding.queueUrl,
              ReceiptHandle: message.ReceiptHandle,
            });
        await sqs.send(command as never).catch(() => {});
      }
    }
  };
  for (let i = 0; i < options.concurrency; i += 1) loops.push(loop());
  return async () => {
    abort.abort();
    await Promise.allSettled(loops);
  };
}
