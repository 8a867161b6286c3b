import { resolve } from "node:path";
import type { ExportJob } from "../../schemas/job-records.ts";
import { JobFailedError } from "./cli-errors.ts";
import type { CommandContext, Resource } from "./context.ts";
import { waitForJob } from "./job-wait.ts";
import { fileInside } from "./safe-path.ts";
import { downloadVerified } from "./transfer.ts";

const DOWNLOAD_ATTEMPTS = 3;

export interface ExportOptions {
  startDate?: string;
  endDate?: string;
  timezone?: string;
  /** Where the file goes; by default the export's own file name in the current directory. */
  output?: string;
}

/** What `export` reports. */
export interface ExportResult {
  type: Resource;
  unique_id: string;
  file: string;
  rows: number;
  bytes: number;
  sha256: string;
}

/**
 * Starts an export, waits for it, downloads the file and checks it against the export's
 * `checksum_sha256` while it streams to disk.
 */
export async function exportResource(
  { client, reporter }: CommandContext,
  type: Resource,
  options: ExportOptions = {},
): Promise<ExportResult> {
  const started = await client.request<ExportJob>("POST", "/exports", {
    json: {
      type,
      start_date: options.startDate,
      end_date: options.endDate,
      timezone: options.timezone,
    },
    idempotent: true,
  });
  if (!reporter.tty) reporter.step(`export ${type}: started ${started.unique_id}`);
  const job = await waitForJob(
    async () =>
      (await client.request<{ backup_history: ExportJob }>("GET", `/exports/${started.unique_id}`))
        .backup_history,
    reporter.job(`export ${type}`),
  );
  if (job.status === "failed") {
    throw new JobFailedError(
      `export of ${type} failed: ${job.error_message || "no reason given"}`,
      job,
    );
  }
  // The user's own --output is taken as given; a name from the server stays in this directory.
  const file = options.output
    ? resolve(options.output)
    : fileInside(process.cwd(), job.original_filename, `${type}.json`);
  const download = reporter.bytes(`download ${type}`, job.size, () => `-> ${file} (sha256 ok)`);
  let digest: Awaited<ReturnType<typeof downloadVerified>> | undefined;
  // A broken or corrupted transfer is tried again from the start (the URL stays valid for a while).
  for (let attempt = 1; !digest; attempt += 1) {
    try {
      digest = await downloadVerified(job.download_url, file, job.checksum_sha256, download);
    } catch (error) {
      if (attempt >= DOWNLOAD_ATTEMPTS) {
        download.stop(false);
        throw error;
      }
      reporter.step(`download ${type}: ${(error as Error).message}; trying again`);
      download.reset();
    }
  }
  download.stop();
  return {
    type,
    unique_id: job.unique_id,
    file,
    rows: job.total_rows,
    bytes: digest.bytes,
    sha256: digest.sha256,
  };
}
