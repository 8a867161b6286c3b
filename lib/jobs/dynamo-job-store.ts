import { ConditionalCheckFailedException } from "@aws-sdk/client-dynamodb";
import {
  DeleteCommand,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandOutput,
  UpdateCommand,
} from "@aws-sdk/lib-dynamodb";
import { conditionally, dynamo } from "../aws/dynamodb.ts";
import { config } from "../config.ts";
import { conditionExpression } from "./job-conditions.ts";
import type { ExportRange, JobKind, JobRecord } from "./job-record.ts";
import type { JobCondition, JobStore, NightlyGuard } from "./job-store-types.ts";
import { countOpenJobs } from "./open-jobs.ts";
import {
  EXPIRY_ATTRIBUTE,
  fromJobItem,
  type ItemKey,
  jobKey,
  jobListKey,
  LIST_INDEX,
  nightlyGuardKey,
  rangeKey,
  toJobItem,
} from "./table-keys.ts";

/** Job records and nightly guards in one DynamoDB table (layout: `table-keys.ts`). */
export class DynamoJobStore implements JobStore {
  constructor(private readonly table = config().jobsTable) {}

  create(job: JobRecord): Promise<boolean> {
    return conditionally(() =>
      dynamo().send(
        new PutCommand({
          TableName: this.table,
          Item: toJobItem(job),
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
  }

  async get(appId: string, jobId: string): Promise<JobRecord | undefined> {
    const { Item } = await dynamo().send(
      new GetCommand({ TableName: this.table, Key: jobKey(appId, jobId), ConsistentRead: true }),
    );
    return fromJobItem(Item);
  }

  countOpen(appId: string, kind: JobKind, since: string): Promise<number> {
    return countOpenJobs(this.table, appId, kind, since);
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
          ExpressionAttributeValues: { ":key": jobListKey(appId, kind) },
          ScanIndexForward: false,
          ExclusiveStartKey: startKey,
          Limit: Math.min(skip + pageSize - seen, 200),
        }),
      );
      for (const item of output.Items ?? []) {
        if (seen >= skip) found.push(fromJobItem(item) as JobRecord);
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
    remove: readonly (keyof JobRecord)[] = [],
  ): Promise<JobRecord | undefined> {
    const item = await this.updateItem(jobKey(appId, jobId), changes, condition, remove);
    return fromJobItem(item);
  }

  /** A conditional update of any item; the item after it, or undefined when the condition failed. */
  private async updateItem(
    key: ItemKey,
    changes: Record<string, unknown>,
    condition: JobCondition,
    remove: readonly string[],
  ): Promise<Record<string, unknown> | undefined> {
    const names: Record<string, string> = {};
    const values: Record<string, unknown> = {};
    const sets: string[] = [];
    for (const [name, value] of Object.entries({
      ...changes,
      updatedAt: new Date().toISOString(),
    })) {
      if (value === undefined) continue;
      names[`#${name}`] = name;
      values[`:${name}`] = value;
      sets.push(`#${name} = :${name}`);
    }
    const removes = remove.map((name) => {
      names[`#${name}`] = name;
      return `#${name}`;
    });
    const expression = [
      sets.length ? `SET ${sets.join(", ")}` : "",
      removes.length ? `REMOVE ${removes.join(", ")}` : "",
    ]
      .filter(Boolean)
      .join(" ");
    const ConditionExpression = conditionExpression(condition, names, values);
    try {
      const { Attributes } = await dynamo().send(
        new UpdateCommand({
          TableName: this.table,
          Key: key,
          UpdateExpression: expression,
          ConditionExpression,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: Object.keys(values).length ? values : undefined,
          ReturnValues: "ALL_NEW",
        }),
      );
      return Attributes;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }

  createRange(range: ExportRange): Promise<boolean> {
    return conditionally(() =>
      dynamo().send(
        new PutCommand({
          TableName: this.table,
          Item: { ...range, ...rangeKey(range.appId, range.jobId, range.range) },
          ConditionExpression: "attribute_not_exists(pk)",
        }),
      ),
    );
  }

  async getRange(appId: string, jobId: string, range: number): Promise<ExportRange | undefined> {
    const { Item } = await dynamo().send(
      new GetCommand({
        TableName: this.table,
        Key: rangeKey(appId, jobId, range),
        ConsistentRead: true,
      }),
    );
    return fromRangeItem(Item);
  }

  async updateRange(
    appId: string,
    jobId: string,
    range: number,
    changes: Partial<ExportRange>,
    condition: JobCondition = {},
    remove: readonly (keyof ExportRange)[] = [],
  ): Promise<ExportRange | undefined> {
    const key = rangeKey(appId, jobId, range);
    return fromRangeItem(await this.updateItem(key, changes, condition, remove));
  }

  async deleteRange(appId: string, jobId: string, range: number): Promise<ExportRange | undefined> {
    const { Attributes } = await dynamo().send(
      new DeleteCommand({
        TableName: this.table,
        Key: rangeKey(appId, jobId, range),
        ReturnValues: "ALL_OLD",
      }),
    );
    return fromRangeItem(Attributes);
  }

  async delete(appId: string, jobId: string): Promise<JobRecord | undefined> {
    const { Attributes } = await dynamo().send(
      new DeleteCommand({
        TableName: this.table,
        Key: jobKey(appId, jobId),
        ReturnValues: "ALL_OLD",
      }),
    );
    return fromJobItem(Attributes);
  }

  claimNightly(guard: NightlyGuard, staleBefore: number): Promise<boolean> {
    const now = Date.now();
    return conditionally(() =>
      dynamo().send(
        new PutCommand({
          TableName: this.table,
          Item: {
            ...nightlyGuardKey(guard.appId, guard.day, guard.resource),
            state: "claimed",
            jobId: guard.jobId,
            claimedAt: now,
            [EXPIRY_ATTRIBUTE]: Math.floor(now / 1000) + config().retentionDays * 86400,
          },
          ConditionExpression:
            "attribute_not_exists(pk) OR (#state = :claimed AND claimedAt < :stale)",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":claimed": "claimed", ":stale": staleBefore },
        }),
      ),
    );
  }

  async markNightlyCreated(guard: NightlyGuard): Promise<void> {
    await dynamo().send(
      new UpdateCommand({
        TableName: this.table,
        Key: nightlyGuardKey(guard.appId, guard.day, guard.resource),
        UpdateExpression: "SET #state = :created",
        ConditionExpression: "jobId = :jobId",
        ExpressionAttributeNames: { "#state": "state" },
        ExpressionAttributeValues: { ":created": "created", ":jobId": guard.jobId },
      }),
    );
  }

  async releaseNightly(guard: NightlyGuard): Promise<void> {
    // Another run's claim stays where it is.
    await conditionally(() =>
      dynamo().send(
        new DeleteCommand({
          TableName: this.table,
          Key: nightlyGuardKey(guard.appId, guard.day, guard.resource),
          ConditionExpression: "jobId = :jobId",
          ExpressionAttributeValues: { ":jobId": guard.jobId },
        }),
      ),
    );
  }
}

function fromRangeItem(item: Record<string, unknown> | undefined): ExportRange | undefined {
  if (!item) return undefined;
  const { pk: _pk, sk: _sk, ...range } = item;
  return range as unknown as ExportRange;
}
