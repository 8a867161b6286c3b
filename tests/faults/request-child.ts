import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { LambdaRuntime, lambdaContext } from "../../scripts/local/lambda-runtime.ts";
import { loadServiceDefinition } from "../../scripts/local/serverless-definition.ts";
import { ROOT_DIR } from "../../scripts/local/stack.ts";

/**
 * A stand-alone HTTP function container for the idempotency crash test: it invokes one API
 * function on one request, with an invocation budget its parent chooses, and with whatever
 * environment its parent gave it (e.g. an SQS endpoint that never answers), so that the parent
 * can kill it while the request is half-way.
 */
const runtime = new LambdaRuntime(ROOT_DIR, loadServiceDefinition(ROOT_DIR).functions);

process.on(
  "message",
  async (input: { functionName: string; event: APIGatewayProxyEventV2; budgetMs: number }) => {
    const fn = runtime.definition(input.functionName);
    const result = await runtime.invoke(
      input.functionName,
      input.event,
      lambdaContext(fn, input.budgetMs),
    );
    process.send?.({ result });
  },
);
process.send?.({ ready: true });
