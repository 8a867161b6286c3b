import { UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws/dynamodb.ts";
import { config } from "../config.ts";
import { EXPIRY_ATTRIBUTE, limitCounterKey } from "../jobs/table-keys.ts";

export interface WindowCount {
  /** Hits in the current window, this one included. */
  count: number;
  /** Seconds until the window ends (at least 1): what a refused client is told to wait. */
  retryAfterSeconds: number;
}

/**
 * Counts one hit on `name` in the current fixed window of `windowSeconds`, in the jobs table, so
 * that every container of every function shares the count. One conditional-free UpdateItem
 * (`ADD`), atomic in DynamoDB; the item expires (TTL) a minute after its window.
 */
export async function countHit(name: string, windowSeconds: number): Promise<WindowCount> {
  const nowSeconds = Date.now() / 1000;
  const window = Math.floor(nowSeconds / windowSeconds);
  const windowEnd = (window + 1) * windowSeconds;
  const output = await dynamo().send(
    new UpdateCommand({
      TableName: config().jobsTable,
      Key: limitCounterKey(name, window),
      UpdateExpression: "ADD hits :one SET #expires = if_not_exists(#expires, :expires)",
      ExpressionAttributeNames: { "#expires": EXPIRY_ATTRIBUTE },
      ExpressionAttributeValues: { ":one": 1, ":expires": Math.ceil(windowEnd) + 60 },
      ReturnValues: "UPDATED_NEW",
    }),
  );
  return {
    count: Number(output.Attributes?.hits ?? 1),
    retryAfterSeconds: Math.max(1, Math.ceil(windowEnd - nowSeconds)),
  };
}
