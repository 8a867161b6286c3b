import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyValidationError,
  makeIdempotent,
} from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import type { Context } from "aws-lambda";
import { dynamoClient } from "../aws/dynamodb.ts";
import { config } from "../config.ts";
import { BadRequestError, ConflictError } from "../errors.ts";
import type { JobKind } from "./job-record.ts";
import { IDEMPOTENCY_KEYS } from "./table-keys.ts";

/** A key is remembered for this long; the same key within it returns the same job. */
export const IDEMPOTENCY_WINDOW_SECONDS = 24 * 60 * 60;
const KEY_SHAPE = /^[\x21-\x7e]{1,255}$/;

interface KeyedRequest<R> {
  kind: JobKind;
  appId: string;
  key: string;
  /** What the key promises: the same key with a different request is a conflict. */
  request: R;
}

/**
 * Wraps a job-creating function so that an `Idempotency-Key` header makes it run once per
 * (application, kind, key) within 24 hours; repeats get the first call's result. Requests
 * without a key are not affected. `payload` travels beside the request and is not compared.
 *
 * `invocation` is the Lambda context of the request: the key's "in progress" record expires
 * with the invocation (Powertools' in-progress expiry is now + the remaining time), so a request
 * killed half-way by a timeout or a crash leaves the key usable for a retry as soon as the dead
 * invocation's time is up, instead of answering 409 for the whole 24 hours.
 */
export function withIdempotencyKey<R, P, T>(
  kind: JobKind,
  create: (appId: string, request: R, payload: P) => Promise<T>,
): (
  appId: string,
  key: string | undefined,
  request: R,
  payload: P,
  invocation: Pick<Context, "getRemainingTimeInMillis">,
) => Promise<T> {
  let persistenceStore: DynamoDBPersistenceLayer | undefined;
  const run = (input: KeyedRequest<R>, extra: P) => create(input.appId, input.request, extra);
  return async (appId, key, request, payload, invocation) => {
    if (key === undefined) return create(appId, request, payload);
    if (!KEY_SHAPE.test(key)) {
      throw new BadRequestError("invalid Idempotency-Key", [
        "Idempotency-Key must be 1 to 255 visible ASCII characters without spaces",
      ]);
    }
    persistenceStore ??= new DynamoDBPersistenceLayer({
      tableName: config().jobsTable,
      ...IDEMPOTENCY_KEYS,
      awsSdkV3Client: dynamoClient(),
    });
    // One configuration per call: the Lambda context belongs to this invocation only (locally,
    // invocations of one function run side by side in one process).
    const idempotent = makeIdempotent(run, {
      persistenceStore,
      config: new IdempotencyConfig({
        eventKeyJmesPath: "[kind, appId, key]",
        payloadValidationJmesPath: "request",
        expiresAfterSeconds: IDEMPOTENCY_WINDOW_SECONDS,
        lambdaContext: invocation as Context,
      }),
    });
    try {
      return await idempotent({ kind, appId, key, request }, payload);
    } catch (error) {
      if (error instanceof IdempotencyValidationError) {
        throw new ConflictError("Idempotency-Key already used for a different request", [
          `the key "${key.slice(0, 64)}" was used within the last 24 hours with other parameters`,
        ]);
      }
      if (error instanceof IdempotencyAlreadyInProgressError) {
        throw new ConflictError("a request with this Idempotency-Key is still in progress", [
          "retry in a moment to get its result",
        ]);
      }
      throw error;
    }
  };
}
