import { apiHandler } from "../../lib/http/api.ts";
import { parseMultipart } from "../../lib/http/body.ts";
import { ok } from "../../lib/http/envelope.ts";
import {
  MAX_IMPORT_BYTES,
  requireMultipart,
  startImport,
  validateImportForm,
} from "../../lib/imports/import-jobs.ts";
import { importView } from "../../lib/jobs/job-record.ts";

/** POST /api/v2.1/rest/imports (multipart/form-data: type, file, optional dry_run) */
export const handler = apiHandler(async ({ event, headers, app }) => {
  requireMultipart(headers);
  const form = await parseMultipart(event, headers, MAX_IMPORT_BYTES);
  const job = await startImport(app.appId, validateImportForm(form.fields, form.files));
  return ok({ backup_history: importView(job) });
});
