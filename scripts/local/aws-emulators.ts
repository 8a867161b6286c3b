import { mkdirSync, rmSync } from "node:fs";
import type { Server } from "node:http";
// @ts-expect-error dynalite ships no type declarations
import dynalite from "dynalite";
import { startFauxqs } from "fauxqs";
// @ts-expect-error s3rver ships no type declarations
import S3rver from "s3rver";

export interface AwsPorts {
  dynamodb: number;
  sqs: number;
  s3: number;
}

/**
 * Starts DynamoDB (dynalite), SQS (fauxqs) and S3 (s3rver) on loopback. Job records and queue
 * messages live in memory, so the S3 folder starts empty too: after a restart, jobs, queues
 * and files are consistent (all new) while the chat database keeps its data.
 */
export async function startAwsEmulators(
  ports: AwsPorts,
  s3Dir: string,
): Promise<() => Promise<void>> {
  const stops: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stops.reverse()) await fn().catch(() => {});
  };
  try {
    const dynamo: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
    await new Promise<void>((resolve, reject) => {
      dynamo.once("error", reject);
      dynamo.listen(ports.dynamodb, "127.0.0.1", resolve);
    });
    stops.push(() => new Promise<void>((resolve) => dynamo.close(() => resolve())));

    const fauxqs = await startFauxqs({ port: ports.sqs, logger: false, host: "127.0.0.1" });
    stops.push(() => fauxqs.stop());

    rmSync(s3Dir, { recursive: true, force: true });
    mkdirSync(s3Dir, { recursive: true });
    const s3 = new S3rver({ port: ports.s3, address: "127.0.0.1", silent: true, directory: s3Dir });
    await s3.run();
    stops.push(() => s3.close());
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}
