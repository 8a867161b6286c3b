import type { Application } from "../../lib/chat-db/applications.ts";
import { startExport, validateExportRequest } from "../../lib/exports/export-jobs.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { parseFields } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import { exportView } from "../../lib/http/views.ts";
import { withIdempotencyKey } from "../../lib/jobs/idempotency.ts";
import { requireJobSlot } from "../../lib/jobs/job-slots.ts";

// A repeated key answers its first result without asking for a slot again.
const createExport = withIdempotencyKey(
  "export",
  async (appId, request: ReturnType<typeof validateExportRequest>, app: Application) => {
    await requireJobSlot(app, "export");
    return exportView(await startExport(appId, request));
  },
);

/** POST /api/v2.1/rest/exports (an `Idempotency-Key` header makes retries safe) */
export const handler = apiHandler(async ({ event, context, headers, app }) => {
  const request = validateExportRequest(await parseFields(event, headers));
  return ok(await createExport(app.appId, headers["idempotency-key"], request, app, context));
});
