import { Argument, Command, CommanderError, Option } from "commander";
import { ApiClient } from "./api-client.ts";
import { backupApplication } from "./backup-command.ts";
import {
  createBackup,
  deleteBackup,
  downloadBackup,
  getBackup,
  listBackups,
} from "./backups-command.ts";
import { CliError, EXIT, JobFailedError } from "./cli-errors.ts";
import { type CommandContext, RESOURCES, type Resource } from "./context.ts";
import { exportResource } from "./export-command.ts";
import { importFile } from "./import-command.ts";
import { JOB_KINDS, type JobKind, listJobs } from "./jobs-command.ts";
import { formatBytes, formatCount, Reporter } from "./progress.ts";
import { restoreApplication } from "./restore-command.ts";
import { restoreFromBackup } from "./server-restore-command.ts";
import { VERSION } from "./version.ts";

interface GlobalOptions {
  url: string;
  appId?: string;
  secret?: string;
  json?: boolean;
}

function context(command: Command, reporter: Reporter): CommandContext {
  const options = command.optsWithGlobals<GlobalOptions>();
  if (!options.appId) {
    throw new CliError("no application id: pass --app-id or set QISCUS_SDK_APP_ID");
  }
  if (!options.secret) {
    throw new CliError("no application secret: set QISCUS_SDK_SECRET (or pass --secret)");
  }
  let url: URL;
  try {
    url = new URL(options.url);
  } catch {
    throw new CliError(`--url is not a URL: ${options.url}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`--url must be an http:// or https:// address, got ${options.url}`);
  }
  const client = new ApiClient(
    { url: options.url.replace(/\/+$/, ""), appId: options.appId, secret: options.secret },
    (reason, waitMs) => reporter.step(`${reason}: trying again in ${(waitMs / 1000).toFixed(1)} s`),
  );
  return { client, reporter };
}

function pageOption(raw: string): number {
  const page = Number(raw);
  if (!Number.isInteger(page) || page < 1) {
    throw new CliError(`--page must be a whole number from 1, got ${raw}`);
  }
  return page;
}

const resourceArgument = () =>
  new Argument("<type>", "what to move").choices(RESOURCES as unknown as string[]);

function program(reporter: Reporter): Command {
  const cli = new Command("chat-backup")
    .description(
      "Back up and restore a chat application's users, rooms and comments through the data backup API.",
    )
    .version(VERSION)
    .addOption(
      new Option("--url <url>", "address of the API")
        .env("CHAT_BACKUP_URL")
        .default("http://127.0.0.1:3000"),
    )
    .addOption(new Option("--app-id <id>", "application id").env("QISCUS_SDK_APP_ID"))
    .addOption(
      new Option(
        "--secret <secret>",
        "application secret (prefer the environment variable: arguments show in the process list)",
      ).env("QISCUS_SDK_SECRET"),
    )
    .option("--json", "print the result as JSON on stdout (progress still goes to stderr)")
    .showSuggestionAfterError()
    .exitOverride()
    .addHelpText(
      "after",
      "\nExit codes: 0 done, 1 a job failed (or a file did not match its checksum), 2 bad usage, connection or authentication error.",
    );

  cli
    .command("export")
    .description("export one type, wait for it, download the file and check its SHA-256")
    .addArgument(resourceArgument())
    .option("--start-date <date>", "first day to export, YYYY-MM-DD (inclusive)")
    .option("--end-date <date>", "last day to export, YYYY-MM-DD (inclusive)")
    .option("--timezone <zone>", "IANA time zone of the days (default UTC)")
    .option("-o, --output <file>", "where to write the file (default: the export's file name)")
    .action(async (type: Resource, options, command: Command) => {
      const result = await exportResource(context(command, reporter), type, options);
      reporter.print(
        `exported ${formatCount(result.rows)} ${type} (${formatBytes(result.bytes)}) to ${result.file}, sha256 ${result.sha256}`,
      );
      reporter.printJson(result);
    });

  cli
    .command("import")
    .description("import a file (up to 4 MiB as a form, larger through an upload URL) and wait")
    .addArgument(resourceArgument())
    .argument("<file>", "a JSON array of rows, e.g. a file of chat-backup export")
    .option("--dry-run", "check every row, write nothing")
    .action(async (type: Resource, file: string, options, command: Command) => {
      const job = await importFile(context(command, reporter), type, file, {
        dryRun: options.dryRun,
      });
      reporter.print(
        `${options.dryRun ? "checked" : "imported"} ${formatCount(job.total_rows)} ${type} from ${file}${options.dryRun ? " (dry run, nothing written)" : ""}, import ${job.unique_id}`,
      );
      reporter.printJson(job);
    });

  cli
    .command("backup")
    .description("export users, rooms and comments into DIR, with manifest.json")
    .argument("<dir>", "a new or empty directory")
    .action(async (dir: string, _options, command: Command) => {
      await backupApplication(context(command, reporter), dir);
    });

  cli
    .command("restore")
    .description(
      "restore DIR: check a backup's checksums, then import users, rooms and comments, stopping at the first failure; restore --backup ID: the service restores one of its backups straight from storage",
    )
    .argument("[dir]", "a directory made by backup (or downloaded from a backup)")
    .option("--backup <id>", "restore this backup of the application on the server instead")
    .option("--dry-run", "check everything, write nothing")
    .action(async (dir: string | undefined, options, command: Command) => {
      if ((dir === undefined) === (options.backup === undefined)) {
        throw new CliError("give either a backup directory or --backup ID, not both or neither");
      }
      if (options.backup !== undefined) {
        await restoreFromBackup(context(command, reporter), options.backup, {
          dryRun: options.dryRun,
        });
        return;
      }
      await restoreApplication(context(command, reporter), dir as string, {
        dryRun: options.dryRun,
      });
    });

  const backups = cli
    .command("backups")
    .description("the service's backups of the application: restore points made on the server");
  backups
    .command("list", { isDefault: true })
    .description("the application's backups, newest first")
    .option("--page <n>", "page of 20 backups", "1")
    .action(async (options, command: Command) => {
      await listBackups(context(command, reporter), pageOption(options.page));
    });
  backups
    .command("create")
    .description("start a backup of users, rooms and comments at one instant, and wait for it")
    .option("--gzip", "store the files gzip-compressed")
    .option("--no-wait", "print the new backup and return at once")
    .action(async (options, command: Command) => {
      await createBackup(context(command, reporter), { gzip: options.gzip, wait: options.wait });
    });
  backups
    .command("get")
    .description("one backup: status, cut, files")
    .argument("<id>", "the backup's unique_id")
    .action(async (id: string, _options, command: Command) => {
      await getBackup(context(command, reporter), id);
    });
  backups
    .command("download")
    .description(
      "download a finished backup into DIR (checked file by file); restore it with restore DIR",
    )
    .argument("<id>", "the backup's unique_id")
    .argument("<dir>", "a new or empty directory")
    .action(async (id: string, dir: string, _options, command: Command) => {
      await downloadBackup(context(command, reporter), id, dir);
    });
  backups
    .command("delete")
    .description("delete a backup's files and record (a running backup is cancelled)")
    .argument("<id>", "the backup's unique_id")
    .action(async (id: string, _options, command: Command) => {
      await deleteBackup(context(command, reporter), id);
    });
  for (const command of backups.commands) command.exitOverride();

  cli
    .command("jobs")
    .description("the application's recent jobs, newest first")
    .addArgument(
      new Argument("[kind]", "only exports or only imports").choices(
        JOB_KINDS as unknown as string[],
      ),
    )
    .option("--page <n>", "page of 20 jobs of each kind", "1")
    .action(async (kind: JobKind | undefined, options, command: Command) => {
      await listJobs(context(command, reporter), kind, pageOption(options.page));
    });

  for (const command of cli.commands) command.exitOverride();
  return cli;
}

/**
 * Runs `chat-backup` with `argv` (as `process.argv`) and returns the exit code: 0 done, 1 a job
 * failed, 2 bad usage, connection or authentication error. Every failure is one line on
 * stderr, never a stack trace.
 */
export async function run(argv: string[]): Promise<number> {
  const json = argv.includes("--json");
  const reporter = new Reporter({ tty: Boolean(process.stderr.isTTY), json });
  process.once("SIGINT", () => {
    // A bar hides the cursor: give it back. Jobs already started go on on the server.
    if (reporter.tty) process.stderr.write("\u001b[?25h\n");
    reporter.step("chat-backup: interrupted; jobs already started go on (see chat-backup jobs)");
    process.exit(130);
  });
  try {
    await program(reporter).parseAsync(argv);
    return EXIT.done;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander has printed the help, the version or its one-line complaint
      return error.exitCode === 0 ? EXIT.done : EXIT.usage;
    }
    const message = error instanceof Error ? error.message : String(error);
    const code = error instanceof CliError ? error.exitCode : EXIT.usage;
    reporter.step(
      `chat-backup: ${error instanceof CliError ? "" : "unexpected error: "}${message}`,
    );
    const result = error instanceof JobFailedError ? error.result : undefined;
    reporter.printJson({ error: message, exit_code: code, ...(result ? { job: result } : {}) });
    return code;
  }
}
