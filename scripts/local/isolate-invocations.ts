import { InvokeStore } from "@aws/lambda-invoke-store";

/**
 * Lambda's multi-concurrency mode for this process: the invocation store that Powertools (and the
 * AWS SDK) look for, keeping one context per invocation. Import this module before anything else
 * of a process whose every handler call goes through `LambdaRuntime.invoke` (`npm start`): the
 * first caller of `InvokeStore.getInstanceAsync` fixes the store's kind for the whole process,
 * and the AWS SDK asks for it on its first request.
 */
process.env.AWS_LAMBDA_MAX_CONCURRENCY ??= "64";

export const invocationStore = await InvokeStore.getInstanceAsync(true);
