import { type ImportRoomRow, importRoomSchema } from "../../../schemas/import-rooms.ts";
import { validatorFor } from "../../validation.ts";
import { directRooms } from "../direct/rooms.ts";
import { instant } from "../file-rows.ts";
import { type ImportSpec, uniqueInFile } from "../staged-import.ts";

const COLUMNS = [
  { name: "schema_ok", type: "boolean NOT NULL" },
  { name: "unique_id", type: "text" },
  { name: "name", type: "text" },
  { name: "type", type: "text" },
  { name: "options", type: "text" },
  { name: "avatar_url", type: "text" },
  { name: "creator_email", type: "text" },
  { name: "created_at", type: "timestamptz" },
  { name: "participant_emails", type: "text[]" },
] as const;

/**
 * Rooms: UniqueId unique in the file and the application; creator and participants are users
 * of the application; a single room has exactly two participants, one of them the creator, and
 * is named `"<participant1> <participant2>"` after the users' stored addresses.
 */
export const roomsImport: ImportSpec = {
  resource: "rooms",
  columns: COLUMNS,
  idsOf: "rooms",
  indexes: ["unique_id"],

  stage(row, problems, context) {
    const validate = validatorFor<ImportRoomRow>(importRoomSchema);
    if (!validate(row)) {
      problems.addSchemaErrors(validate.errors);
      return { ok: false, values: [false] };
    }
    let ok = true;
    const participants = row.ParticipantEmails.map((email) => email.toLowerCase());
    participants.forEach((email, position) => {
      const first = participants.indexOf(email);
      if (first !== position) {
        problems.add(
          `ParticipantEmails.${position}`,
          `ParticipantEmails lists the same user twice (positions ${first} and ${position})`,
        );
        ok = false;
      }
    });
    if (row.Type === "single") {
      if (participants.length !== 2) {
        problems.add(
          "ParticipantEmails",
          `a single room must have exactly 2 participants, not ${participants.length}`,
        );
        ok = false;
      } else if (!participants.includes(row.CreatorEmail.toLowerCase())) {
        problems.add(
          "CreatorEmail",
          "the creator of a single room must be one of its 2 participants",
        );
        ok = false;
      }
    } else if (!row.Name?.trim()) {
      problems.add("Name", "a group room needs a Name");
      ok = false;
    }
    const createdAt = row.CreatedAt ? instant(row.CreatedAt).text : context.importedAt.text;
    return {
      ok,
      values: [
        true,
        row.UniqueId,
        row.Name ?? "",
        row.Type,
        row.Options ?? "",
        row.AvatarUrl ?? "",
        row.CreatorEmail.toLowerCase(),
        createdAt,
        row.ParticipantEmails,
      ],
    };
  },

  fileChecks: (t) =>
    uniqueInFile(t, {
      column: "unique_id",
      field: "UniqueId",
      seq: 10,
      registered: "schema_ok",
      checked: "schema_ok",
    }),

  appChecks: (t) => [
    `INSERT INTO ${t.problems} (row, seq, sub, field, message)
     SELECT s.row, 20, 0, 'UniqueId', 'a room with this UniqueId already exists in this application'
     FROM ${t.rows} s JOIN rooms r ON r.app_id = $1 AND r.unique_id = s.unique_id
     WHERE s.ok`,
    `INSERT INTO ${t.problems} (row, seq, sub, field, message)
     SELECT s.row, 21, 0, 'CreatorEmail', 'CreatorEmail is not a user of this application'
     FROM ${t.rows} s
     WHERE s.ok AND NOT EXISTS (
       SELECT 1 FROM users u WHERE u.app_id = $1 AND lower(u.email) = s.creator_email)`,
    `INSERT INTO ${t.problems} (row, seq, sub, field, message)
     SELECT s.row, 22, p.position, 'ParticipantEmails.' || (p.position - 1),
       'participant ' || p.email || ' is not a user of this application'
     FROM ${t.rows} s CROSS JOIN LATERAL unnest(s.participant_emails) WITH ORDINALITY p(email, position)
     WHERE s.ok AND NOT EXISTS (
       SELECT 1 FROM users u WHERE u.app_id = $1 AND lower(u.email) = lower(p.email))`,
  ],

  // A single room's name is made from its participants, which are compared.
  existing: (rows, ok) => `SELECT s.row, 'UniqueId' AS field, array_remove(ARRAY[
      CASE WHEN r.type IS DISTINCT FROM s.type THEN 'Type' END,
      CASE WHEN s.type <> 'single' AND r.name IS DISTINCT FROM s.name THEN 'Name' END,
      CASE WHEN r.options IS DISTINCT FROM s.options THEN 'Options' END,
      CASE WHEN r.avatar_url IS DISTINCT FROM s.avatar_url THEN 'AvatarUrl' END,
      CASE WHEN lower(c.email) IS DISTINCT FROM s.creator_email THEN 'CreatorEmail' END,
      CASE WHEN r.created_at IS DISTINCT FROM s.created_at THEN 'CreatedAt' END,
      CASE WHEN (SELECT array_agg(lower(u.email) ORDER BY p.position)
                 FROM room_participants p JOIN users u ON u.id = p.user_id WHERE p.room_id = r.id)
        IS DISTINCT FROM (SELECT array_agg(lower(e.email) ORDER BY e.position)
                 FROM unnest(s.participant_emails) WITH ORDINALITY e(email, position))
        THEN 'ParticipantEmails' END], NULL) AS differs
    FROM ${rows} s
    JOIN rooms r ON r.app_id = $1 AND r.unique_id = s.unique_id
    JOIN users c ON c.id = r.creator_id
    WHERE ${ok}`,

  write: (t) => [insertRooms(t.rows, "JOIN"), insertParticipants(t.rows, "JOIN")],

  direct: (appId) => directRooms(COLUMNS, appId),

  // One batch (on_existing skip into an application holding rooms): a creator or participant who
  // is no user of the application leaves a NULL in a NOT NULL column, an integrity error.
  streamedWrite: (batch) => [
    insertRooms(batch, "LEFT JOIN"),
    insertParticipants(batch, "LEFT JOIN"),
  ],
};

/**
 * The INSERT of rooms from a staging or batch table, the creator found by `join`. A single room
 * is named after its two participants as the application stores their addresses.
 */
function insertRooms(table: string, join: "JOIN" | "LEFT JOIN"): string {
  return `INSERT INTO rooms (app_id, id, unique_id, name, type, options, avatar_url, creator_id, created_at)
     SELECT $1, s.new_id, s.unique_id,
       CASE WHEN s.type = 'single' THEN (
         SELECT string_agg(u.email, ' ' ORDER BY p.position)
         FROM unnest(s.participant_emails) WITH ORDINALITY p(email, position)
         JOIN users u ON u.app_id = $1 AND lower(u.email) = lower(p.email))
       ELSE s.name END,
       s.type, s.options, s.avatar_url, c.id, s.created_at
     FROM ${table} s
     ${join} users c ON c.app_id = $1 AND lower(c.email) = s.creator_email`;
}

/** The INSERT of the rooms' participants in their order, each found by `join`. */
function insertParticipants(table: string, join: "JOIN" | "LEFT JOIN"): string {
  return `INSERT INTO room_participants (room_id, user_id, position)
     SELECT s.new_id, u.id, p.position - 1
     FROM ${table} s
     CROSS JOIN LATERAL unnest(s.participant_emails) WITH ORDINALITY p(email, position)
     ${join} users u ON u.app_id = $1 AND lower(u.email) = lower(p.email)`;
}
