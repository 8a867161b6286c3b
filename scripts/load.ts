import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { ROOT_DIR } from "./local/stack.ts";

/**
 * `npm run load`: two applications on a running `npm start` (loopback only). A quiet one asks
 * for an export of its users and waits for the file, first alone, then while a noisy one floods
 * the API: list and create requests as fast as `LOAD_CONNECTIONS` clients can send them, and
 * wrong secrets. Prints the noisy application's requests/s and status codes (429s: its per-app
 * request limit, its open-job cap, its wrong secrets), and the quiet one's export times alone and
 * under the flood, with any status other than 200 it saw.
 * Settings: LOAD_URL (default: the running local stack), LOAD_CONNECTIONS (100), LOAD_SECONDS
 * (20), LOAD_USERS (users of the quiet application, 20000), LOAD_ROUNDS (exports timed per phase, 3).
 */
const stackFile = join(process.env.LOCAL_STATE_DIR ?? join(ROOT_DIR, ".local"), "stack.json");
let stack: { url: string; env: Record<string, string> };
try {
  stack = JSON.parse(readFileSync(stackFile, "utf8"));
} catch {
  throw new Error(`no running local stack (${stackFile}): start it with \`npm start\``);
}
const url = process.env.LOAD_URL ?? stack.url;
const host = new URL(url).hostname;
if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
  throw new Error(`refusing to load ${host}: the load script only targets this machine (loopback)`);
}
const connections = Number(process.env.LOAD_CONNECTIONS ?? 100);
const duration = Math.min(Number(process.env.LOAD_SECONDS ?? 20), 120);
const userCount = Number(process.env.LOAD_USERS ?? 20000);
const rounds = Number(process.env.LOAD_ROUNDS ?? 3);

// The two applications are made in the stack's chat database, as `npm run app -- create` does.
Object.assign(process.env, stack.env, { LOG_LEVEL: "WARN" });
const { chatDb, closeChatDb } = await import("../lib/chat-db/pool.ts");
const { upsertApplication } = await import("../lib/chat-db/applications.ts");
const quiet = { appId: "load-quiet", secret: randomBytes(16).toString("hex") };
const noisy = { appId: "load-noisy", secret: randomBytes(16).toString("hex") };
await upsertApplication(quiet);
await upsertApplication(noisy);
await chatDb().query("DELETE FROM users WHERE app_id = $1", [quiet.appId]);
await chatDb().query(
  `INSERT INTO users (app_id, email, name, authentication_token, password_hash, created_at)
   SELECT $1, 'user' || i || '@example.com', 'User ' || i, md5(i::text), 'x', now() - i * interval '1 second'
   FROM generate_series(1, $2::integer) AS i`,
  [quiet.appId, userCount],
);
await closeChatDb();

const headersOf = (app: { appId: string; secret: string }) => ({
  "QISCUS-SDK-APP-ID": app.appId,
  "QISCUS-SDK-SECRET": app.secret,
});

/** What the quiet application saw besides 200s (it must see none). */
const quietStatuses: Record<string, number> = {};
async function quietCall(method: string, path: string, body?: unknown) {
  const response = await fetch(`${url}/api/v2.1/rest${path}`, {
    method,
    headers: { ...headersOf(quiet), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as {
    results?: { unique_id?: string; backup_history?: { status?: string } };
  };
  if (response.status !== 200) {
    quietStatuses[response.status] = (quietStatuses[response.status] ?? 0) + 1;
  }
  return { status: response.status, results: json.results };
}

/** One export of the quiet application's users, from the request to the finished file (ms). */
async function timedExport(): Promise<number> {
  const started = performance.now();
  let created = await quietCall("POST", "/exports", { type: "users" });
  while (created.status !== 200) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    created = await quietCall("POST", "/exports", { type: "users" });
  }
  const id = created.results?.unique_id as string;
  for (;;) {
    const job = await quietCall("GET", `/exports/${id}`);
    const status = job.results?.backup_history?.status;
    if (status === "finished") return Math.round(performance.now() - started);
    if (status === "failed") throw new Error(`the quiet application's export ${id} failed`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function exportTimes(): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i += 1) times.push(await timedExport());
  return times;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1] ?? 0;

const alone = await exportTimes();

let sent = 0;
const flood = autocannon({
  url,
  connections,
  duration,
  requests: [
    { method: "GET", path: "/api/v2.1/rest/exports", headers: headersOf(noisy) },
    {
      method: "POST",
      path: "/api/v2.1/rest/exports",
      headers: { ...headersOf(noisy), "content-type": "application/json" },
      body: JSON.stringify({ type: "users" }),
    },
    {
      method: "GET",
      path: "/api/v2.1/rest/imports",
      headers: headersOf(noisy),
      // Every third request guesses a secret: each guess differs, so none is cached as refused.
      setupRequest: (request) => {
        sent += 1;
        return {
          ...request,
          headers: { ...request.headers, "QISCUS-SDK-SECRET": `guess-${sent}` },
        };
      },
    },
  ],
});
// The quiet application starts its exports once the flood is under way.
await new Promise((resolve) => setTimeout(resolve, 2000));
const underFlood = await exportTimes();
const result = await flood;

const summary = {
  url,
  quietUsers: userCount,
  flood: {
    connections,
    seconds: duration,
    requests: result.requests.total,
    requestsPerSecond: Math.round(result.requests.average),
    latencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    statusCodes: Object.fromEntries(
      Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count]),
    ),
    errors: result.errors + result.timeouts,
  },
  quietExportMs: {
    alone,
    underFlood,
    medianAlone: median(alone),
    medianUnderFlood: median(underFlood),
  },
  quietNon200: quietStatuses,
};
console.log(JSON.stringify(summary, null, 2));
process.exit(0);
