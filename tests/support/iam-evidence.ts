import type { CallResource, RecordedCall } from "../../lib/aws/call-recorder.ts";
import type { ServiceDefinition } from "../../scripts/local/serverless-definition.ts";
import type { TemplateReader } from "./iam-template.ts";

/**
 * Turns recorded AWS SDK commands into what IAM checks for them: an action on a resource ARN of
 * the packaged template. A command this file does not know fails the check, so that a new call
 * is mapped (and granted) on purpose.
 */

/** One permission a function's code was seen to need. */
export interface Need {
  function: string;
  action: string;
  /** The ARN IAM evaluates, as in the packaged template. */
  resource: string;
  /** The resource in short, for the table: `JobsTable/index/by-created`, `FilesBucket/exports/*`. */
  shape: string;
  /** What needed it: `S3 UploadPart`, `S3 GetObject (presigned URL)`, `SQS event source`. */
  via: string;
}

const DYNAMODB: Record<string, string> = {
  GetItem: "GetItem",
  PutItem: "PutItem",
  UpdateItem: "UpdateItem",
  DeleteItem: "DeleteItem",
  Query: "Query",
  Scan: "Scan",
  BatchGetItem: "BatchGetItem",
  BatchWriteItem: "BatchWriteItem",
  DescribeTable: "DescribeTable",
};
/** A transaction checks each item's own action. */
const TRANSACT_ITEM: Record<string, string> = {
  Put: "PutItem",
  Update: "UpdateItem",
  Delete: "DeleteItem",
  ConditionCheck: "ConditionCheckItem",
  Get: "GetItem",
};
const S3_OBJECT: Record<string, string> = {
  PutObject: "PutObject",
  CreateMultipartUpload: "PutObject",
  UploadPart: "PutObject",
  CompleteMultipartUpload: "PutObject",
  GetObject: "GetObject",
  HeadObject: "GetObject",
  DeleteObject: "DeleteObject",
  DeleteObjects: "DeleteObject",
  AbortMultipartUpload: "AbortMultipartUpload",
  ListParts: "ListMultipartUploadParts",
  PutObjectTagging: "PutObjectTagging",
  GetObjectTagging: "GetObjectTagging",
};
const S3_BUCKET: Record<string, string> = {
  ListObjectsV2: "ListBucket",
  ListObjects: "ListBucket",
  HeadBucket: "ListBucket",
  ListMultipartUploads: "ListBucketMultipartUploads",
};
const SQS: Record<string, string> = {
  SendMessage: "SendMessage",
  SendMessageBatch: "SendMessage",
  ReceiveMessage: "ReceiveMessage",
  DeleteMessage: "DeleteMessage",
  DeleteMessageBatch: "DeleteMessage",
  ChangeMessageVisibility: "ChangeMessageVisibility",
  ChangeMessageVisibilityBatch: "ChangeMessageVisibility",
  GetQueueAttributes: "GetQueueAttributes",
  GetQueueUrl: "GetQueueUrl",
};
const SERVICE_LABEL: Record<string, string> = {
  dynamodb: "DynamoDB",
  s3: "S3",
  sqs: "SQS",
  secretsmanager: "Secrets Manager",
};

/** Local resource names (as the local stack provisions them) by logical id. */
export function localNames(definition: ServiceDefinition): Map<string, string> {
  const names = new Map<string, string>();
  const nameKey: Record<string, string> = {
    "AWS::DynamoDB::Table": "TableName",
    "AWS::SQS::Queue": "QueueName",
    "AWS::S3::Bucket": "BucketName",
  };
  for (const [id, resource] of Object.entries(definition.resources)) {
    const key = nameKey[resource.Type];
    if (key) names.set(String(resource.Properties[key]), id);
  }
  return names;
}

export class EvidenceMapper {
  /**
   * @param secrets the local stack's secret ARN -> the ARN the template was packaged with
   *   (DATABASE_SECRET_ARN): the secret is a deploy-time parameter, not a resource of the stack
   */
  constructor(
    private readonly reader: TemplateReader,
    private readonly names: Map<string, string>,
    private readonly secrets = new Map<string, string>(),
  ) {}

  private logical(name: string | undefined, what: string): string {
    const id = name === undefined ? undefined : this.names.get(name);
    if (!id) throw new Error(`${what} ${name} is none of serverless.yml's resources`);
    return id;
  }

