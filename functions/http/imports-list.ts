import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { pageParam } from "../../lib/http/params.ts";
import { importView } from "../../lib/http/views.ts";
import { listJobs } from "../../lib/jobs/jobs.ts";

/** GET /api/v2.1/rest/imports?page=N (errors summarised; the job itself has them in full) */
export const handler = apiHandler(async ({ app, query }) => {
  const jobs = await listJobs(app.appId, "import", pageParam(query));
  return ok({ backup_histories: jobs.map((job) => importView(job, false)) });
});
