import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../lib/errors.ts";
import { DynamoJobStore } from "../../lib/jobs/dynamo-job-store.ts";
import { withIdempotencyKey } from "../../lib/jobs/idempotency.ts";
import {
  type DynamoDbLocal,
  dynamoDbLocalMissing,
  startDynamoDbLocal,
} from "../support/dynamodb-local.ts";
import { jobStoreSuite } from "./job-store-suite.ts";
import { lifecycleSuite } from "./lifecycle-suite.ts";

// The job store and the job lifecycle on Amazon's DynamoDB Local (with Java): the same suites the
// unit tier runs on the in-memory store, here through the DynamoDB store and the real SDK client.
const missing = dynamoDbLocalMissing();
if (missing) {
  console.warn(`NOTE: the job store's DynamoDB Local run is skipped: ${missing}`);
}

describe.skipIf(missing !== undefined)("on Amazon's DynamoDB Local", () => {
  let local: DynamoDbLocal | undefined;

  beforeAll(async () => {
    local = await startDynamoDbLocal();
    // Read by the configuration on first use, which comes after this.
    Object.assign(process.env, {
      JOBS_TABLE: local.tableName,
      AWS_ENDPOINT_URL_DYNAMODB: local.endpoint,
      AWS_ACCESS_KEY_ID: "local",
      AWS_SECRET_ACCESS_KEY: "local",
    });
  }, 60_000);

  afterAll(async () => {
    await local?.stop();
  });

  describe("the job store", () => jobStoreSuite(() => new DynamoJobStore()));
  describe("the job lifecycle", () => lifecycleSuite(() => new DynamoJobStore()));

  describe("Idempotency-Key records (Powertools on the jobs table)", () => {
    const minute = { getRemainingTimeInMillis: () => 60_000 };

    it("runs a key once, answers its result again, and refuses it for another request", async () => {
      let runs = 0;
      const create = withIdempotencyKey("export", async (appId, request: { type: string }) => {
        runs += 1;
        return { appId, type: request.type, run: runs };
      });
      const first = await create("idem-app", "key-1", { type: "users" }, undefined, minute);
      const again = await create("idem-app", "key-1", { type: "users" }, undefined, minute);
      expect(again).toEqual(first);
      expect(runs).toBe(1);
      await expect(
        create("idem-app", "key-1", { type: "rooms" }, undefined, minute),
      ).rejects.toBeInstanceOf(ConflictError);
      // Keys belong to their application.
      expect((await create("idem-other", "key-1", { type: "users" }, undefined, minute)).run).toBe(
        2,
      );
    });

    it("given a request that dies while holding its key, then the key is in progress until the invocation's time is up, and usable after", async () => {
      const hang = withIdempotencyKey("export", () => new Promise<never>(() => {}));
      const short = { getRemainingTimeInMillis: () => 500 };
      void hang("idem-app", "key-crash", { type: "users" }, undefined, short).catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 150));

      const retry = withIdempotencyKey("export", async () => ({ done: true }));
      await expect(
        retry("idem-app", "key-crash", { type: "users" }, undefined, minute),
      ).rejects.toBeInstanceOf(ConflictError);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await retry("idem-app", "key-crash", { type: "users" }, undefined, minute)).toEqual({
        done: true,
      });
    });
  });
});
