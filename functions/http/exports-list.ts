import { downloadUrl } from "../../lib/exports/export-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { pageParam } from "../../lib/http/params.ts";
import { exportView } from "../../lib/http/views.ts";
import { listJobs } from "../../lib/jobs/jobs.ts";

/** GET /api/v2.1/rest/exports?page=N */
export const handler = apiHandler(async ({ app, query }) => {
  const jobs = await listJobs(app.appId, "export", pageParam(query));
  const views = await Promise.all(jobs.map(async (job) => exportView(job, await downloadUrl(job))));
  return ok({ backup_histories: views });
});
