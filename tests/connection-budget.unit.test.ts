import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";

const { connections } = createRequire(import.meta.url)("../deploy/connection-budget.cjs") as {
  connections: (options: { env: Record<string, string> }) => {
    budget: number;
    total: number;
    summary: string;
    functions: Record<string, { reserved: number; pool: string }>;
  };
};

describe("the chat database's connection budget (deploy/connection-budget.cjs)", () => {
  it("sums reserved concurrency x pool size over every function that connects", () => {
    const plan = connections({ env: {} });
    const sum = Object.values(plan.functions).reduce(
      (total, { reserved, pool }) => total + reserved * Number(pool),
      0,
    );
    expect(Object.keys(plan.functions)).toHaveLength(20);
    expect(plan.total).toBe(sum);
    expect(plan.total).toBe(366);
    expect(plan.budget).toBe(450);
    expect(plan.summary).toContain("importWorker 50x3");
  });

  it("refuses to package a plan above the budget, showing the arithmetic", () => {
    expect(() => connections({ env: { DB_CONNECTION_BUDGET: "365" } })).toThrow(
      /366 of 365 connections: exportsCreate 5x2, .*importWorker 50x3.*raise DB_CONNECTION_BUDGET/,
    );
    expect(connections({ env: { DB_CONNECTION_BUDGET: "366" } }).total).toBe(366);
    expect(
      connections({
        env: {
          DB_CONNECTION_BUDGET: "100",
          HTTP_RESERVED_CONCURRENCY: "1",
          IMPORT_WORKER_CONCURRENCY: "2",
          EXPORT_WORKER_CONCURRENCY: "2",
          BACKUP_WORKER_CONCURRENCY: "2",
        },
      }).total,
    ).toBe(15 * 1 * 2 + 2 * 3 * 3 + 2 + 4);
  });

  it("refuses a count that is not a whole number of at least 1", () => {
    expect(() => connections({ env: { HTTP_PG_POOL_MAX: "0" } })).toThrow(/HTTP_PG_POOL_MAX/);
    expect(() => connections({ env: { WORKER_PG_POOL_MAX: "2.5" } })).toThrow(/WORKER_PG_POOL_MAX/);
  });
});
