import { SendMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { ScanCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../../lib/aws/dynamodb.ts";
import type { JobMessage } from "../../lib/jobs/job-queue.ts";
import type { JobKind } from "../../lib/jobs/job-record.ts";

/** The queue resource of `serverless.yml` each kind's messages go to (a restore runs as imports). */
const QUEUE_OF: Record<JobKind, string> = {
  export: "ExportQueue",
  import: "ImportQueue",
  backup: "BackupQueue",
  restore: "ImportQueue",
};

const OPEN_STATUSES = new Set(["started", "processing"]);

/**
 * After `npm start` restarts on kept state, gives every open job (and export key range) its
 * message again. On AWS, SQS keeps a message whose Lambda died and delivers it again once its
 * visibility ends; the local queues live in memory and start empty, so without this a job that
 * was running when the stack stopped would stay `processing`. Every invocation of the stack
 * before is gone, so their leases are released first: the job goes on at once from its last
 * checkpoint, as it would after a crash on AWS once the lease ran out.
 * @returns how many messages were queued
 */
export async function resumeOpenJobs(
  tableName: string,
  sqs: SQSClient,
  queues: Record<string, string>,
): Promise<number> {
  let queued = 0;
  let start: Record<string, unknown> | undefined;
  do {
    const page = await dynamo().send(
      new ScanCommand({
        TableName: tableName,
        ExclusiveStartKey: start,
        FilterExpression: "#status IN (:started, :processing)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: { ":started": "started", ":processing": "processing" },
      }),
    );
    for (const item of page.Items ?? []) {
      const message = messageOf(item);
      if (!message) continue;
      const queueUrl = queues[QUEUE_OF[message.kind]];
      if (!queueUrl) continue;
      await dynamo().send(
        new UpdateCommand({
          TableName: tableName,
          Key: { pk: item.pk, sk: item.sk },
          UpdateExpression: "REMOVE leaseOwner, leaseUntil",
          ConditionExpression: "#status = :status AND seq = :seq",
          ExpressionAttributeNames: { "#status": "status" },
          ExpressionAttributeValues: { ":status": item.status, ":seq": item.seq },
        }),
      );
      await sqs.send(
        new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(message) }),
      );
      queued += 1;
    }
    start = page.LastEvaluatedKey;
  } while (start);
  return queued;
}

/** The message that carries an open job record or export key range on; undefined for other items. */
function messageOf(item: Record<string, unknown>): JobMessage | undefined {
  if (!OPEN_STATUSES.has(String(item.status)) || typeof item.seq !== "number") return undefined;
  const appId = String(item.appId ?? item.pk);
  const jobId = String(item.jobId);
  if (typeof item.range === "number") {
    return { kind: "export", appId, jobId, seq: item.seq, range: item.range };
  }
  const kind = item.kind as JobKind;
  if (!(kind in QUEUE_OF) || typeof item.listKey !== "string") return undefined;
  return { kind, appId, jobId, seq: item.seq };
}
