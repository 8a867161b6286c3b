import { type ImportRoomRow, importRoomSchema } from "../../schemas/import-rooms.ts";
import {
  insertRooms,
  type NewRoom,
  reserveIds,
  roomsByUniqueId,
  usersByEmail,
} from "../chat-db/import-queries.ts";
import { validatorFor } from "../validation.ts";
import { instant } from "./file-rows.ts";
import type { ImporterFactory } from "./importer.ts";

interface RoomRow {
  index: number;
  row: ImportRoomRow;
  createdAt: string;
}

/**
 * Rooms: UniqueId unique in the file and the application; creator and participants are users
 * of the application; a single room has exactly two participants, one of them the creator, and
 * is named `"<participant1> <participant2>"` after the users' stored addresses.
 */
export const importRooms: ImporterFactory = (rows, problems, context) => {
  const validate = validatorFor<ImportRoomRow>(importRoomSchema);
  const valid: RoomRow[] = [];
  const uniqueIds = new Map<string, number>();
  rows.forEach((row, index) => {
    if (!validate(row)) {
      problems.addSchemaErrors(index, validate.errors);
      return;
    }
    let ok = true;
    const participants = row.ParticipantEmails.map((email) => email.toLowerCase());
    participants.forEach((email, position) => {
      const first = participants.indexOf(email);
      if (first !== position) {
        problems.add(
          index,
          `ParticipantEmails.${position}`,
          `ParticipantEmails lists the same user twice (positions ${first} and ${position})`,
        );
        ok = false;
      }
    });
    if (row.Type === "single") {
      if (participants.length !== 2) {
        problems.add(
          index,
          "ParticipantEmails",
          `a single room must have exactly 2 participants, not ${participants.length}`,
        );
        ok = false;
      } else if (!participants.includes(row.CreatorEmail.toLowerCase())) {
        problems.add(
          index,
          "CreatorEmail",
          "the creator of a single room must be one of its 2 participants",
        );
        ok = false;
      }
    } else if (!row.Name?.trim()) {
      problems.add(index, "Name", "a group room needs a Name");
      ok = false;
    }
    if (!problems.unique(uniqueIds, row.UniqueId, index, "UniqueId")) ok = false;
    if (ok) {
      const createdAt = row.CreatedAt ? instant(row.CreatedAt).text : context.importedAt.text;
      valid.push({ index, row, createdAt });
    }
  });

  let planned: Omit<NewRoom, "id">[] = [];

  return {
    async checkAgainstApp(db, found) {
      const users = await usersByEmail(
        db,
        context.appId,
        valid.flatMap(({ row }) => [row.CreatorEmail, ...row.ParticipantEmails]),
      );
      const taken = await roomsByUniqueId(
        db,
        context.appId,
        valid.map(({ row }) => row.UniqueId),
      );
      planned = [];
      for (const { index, row, createdAt } of valid) {
        if (taken.has(row.UniqueId)) {
          found.add(
            index,
            "UniqueId",
            "a room with this UniqueId already exists in this application",
          );
        }
        const creator = users.get(row.CreatorEmail.toLowerCase());
        if (!creator) {
          found.add(index, "CreatorEmail", "CreatorEmail is not a user of this application");
        }
        const participants = row.ParticipantEmails.map((email, position) => {
          const user = users.get(email.toLowerCase());
          if (!user) {
            found.add(
              index,
              `ParticipantEmails.${position}`,
              `participant ${email} is not a user of this application`,
            );
          }
          return user;
        });
        if (!creator || participants.some((user) => !user)) continue;
        const members = participants as { id: number; email: string }[];
        planned.push({
          uniqueId: row.UniqueId,
          name:
            row.Type === "single" ? members.map((user) => user.email).join(" ") : (row.Name ?? ""),
          type: row.Type,
          options: row.Options ?? "",
          avatarUrl: row.AvatarUrl ?? "",
          creatorId: creator.id,
          createdAt,
          participantIds: members.map((user) => user.id),
        });
      }
    },

    async prepare() {
      return true;
    },

    async write(client) {
      const ids = await reserveIds(client, "rooms", planned.length);
      await insertRooms(
        client,
        context.appId,
        planned.map((room, i) => ({ ...room, id: ids[i] as number })),
      );
      return planned.length;
    },
  };
};
