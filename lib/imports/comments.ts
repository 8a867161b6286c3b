import { type CommentType, PAYLOAD_SCHEMAS } from "../../schemas/comment-payloads.ts";
import { type ImportCommentRow, importCommentSchema } from "../../schemas/import-comments.ts";
import {
  commentsByUniqueId,
  insertComments,
  type NewComment,
  reserveIds,
  roomsByUniqueId,
  usersByEmail,
} from "../chat-db/import-queries.ts";
import { validatorFor } from "../validation.ts";
import { type Instant, instant } from "./file-rows.ts";
import type { ImporterFactory } from "./importer.ts";

interface CommentRow {
  index: number;
  row: ImportCommentRow;
  type: CommentType;
  payload: unknown;
  createdAt: Instant;
  parentUniqueId: string;
}

type PlannedComment = Omit<NewComment, "id" | "parentId" | "payload"> & {
  payload: unknown;
  /** The parent: a database id, or the index (in `planned`) of a comment of this file. */
  parent?: { id: number } | { planned: number };
};

/**
 * Comments: UniqueId unique in the file and the application; the room exists and the creator is
 * one of its participants; each Type's Payload passes that type's schema; a reply names a parent
 * already in the application or earlier in the file, in the same room and not created after it.
 * That last rule lets an export, ordered by (creation time, id), always put a reply after its
 * parent, since ids follow the file's order.
 */
export const importComments: ImporterFactory = (rows, problems, context) => {
  const validate = validatorFor<ImportCommentRow>(importCommentSchema);
  const valid: CommentRow[] = [];
  /** Every UniqueId of the file (valid rows or not) by its first row, for parents and duplicates. */
  const fileIds = new Map<string, number>();
  const rowsByIndex = new Map<number, CommentRow>();
  rows.forEach((row, index) => {
    if (!validate(row)) {
      problems.addSchemaErrors(index, validate.errors);
      const id = (row as { UniqueId?: unknown } | null)?.UniqueId;
      if (typeof id === "string" && !fileIds.has(id)) fileIds.set(id, index);
      return;
    }
    let ok = true;
    const type = row.Type as CommentType;
    const payload = row.Payload === undefined ? null : row.Payload;
    const validatePayload = validatorFor(PAYLOAD_SCHEMAS[type]);
    if (!validatePayload(payload)) {
      if (type === "text") problems.add(index, "Payload", "a text comment has no Payload (null)");
      else problems.addSchemaErrors(index, validatePayload.errors, "Payload");
      ok = false;
    }
    const parentUniqueId = row.ParentCommentUniqueId ?? "";
    if (type === "reply" && parentUniqueId === "") {
      problems.add(index, "ParentCommentUniqueId", "a reply needs ParentCommentUniqueId");
      ok = false;
    } else if (type !== "reply" && parentUniqueId !== "") {
      problems.add(
        index,
        "ParentCommentUniqueId",
        "only a reply has a ParentCommentUniqueId (leave it empty)",
      );
      ok = false;
    }
    if (!problems.unique(fileIds, row.UniqueId, index, "UniqueId")) ok = false;
    if (ok) {
      const createdAt = row.CreatedAt ? instant(row.CreatedAt) : context.importedAt;
      const checked = { index, row, type, payload, createdAt, parentUniqueId };
      valid.push(checked);
      rowsByIndex.set(index, checked);
    }
  });

  let planned: PlannedComment[] = [];

  return {
    async checkAgainstApp(db, found) {
      const users = await usersByEmail(
        db,
        context.appId,
        valid.map(({ row }) => row.CreatorEmail),
      );
      const rooms = await roomsByUniqueId(
        db,
        context.appId,
        valid.map(({ row }) => row.RoomUniqueId),
      );
      const existing = await commentsByUniqueId(db, context.appId, [
        ...valid.map(({ row }) => row.UniqueId),
        ...valid.map(({ parentUniqueId }) => parentUniqueId).filter(Boolean),
      ]);
      planned = [];
      const plannedByIndex = new Map<number, number>();
      for (const { index, row, type, payload, createdAt, parentUniqueId } of valid) {
        let ok = true;
        if (existing.has(row.UniqueId)) {
          found.add(
            index,
            "UniqueId",
            "a comment with this UniqueId already exists in this application",
          );
          ok = false;
        }
        const room = rooms.get(row.RoomUniqueId);
        if (!room) {
          found.add(index, "RoomUniqueId", "RoomUniqueId is not a room of this application");
          ok = false;
        }
        const user = users.get(row.CreatorEmail.toLowerCase());
        if (!user) {
          found.add(index, "CreatorEmail", "CreatorEmail is not a user of this application");
          ok = false;
        } else if (room && !room.participantIds.has(user.id)) {
          found.add(index, "CreatorEmail", "CreatorEmail is not a participant of the room");
          ok = false;
        }
        let parent: PlannedComment["parent"];
        if (type === "reply") {
          const fileIndex = fileIds.get(parentUniqueId);
          const inApp = existing.get(parentUniqueId);
          let parentRoom: string | number | undefined;
          let parentMicros: number | undefined;
          if (fileIndex !== undefined && fileIndex < index) {
            const fileParent = rowsByIndex.get(fileIndex);
            parentRoom = fileParent?.row.RoomUniqueId;
            parentMicros = fileParent?.createdAt.micros;
            const plannedParent = plannedByIndex.get(fileIndex);
            if (plannedParent !== undefined) parent = { planned: plannedParent };
          } else if (inApp) {
            parentRoom = inApp.roomId;
            parentMicros = inApp.createdAtMicros;
            parent = { id: inApp.id };
          } else {
            found.add(
              index,
              "ParentCommentUniqueId",
              fileIndex === undefined
                ? "ParentCommentUniqueId is neither a comment of this application nor of this file"
                : `the parent comment comes later in this file (row ${fileIndex}); put it first`,
            );
            ok = false;
          }
          if (parentRoom !== undefined && room) {
            const sameRoom =
              typeof parentRoom === "number"
                ? parentRoom === room.id
                : parentRoom === row.RoomUniqueId;
            if (!sameRoom) {
              found.add(index, "ParentCommentUniqueId", "the parent comment is in another room");
              ok = false;
            }
          }
          if (parentMicros !== undefined && createdAt.micros < parentMicros) {
            found.add(
              index,
              "CreatedAt",
              "a reply cannot be created before the comment it replies to",
            );
            ok = false;
          }
        }
        if (!ok || !room || !user) continue;
        plannedByIndex.set(index, planned.length);
        planned.push({
          roomId: room.id,
          userId: user.id,
          uniqueId: row.UniqueId,
          type,
          message: row.Message,
          payload,
          disableLinkPreview: row.DisableLinkPreview ?? false,
          createdAt: createdAt.text,
          parent,
        });
      }
    },

    async prepare() {
      return true;
    },

    async write(client) {
      const ids = await reserveIds(client, "comments", planned.length);
      const comments: NewComment[] = planned.map(({ parent, payload, ...comment }, i) => {
        const parentId =
          parent === undefined
            ? null
            : "id" in parent
              ? parent.id
              : (ids[parent.planned] as number);
        // The reply's payload points at its parent's real id (clients send a placeholder 1).
        const stored =
          parentId !== null && comment.type === "reply"
            ? { ...(payload as object), replied_comment_id: parentId }
            : payload;
        return {
          ...comment,
          id: ids[i] as number,
          parentId,
          payload: stored === null ? null : JSON.stringify(stored),
        };
      });
      await insertComments(client, context.appId, comments);
      return comments.length;
    },
  };
};
