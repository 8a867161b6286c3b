import type { FromSchema } from "json-schema-to-ts";

/** Form fields of `POST /api/v2.1/rest/imports` besides the file. */
export const importRequestSchema = {
  $id: "import-request",
  type: "object",
  properties: {
    type: { type: "string", enum: ["users", "rooms", "comments"] },
    dry_run: { type: "string", enum: ["true", "false"] },
  },
  required: ["type"],
  additionalProperties: false,
} as const;

export type ImportRequest = FromSchema<typeof importRequestSchema>;
