import { readFileSync } from "node:fs";

/** Set by the package's bundler (packages/chat-backup/build.mjs) to the package's version. */
declare const CHAT_BACKUP_VERSION: string | undefined;

/**
 * The version of the `chat-backup` package: written into the bundle when it is built, read from
 * the package's own package.json when the command runs from a clone of the repository.
 */
export const VERSION: string =
  typeof CHAT_BACKUP_VERSION === "string"
    ? CHAT_BACKUP_VERSION
    : (
        JSON.parse(
          readFileSync(new URL("../../packages/chat-backup/package.json", import.meta.url), "utf8"),
        ) as { version: string }
      ).version;
