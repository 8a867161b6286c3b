import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { InvokeStoreBase } from "@aws/lambda-invoke-store";
import type { Context } from "aws-lambda";
import { asFunction } from "../../lib/aws/call-recorder.ts";
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

/**
 * Loads each function's handler module once and invokes it the way Lambda's runtime does. Given
 * the process's invocation store (`isolate-invocations.ts`), every invocation runs in its own
 * context although all functions share this one process (as in `npm start`), so that a log line
 * never carries another function's name or job, and every AWS SDK command is recorded (when
 * AWS_CALL_RECORD_DIR is set) as that function's.
 */
export class LambdaRuntime {
  private readonly handlers = new Map<string, Promise<Handler>>();
  private readonly store?: InvokeStoreBase;

  constructor(
    private readonly rootDir: string,
    readonly functions: FunctionDefinition[],
    options: { invocationStore?: InvokeStoreBase } = {},
  ) {
    this.store = options.invocationStore;
  }

  definition(name: string): FunctionDefinition {
    const fn = this.functions.find((candidate) => candidate.name === name);
    if (!fn) throw new Error(`no function named ${name} in serverless.yml`);
    return fn;
  }

  /** Invokes a function by name with an event, like `aws lambda invoke`. */
  async invoke(name: string, event: unknown, context?: Context): Promise<unknown> {
    const fn = this.definition(name);
    const store = this.store;
    const handler = await this.load(fn);
    const invocation = context ?? lambdaContext(fn);
    // The function's name travels with the invocation: the AWS call recorder attributes to it.
    return asFunction(fn.name, () => {
      if (!store) return handler(event, invocation);
      return store.run(
        { [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: invocation.awsRequestId },
        () => handler(event, invocation),
      );
    });
  }

  /**
   * Loads every function's handler now, as Lambda runs a function's init before its first event:
   * the first request after a start finds its code loaded (here: compiled by tsx, several hundred
   * modules resolved), not only the second.
   */
  async preload(): Promise<void> {
    await Promise.all(this.functions.map((fn) => this.load(fn)));
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
