import { type CommentType, PAYLOAD_SCHEMAS } from "../../../schemas/comment-payloads.ts";
import { type ImportCommentRow, importCommentSchema } from "../../../schemas/import-comments.ts";
import { validatorFor } from "../../validation.ts";
import { directComments } from "../direct/comments.ts";
import { instant } from "../file-rows.ts";
import { type ImportSpec, uniqueInFile } from "../staged-import.ts";

const COLUMNS = [
  { name: "schema_ok", type: "boolean NOT NULL" },
  { name: "unique_id", type: "text" },
  { name: "room_unique_id", type: "text" },
  { name: "creator_email", type: "text" },
  { name: "type", type: "text" },
  { name: "message", type: "text" },
  { name: "payload", type: "jsonb" },
  { name: "disable_link_preview", type: "boolean" },
  { name: "parent_unique_id", type: "text" },
  { name: "created_at", type: "timestamptz" },
] as const;

/**
 * Comments: UniqueId unique in the file and the application; the room exists and the creator is
 * one of its participants; each Type's Payload passes that type's schema; a reply names a parent
 * already in the application or earlier in the file, in the same room and not created after it.
 * That last rule lets an export, ordered by (creation time, id), always put a reply after its
 * parent, since ids follow the file's order.
 */
export const commentsImport: ImportSpec = {
  resource: "comments",
  columns: COLUMNS,
  idsOf: "comments",
  indexes: ["unique_id, row"],

  stage(row, problems, context) {
    const validate = validatorFor<ImportCommentRow>(importCommentSchema);
    if (!validate(row)) {
      problems.addSchemaErrors(validate.errors);
      // Its UniqueId still counts: a later row with the same one, or naming it as parent, is told so.
      const id = (row as { UniqueId?: unknown } | null)?.UniqueId;
      return { ok: false, values: [false, typeof id === "string" ? id : null] };
    }
    let ok = true;
    const type = row.Type as CommentType;
    const payload = row.Payload === undefined ? null : row.Payload;
    const validatePayload = validatorFor(PAYLOAD_SCHEMAS[type]);
    if (!validatePayload(payload)) {
      if (type === "text") problems.add("Payload", "a text comment has no Payload (null)");
      else problems.addSchemaErrors(validatePayload.errors, "Payload");
      ok = false;
    }
    const parentUniqueId = row.ParentCommentUniqueId ?? "";
    if (type === "reply" && parentUniqueId === "") {
      problems.add("ParentCommentUniqueId", "a reply needs ParentCommentUniqueId");
      ok = false;
    } else if (type !== "reply" && parentUniqueId !== "") {
      problems.add(
        "ParentCommentUniqueId",
        "only a reply has a ParentCommentUniqueId (leave it empty)",
      );
      ok = false;
    }
    const createdAt = row.CreatedAt ? instant(row.CreatedAt).text : context.importedAt.text;
    return {
      ok,
      values: [
        true,
        row.UniqueId,
        row.RoomUniqueId,
        row.CreatorEmail.toLowerCase(),
        type,
        row.Message,
        payload === null ? null : JSON.stringify(payload),
        row.DisableLinkPreview ?? false,
        // A comment that is no reply names no parent: NULL finds no row in any lookup at once.
        parentUniqueId || null,
        createdAt,
      ],
    };
  },

  fileChecks: (t) =>
    uniqueInFile(t, {
      column: "unique_id",
      field: "UniqueId",
      seq: 10,
      registered: "true",
      checked: "schema_ok",
    }),

  appChecks: (t) => [
    `INSERT INTO ${t.problems} (row, seq, sub, field, message)
     SELECT c.row, v.seq, 0, v.field, v.message
     FROM (
       SELECT s.row, s.created_at, s.type = 'reply' AS is_reply,
         ex.id IS NOT NULL AS taken, r.id AS room_id, u.id AS user_id,
         rp.user_id IS NOT NULL AS participant,
         fp.row AS file_row, fp.ok AS file_ok, fp.room_unique_id = s.room_unique_id AS file_same_room,
         fp.created_at AS file_created,
         pc.id AS app_parent, pc.room_id = r.id AS app_same_room, pc.created_at AS app_created
       FROM ${t.rows} s
       LEFT JOIN comments ex ON ex.app_id = $1 AND ex.unique_id = s.unique_id
       LEFT JOIN rooms r ON r.app_id = $1 AND r.unique_id = s.room_unique_id
       LEFT JOIN users u ON u.app_id = $1 AND lower(u.email) = s.creator_email
       LEFT JOIN room_participants rp ON rp.room_id = r.id AND rp.user_id = u.id
       LEFT JOIN LATERAL (
         SELECT f.row, f.ok, f.room_unique_id, f.created_at FROM ${t.rows} f
         WHERE f.unique_id = s.parent_unique_id ORDER BY f.row LIMIT 1
       ) fp ON s.type = 'reply'
       LEFT JOIN comments pc
         ON s.type = 'reply' AND pc.app_id = $1 AND pc.unique_id = s.parent_unique_id
       WHERE s.ok
     ) c
     CROSS JOIN LATERAL (VALUES
       (20, 'UniqueId', CASE WHEN c.taken
         THEN 'a comment with this UniqueId already exists in this application' END),
       (21, 'RoomUniqueId', CASE WHEN c.room_id IS NULL
         THEN 'RoomUniqueId is not a room of this application' END),
       (22, 'CreatorEmail', CASE
         WHEN c.user_id IS NULL THEN 'CreatorEmail is not a user of this application'
         WHEN c.room_id IS NOT NULL AND NOT c.participant
           THEN 'CreatorEmail is not a participant of the room' END),
       (23, 'ParentCommentUniqueId', CASE
         WHEN c.is_reply AND NOT coalesce(c.file_row < c.row, false) AND c.app_parent IS NULL
         THEN CASE WHEN c.file_row IS NULL
           THEN 'ParentCommentUniqueId is neither a comment of this application nor of this file'
           ELSE 'the parent comment comes later in this file (row ' || c.file_row || '); put it first'
         END END),
       (24, 'ParentCommentUniqueId', CASE
         WHEN c.is_reply AND c.room_id IS NOT NULL AND (CASE WHEN c.file_row < c.row
           THEN CASE WHEN c.file_ok THEN NOT c.file_same_room END
           ELSE NOT c.app_same_room END)
         THEN 'the parent comment is in another room' END),
       (25, 'CreatedAt', CASE
         WHEN c.is_reply AND c.created_at < (CASE WHEN c.file_row < c.row
           THEN CASE WHEN c.file_ok THEN c.file_created END
           ELSE c.app_created END)
         THEN 'a reply cannot be created before the comment it replies to' END)
     ) v(seq, field, message)
     WHERE v.message IS NOT NULL`,
  ],

  // A reply's payload names its parent by database id, which differs between applications: the
  // parent is compared by its UniqueId, the payload without replied_comment_id.
  existing: (rows, ok) => `SELECT s.row, 'UniqueId' AS field, array_remove(ARRAY[
      CASE WHEN r.unique_id IS DISTINCT FROM s.room_unique_id THEN 'RoomUniqueId' END,
      CASE WHEN lower(u.email) IS DISTINCT FROM s.creator_email THEN 'CreatorEmail' END,
      CASE WHEN x.type IS DISTINCT FROM s.type THEN 'Type' END,
      CASE WHEN x.message IS DISTINCT FROM s.message THEN 'Message' END,
      CASE WHEN x.disable_link_preview IS DISTINCT FROM s.disable_link_preview
        THEN 'DisableLinkPreview' END,
      CASE WHEN x.created_at IS DISTINCT FROM s.created_at THEN 'CreatedAt' END,
      CASE WHEN p.unique_id IS DISTINCT FROM s.parent_unique_id THEN 'ParentCommentUniqueId' END,
      CASE WHEN (CASE WHEN x.type = 'reply' THEN x.payload - 'replied_comment_id' ELSE x.payload END)
        IS DISTINCT FROM (CASE WHEN s.type = 'reply' THEN s.payload - 'replied_comment_id' ELSE s.payload END)
        THEN 'Payload' END], NULL) AS differs
    FROM ${rows} s
    JOIN comments x ON x.app_id = $1 AND x.unique_id = s.unique_id
    JOIN rooms r ON r.id = x.room_id
    JOIN users u ON u.id = x.user_id
    LEFT JOIN comments p ON p.id = x.parent_id
    WHERE ${ok}`,

  write: (t) => [
    `${insertComments("s", "ps")}
     FROM ${t.rows} s
     JOIN rooms r ON r.app_id = $1 AND r.unique_id = s.room_unique_id
     JOIN users u ON u.app_id = $1 AND lower(u.email) = s.creator_email
     LEFT JOIN ${t.rows} ps ON s.type = 'reply' AND ps.unique_id = s.parent_unique_id
     LEFT JOIN comments pc
       ON s.type = 'reply' AND ps.row IS NULL AND pc.app_id = $1 AND pc.unique_id = s.parent_unique_id`,
  ],

  direct: (appId) => directComments(COLUMNS, appId),

  // The same write for one batch (on_existing skip into an application holding comments): a
  // reply's parent is an earlier row of the batch, or a comment of the application (which
  // includes the rows of earlier batches, written in this transaction). The parent's lookup in
  // comments is a subquery per reply through the (app_id, unique_id) index, so that it never
  // reads the application's comments whole, however they grow.
  streamedWrite: (batch) => [
    `${insertComments("b", "bp")}
     FROM ${batch} b
     JOIN rooms r ON r.app_id = $1 AND r.unique_id = b.room_unique_id
     JOIN users u ON u.app_id = $1 AND lower(u.email) = b.creator_email
     JOIN room_participants rp ON rp.room_id = r.id AND rp.user_id = u.id
     LEFT JOIN ${batch} bp ON bp.unique_id = b.parent_unique_id AND bp.row < b.row
     LEFT JOIN LATERAL (
       SELECT c.id, c.room_id, c.created_at FROM comments c
       WHERE bp.row IS NULL AND c.app_id = $1 AND c.unique_id = b.parent_unique_id
       LIMIT 1
     ) pc ON true
     WHERE b.parent_unique_id IS NULL
       OR (bp.row IS NOT NULL AND bp.room_unique_id = b.room_unique_id AND bp.created_at <= b.created_at)
       OR (pc.id IS NOT NULL AND pc.room_id = r.id AND pc.created_at <= b.created_at)`,
  ],
};

/**
 * The INSERT of comments from the rows `row` of a staging or batch table, whose parent is the
 * table's row `fileParent` or the application's comment `pc`: the column mapping both writes
 * share. A stored reply payload carries its parent's real id (clients send a placeholder 1).
 */
function insertComments(row: string, fileParent: string): string {
  const parentId = `coalesce(${fileParent}.new_id, pc.id)`;
  return `INSERT INTO comments (app_id, id, room_id, user_id, unique_id, type, message, payload,
       disable_link_preview, parent_id, created_at)
     SELECT $1, ${row}.new_id, r.id, u.id, ${row}.unique_id, ${row}.type, ${row}.message,
       CASE WHEN ${row}.type = 'reply'
         THEN ${row}.payload || jsonb_build_object('replied_comment_id', ${parentId})
         ELSE ${row}.payload END,
       ${row}.disable_link_preview, ${parentId}, ${row}.created_at`;
}
