import { deleteExport } from "../../lib/exports/export-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { exportView } from "../../lib/http/views.ts";

/** DELETE /api/v2.1/rest/exports/:id */
export const handler = apiHandler(async ({ app, params }) => {
  const job = await deleteExport(app.appId, params.id);
  return ok({ backup_history: exportView(job) });
});
