import { backupView, deleteBackup } from "../../lib/backups/backup-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";

/** DELETE /api/v2.1/rest/backups/:id (a running backup is cancelled first) */
export const handler = apiHandler(async ({ app, params }) => {
  const job = await deleteBackup(app.appId, params.id);
  return ok({ backup: await backupView(job, false) });
});
