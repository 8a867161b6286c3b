import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { dynamo } from "../aws/dynamodb.ts";
import { config } from "../config.ts";
import type { JobKind, JobRecord } from "./job-record.ts";
import type { JobCondition, JobStore } from "./job-store.ts";

/** Name of the index listing an application's jobs of one kind by creation time. */
export const LIST_INDEX = "by-created";

type Item = JobRecord & { pk: string; sk: string; listKey: string; listSort: string };

function toItem(job: JobRecord): Item {
  return {
    ...job,
    pk: job.appId,
    sk: job.jobId,
    listKey: `${job.appId}#${job.kind}`,
    listSort: `${job.createdAt}#${job.jobId}`,
  };
}

function fromItem(item: Record<string, unknown> | undefined): JobRecord | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, listKey: _lk, listSort: _ls, ...job } = item as unknown as Item;
  return job;
}

/** Job records in one DynamoDB table: key (app id, job id), so no app can reach another's job. */
export class DynamoJobStore implements JobStore {
  constructor(private readonly table = config().jobsTable) {}

  async create(job: JobRecord): Promise<boolean> {
    try {
      await dynamo().send(
        new PutCommand({
          TableName: this.table,
          Item: toItem(job),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async get(appId: string, jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await dynamo().send(
      new GetCommand({
        TableName: this.table,
        Key: { pk: appId, sk: jobId },
        ConsistentRead: true,
      }),
    );
    return fromItem(Item);
  }

  async list(appId: string, kind: JobKind, page: number, pageSize: number): Promise<JobRecord[]> {
    const skip = (page - 1) * pageSize;
    const found: JobRecord[] = [];
    let seen = 0;
    let startKey: Record<string, unknown> | undefined;
    do {
      const output: QueryCommandOutput = await dynamo().send(
        new QueryCommand({
          TableName: this.table,
          IndexName: LIST_INDEX,
          KeyConditionExpression: "listKey = :key",
          ExpressionAttributeValues: { ":key": `${appId}#${kind}` },
          ScanIndexForward: false,
          ExclusiveStartKey: startKey,
          Limit: Math.min(skip + pageSize - seen, 200),
        }),
      );
      for (const item of output.Items ?? []) {
        if (seen >= skip) found.push(fromItem(item) as JobRecord);
        seen += 1;
      }
      startKey = output.LastEvaluatedKey;
    } while (startKey && found.length < pageSize);
    return found.slice(0, pageSize);
  }

  async update(
    appId: string,
    jobId: string,
    changes: Partial<JobRecord>,
    condition: JobCondition = {},
    remove: (keyof JobRecord)[] = [],
  ): Promise<JobRecord | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [key, value] of Object.entries({
      ...changes,
      updatedAt: new Date().toISOString(),
    })) {
      if (value === undefined) continue;
      names[`#${key}`] = key;
      values[`:${key}`] = value;
      sets.push(`#${key} = :${key}`);
    }
    const removes = remove.map((key) => {
      names[`#${key}`] = key;
      return `#${key}`;
    });
    const conditions = ["attribute_exists(pk)"];
    if (condition.statusIn) {
      names["#status"] = "status";
      const keys = condition.statusIn.map((status, i) => {
        values[`:cs${i}`] = status;
        return `:cs${i}`;
      });
      conditions.push(`#status IN (${keys.join(", ")})`);
    }
    if (condition.leaseOwner !== undefined) {
      names["#leaseOwner"] = "leaseOwner";
      values[":cLeaseOwner"] = condition.leaseOwner;
      conditions.push("#leaseOwner = :cLeaseOwner");
    }
    if (condition.leaseFreeAt !== undefined) {
      names["#leaseUntil"] = "leaseUntil";
      values[":cLeaseFree"] = condition.leaseFreeAt;
      conditions.push("(attribute_not_exists(#leaseUntil) OR #leaseUntil < :cLeaseFree)");
    }
    if (condition.seqAtMost !== undefined) {
      names["#seq"] = "seq";
      values[":cSeq"] = condition.seqAtMost;
      conditions.push("#seq <= :cSeq");
    }
    const expression = [
      sets.length ? `SET ${sets.join(", ")}` : "",
      removes.length ? `REMOVE ${removes.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    try {
      const { Attributes } = await dynamo().send(
        new UpdateCommand({
          TableName: this.table,
          Key: { pk: appId, sk: jobId },
          UpdateExpression: expression,
          ConditionExpression: conditions.join(" AND "),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
          ReturnValues: "ALL_NEW",
        }),
      );
      return fromItem(Attributes);
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  async delete(appId: string, jobId: string): Promise<JobRecord | undefined> {
    const { Attributes } = await dynamo().send(
      new DeleteCommand({
        TableName: this.table,
        Key: { pk: appId, sk: jobId },
        ReturnValues: "ALL_OLD",
      }),
    );
    return fromItem(Attributes);
  }
}

let store: JobStore | undefined;

/** The job store of this container. */
export function jobStore(): JobStore {
  store ??= new DynamoJobStore();
  return store;
}
