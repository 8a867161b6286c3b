import { backupView, startBackup, validateBackupRequest } from "../../lib/backups/backup-jobs.ts";
import type { Application } from "../../lib/chat-db/applications.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { parseFields } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import { withIdempotencyKey } from "../../lib/jobs/idempotency.ts";
import { requireJobSlot } from "../../lib/jobs/job-slots.ts";

// A repeated key answers its first result without asking for a slot again.
const createBackup = withIdempotencyKey(
  "backup",
  async (appId, request: ReturnType<typeof validateBackupRequest>, app: Application) => {
    await requireJobSlot(app, "backup");
    return backupView(await startBackup(appId, request));
  },
);

/** POST /api/v2.1/rest/backups (body optional; an `Idempotency-Key` header makes retries safe) */
export const handler = apiHandler(async ({ event, context, headers, app }) => {
  const request = validateBackupRequest(await parseFields(event, headers));
  return ok({
    backup: await createBackup(app.appId, headers["idempotency-key"], request, app, context),
  });
});
