/**
 * The response envelope of section 4 of the API: `{"results": ..., "status": 200}` or
 * `{"error": {"message", "detailed_messages"}, "status": <code>}`, and API Gateway's own answer
 * to a throttled request.
 */

/** The success envelope around `results`. */
export function successEnvelopeSchema<T extends object>(results: T) {
  return {
    type: "object",
    properties: { results, status: { const: 200 } },
    required: ["results", "status"],
    additionalProperties: false,
  } as const;
}

/** The error envelope with its HTTP status. */
export function errorEnvelopeSchema(status: number) {
  return {
    type: "object",
    properties: {
      error: {
        type: "object",
        properties: {
          message: { type: "string", description: "One sentence." },
          detailed_messages: { type: "array", items: { type: "string" } },
        },
        required: ["message", "detailed_messages"],
        additionalProperties: false,
      },
      status: { const: status },
    },
    required: ["error", "status"],
    additionalProperties: false,
  } as const;
}

/** API Gateway's body for a request above the stage's rate (429): not the service's envelope. */
export const throttledSchema = {
  $id: "throttled",
  type: "object",
  properties: { message: { const: "Too Many Requests" } },
  required: ["message"],
} as const;
