import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { CreateBucketCommand, HeadBucketCommand, S3Client } from "@aws-sdk/client-s3";
import {
  CreateSecretCommand,
  PutSecretValueCommand,
  ResourceExistsException,
  SecretsManagerClient,
} from "@aws-sdk/client-secrets-manager";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { LOCAL_CREDENTIALS } from "./local-credentials.ts";
import { type Intrinsic, isIntrinsic, type ServiceDefinition } from "./serverless-definition.ts";

export interface Endpoints {
  region: string;
  dynamodb: string;
  sqs: string;
  s3: string;
  secretsManager: string;
}

/** Physical ids of the resources created locally, by logical id (what `!Ref` / `!GetAtt` give). */
export interface Provisioned {
  refs: Record<string, string>;
  arns: Record<string, string>;
  /** Queue URL by logical id. */
  queues: Record<string, string>;
}

export { LOCAL_CREDENTIALS };

function resolveIntrinsic(value: unknown, done: Provisioned): unknown {
  if (!isIntrinsic(value)) return value;
  const { fn, value: arg } = value as Intrinsic;
  if (fn === "Ref") return done.refs[String(arg)];
  if (fn === "GetAtt") {
    const [id, attribute] = (Array.isArray(arg) ? arg : String(arg).split(".")) as string[];
    if (attribute === "Arn") return done.arns[id as string];
  }
  throw new Error(`local stack cannot resolve !${fn} ${JSON.stringify(arg)}`);
}

/**
 * Creates the table, queues and bucket that `serverless.yml` declares, on the local emulators,
 * from the same resource properties CloudFormation receives. Existing ones are kept.
 */
export async function provision(
  definition: ServiceDefinition,
  endpoints: Endpoints,
  options: { visibilityTimeoutSeconds?: number } = {},
): Promise<Provisioned> {
  const common = { region: endpoints.region, credentials: LOCAL_CREDENTIALS };
  const dynamo = new DynamoDBClient({ ...common, endpoint: endpoints.dynamodb });
  const sqs = new SQSClient({ ...common, endpoint: endpoints.sqs, useQueueUrlAsEndpoint: false });
  const s3 = new S3Client({ ...common, endpoint: endpoints.s3, forcePathStyle: true });
  const done: Provisioned = { refs: {}, arns: {}, queues: {} };
  const entries = Object.entries(definition.resources);
  try {
    for (const [id, resource] of entries.filter(([, r]) => r.Type === "AWS::DynamoDB::Table")) {
      const {
        TimeToLiveSpecification: _ttl,
        PointInTimeRecoverySpecification: _pitr,
        SSESpecification: _sse,
        ...props
      } = resource.Properties as Record<string, unknown>;
      const name = String(props.TableName);
      try {
        await dynamo.send(new DescribeTableCommand({ TableName: name }));
      } catch {
        await dynamo.send(new CreateTableCommand(props as never));
      }
      done.refs[id] = name;
      done.arns[id] = `arn:aws:dynamodb:${endpoints.region}:000000000000:table/${name}`;
    }
    // Queues without a redrive policy (dead-letter queues) first, so that their ARNs exist.
    const queues = entries
      .filter(([, r]) => r.Type === "AWS::SQS::Queue")
      .sort(
        ([, a], [, b]) =>
          Number(Boolean(a.Properties.RedrivePolicy)) - Number(Boolean(b.Properties.RedrivePolicy)),
      );
    for (const [id, resource] of queues) {
      const props = resource.Properties as Record<string, any>;
      const attributes: Record<string, string> = {};
      if (props.VisibilityTimeout !== undefined) {
        const visibility = Number(props.VisibilityTimeout);
        attributes.VisibilityTimeout = String(
          Math.min(visibility, options.visibilityTimeoutSeconds ?? visibility),
        );
      }
      if (props.MessageRetentionPeriod !== undefined)
        attributes.MessageRetentionPeriod = String(props.MessageRetentionPeriod);
      if (props.RedrivePolicy) {
        attributes.RedrivePolicy = JSON.stringify({
          deadLetterTargetArn: resolveIntrinsic(props.RedrivePolicy.deadLetterTargetArn, done),
          maxReceiveCount: Number(props.RedrivePolicy.maxReceiveCount),
        });
      }
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: String(props.QueueName), Attributes: attributes }),
      );
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ["QueueArn"] }),
      );
      done.refs[id] = QueueUrl as string;
      done.queues[id] = QueueUrl as string;
      done.arns[id] = Attributes?.QueueArn as string;
    }
    for (const [id, resource] of entries.filter(([, r]) => r.Type === "AWS::S3::Bucket")) {
      const name = String(resource.Properties.BucketName);
      try {
        await s3.send(new HeadBucketCommand({ Bucket: name }));
      } catch {
        await s3.send(new CreateBucketCommand({ Bucket: name }));
      }
      done.refs[id] = name;
      done.arns[id] = `arn:aws:s3:::${name}`;
    }
  } finally {
    dynamo.destroy();
    sqs.destroy();
    s3.destroy();
  }
  return done;
}

/**
 * Puts the chat database's login into the local Secrets Manager as the secret `name`, in the
 * format RDS gives its secrets, as an operator does on AWS (docs/deploy.md); an existing
 * secret gets it as its new current version.
 * @returns the secret's ARN (DATABASE_SECRET_ARN)
 */
export async function provisionDatabaseSecret(
  endpoints: Endpoints,
  name: string,
  login: { host: string; port: number; dbname: string; username: string; password: string },
): Promise<string> {
  const client = new SecretsManagerClient({
    region: endpoints.region,
    endpoint: endpoints.secretsManager,
    credentials: LOCAL_CREDENTIALS,
  });
  const SecretString = JSON.stringify({ engine: "postgres", ...login });
  try {
    const created = await client.send(new CreateSecretCommand({ Name: name, SecretString }));
    return created.ARN as string;
  } catch (error) {
    if (!(error instanceof ResourceExistsException)) throw error;
    const put = await client.send(new PutSecretValueCommand({ SecretId: name, SecretString }));
    return put.ARN as string;
  } finally {
    client.destroy();
  }
}

/**
 * The environment every function sees locally: the provider's, then each function's, with
 * `!Ref` / `!GetAtt` replaced by the local physical ids. Locally all functions share one process.
 */
export function functionEnvironment(
  definition: ServiceDefinition,
  done: Provisioned,
): Record<string, string> {
  const env: Record<string, string> = {};
  const add = (vars: Record<string, unknown>) => {
    for (const [key, value] of Object.entries(vars)) {
      const resolved = resolveIntrinsic(value, done);
      if (resolved !== undefined && resolved !== "") env[key] = String(resolved);
    }
  };
  add(definition.environment);
  for (const fn of definition.functions) {
    // One container's pool size: the one local process pools for every function at once and
    // keeps its own default (PG_POOL_MAX).
    const { PG_POOL_MAX: _poolOfOneContainer, ...rest } = fn.environment;
    add(rest);
  }
  return env;
}
