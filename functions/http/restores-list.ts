import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { pageParam } from "../../lib/http/params.ts";
import { restoreView } from "../../lib/http/views.ts";
import { listJobs } from "../../lib/jobs/jobs.ts";

/** GET /api/v2.1/rest/restores?page=N (row errors summarised; the restore itself has them in full) */
export const handler = apiHandler(async ({ app, query }) => {
  const jobs = await listJobs(app.appId, "restore", pageParam(query));
  return ok({ restores: jobs.map((job) => restoreView(job, false)) });
});
