import { randomUUID } from "node:crypto";
import { once } from "node:events";
import { createWriteStream, statSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { finished } from "node:stream/promises";
import bcrypt from "bcryptjs";
import type pg from "pg";

export const TYPES = ["users", "rooms", "comments"] as const;
export type RestoreType = (typeof TYPES)[number];

/** The restore benchmark's application for `comments` comments: its users, rooms and files. */
export interface RestoreData {
  users: number;
  rooms: number;
  participants: number;
  comments: number;
  replies: number;
  files: Record<RestoreType, { path: string; bytes: number }>;
}

/** Participants of each room. */
const PER_ROOM = 4;

/** A tenth as many users as comments and a twentieth as many rooms, as a busy application has. */
export function restoreShape(comments: number) {
  const users = Math.max(PER_ROOM, Math.ceil(comments / 10));
  const rooms = Math.max(1, Math.ceil(comments / 20));
  return { users, rooms, participants: rooms * PER_ROOM };
}

const email = (user: number) => `member.${user}@example.com`;
const roomId = (room: number) => `restore-room-${room}`;
/** The users of room `room`: every user is in a few rooms. */
const memberOf = (room: number, place: number, users: number) =>
  (room * PER_ROOM + place * 7919) % users;

/** Writes a JSON array, one row a line, as an export writes it, without holding it whole. */
async function writeArray(path: string, count: number, row: (i: number) => unknown) {
  const out = createWriteStream(path);
  let buffer = "[\n";
  for (let i = 0; i < count; i += 1) {
    buffer += `${JSON.stringify(row(i))}${i + 1 < count ? "," : ""}\n`;
    if (buffer.length > 1 << 20) {
      if (!out.write(buffer)) await once(out, "drain");
      buffer = "";
    }
  }
  out.end(`${buffer}]\n`);
  await finished(out);
  return { path, bytes: statSync(path).size };
}

/**
 * Writes the three files of a backup of `comments` comments into `dir`: users with a
 * `PasswordHash` (nothing to hash), group rooms of four participants, and comments spread over the
 * rooms, each by a participant of its room, every third a reply to the room's latest comment.
 */
export async function writeRestoreFiles(dir: string, comments: number): Promise<RestoreData> {
  const { users, rooms, participants } = restoreShape(comments);
  const hash = bcrypt.hashSync("x", 4);
  const usersFile = await writeArray(join(dir, "users.json"), users, (i) => ({
    Email: email(i),
    Name: `Member ${i} Ñandú`,
    AvatarURL: `https://avatars.example.com/${i}.png`,
    AuthenticationToken: `member-${i}-${randomUUID().slice(0, 8)}`,
    PasswordHash: hash,
    CreatedAt: new Date(Date.parse("2023-01-01T00:00:00Z") + i * 1000).toISOString(),
  }));
  const roomsFile = await writeArray(join(dir, "rooms.json"), rooms, (r) => ({
    Name: `Room ${r}`,
    Type: "group",
    CreatorEmail: email(memberOf(r, 0, users)),
    UniqueId: roomId(r),
    ParticipantEmails: Array.from({ length: PER_ROOM }, (_, p) => email(memberOf(r, p, users))),
    CreatedAt: new Date(Date.parse("2023-12-01T00:00:00Z") + r * 1000).toISOString(),
  }));
  const start = Date.parse("2024-01-01T00:00:00Z");
  // The last comment of each room, replied to by every third comment.
  const last = new Map<number, string>();
  let replies = 0;
  const commentsFile = await writeArray(join(dir, "comments.json"), comments, (i) => {
    const room = i % rooms;
    const parent = i % 3 === 2 ? last.get(room) : undefined;
    const uniqueId = `restore-${i}-${randomUUID().slice(0, 8)}`;
    last.set(room, uniqueId);
    if (parent) replies += 1;
    return {
      Message: `Halo, ini pesan nomor ${i} dari percakapan yang cukup panjang untuk menyerupai obrolan sehari-hari. Sampai jumpa besok pagi di kantor ya, jangan lupa bawa laporan bulanan dan kopi.`,
      DisableLinkPreview: false,
      Type: parent ? "reply" : "text",
      UniqueId: uniqueId,
      CreatorEmail: email(memberOf(room, (i * 7) % PER_ROOM, users)),
      RoomUniqueId: roomId(room),
      CreatedAt: new Date(start + i * 1000).toISOString().replace(".000Z", "Z"),
      Payload: parent ? { text: "Setuju", replied_comment_id: 1 } : null,
      ParentCommentUniqueId: parent ?? "",
    };
  });
  return {
    users,
    rooms,
    participants,
    comments,
    replies,
    files: { users: usersFile, rooms: roomsFile, comments: commentsFile },
  };
}

/** Reads a `COPY ... TO STDOUT` whole, so that the COPY FROM after it is timed alone. */
async function readCopy(db: pg.Pool, sql: string): Promise<Buffer[]> {
  const { to: copyTo } = await import("pg-copy-streams");
  const client = await db.connect();
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of client.query(copyTo(sql))) chunks.push(chunk as Buffer);
    return chunks;
  } finally {
    client.release();
  }
}