  /**
   * The permissions one recorded call needs. A call that failed on a resource serverless.yml
   * does not declare (a test pointing a function at a missing queue) needs none.
   */
  needs(call: RecordedCall): Need[] {
    try {
      return this.needsOf(call);
    } catch (error) {
      if (call.error && /is none of serverless.yml's resources/.test((error as Error).message)) {
        return [];
      }
      throw error;
    }
  }

  private needsOf(call: RecordedCall): Need[] {
    const label = `${SERVICE_LABEL[call.service] ?? call.service} ${call.command}`;
    const via = call.presigned ? `${label} (presigned URL)` : label;
    const need = (action: string, resource: string, shape: string): Need => ({
      function: call.function,
      action,
      resource,
      shape,
      via,
    });
    return call.resources.flatMap((target) => {
      if (call.service === "dynamodb") return [this.dynamodb(call, target, need)];
      if (call.service === "s3") return this.s3(call, target, need);
      if (call.service === "sqs") {
        const action = SQS[call.command];
        if (!action) throw new Error(`no IAM action known for SQS ${call.command}`);
        const queue = this.logical(target.queueUrl?.split("/").pop(), "queue");
        return [need(`sqs:${action}`, this.reader.arnOf(queue), queue)];
      }
      if (call.service === "secretsmanager" && call.command === "GetSecretValue") {
        const arn = target.id === undefined ? undefined : this.secrets.get(target.id);
        if (!arn) throw new Error(`secret ${target.id} is none of serverless.yml's resources`);
        return [need("secretsmanager:GetSecretValue", arn, "DATABASE_SECRET_ARN")];
      }
      throw new Error(`no IAM action known for ${call.service} ${call.command}`);
    });
  }

  private dynamodb(
    call: RecordedCall,
    target: CallResource,
    need: (action: string, resource: string, shape: string) => Need,
  ): Need {
    const action = target.operation
      ? call.command.startsWith("Transact")
        ? TRANSACT_ITEM[target.operation]
        : DYNAMODB[call.command]
      : DYNAMODB[call.command];
    if (!action) throw new Error(`no IAM action known for DynamoDB ${call.command}`);
    const table = this.logical(target.table, "table");
    const arn = this.reader.arnOf(table);
    return target.index
      ? need(`dynamodb:${action}`, `${arn}/index/${target.index}`, `${table}/index/${target.index}`)
      : need(`dynamodb:${action}`, arn, table);
  }

  private s3(
    call: RecordedCall,
    target: CallResource,
    need: (action: string, resource: string, shape: string) => Need,
  ): Need[] {
    const bucket = this.logical(target.bucket, "bucket");
    const arn = this.reader.arnOf(bucket);
    if (target.key === undefined) {
      const action = S3_BUCKET[call.command];
      if (!action) throw new Error(`no IAM action known for S3 ${call.command} on a bucket`);
      return [need(`s3:${action}`, arn, bucket)];
    }
    const action = S3_OBJECT[call.command];
    if (!action) throw new Error(`no IAM action known for S3 ${call.command}`);
    const folder = target.key.includes("/") ? `${target.key.split("/")[0]}/*` : target.key;
    const needs = [need(`s3:${action}`, `${arn}/${target.key}`, `${bucket}/${folder}`)];
    // Tags given with the upload are checked as s3:PutObjectTagging too.
    if (target.tagged) {
      needs.push(need("s3:PutObjectTagging", `${arn}/${target.key}`, `${bucket}/${folder}`));
    }
    // S3 answers 404 for a missing object only to a role that may list the bucket; else 403.
    if (call.notFound && (call.command === "HeadObject" || call.command === "GetObject")) {
      needs.push(need("s3:ListBucket", arn, bucket));
    }
    return needs;
  }

  /** Lambda's SQS event source polls and deletes with the function's role. */
  eventSourceNeeds(): Need[] {
    const template = this.reader.template;
    return Object.values(template.Resources)
      .filter((resource) => resource.Type === "AWS::Lambda::EventSourceMapping")
      .flatMap((mapping) => {
        const fnId = String(mapping.Properties.FunctionName?.["Fn::GetAtt"]?.[0]);
        const name = fnId.replace(/LambdaFunction$/, "").replace(/^./, (c) => c.toLowerCase());
        const queue = mapping.Properties.EventSourceArn?.["Fn::GetAtt"]?.[0] as string;
        const arn = this.reader.evaluate(mapping.Properties.EventSourceArn) as string;
        return ["ReceiveMessage", "DeleteMessage", "GetQueueAttributes"].map((action) => ({
          function: name,
          action: `sqs:${action}`,
          resource: arn,
          shape: queue,
          via: "SQS event source",
        }));
      });
  }
}
