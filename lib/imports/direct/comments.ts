import type { StagingColumn } from "../../chat-db/staging.ts";
import { copyLine, copyValue } from "../../chat-db/staging.ts";
import { type BatchWriter, copyText, NotStreamable, reserveIds } from "../batch-writer.ts";
import { columnPlaces } from "./columns.ts";
import { AppReferences, type KnownComment } from "./references.ts";

const COPY_COMMENTS = `COPY comments (app_id, id, room_id, user_id, parent_id, payload, unique_id, type,
  message, disable_link_preview, created_at) FROM STDIN`;

interface PreparedComment {
  index: number;
  uniqueId: string;
  room: string;
  creator: string;
  /** The parent's UniqueId (a reply), or null. */
  parent: string | null;
  createdAt: string;
  /** A reply's staged payload (JSON text, an object); otherwise the payload as COPY text. */
  payload: string;
  /** unique_id to created_at, COPY text. */
  tail: string;
}

/** A reply's stored payload names its parent's real id (clients send a placeholder): jsonb keeps a key's last value. */
function withParentId(payload: string, parentId: number): string {
  const body = payload.slice(0, -1).trimEnd();
  return `${body}${body.endsWith("{") ? "" : ","}"replied_comment_id":${parentId}}`;
}

/**
 * Comments straight into `comments` with PostgreSQL's own COPY, the floor's own statement, every
 * reference resolved here in batches (see `AppReferences`): the room, the creator and that the
 * creator is one of the room's participants; for a reply, its parent among the file's earlier rows
 * (this batch's, or cached) or the application's comments (those of earlier batches included), in
 * the same room and not created after it. Ids come from the comments sequence before the batch is
 * copied, in the file's order, so that a reply knows its parent's id. A row that breaks one of
 * these rules sends the file through staging, which names the row and the field; a UniqueId used
 * twice, in the file or the application, meets the unique index.
 */
export function directComments(
  columns: readonly StagingColumn[],
  appId: string,
): BatchWriter<PreparedComment> {
  const at = columnPlaces(columns, [
    "unique_id",
    "room_unique_id",
    "creator_email",
    "type",
    "message",
    "payload",
    "disable_link_preview",
    "parent_unique_id",
    "created_at",
  ]);
  const app = copyValue(appId);
  const references = new AppReferences(appId);
  return {
    prepare(index, v) {
      const parent = v[at.parent_unique_id] as string | null;
      const payload = v[at.payload] as string | null;
      return {
        index,
        uniqueId: v[at.unique_id] as string,
        room: v[at.room_unique_id] as string,
        creator: v[at.creator_email] as string,
        parent,
        createdAt: v[at.created_at] as string,
        payload: parent === null ? copyValue(payload) : (payload as string),
        tail: copyLine([
          v[at.unique_id],
          v[at.type],
          v[at.message],
          v[at.disable_link_preview],
          v[at.created_at],
        ]),
      };
    },
    size: (row) => row.tail.length + row.payload.length + 40,
    async write(client, rows) {
      // Which names the caches miss; a reply's parent earlier in this batch is found by place.
      const wantedRooms = new Set<string>();
      const wantedUsers = new Set<string>();
      const wantedParents = new Set<string>();
      const places = new Map<string, number>();
      const parentPlaces = new Int32Array(rows.length).fill(-1);
      rows.forEach((row, i) => {
        if (references.rooms.get(row.room) === undefined) wantedRooms.add(row.room);
        if (!references.users.get(row.creator)) wantedUsers.add(row.creator);
        if (row.parent !== null) {
          const place = places.get(row.parent);
          if (place !== undefined && !references.comments.get(row.parent)) {
            parentPlaces[i] = place;
          } else if (!references.comments.get(row.parent)) wantedParents.add(row.parent);
        }
        if (!places.has(row.uniqueId)) places.set(row.uniqueId, i);
      });
      const ids = await reserveIds(client, "comments", rows.length);
      const rooms = await references.fetchRooms(client, wantedRooms);
      const users = await references.fetchUsers(client, wantedUsers);
      const parents = await references.fetchComments(client, wantedParents);

      const roomIds = new Array<number>(rows.length);
      const userIds = new Array<number>(rows.length);
      const wantedMembers = new Set<string>();
      rows.forEach((row, i) => {
        const roomId = references.rooms.get(row.room) ?? rooms.get(row.room);
        if (roomId === undefined) {
          throw new NotStreamable(
            `row ${row.index}: RoomUniqueId is not a room of this application`,
          );
        }
        const userId = (references.users.get(row.creator) ?? users.get(row.creator))?.id;
        if (userId === undefined) {
          throw new NotStreamable(
            `row ${row.index}: CreatorEmail is not a user of this application`,
          );
        }
        roomIds[i] = roomId;
        userIds[i] = userId;
        if (!references.members.get(`${roomId}:${userId}`))
          wantedMembers.add(`${roomId}:${userId}`);
      });
      const members = await references.fetchMembers(client, wantedMembers);

      const lines = new Array<string>(rows.length);
      rows.forEach((row, i) => {
        const id = ids[i] as number;
        const roomId = roomIds[i] as number;
        const pair = `${roomId}:${userIds[i]}`;
        if (!references.members.get(pair) && !members.has(pair)) {
          throw new NotStreamable(
            `row ${row.index}: CreatorEmail is not a participant of the room`,
          );
        }
        let parentId = "\\N";
        let payload = row.payload;
        if (row.parent !== null) {
          const place = parentPlaces[i] as number;
          const parent: KnownComment | undefined =
            place >= 0
              ? {
                  id: ids[place] as number,
                  roomId: roomIds[place] as number,
                  createdAt: (rows[place] as PreparedComment).createdAt,
                }
              : (references.comments.get(row.parent) ?? parents.get(row.parent));
          if (!parent || parent.roomId !== roomId || parent.createdAt > row.createdAt) {
            throw new NotStreamable(`row ${row.index}: ParentCommentUniqueId breaks a rule`);
          }
          parentId = String(parent.id);
          payload = copyValue(withParentId(row.payload, parent.id));
        }
        lines[i] = `${app}\t${id}\t${roomId}\t${userIds[i]}\t${parentId}\t${payload}\t${row.tail}`;
      });
      for (const [uniqueId, parent] of parents) references.comments.set(uniqueId, parent);
      rows.forEach((row, i) => {
        references.comments.set(row.uniqueId, {
          id: ids[i] as number,
          roomId: roomIds[i] as number,
          createdAt: row.createdAt,
        });
      });
      await copyText(client, COPY_COMMENTS, `${lines.join("\n")}\n`);
      return 0;
    },
  };
}
