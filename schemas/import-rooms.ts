import type { FromSchema } from "json-schema-to-ts";
import { emailAddress, optionalWebUrl, rfc3339, uniqueIdentifier } from "./import-fields.ts";

/**
 * One row of a rooms import file. For a `single` room the stored name is derived from the two
 * participants, so `Name` may be anything (or absent); a `group` needs its name.
 */
export const importRoomSchema = {
  $id: "import-room",
  type: "object",
  properties: {
    Name: { type: "string", maxLength: 255 },
    Type: { type: "string", enum: ["single", "group"] },
    Options: { type: "string", maxLength: 65536 },
    CreatorEmail: emailAddress,
    CreatedAt: rfc3339,
    AvatarUrl: optionalWebUrl,
    UniqueId: uniqueIdentifier,
    ParticipantEmails: { type: "array", items: emailAddress, minItems: 1, maxItems: 10000 },
  },
  required: ["Type", "CreatorEmail", "UniqueId", "ParticipantEmails"],
  additionalProperties: false,
} as const;

export type ImportRoomRow = FromSchema<typeof importRoomSchema>;
