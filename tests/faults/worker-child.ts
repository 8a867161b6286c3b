import type { SQSEvent } from "aws-lambda";
import { LambdaRuntime, lambdaContext } from "../../scripts/local/lambda-runtime.ts";
import { loadServiceDefinition } from "../../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../../scripts/local/stack.ts";

/**
 * A stand-alone Lambda container for fault tests: it runs queue consumer functions on the SQS
 * events its parent sends, with whatever environment the parent gave it (e.g. an S3 endpoint
 * that does not answer), and reports each result.
 */
const runtime = new LambdaRuntime(ROOT_DIR, loadServiceDefinition(ROOT_DIR).functions);

process.on("message", async (input: { functionName: string; event: SQSEvent }) => {
  const started = Date.now();
  try {
    const fn = runtime.definition(input.functionName);
    const result = await runtime.invoke(input.functionName, input.event, lambdaContext(fn));
    process.send?.({ result, ms: Date.now() - started });
  } catch (error) {
    process.send?.({ error: (error as Error).message, ms: Date.now() - started });
  }
});
process.send?.({ ready: true });
