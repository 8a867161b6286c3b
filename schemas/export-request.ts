import type { FromSchema } from "json-schema-to-ts";

/** Body of `POST /api/v2.1/rest/exports` (JSON or form fields). */
export const exportRequestSchema = {
  $id: "export-request",
  type: "object",
  properties: {
    type: { type: "string", enum: ["users", "rooms", "comments"] },
    start_date: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$", format: "date" },
    end_date: { type: "string", pattern: "^\\d{4}-\\d{2}-\\d{2}$", format: "date" },
    timezone: { type: "string", minLength: 1, maxLength: 64 },
  },
  required: ["type"],
  additionalProperties: false,
} as const;

export type ExportRequest = FromSchema<typeof exportRequestSchema>;
