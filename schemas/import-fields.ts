/**
 * Building blocks shared by the import row schemas. Each is a plain JSON Schema fragment; the
 * hints explain a `pattern` in words, because a regular expression is no message for a user.
 */

export const rfc3339 = { type: "string", format: "date-time", maxLength: 40 } as const;

export const emailAddress = { type: "string", format: "email", maxLength: 254 } as const;

/** An http(s) URL, or empty for "no avatar". */
export const optionalWebUrl = {
  type: "string",
  maxLength: 2048,
  pattern: "^(https?://\\S+)?$",
} as const;

export const uniqueIdentifier = { type: "string", minLength: 1, maxLength: 255 } as const;

/** Words for the `pattern` keyword of the fields above, by field name. */
export const PATTERN_HINTS: Record<string, string> = {
  AvatarUrl: "must be an http:// or https:// URL, or empty",
  PasswordHash: "must be a bcrypt hash ($2a$, $2b$ or $2y$, cost, 53 characters of salt and hash)",
};
