import { NotFoundError } from "../../lib/errors.ts";
import { apiHandler } from "../../lib/http/api.ts";

/** Any path the API does not serve. */
export const handler = apiHandler(
  async ({ event }) => {
    throw new NotFoundError("no such endpoint", [
      `${event.requestContext.http.method} ${event.rawPath} is not part of this API`,
    ]);
  },
  { authenticate: false },
);
