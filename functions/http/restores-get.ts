import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { restoreView } from "../../lib/http/views.ts";
import { findJob } from "../../lib/jobs/jobs.ts";

/** GET /api/v2.1/rest/restores/:id, with every type's row errors */
export const handler = apiHandler(async ({ app, params }) => {
  const job = await findJob(app.appId, "restore", params.id);
  return ok({ restore: restoreView(job) });
});
