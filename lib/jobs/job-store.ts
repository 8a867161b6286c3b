import { DynamoJobStore } from "./dynamo-job-store.ts";
import type { JobStore } from "./job-store-types.ts";

export type { JobCondition, JobStore, NightlyGuard } from "./job-store-types.ts";

let store: JobStore | undefined;

/** The job store of this container (DynamoDB unless a test put another in its place). */
export function jobStore(): JobStore {
  store ??= new DynamoJobStore();
  return store;
}

/** Puts another store in place of DynamoDB's (the unit tests' in-memory store); undefined restores it. */
export function useJobStore(replacement: JobStore | undefined): void {
  store = replacement;
}
