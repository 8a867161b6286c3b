import { Ajv, type ErrorObject } from "ajv";
import addFormatsModule from "ajv-formats";
import { type BackupManifest, backupManifestSchema } from "../../schemas/backup-manifest.ts";

// ajv-formats is CommonJS; its default export arrives wrapped when loaded from ESM.
type AddFormats = (ajv: Ajv, options: { mode: "fast" | "full" }) => Ajv;
const addFormats = ((addFormatsModule as unknown as { default?: AddFormats }).default ??
  addFormatsModule) as unknown as AddFormats;

/**
 * The command line's own check of `manifest.json`: the CLI is installed apart from the service,
 * so it compiles the manifest's schema (from `schemas/`) with an ajv of its own.
 */
const validate = addFormats(new Ajv({ allErrors: true, strict: true }), {
  mode: "full",
}).compile<BackupManifest>(backupManifestSchema);

/** One sentence per ajv error, naming the field (`files.users.sha256`). */
function describe(error: ErrorObject): string {
  const path = error.instancePath.split("/").slice(1);
  if (error.keyword === "required") path.push(String(error.params.missingProperty));
  const field = path.join(".") || "value";
  if (error.keyword === "required") return `${field} is required`;
  return `${field} ${error.message ?? "is invalid"}`;
}

/** The problems of a parsed manifest, one sentence each; empty when it is a backup manifest. */
export function manifestProblems(manifest: unknown): string[] {
  if (validate(manifest)) return [];
  return (validate.errors ?? []).map(describe);
}
