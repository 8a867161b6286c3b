import type { FromSchema } from "json-schema-to-ts";

/** Form fields of `POST /api/v2.1/rest/imports` besides the file. */
export const importRequestSchema = {
  $id: "import-request",
  type: "object",
  properties: {
    type: { type: "string", enum: ["users", "rooms", "comments"] },
    dry_run: { type: "string", enum: ["true", "false"] },
    on_existing: {
      type: "string",
      enum: ["fail", "skip"],
      description:
        "What a row already in the application does: `fail` (default) makes it a row error; `skip` skips it when its content is the same and counts it in `skipped_rows` (other content is still a row error).",
    },
  },
  required: ["type"],
  additionalProperties: false,
} as const;

export type ImportRequest = FromSchema<typeof importRequestSchema>;
