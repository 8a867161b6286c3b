import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { ImportUpload } from "../../schemas/import-upload.ts";
import type { ImportJob, ImportRowError } from "../../schemas/job-records.ts";
import { ApiError, CliError, JobFailedError } from "./cli-errors.ts";
import type { CommandContext, Resource } from "./context.ts";
import { waitForJob } from "./job-wait.ts";
import { formatBytes, type Reporter } from "./progress.ts";
import { blobBody, fileBody } from "./transfer.ts";

/** Files up to this size go in a multipart form; larger ones through an upload URL. */
export const MULTIPART_MAX_BYTES = 4 * 1024 * 1024;

export interface ImportOptions {
  dryRun?: boolean;
  /** Rows in the file when known (a backup's manifest): the bar then shows rows from the start. */
  expectedRows?: number;
  /**
   * Decides whether a failed job still counts as passed (a dry run of rooms or comments whose
   * only problems are references to rows a dry run of the earlier files did not write).
   */
  tolerate?: (job: ImportJob) => string | undefined;
}

async function fileSize(file: string): Promise<number> {
  try {
    const info = await stat(file);
    if (!info.isFile()) throw new CliError(`${file} is not a file`);
    return info.size;
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? error}`);
  }
}

/** Rows of a small JSON array file, for the progress bar; undefined when it is not one. */
function countRows(content: Buffer): number | undefined {
  try {
    const value = JSON.parse(content.toString("utf8"));
    return Array.isArray(value) ? value.length : undefined;
  } catch {
    return undefined;
  }
}

async function startMultipart(
  { client, reporter }: CommandContext,
  type: Resource,
  file: string,
  content: Buffer,
  dryRun: boolean,
): Promise<ImportJob> {
  const form = new FormData();
  form.set("type", type);
  if (dryRun) form.set("dry_run", "true");
  form.set("file", new Blob([content], { type: "application/json" }), basename(file));
  // The form encoded once, so that its length is known and its bytes can be counted as they go.
  const encoded = new Response(form);
  const contentType = encoded.headers.get("content-type") as string;
  const blob = await encoded.blob();
  const upload = reporter.bytes(`upload ${type}`, blob.size);
  try {
    const { backup_history } = await client.request<{ backup_history: ImportJob }>(
      "POST",
      "/imports",
      {
        body: () => ({
          body: blobBody(blob, upload),
          headers: { "content-type": contentType, "content-length": String(blob.size) },
        }),
        idempotent: true,
      },
    );
    upload.stop();
    return backup_history;
  } catch (error) {
    upload.stop(false);
    throw error;
  }
}

async function startFromUpload(
  { client, reporter }: CommandContext,
  type: Resource,
  file: string,
  size: number,
  dryRun: boolean,
): Promise<ImportJob> {
  let upload: ImportUpload;
  try {
    ({ upload } = await client.request<{ upload: ImportUpload }>("POST", "/imports/uploads", {
      json: { type, filename: basename(file), size },
    }));
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
      throw new CliError(
        `${file} is ${formatBytes(size)}, above the 4 MiB of a form upload, and this server has no upload route for larger files (POST /api/v2.1/rest/imports/uploads answered ${error.status})`,
      );
    }
    throw error;
  }
  if (size > upload.max_size) {
    throw new CliError(
      `${file} is ${formatBytes(size)}; the server takes at most ${formatBytes(upload.max_size)}`,
    );
  }
  const progress = reporter.bytes(`upload ${type}`, size);
  for (let attempt = 1; ; attempt += 1) {
    let response: Response | undefined;
    try {
      response = await fetch(upload.upload_url, {
        method: "PUT",
        body: fileBody(file, progress),
        headers: { "content-length": String(size), "content-type": "application/octet-stream" },
        duplex: "half",
      } as RequestInit);
    } catch (error) {
      if (attempt >= 3) {
        progress.stop(false);
        const cause = (error as { cause?: { code?: string } }).cause?.code;
        throw new CliError(`the upload of ${file} failed: ${cause ?? (error as Error).message}`);
      }
      continue;
    }
    await response.arrayBuffer();
    if (response.ok) break;
    if (response.status < 500 || attempt >= 3) {
      progress.stop(false);
      throw new CliError(`the upload of ${file} failed: HTTP ${response.status}`);
    }
  }
  progress.stop();
  const { backup_history } = await client.request<{ backup_history: ImportJob }>(
    "POST",
    "/imports",
    { json: { type, upload_id: upload.upload_id, dry_run: dryRun }, idempotent: true },
  );
  return backup_history;
}

/** Prints a failed import's sentence and every row error it lists. */
export function printRowErrors(reporter: Reporter, job: ImportJob): void {
  const errors = job.errors as { Message?: string; Data?: ImportRowError[] | null };
  reporter.print(`import ${job.resource_name} failed: ${errors.Message || "no reason given"}`);
  for (const problem of errors.Data ?? []) {
    reporter.print(`  row ${problem.row}  ${problem.field || "(row)"}: ${problem.message}`);
  }
}

/**
 * Imports a file: a multipart form up to 4 MiB, the upload URL above; then waits for the job.
 * A failed job has its row errors printed and ends the command with exit code 1.
 */
export async function importFile(
  context: CommandContext,
  type: Resource,
  file: string,
  options: ImportOptions = {},
): Promise<ImportJob> {
  const { client, reporter } = context;
  const size = await fileSize(file);
  const dryRun = options.dryRun ?? false;
  let expectedRows = options.expectedRows;
  let started: ImportJob;
  if (size <= MULTIPART_MAX_BYTES) {
    const content = await readFile(file);
    expectedRows ??= countRows(content);
    started = await startMultipart(context, type, file, content, dryRun);
  } else {
    started = await startFromUpload(context, type, file, size, dryRun);
  }
  const label = `${dryRun ? "check" : "import"} ${type}`;
  if (!reporter.tty) reporter.step(`${label}: started ${started.unique_id}`);
  const bar = reporter.job(label, expectedRows);
  let tolerated: string | undefined;
  const job = await waitForJob(
    async () =>
      (await client.request<{ backup_history: ImportJob }>("GET", `/imports/${started.unique_id}`))
        .backup_history,
    {
      update: (state) => bar.update(state),
      stop: (state) => {
        tolerated = state.status === "failed" ? options.tolerate?.(state as ImportJob) : undefined;
        bar.stop(tolerated ? { ...state, status: "passed*", percentage: 100 } : state);
      },
    },
  );
  if (job.status === "failed") {
    if (tolerated) {
      reporter.step(`* ${tolerated}`);
      return job;
    }
    printRowErrors(reporter, job);
    throw new JobFailedError(`import of ${type} from ${file} failed, nothing was imported`, job);
  }
  return job;
}
