/** Exit codes of `chat-backup`: a cron job can trust them. */
export const EXIT = { done: 0, jobFailed: 1, usage: 2 } as const;

/**
 * An error the command line reports as one line, with its exit code: 1 when a job (or a
 * transfer's checksum) failed, 2 for bad usage, connection and authentication errors.
 */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.usage,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** A job ended `failed`, or a file did not match its checksum: exit code 1. */
export class JobFailedError extends CliError {
  constructor(
    message: string,
    readonly result?: unknown,
  ) {
    super(message, EXIT.jobFailed);
  }
}

/** The API answered with an error envelope (4xx/5xx). */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    readonly apiMessage: string,
    readonly details: string[],
    readonly retryAfterMs?: number,
  ) {
    const detail = details.length ? `: ${details.join("; ")}` : "";
    super(`${apiMessage}${detail} (HTTP ${status})`, EXIT.usage);
  }
}
