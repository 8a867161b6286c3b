import { GetCommand, PutCommand, UpdateCommand } from "@aws-sdk/lib-dynamodb";
import { conditionally, dynamo } from "../aws/dynamodb.ts";
import { config } from "../config.ts";
import type { Resource } from "../jobs/job-record.ts";
import { uploadKey } from "../jobs/table-keys.ts";

/** A file a client was allowed to upload for one import, kept in the jobs table until it expires. */
export interface UploadRecord {
  appId: string;
  uploadId: string;
  resource: Resource;
  /** The name the client gave; it becomes the import's `original_filename`. */
  filename: string;
  /** Where the presigned PUT puts the file: `uploads/<app>/<upload id>`. */
  objectKey: string;
  createdAt: string;
  /** After this instant (ISO 8601) the upload can no longer start an import. */
  startableUntil: string;
  /** The size the client announced (bytes); the upload URL signs it as the Content-Length. */
  size?: number;
  /** The import this upload started; set once, never changed. */
  jobId?: string;
  /** Epoch seconds after which DynamoDB removes the record (TTL). */
  expiresAt: number;
}

/** Persistence of upload records; the handlers depend on this, not on DynamoDB. */
export interface UploadStore {
  create(upload: UploadRecord): Promise<void>;
  get(appId: string, uploadId: string): Promise<UploadRecord | undefined>;
  /** Ties the upload to its one import; false when another import already has it. */
  claim(appId: string, uploadId: string, jobId: string): Promise<boolean>;
  /** Undoes a claim of this job (its import could not be created), so that the upload can start again. */
  release(appId: string, uploadId: string, jobId: string): Promise<void>;
}

class DynamoUploadStore implements UploadStore {
  async create(upload: UploadRecord): Promise<void> {
    await dynamo().send(
      new PutCommand({
        TableName: config().jobsTable,
        Item: { ...upload, ...uploadKey(upload.appId, upload.uploadId), itemType: "upload" },
        ConditionExpression: "attribute_not_exists(pk)",
      }),
    );
  }

  async get(appId: string, uploadId: string): Promise<UploadRecord | undefined> {
    const { Item } = await dynamo().send(
      new GetCommand({ TableName: config().jobsTable, Key: uploadKey(appId, uploadId) }),
    );
    if (Item?.itemType !== "upload") return undefined;
    const { pk: _pk, sk: _sk, itemType: _type, ...upload } = Item;
    return upload as UploadRecord;
  }

  async claim(appId: string, uploadId: string, jobId: string): Promise<boolean> {
    return conditionally(() =>
      dynamo().send(
        new UpdateCommand({
          TableName: config().jobsTable,
          Key: uploadKey(appId, uploadId),
          UpdateExpression: "SET jobId = :job",
          ConditionExpression: "attribute_exists(pk) AND attribute_not_exists(jobId)",
          ExpressionAttributeValues: { ":job": jobId },
        }),
      ),
    );
  }

  async release(appId: string, uploadId: string, jobId: string): Promise<void> {
    // Another import's claim stays where it is.
    await conditionally(() =>
      dynamo().send(
        new UpdateCommand({
          TableName: config().jobsTable,
          Key: uploadKey(appId, uploadId),
          UpdateExpression: "REMOVE jobId",
          ConditionExpression: "jobId = :job",
          ExpressionAttributeValues: { ":job": jobId },
        }),
      ),
    );
  }
}

let store: UploadStore | undefined;

/** The upload store of this container. */
export function uploadStore(): UploadStore {
  store ??= new DynamoUploadStore();
  return store;
}