/** Times `COPY ... FROM STDIN` statements of read rows, one after the other, on one connection. */
async function timeCopies(db: pg.Pool, copies: [string, Buffer[]][]): Promise<number> {
  const { from: copyFrom } = await import("pg-copy-streams");
  const client = await db.connect();
  try {
    const started = performance.now();
    for (const [sql, chunks] of copies) {
      await finished(Readable.from(chunks).pipe(client.query(copyFrom(sql))));
    }
    return (performance.now() - started) / 1000;
  } finally {
    client.release();
  }
}

/** Takes `count` ids of a table's sequence at once; returns the first. */
async function takeIds(db: pg.Pool, table: string, count: number): Promise<number> {
  const { rows } = await db.query<{ first: string }>(`SELECT nextval('${table}_id_seq') AS first`);
  const first = Number(rows[0]?.first);
  await db.query(`SELECT setval('${table}_id_seq', $1::bigint)`, [first + count]);
  return first;
}

/**
 * The floor of each type: PostgreSQL's own COPY FROM of the rows the restore wrote (every column
 * the restore's own COPY writes, ids and references resolved) into the same table of another,
 * empty application (`floorApp`), with the table's indexes and foreign keys: users; rooms with
 * their participants; comments with their parents. The rows are read out first; only the COPY
 * FROM is timed.
 */
export async function copyFloors(
  db: pg.Pool,
  appId: string,
  floorApp: string,
  counts: { rooms: number; comments: number },
): Promise<Record<RestoreType, number>> {
  const users = await readCopy(
    db,
    `COPY (SELECT '${floorApp}', email, name, avatar_url, authentication_token, password_hash, created_at
      FROM users WHERE app_id = '${appId}' ORDER BY id) TO STDOUT`,
  );
  const usersSeconds = await timeCopies(db, [
    [
      "COPY users (app_id, email, name, avatar_url, authentication_token, password_hash, created_at) FROM STDIN",
      users,
    ],
  ]);
  const firstRoom = await takeIds(db, "rooms", counts.rooms);
  const numbered = `(SELECT id, ${firstRoom} - 1 + row_number() OVER (ORDER BY id) AS floor_id
      FROM rooms WHERE app_id = '${appId}')`;
  const rooms = await readCopy(
    db,
    `COPY (SELECT '${floorApp}', n.floor_id, r.creator_id, r.name, r.unique_id, r.type, r.options,
        r.avatar_url, r.created_at FROM rooms r JOIN ${numbered} n USING (id) ORDER BY r.id) TO STDOUT`,
  );
  const participants = await readCopy(
    db,
    `COPY (SELECT n.floor_id, p.user_id, p.position FROM room_participants p
        JOIN ${numbered} n ON n.id = p.room_id ORDER BY n.floor_id, p.position) TO STDOUT`,
  );
  const roomsSeconds = await timeCopies(db, [
    [
      "COPY rooms (app_id, id, creator_id, name, unique_id, type, options, avatar_url, created_at) FROM STDIN",
      rooms,
    ],
    ["COPY room_participants (room_id, user_id, position) FROM STDIN", participants],
  ]);
  // Parents are the restored comments (the same foreign key and index to check and fill).
  const firstComment = await takeIds(db, "comments", counts.comments);
  const comments = await readCopy(
    db,
    `COPY (SELECT '${floorApp}', ${firstComment} - 1 + row_number() OVER (ORDER BY id), room_id,
        user_id, parent_id, payload, unique_id, type, message, disable_link_preview, created_at
      FROM comments WHERE app_id = '${appId}' ORDER BY id) TO STDOUT`,
  );
  const commentsSeconds = await timeCopies(db, [
    [
      `COPY comments (app_id, id, room_id, user_id, parent_id, payload, unique_id, type, message,
        disable_link_preview, created_at) FROM STDIN`,
      comments,
    ],
  ]);
  return { users: usersSeconds, rooms: roomsSeconds, comments: commentsSeconds };
}
