import { describe, expect, it } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";

/** The plan of the query PostgreSQL's foreign-key trigger runs for one deleted row's id. */
async function referenceCheckPlan(table: string, column: string): Promise<string> {
  const client = await chatDb().connect();
  try {
    await client.query("BEGIN");
    // Planned as the trigger plans it: generic, for any id; an index it can use is preferred.
    await client.query("SET LOCAL plan_cache_mode = force_generic_plan");
    await client.query("SET LOCAL enable_seqscan = off");
    await client.query(
      `PREPARE still_referenced(bigint) AS SELECT 1 FROM ONLY ${table} x WHERE $1 OPERATOR(pg_catalog.=) ${column} FOR KEY SHARE OF x`,
    );
    const { rows } = await client.query<{ "QUERY PLAN": string }>(
      "EXPLAIN EXECUTE still_referenced(1)",
    );
    return rows.map((row) => row["QUERY PLAN"]).join("\n");
  } finally {
    await client.query("ROLLBACK");
    // A prepared statement outlives the transaction; the connection goes back to the pool.
    await client.query("DEALLOCATE ALL");
    client.release();
  }
}

describe("the chat schema's references", () => {
  it.each([
    ["the replies of a deleted comment", "comments", "parent_id", "comments_parent_idx"],
    ["the comments of a deleted user", "comments", "user_id", "comments_user_idx"],
    ["the rooms a deleted user created", "rooms", "creator_id", "rooms_creator_idx"],
  ])(
    "finds %s through an index, not by reading the whole table",
    async (_what, table, column, index) => {
      const plan = await referenceCheckPlan(table, column);
      expect(plan).toMatch(new RegExp(`Index (Only )?Scan (using|on) ${index}`));
      expect(plan).not.toMatch(/Seq Scan/);
    },
  );
});
