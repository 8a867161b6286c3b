import type { FromSchema } from "json-schema-to-ts";
import { emailAddress, optionalWebUrl, rfc3339 } from "./import-fields.ts";

/** One row of a users import file. `Password` (plain) or `PasswordHash` (bcrypt), not both. */
export const importUserSchema = {
  $id: "import-user",
  type: "object",
  properties: {
    Email: emailAddress,
    Name: { type: "string", minLength: 1, maxLength: 255 },
    AvatarUrl: optionalWebUrl,
    AuthenticationToken: { type: "string", minLength: 1, maxLength: 255 },
    Password: { type: "string", minLength: 1, maxLength: 1024 },
    PasswordHash: { type: "string", pattern: "^\\$2[abxy]\\$\\d{2}\\$[./A-Za-z0-9]{53}$" },
    CreateAt: rfc3339,
  },
  required: ["Email", "Name", "AuthenticationToken"],
  additionalProperties: false,
} as const;

export type ImportUserRow = FromSchema<typeof importUserSchema>;
