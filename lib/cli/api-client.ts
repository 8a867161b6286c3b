import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { ApiError, CliError } from "./cli-errors.ts";

/** Where the API is and who is asking. */
export interface ClientSettings {
  url: string;
  appId: string;
  secret: string;
}

export interface RequestOptions {
  json?: unknown;
  /** A body made afresh for every attempt (a stream cannot be sent twice). */
  body?: () => { body: RequestInit["body"]; headers: Record<string, string> };
  query?: Record<string, string | number | undefined>;
  /** POSTs carry one key for all their attempts, so that a retry never starts a second job. */
  idempotent?: boolean;
}

const API_BASE = "/api/v2.1/rest";
const MAX_ATTEMPTS = 8;

/** Pauses before the next attempt: the server's Retry-After, else 0.5 s doubling up to 30 s. */
export function backoffMs(attempt: number, retryAfterMs?: number): number {
  if (retryAfterMs !== undefined && retryAfterMs >= 0) return Math.min(retryAfterMs, 60_000);
  return Math.min(500 * 2 ** attempt, 30_000);
}

function retryAfter(headers: Headers): number | undefined {
  const value = headers.get("retry-after");
  if (!value) return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return seconds * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

/**
 * The public HTTP API as the command line uses it: credentials on every request, the
 * envelope unwrapped, 429 and 5xx retried after a pause (with an `Idempotency-Key` on POSTs,
 * so that a retried start never makes two jobs), every failure turned into a one-line error.
 */
export class ApiClient {
  private reachable = false;

  constructor(
    readonly settings: ClientSettings,
    private readonly onRetry: (reason: string, waitMs: number) => void = () => {},
  ) {}

  /** Sends a request and returns the envelope's `results`. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const url = new URL(`${this.settings.url.replace(/\/+$/, "")}${API_BASE}${path}`);
    for (const [name, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(name, String(value));
    }
    const idempotencyKey = options.idempotent ? randomUUID() : undefined;
    for (let attempt = 0; ; attempt += 1) {
      const headers: Record<string, string> = {
        "QISCUS-SDK-APP-ID": this.settings.appId,
        "QISCUS-SDK-SECRET": this.settings.secret,
        accept: "application/json",
      };
      if (idempotencyKey) headers["Idempotency-Key"] = idempotencyKey;
      let body: RequestInit["body"];
      if (options.json !== undefined) {
        headers["content-type"] = "application/json";
        body = JSON.stringify(options.json);
      } else if (options.body) {
        const made = options.body();
        Object.assign(headers, made.headers);
        body = made.body;
      }
      let response: Response;
      try {
        response = await fetch(url, {
          method,
          headers,
          body,
          ...(body instanceof ReadableStream ? { duplex: "half" } : {}),
        } as RequestInit);
      } catch (error) {
        // A server that never answered is a setting to fix; one that went away mid-run is retried.
        if (!this.reachable || attempt + 1 >= MAX_ATTEMPTS) {
          throw new CliError(`cannot reach ${this.settings.url}: ${describeNetworkError(error)}`);
        }
        await this.pause(`connection lost (${describeNetworkError(error)})`, attempt);
        continue;
      }
      this.reachable = true;
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      if (response.ok) {
        const results = (parsed as { results?: T } | undefined)?.results;
        if (results === undefined) {
          throw new CliError(`unexpected answer from ${url.pathname} (HTTP ${response.status})`);
        }
        return results;
      }
      const envelope = (parsed as { error?: { message?: string; detailed_messages?: string[] } })
        ?.error;
      const error = new ApiError(
        response.status,
        envelope?.message ?? (parsed as { message?: string })?.message ?? response.statusText,
        envelope?.detailed_messages ?? [],
        retryAfter(response.headers),
      );
      const retryable = response.status === 429 || response.status >= 500;
      if (!retryable || attempt + 1 >= MAX_ATTEMPTS) throw error;
      await this.pause(`HTTP ${response.status}`, attempt, error.retryAfterMs);
    }
  }

  private async pause(reason: string, attempt: number, retryAfterMs?: number) {
    const waitMs = backoffMs(attempt, retryAfterMs);
    this.onRetry(reason, waitMs);
    await sleep(waitMs);
  }
}
