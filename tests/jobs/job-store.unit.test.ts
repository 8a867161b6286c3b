import { MemoryJobStore } from "../support/memory-job-store.ts";
import { jobStoreSuite } from "./job-store-suite.ts";

jobStoreSuite(() => new MemoryJobStore());
