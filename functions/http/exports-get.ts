import { downloadUrl } from "../../lib/exports/export-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { exportView } from "../../lib/http/views.ts";
import { findJob } from "../../lib/jobs/jobs.ts";

/** GET /api/v2.1/rest/exports/:id */
export const handler = apiHandler(async ({ app, params }) => {
  const job = await findJob(app.appId, "export", params.id);
  return ok({ backup_history: exportView(job, await downloadUrl(job)) });
});
