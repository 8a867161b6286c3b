import { startExport, validateExportRequest } from "../../lib/exports/export-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { parseFields } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import { exportView } from "../../lib/jobs/job-record.ts";

/** POST /api/v2.1/rest/exports */
export const handler = apiHandler(async ({ event, headers, app }) => {
  const request = validateExportRequest(await parseFields(event, headers));
  const job = await startExport(app.appId, request);
  return ok(exportView(job));
});
