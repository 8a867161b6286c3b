import { inject } from "vitest";

// Test files run the same modules as the functions: give them the local stack's environment
// before any of them reads its configuration.
Object.assign(process.env, inject("stack").env);
