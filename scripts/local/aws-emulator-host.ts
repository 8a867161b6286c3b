import { type AwsDirs, type AwsPorts, startAwsEmulators } from "./aws-emulators.ts";

/**
 * Child process hosting the AWS emulators, so that they use their own core while the API and
 * the consumers run in the parent. Started by `startEmulators`; exits when the parent goes.
 */
process.once("message", async (message: { ports: AwsPorts; dirs: AwsDirs }) => {
  try {
    const stop = await startAwsEmulators(message.ports, message.dirs);
    const exit = async () => {
      await stop();
      process.exit(0);
    };
    process.on("disconnect", exit);
    process.on("SIGTERM", exit);
    process.on("SIGINT", () => {});
    process.send?.({ ready: true });
  } catch (error) {
    process.send?.({ error: (error as Error).message });
    process.exit(1);
  }
});
