import { QueryCommand, type QueryCommandOutput } from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws/dynamodb.ts";
import type { JobKind } from "./job-record.ts";
import { jobListKey, LIST_INDEX } from "./table-keys.ts";

/**
 * How many of an application's jobs of one kind created at or after `since` are `started` or
 * `processing`: a count-only query of the list index from `since` on (no items are read back).
 */
export async function countOpenJobs(
  table: string,
  appId: string,
  kind: JobKind,
  since: string,
): Promise<number> {
  let count = 0;
  let startKey: Record<string, unknown> | undefined;
  do {
    const output: QueryCommandOutput = await dynamo().send(
      new QueryCommand({
        TableName: table,
        IndexName: LIST_INDEX,
        KeyConditionExpression: "listKey = :key AND listSort >= :since",
        FilterExpression: "#status IN (:started, :processing)",
        ExpressionAttributeNames: { "#status": "status" },
        ExpressionAttributeValues: {
          ":key": jobListKey(appId, kind),
          ":since": since,
          ":started": "started",
          ":processing": "processing",
        },
        Select: "COUNT",
        ExclusiveStartKey: startKey,
      }),
    );
    count += output.Count ?? 0;
    startKey = output.LastEvaluatedKey;
  } while (startKey);
  return count;
}
