import { type ImportUserRow, importUserSchema } from "../../../schemas/import-users.ts";
import { validatorFor } from "../../validation.ts";
import { directUsers } from "../direct/users.ts";
import { instant } from "../file-rows.ts";
import { type ImportSpec, uniqueInFile } from "../staged-import.ts";

/** bcrypt reads no more than this many bytes of a password. */
const BCRYPT_MAX_BYTES = 72;

const COLUMNS = [
  { name: "schema_ok", type: "boolean NOT NULL" },
  { name: "email", type: "text" },
  { name: "email_lower", type: "text" },
  { name: "name", type: "text" },
  { name: "avatar_url", type: "text" },
  { name: "token", type: "text" },
  { name: "password", type: "text" },
  { name: "password_hash", type: "text" },
  { name: "created_at", type: "timestamptz" },
] as const;
const PASSWORD = COLUMNS.findIndex((column) => column.name === "password");

/**
 * Users: Email unique case-insensitively and AuthenticationToken unique, in the file and in the
 * application; a plain Password is hashed with bcrypt before any row is written (it waits in
 * the job's staging row until then, and is cleared as soon as it is hashed), a PasswordHash is
 * stored as it is.
 */
export const usersImport: ImportSpec = {
  resource: "users",
  columns: COLUMNS,
  indexes: [],

  stage(row, problems, context) {
    const validate = validatorFor<ImportUserRow>(importUserSchema);
    if (!validate(row)) {
      problems.addSchemaErrors(validate.errors);
      return { ok: false, values: [false] };
    }
    let ok = true;
    if (row.Password !== undefined && row.PasswordHash !== undefined) {
      problems.add("PasswordHash", "give either Password or PasswordHash, not both");
      ok = false;
    } else if (row.Password === undefined && row.PasswordHash === undefined) {
      problems.add("Password", "Password (or PasswordHash) is required");
      ok = false;
    } else if (row.Password && Buffer.byteLength(row.Password) > BCRYPT_MAX_BYTES) {
      problems.add("Password", `Password must be at most ${BCRYPT_MAX_BYTES} bytes`);
      ok = false;
    }
    const createdAt = row.CreateAt ? instant(row.CreateAt).text : context.importedAt.text;
    return {
      ok,
      values: [
        true,
        row.Email,
        row.Email.toLowerCase(),
        row.Name,
        row.AvatarUrl ?? "",
        row.AuthenticationToken,
        // A row that fails keeps no password.
        ok && row.PasswordHash === undefined ? row.Password : null,
        row.PasswordHash ?? null,
        createdAt,
      ],
    };
  },

  fileChecks: (t) => [
    ...uniqueInFile(t, {
      column: "email_lower",
      field: "Email",
      seq: 10,
      registered: "schema_ok",
      checked: "schema_ok",
    }),
    ...uniqueInFile(t, {
      column: "token",
      field: "AuthenticationToken",
      seq: 11,
      registered: "schema_ok",
      checked: "schema_ok",
    }),
  ],

  appChecks: (t) => [
    `INSERT INTO ${t.problems} (row, seq, sub, field, message)
     SELECT c.row, v.seq, 0, v.field, v.message
     FROM (
       SELECT s.row,
         EXISTS (SELECT 1 FROM users u WHERE u.app_id = $1 AND lower(u.email) = s.email_lower) AS email_taken,
         EXISTS (SELECT 1 FROM users u WHERE u.app_id = $1 AND u.authentication_token = s.token) AS token_taken
       FROM ${t.rows} s WHERE s.ok
     ) c
     CROSS JOIN LATERAL (VALUES
       (20, 'Email', CASE WHEN c.email_taken
         THEN 'a user with this Email already exists in this application' END),
       (21, 'AuthenticationToken', CASE WHEN c.token_taken
         THEN 'a user with this AuthenticationToken already exists in this application' END)
     ) v(seq, field, message)
     WHERE v.message IS NOT NULL`,
  ],

  // A plain Password is not compared: it would cost a bcrypt comparison per row (docs/restores.md).
  existing: (rows, ok) => {
    const differs = `array_remove(ARRAY[
      CASE WHEN u.email IS DISTINCT FROM s.email THEN 'Email' END,
      CASE WHEN u.name IS DISTINCT FROM s.name THEN 'Name' END,
      CASE WHEN u.avatar_url IS DISTINCT FROM s.avatar_url THEN 'AvatarUrl' END,
      CASE WHEN u.authentication_token IS DISTINCT FROM s.token THEN 'AuthenticationToken' END,
      CASE WHEN s.password IS NULL AND u.password_hash IS DISTINCT FROM s.password_hash
        THEN 'PasswordHash' END,
      CASE WHEN u.created_at IS DISTINCT FROM s.created_at THEN 'CreateAt' END], NULL)`;
    return `SELECT s.row, 'Email' AS field, ${differs} AS differs
      FROM ${rows} s JOIN users u ON u.app_id = $1 AND lower(u.email) = s.email_lower WHERE ${ok}
      UNION ALL
      SELECT s.row, 'AuthenticationToken', ${differs}
      FROM ${rows} s JOIN users u ON u.app_id = $1 AND u.authentication_token = s.token WHERE ${ok}`;
  },

  // Rows in the file's order, so that ids follow it.
  write: (t) => [insertUsers(t.rows)],

  direct: (appId) => directUsers(COLUMNS, appId),
  streamedWrite: (batch) => [insertUsers(batch)],
  notOnePass: (values) =>
    values[PASSWORD] === null ? undefined : "a plain Password is hashed before it is written",
};

/** The INSERT of users from a staging or batch table; a value used twice meets a unique index. */
function insertUsers(table: string): string {
  return `INSERT INTO users (app_id, email, name, avatar_url, authentication_token, password_hash, created_at)
     SELECT $1, s.email, s.name, s.avatar_url, s.token, s.password_hash, s.created_at
     FROM ${table} s ORDER BY s.row`;
}
