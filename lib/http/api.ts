import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import { logMetrics } from "@aws-lambda-powertools/metrics/middleware";
import middy, { type MiddlewareObj } from "@middy/core";
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import type { Application } from "../chat-db/applications.ts";
import { config } from "../config.ts";
import { ServiceError, UnauthorizedError } from "../errors.ts";
import { logger, metrics } from "../observability.ts";
import { failure } from "./envelope.ts";
import { admitRequest, authenticateFairly } from "./fair-use.ts";

type Result = APIGatewayProxyStructuredResultV2;

/** What a route handler receives: the event, the authenticated application and parsed parts. */
export interface ApiRequest {
  event: APIGatewayProxyEventV2;
  context: Context;
  app: Application;
  headers: Record<string, string>;
  query: Record<string, string>;
  params: Record<string, string>;
}

export type Route = (request: ApiRequest) => Promise<Result>;

/** Header names are case-insensitive; API Gateway lower-cases them, a local server may not. */
export function lowerCaseHeaders(event: APIGatewayProxyEventV2): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined) headers[name.toLowerCase()] = value;
  }
  return headers;
}

function credentials(headers: Record<string, string>) {
  return {
    appId: headers["qiscus-sdk-app-id"] ?? headers.qiscus_sdk_app_id,
    secret: headers["qiscus-sdk-secret"] ?? headers.qiscus_sdk_secret,
  };
}

/** Turns any error into the error envelope; only ServiceErrors show their words to a client. */
export function errorEnvelope(): MiddlewareObj<APIGatewayProxyEventV2, Result> {
  return {
    onError: async (request) => {
      const error = request.error;
      if (error instanceof ServiceError) {
        if (error.status >= 500) logger.error("request failed", { error });
        request.response = failure(error.status, error.message, error.details, error.headers);
        return;
      }
      logger.error("unexpected error", { error: error as Error });
      request.response = failure(500, "internal error, the request was not completed");
    },
  };
}

/**
 * Wraps a route in the one middleware order every HTTP handler uses: Lambda context and the
 * request id (correlation id) in the logger, metrics flushed per request, then the error
 * envelope, then authentication of the application. The configuration is read and validated
 * when the handler is created (cold start).
 */
export function apiHandler(route: Route, options: { authenticate?: boolean } = {}) {
  const mustAuthenticate = options.authenticate ?? true;
  config();
  return middy<APIGatewayProxyEventV2, Result>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }))
    .use(errorEnvelope())
    .handler(async (event, context) => {
      logger.setCorrelationId(event.requestContext?.requestId);
      const headers = lowerCaseHeaders(event);
      let app: Application = { appId: "", name: "", nightlyExport: false, timezone: "UTC" };
      if (mustAuthenticate) {
        const { appId, secret } = credentials(headers);
        const missing = [
          appId ? "" : "header QISCUS-SDK-APP-ID is missing",
          secret ? "" : "header QISCUS-SDK-SECRET is missing",
        ].filter(Boolean);
        if (missing.length) throw new UnauthorizedError(missing);
        const source = event.requestContext?.http?.sourceIp ?? "unknown";
        app = await authenticateFairly(appId as string, secret as string, source);
        logger.appendKeys({ app_id: app.appId });
        await admitRequest(app);
      }
      return route({
        event,
        context,
        app,
        headers,
        query: (event.queryStringParameters ?? {}) as Record<string, string>,
        params: (event.pathParameters ?? {}) as Record<string, string>,
      });
    });
}
