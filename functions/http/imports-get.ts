import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { importView } from "../../lib/http/views.ts";
import { findJob } from "../../lib/jobs/jobs.ts";

/** GET /api/v2.1/rest/imports/:id, with every row error */
export const handler = apiHandler(async ({ app, params }) => {
  const job = await findJob(app.appId, "import", params.id);
  return ok({ backup_history: importView(job) });
});
