import { MemoryJobStore } from "../support/memory-job-store.ts";
import { lifecycleSuite } from "./lifecycle-suite.ts";

lifecycleSuite(() => new MemoryJobStore());
