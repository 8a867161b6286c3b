import { MethodNotAllowedError } from "../../lib/errors.ts";
import { apiHandler } from "../../lib/http/api.ts";

const ALLOWED: [RegExp, string[]][] = [
  [/\/exports$/, ["GET", "POST"]],
  [/\/exports\/[^/]+$/, ["GET", "DELETE"]],
  [/\/imports$/, ["GET", "POST"]],
  [/\/imports\/uploads$/, ["POST"]],
  [/\/imports\/[^/]+$/, ["GET"]],
  [/\/backups$/, ["GET", "POST"]],
  [/\/backups\/[^/]+$/, ["GET", "DELETE"]],
  [/\/openapi\.json$/, ["GET"]],
  [/\/restores$/, ["GET", "POST"]],
  [/\/restores\/[^/]+$/, ["GET"]],
];

/** A known path asked with a verb it does not serve. */
export const handler = apiHandler(
  async ({ event }) => {
    const allowed = ALLOWED.find(([pattern]) => pattern.test(event.rawPath))?.[1] ?? [];
    throw new MethodNotAllowedError(event.requestContext.http.method, allowed);
  },
  { authenticate: false },
);
