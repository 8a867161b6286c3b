import type { StagingColumn } from "../../chat-db/staging.ts";
import { copyLine, copyValue } from "../../chat-db/staging.ts";
import { type BatchWriter, copyText } from "../batch-writer.ts";
import { columnPlaces } from "./columns.ts";

const COPY_USERS =
  "COPY users (app_id, email, name, avatar_url, authentication_token, password_hash, created_at) FROM STDIN";

/**
 * Users straight into `users` with PostgreSQL's own COPY: a user refers to nothing, so each row's
 * line is complete as it is read. A value used twice, in the file or the application (Email in any
 * case, AuthenticationToken), meets the table's unique indexes; ids follow the file's order. Rows
 * with a plain Password never come here (they are hashed first, through staging).
 */
export function directUsers(columns: readonly StagingColumn[], appId: string): BatchWriter<string> {
  const at = columnPlaces(columns, [
    "email",
    "name",
    "avatar_url",
    "token",
    "password_hash",
    "created_at",
  ]);
  const app = copyValue(appId);
  return {
    prepare: (_index, v) =>
      `${app}\t${copyLine([v[at.email], v[at.name], v[at.avatar_url], v[at.token], v[at.password_hash], v[at.created_at]])}`,
    size: (line) => line.length,
    async write(client, lines) {
      await copyText(client, COPY_USERS, `${lines.join("\n")}\n`);
      return 0;
    },
  };
}
