/**
 * Which errors no retry can cure. A job that meets one ends `failed` in the same delivery, with
 * a sentence; any other error is worth another try after a short backoff (see `consumer.ts`).
 */

/** PostgreSQL error classes that repeat on every try with the same file and data. */
const PERMANENT_CLASSES: Record<string, string> = {
  // data exception: a value the database cannot take
  "22": "the chat database cannot store a value of the file",
  // integrity constraint violation: the write breaks a rule of the chat tables
  "23": "the chat database refused the write, which breaks one of its rules",
  // program limit exceeded: too large, too deep
  "54": "the file is beyond a limit of the chat database",
};

/**
 * The sentence a user reads for an error no retry can cure, or undefined when the error may be
 * transient (connections, timeouts, throttling, locks, AWS services).
 */
export function permanentFailure(error: unknown): string | undefined {
  if (error instanceof RangeError) {
    return "The job stopped on a value too large or too deeply nested to process; retrying cannot help.";
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) return undefined;
  const reason = PERMANENT_CLASSES[code.slice(0, 2)];
  if (!reason) return undefined;
  const detail = String((error as Error).message ?? "").slice(0, 200);
  return `The job failed because ${reason} (${detail}); retrying cannot help.`;
}

/**
 * Seconds before a failed message is delivered again: `base` doubled with each attempt
 * (10, 20, 40, 80 s by default), at most `max`.
 */
export function retryBackoffSeconds(attempt: number, base: number, max: number): number {
  return Math.min(base * 2 ** Math.max(attempt - 1, 0), max);
}
