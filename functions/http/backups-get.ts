import { backupView, findBackup } from "../../lib/backups/backup-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";

/** GET /api/v2.1/rest/backups/:id */
export const handler = apiHandler(async ({ app, params }) => {
  const job = await findBackup(app.appId, params.id);
  return ok({ backup: await backupView(job) });
});
