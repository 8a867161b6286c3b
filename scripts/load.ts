import { readFileSync } from "node:fs";
import { join } from "node:path";
import autocannon from "autocannon";
import { ROOT_DIR } from "./local/stack.ts";

/**
 * `npm run load`: 200 concurrent clients for 30 s against a running `npm start` (loopback
 * only), over the list, get and create routes. Prints requests/s, p50/p99 latency and errors.
 * Settings: LOAD_URL (default: the running local stack), LOAD_CONNECTIONS, LOAD_SECONDS,
 * LOAD_APP_ID / LOAD_APP_SECRET (default: the demo app).
 */
function targetUrl(): string {
  if (process.env.LOAD_URL) return process.env.LOAD_URL;
  try {
    return (
      JSON.parse(readFileSync(join(ROOT_DIR, ".local", "stack.json"), "utf8")) as { url: string }
    ).url;
  } catch {
    throw new Error("no running local stack found: start it with `npm start` or set LOAD_URL");
  }
}

const url = targetUrl();
const host = new URL(url).hostname;
if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(host)) {
  throw new Error(`refusing to load ${host}: the load script only targets this machine (loopback)`);
}
const auth = {
  "QISCUS-SDK-APP-ID": process.env.LOAD_APP_ID ?? "demo-app",
  "QISCUS-SDK-SECRET": process.env.LOAD_APP_SECRET ?? "demo-secret",
};
const connections = Number(process.env.LOAD_CONNECTIONS ?? 200);
const duration = Math.min(Number(process.env.LOAD_SECONDS ?? 30), 120);

const seed = await fetch(`${url}/api/v2.1/rest/exports`, {
  method: "POST",
  headers: { ...auth, "content-type": "application/json" },
  body: JSON.stringify({ type: "users" }),
});
if (seed.status !== 200) throw new Error(`could not create a seed export: HTTP ${seed.status}`);
const jobId = ((await seed.json()) as { results: { unique_id: string } }).results.unique_id;

function percentile(values: number[], p: number): number {
  if (!values.length) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number,
  );
}

let created = 0;
/** Latencies of the requests the stage let through (not 429), in ms. */
const served: number[] = [];
const result = await autocannon({
  url,
  connections,
  duration,
  setupClient: (client) => {
    client.on("response", (status: number, _bytes: number, milliseconds: number) => {
      if (status !== 429) served.push(milliseconds);
    });
  },
  requests: [
    { method: "GET", path: "/api/v2.1/rest/exports", headers: auth },
    { method: "GET", path: `/api/v2.1/rest/exports/${jobId}`, headers: auth },
    { method: "GET", path: "/api/v2.1/rest/imports?page=1", headers: auth },
    {
      method: "POST",
      path: "/api/v2.1/rest/exports",
      headers: { ...auth, "content-type": "application/json" },
      setupRequest: (request) => {
        created += 1;
        // A fresh idempotency key per request; the same key would return the same job.
        return {
          ...request,
          headers: { ...request.headers, "idempotency-key": `load-${process.pid}-${created}` },
          body: JSON.stringify({
            type: created % 2 ? "rooms" : "users",
            start_date: "2020-01-01",
            end_date: "2020-01-01",
          }),
        };
      },
    },
  ],
});

const throttled = result.statusCodeStats?.["429"]?.count ?? 0;
const non2xx = result.non2xx - throttled;
const summary = {
  url,
  connections,
  seconds: duration,
  requests: result.requests.total,
  requestsPerSecond: Math.round(result.requests.average),
  latencyMs: { p50: result.latency.p50, p99: result.latency.p99, max: result.latency.max },
  // What the requests that reached the service saw, apart from the stage's quick 429s.
  served: {
    requests: served.length,
    requestsPerSecond: Math.round(served.length / duration),
    latencyMs: { p50: percentile(served, 50), p99: percentile(served, 99) },
  },
  errors: result.errors + result.timeouts + non2xx,
  throttled429: throttled,
  statusCodes: Object.fromEntries(
    Object.entries(result.statusCodeStats ?? {}).map(([code, stat]) => [code, stat.count]),
  ),
};
console.log(JSON.stringify(summary, null, 2));
process.exit(summary.errors === 0 ? 0 : 1);
