import type { StagingColumn } from "../../chat-db/staging.ts";
import { copyLine, copyValue } from "../../chat-db/staging.ts";
import { type BatchWriter, copyText, NotStreamable, reserveIds } from "../batch-writer.ts";
import { columnPlaces } from "./columns.ts";
import { AppReferences, type KnownUser } from "./references.ts";

const COPY_ROOMS =
  "COPY rooms (app_id, id, creator_id, name, unique_id, type, options, avatar_url, created_at) FROM STDIN";
const COPY_PARTICIPANTS = "COPY room_participants (room_id, user_id, position) FROM STDIN";

interface PreparedRoom {
  index: number;
  single: boolean;
  /** The group's name (COPY text); a single room's is made from its participants. */
  name: string;
  creator: string;
  participants: string[];
  /** unique_id to created_at, COPY text. */
  tail: string;
  size: number;
}

/**
 * Rooms and their participants straight into `rooms` and `room_participants` with PostgreSQL's
 * own COPY, references resolved here: the creator and every participant are users of the
 * application (looked up by address, cached), a room's id comes from the rooms sequence before
 * its participants are copied, and a single room is named after its two participants' stored
 * addresses. A creator or participant that is no user sends the file through staging, which names
 * the row and the field; a UniqueId used twice meets the unique index.
 */
export function directRooms(
  columns: readonly StagingColumn[],
  appId: string,
): BatchWriter<PreparedRoom> {
  const at = columnPlaces(columns, [
    "unique_id",
    "name",
    "type",
    "options",
    "avatar_url",
    "creator_email",
    "created_at",
    "participant_emails",
  ]);
  const app = copyValue(appId);
  const references = new AppReferences(appId);
  return {
    prepare(index, v) {
      const participants = (v[at.participant_emails] as string[]).map((e) => e.toLowerCase());
      const tail = copyLine([
        v[at.unique_id],
        v[at.type],
        v[at.options],
        v[at.avatar_url],
        v[at.created_at],
      ]);
      const name = copyValue(v[at.name]);
      let size = tail.length + name.length;
      for (const email of participants) size += email.length + 24;
      return {
        index,
        single: v[at.type] === "single",
        name,
        creator: v[at.creator_email] as string,
        participants,
        tail,
        size,
      };
    },
    size: (room) => room.size,
    async write(client, rooms) {
      const wanted = new Set<string>();
      for (const room of rooms) {
        if (!references.users.get(room.creator)) wanted.add(room.creator);
        for (const email of room.participants) {
          if (!references.users.get(email)) wanted.add(email);
        }
      }
      const ids = await reserveIds(client, "rooms", rooms.length);
      const fetched = await references.fetchUsers(client, wanted);
      const user = (email: string): KnownUser | undefined =>
        references.users.get(email) ?? fetched.get(email);
      const roomLines: string[] = [];
      const memberLines: string[] = [];
      rooms.forEach((room, i) => {
        const id = ids[i] as number;
        const creator = user(room.creator);
        if (!creator) {
          throw new NotStreamable(
            `row ${room.index}: CreatorEmail is not a user of this application`,
          );
        }
        const names: string[] = [];
        room.participants.forEach((email, position) => {
          const member = user(email);
          if (!member) {
            throw new NotStreamable(
              `row ${room.index}: a participant is not a user of this application`,
            );
          }
          names.push(member.email);
          memberLines.push(`${id}\t${member.id}\t${position}`);
        });
        const name = room.single ? copyValue(names.join(" ")) : room.name;
        roomLines.push(`${app}\t${id}\t${creator.id}\t${name}\t${room.tail}`);
      });
      await copyText(client, COPY_ROOMS, `${roomLines.join("\n")}\n`);
      await copyText(client, COPY_PARTICIPANTS, `${memberLines.join("\n")}\n`);
      return 0;
    },
  };
}
