import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

const JSON_HEADERS = { "content-type": "application/json; charset=utf-8" };

/** `{"results": ..., "status": 200}` */
export function ok(results: unknown): APIGatewayProxyStructuredResultV2 {
  return { statusCode: 200, headers: JSON_HEADERS, body: JSON.stringify({ results, status: 200 }) };
}

/** `{"error": {"message", "detailed_messages"}, "status": <code>}` */
export function failure(
  status: number,
  message: string,
  details: string[] = [],
  headers: Record<string, string> = {},
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode: status,
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify({ error: { message, detailed_messages: details }, status }),
  };
}
