import { ChangeMessageVisibilityCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Context } from "aws-lambda";
import { sqs } from "../aws/sqs.ts";
import { ConfigError, config } from "../config.ts";
import type { JobKind } from "./job-record.ts";

/** The remaining-time clock of the Lambda invocation handling a job message. */
export type InvocationClock = Pick<Context, "getRemainingTimeInMillis">;

/** The body of every job message. `seq` orders an export's continuation messages. */
export interface JobMessage {
  kind: JobKind;
  appId: string;
  jobId: string;
  seq: number;
  /** A key range of a parallel export (its own sequence); absent for the job itself. */
  range?: number;
}

/** The kinds of job a message can carry. */
const JOB_KINDS: readonly JobKind[] = ["export", "import", "backup", "restore"];

function queueUrl(kind: JobKind): string {
  const urls: Record<JobKind, string | undefined> = {
    export: config().exportQueueUrl,
    import: config().importQueueUrl,
    backup: config().backupQueueUrl,
    // A restore is three imports in a row: it runs on the import queue and its worker.
    restore: config().importQueueUrl,
  };
  const url = urls[kind];
  if (!url) throw new ConfigError(`the ${kind} queue URL is not configured for this function`);
  return url;
}

/** Where job messages go. Everything else depends on this, not on SQS. */
export interface JobQueue {
  send(message: JobMessage, delaySeconds?: number): Promise<void>;
  /** The received message comes again (if not deleted) in `seconds`; absent where messages have no visibility. */
  setVisibility?(kind: JobKind, receiptHandle: string, seconds: number): Promise<void>;
}

/** Job messages on the SQS queue of their kind. */
export const sqsJobQueue: JobQueue = {
  async send(message, delaySeconds = 0) {
    await sqs().send(
      new SendMessageCommand({
        QueueUrl: queueUrl(message.kind),
        MessageBody: JSON.stringify(message),
        DelaySeconds: delaySeconds,
      }),
    );
  },
  async setVisibility(kind, receiptHandle, seconds) {
    await sqs().send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: queueUrl(kind),
        ReceiptHandle: receiptHandle,
        VisibilityTimeout: Math.max(0, Math.min(Math.ceil(seconds), 43_200)),
      }),
    );
  },
};

let queue: JobQueue = sqsJobQueue;

/** Puts another queue in place of SQS (the unit tests' in-memory queue); undefined restores it. */
export function useJobQueue(replacement: JobQueue | undefined): void {
  queue = replacement ?? sqsJobQueue;
}

/** Puts a job message on its kind's queue. */
export function sendJobMessage(message: JobMessage, delaySeconds = 0): Promise<void> {
  return queue.send(message, delaySeconds);
}

/**
 * Sets when a received message of `kind`'s queue comes again; never throws (a failed change
 * leaves the queue's own visibility timeout, the slower way back).
 */
export async function setMessageVisibility(
  kind: JobKind,
  receiptHandle: string,
  seconds: number,
): Promise<boolean> {
  try {
    await queue.setVisibility?.(kind, receiptHandle, seconds);
    return true;
  } catch {
    return false;
  }
}

/** Reads a job message body; undefined when it is not one. */
export function parseJobMessage(body: string): JobMessage | undefined {
  try {
    const value = JSON.parse(body) as Partial<JobMessage>;
    if (
      JOB_KINDS.includes(value.kind as JobKind) &&
      typeof value.appId === "string" &&
      typeof value.jobId === "string" &&
      Number.isInteger(value.seq) &&
      (value.range === undefined || Number.isInteger(value.range))
    ) {
      return value as JobMessage;
    }
  } catch {
    // not JSON: falls through
  }
  return undefined;
}
