import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Context } from "aws-lambda";
import type { FunctionDefinition } from "./serverless-definition.ts";

type Handler = (event: unknown, context: Context) => Promise<unknown>;

/** A Lambda context whose remaining time counts down from the function's timeout. */
export function lambdaContext(
  fn: { name: string; timeoutSeconds: number },
  budgetMs = fn.timeoutSeconds * 1000,
): Context {
  const deadline = Date.now() + budgetMs;
  const requestId = randomUUID();
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.name,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${fn.name}`,
    memoryLimitInMB: "1024",
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** Loads each function's handler module once, the way the Lambda runtime would. */
export class LambdaRuntime {
  private readonly handlers = new Map<string, Promise<Handler>>();

  constructor(
    private readonly rootDir: string,
    readonly functions: FunctionDefinition[],
  ) {}

  definition(name: string): FunctionDefinition {
    const fn = this.functions.find((candidate) => candidate.name === name);
    if (!fn) throw new Error(`no function named ${name} in serverless.yml`);
    return fn;
  }

  /** Invokes a function by name with an event, like `aws lambda invoke`. */
  async invoke(name: string, event: unknown, context?: Context): Promise<unknown> {
    const fn = this.definition(name);
    const handler = await this.load(fn);
    return handler(event, context ?? lambdaContext(fn));
  }

  private load(fn: FunctionDefinition): Promise<Handler> {
    let loaded = this.handlers.get(fn.name);
    if (!loaded) {
      const url = pathToFileURL(join(this.rootDir, `${fn.module}.ts`)).href;
      loaded = import(url).then((module) => {
        const handler = module[fn.exportName];
        if (typeof handler !== "function")
          throw new Error(`${fn.module}.${fn.exportName} is not a function`);
        return handler as Handler;
      });
      this.handlers.set(fn.name, loaded);
    }
    return loaded;
  }
}
