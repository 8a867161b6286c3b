import { apiHandler } from "../../lib/http/api.ts";
import { parseJsonObject } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import { createUpload, validateUploadRequest } from "../../lib/imports/uploads.ts";

/** POST /api/v2.1/rest/imports/uploads (JSON: type, filename): a presigned PUT for one import file */
export const handler = apiHandler(async ({ event, headers, app }) => {
  const request = validateUploadRequest(parseJsonObject(event, headers));
  return ok({ upload: await createUpload(app.appId, request) });
});
