import { createHash } from "node:crypto";
import type { Application } from "../../lib/chat-db/applications.ts";
import { apiHandler } from "../../lib/http/api.ts";
import { parseJsonObject, parseMultipart } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import { importView } from "../../lib/http/views.ts";
import {
  type ImportUpload,
  importBodyKind,
  MAX_IMPORT_BYTES,
  requireUploadId,
  startImport,
  validateImportForm,
} from "../../lib/imports/import-jobs.ts";
import { startUploadedImport, validateStartRequest } from "../../lib/imports/uploads.ts";
import { withIdempotencyKey } from "../../lib/jobs/idempotency.ts";
import { requireJobSlot } from "../../lib/jobs/job-slots.ts";
import type { ImportFromUploadRequest } from "../../schemas/import-upload.ts";

interface ImportFingerprint {
  type: string;
  dryRun: boolean;
  onExisting: string;
  filename: string;
  sha256: string;
}

// A repeated key answers its first result without asking for a slot again.
const createImport = withIdempotencyKey(
  "import",
  async (
    appId,
    _fingerprint: ImportFingerprint,
    input: { upload: ImportUpload; app: Application },
  ) => {
    await requireJobSlot(input.app, "import");
    return importView(await startImport(appId, input.upload));
  },
);

const startUpload = withIdempotencyKey(
  "import",
  async (appId, request: ImportFromUploadRequest, app: Application) => {
    await requireJobSlot(app, "import");
    return importView(await startUploadedImport(appId, request));
  },
);

/**
 * POST /api/v2.1/rest/imports: multipart/form-data (type, file, optional dry_run) or JSON naming
 * an uploaded file (type, upload_id, optional dry_run); optional Idempotency-Key.
 */
export const handler = apiHandler(async ({ event, context, headers, app }) => {
  if (importBodyKind(headers) === "upload") {
    const request = validateStartRequest(requireUploadId(parseJsonObject(event, headers)));
    const fingerprint = {
      ...request,
      dry_run: request.dry_run ?? false,
      on_existing: request.on_existing ?? "fail",
    };
    const job = await startUpload(app.appId, headers["idempotency-key"], fingerprint, app, context);
    return ok({ backup_history: job });
  }
  const form = await parseMultipart(event, headers, MAX_IMPORT_BYTES);
  const upload = validateImportForm(form.fields, form.files);
  // The same key must come with the same file: it is compared by its SHA-256, not kept.
  const fingerprint = {
    type: upload.resource,
    dryRun: upload.dryRun,
    onExisting: upload.onExisting,
    filename: upload.file.filename,
    sha256: createHash("sha256").update(upload.file.content).digest("hex"),
  };
  const job = await createImport(
    app.appId,
    headers["idempotency-key"],
    fingerprint,
    { upload, app },
    context,
  );
  return ok({ backup_history: job });
});
