/**
 * Domain errors. Each carries the HTTP status it maps to and the sentences a client may read;
 * anything else that escapes a handler is answered as a bare 500 without details.
 */
export class ServiceError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly details: string[] = [],
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends ServiceError {
  constructor(message: string, details: string[] = []) {
    super(400, message, details);
  }
}

export class UnauthorizedError extends ServiceError {
  constructor(details: string[] = []) {
    super(401, "unauthorized: wrong or missing application id or secret", details);
  }
}

export class NotFoundError extends ServiceError {
  constructor(message = "not found", details: string[] = []) {
    super(404, message, details);
  }
}

export class MethodNotAllowedError extends ServiceError {
  constructor(method: string, allowed: string[]) {
    super(405, `method ${method} is not allowed here`, [`allowed: ${allowed.join(", ")}`], {
      allow: allowed.join(", "),
    });
  }
}

export class ConflictError extends ServiceError {
  constructor(message: string, details: string[] = []) {
    super(409, message, details);
  }
}

export class PayloadTooLargeError extends ServiceError {
  constructor(message: string, details: string[] = []) {
    super(413, message, details);
  }
}

export class UnsupportedMediaTypeError extends ServiceError {
  constructor(message: string, details: string[] = []) {
    super(415, message, details);
  }
}

/** 429 with `Retry-After`: the seconds after which the same request may succeed. */
export class ThrottledError extends ServiceError {
  constructor(message: string, details: string[], retryAfterSeconds: number) {
    super(429, message, details, {
      "retry-after": String(Math.max(1, Math.ceil(retryAfterSeconds))),
    });
  }
}
