import { run } from "./main.ts";

/** Runs `chat-backup` with the process's arguments and exits with its code. */
export async function main(): Promise<void> {
  const code = await run(process.argv);
  // Open keep-alive sockets must not hold the exit back once the work is done.
  process.stdout.write("", () => process.exit(code));
}
