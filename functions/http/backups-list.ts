import { backupView, listBackups } from "../../lib/backups/backup-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { ok } from "../../lib/http/envelope.ts";
import { pageParam } from "../../lib/http/params.ts";

/** GET /api/v2.1/rest/backups?page=N */
export const handler = apiHandler(async ({ app, query }) => {
  const jobs = await listBackups(app.appId, pageParam(query));
  return ok({ backups: await Promise.all(jobs.map((job) => backupView(job))) });
});
