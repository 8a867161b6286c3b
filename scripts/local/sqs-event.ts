import { randomUUID } from "node:crypto";
import type { SQSEvent, SQSRecord } from "aws-lambda";

/** One received message as Lambda's SQS event source hands it to a function. */
export interface ReceivedMessage {
  body: string;
  messageId?: string;
  receiptHandle?: string;
  receiveCount?: string;
  sentTimestamp?: string;
  md5OfBody?: string;
}

/** Builds the SQS batch event Lambda's event source mapping delivers for these messages. */
export function sqsEvent(
  messages: ReceivedMessage[],
  queueArn: string,
  region = "us-east-1",
): SQSEvent {
  const now = String(Date.now());
  return {
    Records: messages.map((message): SQSRecord => {
      const messageId = message.messageId ?? randomUUID();
      return {
        messageId,
        receiptHandle: message.receiptHandle ?? messageId,
        body: message.body,
        attributes: {
          ApproximateReceiveCount: message.receiveCount ?? "1",
          SentTimestamp: message.sentTimestamp ?? now,
          SenderId: "local",
          ApproximateFirstReceiveTimestamp: now,
        },
        messageAttributes: {},
        md5OfBody: message.md5OfBody ?? "",
        eventSource: "aws:sqs",
        eventSourceARN: queueArn,
        awsRegion: region,
      };
    }),
  };
}
