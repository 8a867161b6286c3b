import { AsyncLocalStorage } from "node:async_hooks";
import { appendFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { config } from "../config.ts";

/**
 * The evidence behind the IAM roles in `serverless.yml` (docs/operations.md#least-privilege):
 * with AWS_CALL_RECORD_DIR set (the test suite's local stack), every command an SDK client of
 * `lib/aws` sends is written down with the function whose invocation sent it, the resources it
 * names and how it ended. A test maps each record to its IAM action and checks it against that
 * function's own role in the packaged template. Unset (as on AWS), the clients are left alone.
 */

/** What a command names: a table (and index, or the operation of a transaction item), a queue, an object. */
export interface CallResource {
  table?: string;
  index?: string;
  /** The item's operation in a transaction or batch: Put, Update, Delete, ConditionCheck, Get. */
  operation?: string;
  queueUrl?: string;
  bucket?: string;
  key?: string;
  /** A bucket-level listing's prefix. */
  prefix?: string;
  /** The object is written with tags (S3 then also checks s3:PutObjectTagging). */
  tagged?: true;
  /** Any other service's resource identifier (a secret's id, ...). */
  id?: string;
}

export interface RecordedCall {
  /** The function's name in `serverless.yml`. */
  function: string;
  /** The client's service: dynamodb, s3, sqs, ... */
  service: string;
  /** The command without its `Command` suffix: PutItem, UploadPart, SendMessage, ... */
  command: string;
  resources: CallResource[];
  /** The command was signed into a URL, not sent: whoever uses the URL acts with this role. */
  presigned?: true;
  /** The object was not there (404): S3 answers so only to a role that may list the bucket. */
  notFound?: true;
  /** The error the call ended with, if any. */
  error?: string;
}

// One store per process even if a bundler or test runner loads this module twice.
const STORE_KEY = Symbol.for("chat-data-backup.invoked-function");
const slots = globalThis as Record<symbol, AsyncLocalStorage<string> | undefined>;
slots[STORE_KEY] ??= new AsyncLocalStorage<string>();
const invocations = slots[STORE_KEY];

/**
 * Runs `work` as an invocation of function `name`: the local Lambda runtime wraps every handler
 * call in it, so that commands sent meanwhile (and by whatever the invocation started) are
 * attributed to that function although all functions share one process.
 */
export function asFunction<T>(name: string, work: () => T): T {
  return invocations.run(name, work);
}

// biome-ignore lint/suspicious/noExplicitAny: a command's input is of any shape
type Input = Record<string, any>;

function dynamodbResources(command: string, input: Input): CallResource[] {
  if (command === "TransactWriteItems" || command === "TransactGetItems") {
    return (input.TransactItems ?? []).flatMap((item: Input) =>
      Object.entries(item).map(([operation, detail]) => ({
        table: (detail as Input).TableName,
        operation,
      })),
    );
  }
  if (command === "BatchWriteItem" || command === "BatchGetItem") {
    return Object.entries<Input>(input.RequestItems ?? {}).flatMap(([table, requests]) =>
      command === "BatchGetItem"
        ? [{ table, operation: "Get" }]
        : (requests as Input[]).map((request) => ({
            table,
            operation: request.PutRequest ? "Put" : "Delete",
          })),
    );
  }
  return [{ table: input.TableName, index: input.IndexName }];
}

function s3Resources(command: string, input: Input): CallResource[] {
  if (command === "DeleteObjects") {
    return (input.Delete?.Objects ?? []).map((object: Input) => ({
      bucket: input.Bucket,
      key: object.Key,
    }));
  }
  if (input.Key === undefined) return [{ bucket: input.Bucket, prefix: input.Prefix }];
  return [{ bucket: input.Bucket, key: input.Key, ...(input.Tagging ? { tagged: true } : {}) }];
}

/** The resources a command names, as the IAM check resolves them. */
export function resourcesOf(service: string, command: string, input: Input): CallResource[] {
  if (service === "dynamodb") return dynamodbResources(command, input);
  if (service === "s3") return s3Resources(command, input);
  if (service === "sqs") return [{ queueUrl: input.QueueUrl }];
  const id = input.SecretId ?? input.Name ?? input.Arn ?? input.ResourceArn;
  return [{ id: id === undefined ? undefined : String(id) }];
}

const written = new Set<string>();

function write(dir: string, record: RecordedCall): void {
  const line = JSON.stringify(record);
  if (written.has(line)) return;
  written.add(line);
  mkdirSync(dir, { recursive: true });
  // One file per process, one line per distinct call: appends from many processes never mix.
  appendFileSync(join(dir, `${process.pid}.ndjson`), `${line}\n`);
}

interface Stack {
  add(
    middleware: (
      next: (args: { input: Input }) => Promise<{ output?: Input }>,
      context: { clientName?: string; commandName?: string },
    ) => (args: { input: Input }) => Promise<{ output?: Input }>,
    options: { step: "initialize"; name: string; priority: "high" },
  ): void;
}

/** Adds the recorder to a client when AWS_CALL_RECORD_DIR is set; returns the client. */
export function recordCalls<C extends { middlewareStack: unknown }>(client: C): C {
  const dir = config().awsCallRecordDir;
  if (!dir) return client;
  (client.middlewareStack as Stack).add(
    (next, context) => async (args) => {
      const fn = invocations.getStore();
      if (!fn) return next(args);
      const service = (context.clientName ?? "").replace(/Client$/, "").toLowerCase();
      const command = (context.commandName ?? "").replace(/Command$/, "");
      const record: RecordedCall = {
        function: fn,
        service,
        command,
        resources: resourcesOf(service, command, args.input),
      };
      try {
        const result = await next(args);
        if (result.output?.presigned) record.presigned = true;
        write(dir, record);
        return result;
      } catch (error) {
        const { name, $metadata } = error as { name?: string; $metadata?: Input };
        if ($metadata?.httpStatusCode === 404 && service === "s3") record.notFound = true;
        record.error = name;
        write(dir, record);
        throw error;
      }
    },
    { step: "initialize", name: "recordCalls", priority: "high" },
  );
  return client;
}

/**
 * Records a command the current invocation's function needs although this process answered it
 * from a cache: all local functions share one process, while on AWS each function's containers
 * send the command themselves (the database's secret, read by every container's first login).
 */
export function recordCachedCall(service: string, command: string, input: () => Input): void {
  const dir = config().awsCallRecordDir;
  const fn = invocations.getStore();
  if (!dir || !fn) return;
  write(dir, { function: fn, service, command, resources: resourcesOf(service, command, input()) });
}
