/**
 * The life of every job, export or import: its states and outcomes (`states.ts`), the lease
 * under which it is worked (`lease.ts`), the transitions outside a lease (`transitions.ts`) and
 * a parallel export's key ranges (`ranges.ts`). Every status change is one conditional write
 * whose condition is written in this folder and nowhere else.
 */
export * from "./lease.ts";
export * from "./ranges.ts";
export * from "./states.ts";
export * from "./transitions.ts";
