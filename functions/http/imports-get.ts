import { ServiceError } from "../../lib/errors.ts";
import { apiHandler } from "../../lib/http/api.ts";

/** Imports are not served yet. */
export const handler = apiHandler(async () => {
  throw new ServiceError(501, "imports are not available yet");
});
