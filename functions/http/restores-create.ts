import type { Application } from "../../lib/chat-db/applications.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { parseJsonObject } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import { restoreView } from "../../lib/http/views.ts";
import { withIdempotencyKey } from "../../lib/jobs/idempotency.ts";
import { requireJobSlot } from "../../lib/jobs/job-slots.ts";
import { startRestore, validateRestoreRequest } from "../../lib/restores/restore-jobs.ts";
import type { RestoreRequest } from "../../schemas/restore-records.ts";

// A repeated key answers its first result without asking for a slot again.
const createRestore = withIdempotencyKey(
  "restore",
  async (appId, request: RestoreRequest, app: Application) => {
    await requireJobSlot(app, "restore");
    return restoreView(await startRestore(appId, request));
  },
);

/** POST /api/v2.1/rest/restores {backup_id, dry_run} (an `Idempotency-Key` header makes retries safe) */
export const handler = apiHandler(async ({ event, context, headers, app }) => {
  const request = validateRestoreRequest(parseJsonObject(event, headers));
  const fingerprint = { ...request, dry_run: request.dry_run ?? false };
  return ok({
    restore: await createRestore(app.appId, headers["idempotency-key"], fingerprint, app, context),
  });
});
