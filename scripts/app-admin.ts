import { randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { ROOT_DIR } from "./local/stack.ts";

const USAGE = `usage:
  npm run app -- list
  npm run app -- create <appId> [--name "Shop"] [--timezone Asia/Jakarta] [--nightly on|off] [--replace-secret]
      the secret is APP_SECRET from the environment, or a generated one printed once
  npm run app -- nightly <appId> on|off [--timezone Asia/Jakarta]
works against the stack that npm start is running, or the chat database that DATABASE_HOST,
DATABASE_NAME and DATABASE_SECRET_ARN name (docs/deploy.md)`;

function fail(message: string, showUsage = false): never {
  console.error(showUsage ? `${message}\n\n${USAGE}`.trim() : message);
  process.exit(2);
}

function parseCommandLine() {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        name: { type: "string" },
        timezone: { type: "string" },
        nightly: { type: "string" },
        "replace-secret": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    fail((error as Error).message, true);
  }
}
const { values, positionals } = parseCommandLine();
const [command, appId, switchTo] = positionals;
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
if (!command) fail("", true);

// The chat database of the running local stack, unless DATABASE_SECRET_ARN names another one.
if (!process.env.DATABASE_SECRET_ARN) {
  const stackFile = join(process.env.LOCAL_STATE_DIR ?? join(ROOT_DIR, ".local"), "stack.json");
  if (!existsSync(stackFile)) {
    fail(
      `no DATABASE_SECRET_ARN and no running local stack (${stackFile}): start it with npm start`,
    );
  }
  const stack = JSON.parse(readFileSync(stackFile, "utf8")) as { env: Record<string, string> };
  Object.assign(process.env, stack.env);
}
// Only the chat database is touched here; the job table and bucket names are not used.
process.env.JOBS_TABLE ??= "unused-by-app-admin";
process.env.BUCKET_NAME ??= "unused-by-app-admin";
process.env.LOG_LEVEL ??= "WARN";

const { chatDb, closeChatDb } = await import("../lib/chat-db/pool.ts");
const { setNightlyExport, upsertApplication } = await import("../lib/chat-db/applications.ts");
const { isTimeZone } = await import("../lib/exports/export-jobs.ts");

function checkAppId(id: string | undefined): string {
  if (!id) fail("an application id is required", true);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(id)) {
    fail(`application id "${id.slice(0, 80)}" must be 1-64 letters, digits, "_", "." or "-"`);
  }
  return id;
}

function checkTimezone(zone: string | undefined): string | undefined {
  if (zone !== undefined && !isTimeZone(zone)) {
    fail(`"${zone}" is not an IANA time zone name such as Asia/Jakarta or UTC`);
  }
  return zone;
}

function onOff(value: string | undefined, what: string): boolean | undefined {
  if (value === undefined) return undefined;
  if (value === "on" || value === "off") return value === "on";
  fail(`${what} must be "on" or "off", got "${value}"`);
}

async function exists(id: string): Promise<boolean> {
  const { rowCount } = await chatDb().query("SELECT 1 FROM applications WHERE app_id = $1", [id]);
  return rowCount === 1;
}

async function list() {
  const { rows } = await chatDb().query<{
    app_id: string;
    name: string;
    nightly_export: boolean;
    timezone: string;
    created_at: string;
  }>("SELECT app_id, name, nightly_export, timezone, created_at FROM applications ORDER BY app_id");
  if (rows.length === 0) console.log("no applications");
  for (const row of rows) {
    const nightly = row.nightly_export ? "nightly on " : "nightly off";
    console.log(`${row.app_id.padEnd(24)} ${nightly}  ${row.timezone.padEnd(20)} ${row.name}`);
  }
}

async function create(id: string) {
  const timezone = checkTimezone(values.timezone);
  const nightlyExport = onOff(values.nightly, "--nightly");
  if ((await exists(id)) && !values["replace-secret"]) {
    fail(`application ${id} exists already; add --replace-secret to give it a new secret`);
  }
  const given = process.env.APP_SECRET;
  if (given !== undefined && given.length < 12) fail("APP_SECRET must have at least 12 characters");
  const secret = given ?? randomBytes(24).toString("base64url");
  await upsertApplication({ appId: id, secret, name: values.name, nightlyExport, timezone });
  console.log(`application ${id} is ready (secret stored hashed)`);
  if (given === undefined) {
    console.log(`secret, shown only now: ${secret}`);
  }
}

async function nightly(id: string) {
  const enabled = onOff(switchTo, "the nightly switch");
  if (enabled === undefined) fail("say on or off", true);
  const timezone = checkTimezone(values.timezone);
  if (!(await setNightlyExport(id, enabled, timezone))) fail(`no application ${id}`);
  const { rows } = await chatDb().query<{ timezone: string }>(
    "SELECT timezone FROM applications WHERE app_id = $1",
    [id],
  );
  console.log(
    `nightly export of ${id} is ${enabled ? "on" : "off"} (days in ${rows[0]?.timezone ?? "UTC"})`,
  );
}

try {
  if (command === "list") await list();
  else if (command === "create") await create(checkAppId(appId));
  else if (command === "nightly") await nightly(checkAppId(appId));
  else fail(`unknown command "${command}"`, true);
} catch (error) {
  console.error(`failed: ${(error as Error).message}`);
  process.exitCode = 1;
} finally {
  await closeChatDb();
}
