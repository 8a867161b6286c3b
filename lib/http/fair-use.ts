import { createHash } from "node:crypto";
import { type Application, authenticate, recentlyVerified } from "../chat-db/applications.ts";
import { config } from "../config.ts";
import { ThrottledError, UnauthorizedError } from "../errors.ts";
import { logger } from "../observability.ts";
import { countHit } from "./window-counter.ts";

/**
 * Fair use of the API by every application (docs/security.md):
 *
 * - A secret this container verified in the last five minutes costs a digest compare.
 * - A wrong secret costs one scrypt hash the first time; the same wrong (id, secret) pair is then
 *   refused from memory for a minute, and a source that sends more than
 *   `authFailuresPerMinute` wrong secrets for one application id (ten times that for all ids
 *   together) in a minute is answered 429 without any hash or query until the minute ends.
 *   Only secrets not verified before are refused that way: a client already using its right
 *   secret in this container is not locked out by someone guessing.
 * - Every authenticated request counts against its application's requests per second, shared by
 *   all containers through a DynamoDB counter; above it, 429 with `Retry-After`.
 */

const FAILURE_WINDOW_SECONDS = 60;
/** All application ids together, from one source: this many times the per-id allowance. */
const SOURCE_FACTOR = 10;
const REFUSED_MAX = 10_000;

/** Wrong (id, secret) pairs refused lately, by digest: refused again without a hash. */
const refused = new Map<string, number>();
/** Failure counters known to be over their allowance in this container, until the window ends. */
const blocked = new Map<string, number>();

function pairDigest(appId: string, secret: string): string {
  return createHash("sha256").update(appId).update("\0").update(secret).digest("base64");
}

function blockedFor(key: string, now: number): number {
  const until = blocked.get(key) ?? 0;
  if (until <= now) blocked.delete(key);
  return Math.max(0, until - now);
}

function tooManyFailures(waitMs: number): ThrottledError {
  return new ThrottledError(
    "too many wrong secrets from this source: wait before trying again",
    ["the application id and secret did not match too often in the last minute"],
    waitMs / 1000,
  );
}

async function recordFailure(appId: string, source: string, allowance: number): Promise<void> {
  const counters = [
    { key: `authfail#${appId}#${source}`, max: allowance },
    { key: `authfail#*#${source}`, max: allowance * SOURCE_FACTOR },
  ];
  for (const counter of counters) {
    const { count, retryAfterSeconds } = await countHit(counter.key, FAILURE_WINDOW_SECONDS);
    if (count >= counter.max) blocked.set(counter.key, Date.now() + retryAfterSeconds * 1000);
  }
}

/**
 * Authenticates a request cheaply and fairly.
 * @throws UnauthorizedError for a wrong id or secret; ThrottledError for a source over its allowance
 */
export async function authenticateFairly(
  appId: string,
  secret: string,
  source: string,
  allowance = config().limits.authFailuresPerMinute,
): Promise<Application> {
  const known = recentlyVerified(appId, secret);
  if (known) return known;
  const now = Date.now();
  const digest = pairDigest(appId, secret);
  if ((refused.get(digest) ?? 0) > now) {
    throw new UnauthorizedError(["the application id and secret do not match"]);
  }
  const wait = Math.max(
    blockedFor(`authfail#${appId}#${source}`, now),
    blockedFor(`authfail#*#${source}`, now),
  );
  if (wait > 0) throw tooManyFailures(wait);
  const app = await authenticate(appId, secret);
  if (app) return app;
  if (refused.size >= REFUSED_MAX) refused.delete(refused.keys().next().value as string);
  refused.set(digest, now + FAILURE_WINDOW_SECONDS * 1000);
  await recordFailure(appId, source, allowance);
  logger.warn("wrong application secret", { app_id: appId, source_ip: source });
  throw new UnauthorizedError(["the application id and secret do not match"]);
}

/**
 * Counts the request against its application's requests per second.
 * @throws ThrottledError above the limit, with the seconds until the next window
 */
export async function admitRequest(app: Application): Promise<void> {
  const limit = app.limits?.requestsPerSecond ?? config().limits.requestsPerSecond;
  const { count, retryAfterSeconds } = await countHit(`requests#${app.appId}`, 1);
  if (count > limit) {
    throw new ThrottledError(
      "too many requests for this application: slow down",
      [`this application may make ${limit} requests per second`],
      retryAfterSeconds,
    );
  }
}
