import type { ApiClient } from "./api-client.ts";
import type { Reporter } from "./progress.ts";

/** What every command works with: the API and the screen. */
export interface CommandContext {
  client: ApiClient;
  reporter: Reporter;
}

export const RESOURCES = ["users", "rooms", "comments"] as const;
export type Resource = (typeof RESOURCES)[number];
