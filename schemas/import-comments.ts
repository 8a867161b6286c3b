import type { FromSchema } from "json-schema-to-ts";
import { COMMENT_TYPES } from "./comment-payloads.ts";
import { emailAddress, rfc3339, uniqueIdentifier } from "./import-fields.ts";

/**
 * One row of a comments import file. `Payload` is checked separately by the schema of the row's
 * `Type` (see comment-payloads.ts), so that its errors name the payload's own fields.
 */
export const importCommentSchema = {
  $id: "import-comment",
  type: "object",
  properties: {
    Message: { type: "string", minLength: 1, maxLength: 4000 },
    DisableLinkPreview: { type: "boolean" },
    Type: { type: "string", enum: COMMENT_TYPES },
    UniqueId: uniqueIdentifier,
    CreatorEmail: emailAddress,
    RoomUniqueId: uniqueIdentifier,
    CreatedAt: rfc3339,
    Payload: {},
    ParentCommentUniqueId: { type: "string", maxLength: 255 },
  },
  required: ["Message", "Type", "UniqueId", "CreatorEmail", "RoomUniqueId"],
  additionalProperties: false,
} as const;

export type ImportCommentRow = FromSchema<typeof importCommentSchema>;
