import { expect } from "vitest";
import { chatDb } from "../../lib/chat-db/pool.ts";
import { stagingTables } from "../../lib/chat-db/staging.ts";
import { apiFetch } from "../support/api-fetch.ts";
import { call, type TestApp } from "../support/harness.ts";
import { countRows, settle } from "./support.ts";

/** Backends of the chat database, other than the asking one, that are busy or hold a transaction. */
export async function busyBackends(): Promise<string[]> {
  const { rows } = await chatDb().query<{ state: string; query: string }>(
    `SELECT state, left(query, 80) AS query FROM pg_stat_activity
     WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'
       AND (state <> 'idle' OR wait_event_type = 'Lock')`,
  );
  return rows.map((row) => `${row.state}: ${row.query}`);
}

/** Staging tables and load markers the job left behind. */
export async function stagingLeft(jobId: string): Promise<number> {
  const tables = stagingTables(jobId);
  const { rows } = await chatDb().query<{ n: number }>(
    `SELECT (SELECT count(*) FROM import_staging.loaded WHERE job_id = $1)::int
       + (to_regclass($2) IS NOT NULL)::int + (to_regclass($3) IS NOT NULL)::int AS n`,
    [jobId, tables.rows, tables.problems],
  );
  return rows[0]?.n ?? 0;
}

/**
 * Runs the started import to its end with the workers, and checks what every hostile file must
 * leave: an end within seconds, no busy backend, no staging table, and (when it failed) nothing
 * of it in the chat tables.
 */
export async function settleHostile(app: TestApp, jobId: string, withinMs = 15_000) {
  const before = {
    users: await countRows(app.appId, "users"),
    rooms: await countRows(app.appId, "rooms"),
    comments: await countRows(app.appId, "comments"),
  };
  const started = performance.now();
  const job = await settle(app, jobId);
  const elapsedMs = performance.now() - started;
  expect(elapsedMs, `import ${jobId} took ${elapsedMs} ms`).toBeLessThan(withinMs);
  expect(await busyBackends()).toEqual([]);
  expect(await stagingLeft(jobId)).toBe(0);
  if (job.status === "failed") {
    expect(job.errors.Message).toMatch(/^[A-Z0-9].*\.$/);
    for (const table of ["users", "rooms", "comments"] as const) {
      expect(await countRows(app.appId, table)).toBe(before[table]);
    }
  }
  return { job, elapsedMs };
}

/** Sends a file the upload way (presigned PUT, then start); returns the started job's id. */
export async function uploadImport(
  app: TestApp,
  type: "users" | "rooms" | "comments",
  content: Uint8Array | string,
): Promise<string> {
  const requested = await call("POST", "/api/v2.1/rest/imports/uploads", {
    app,
    json: { type, filename: `${type}.json.gz` },
  });
  expect(requested.status).toBe(200);
  const { upload_id, upload_url } = requested.body.results.upload;
  const put = await apiFetch(upload_url, { method: "PUT", body: content });
  expect(put.status).toBe(200);
  const started = await call("POST", "/api/v2.1/rest/imports", {
    app,
    json: { type, upload_id },
  });
  expect(started.status, JSON.stringify(started.body)).toBe(200);
  return started.body.results.backup_history.unique_id;
}
