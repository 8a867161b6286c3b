import { LRUCache } from "lru-cache";
import type pg from "pg";

/** A user of the application: its id and its address as stored. */
export interface KnownUser {
  id: number;
  email: string;
}

/** A comment a reply may name: in the application, or an earlier row of the file. */
export interface KnownComment {
  id: number;
  roomId: number;
  /** Normalised RFC 3339 text (`instant().text`): such texts compare as their instants do. */
  createdAt: string;
}

/** How many of each kind of reference one import keeps at most (a few tens of MB in all). */
const USERS = 200_000;
const ROOMS = 100_000;
const MEMBERS = 200_000;
const COMMENTS = 100_000;

/**
 * The application's users, rooms, room members and comments as one import's rows name them,
 * looked up in batches (one statement per kind for every name a batch misses) through the chat
 * tables' own indexes, and kept in bounded caches that let the least recently used entry go (in
 * constant time): the rows of a file mostly name the same users and rooms, and a reply mostly a
 * recent comment. Look-ups run in the import's transaction, so
 * they see the rows earlier batches wrote.
 */
export class AppReferences {
  /** By address in lower case. */
  readonly users = new LRUCache<string, KnownUser>({ max: USERS });
  /** Room ids by UniqueId. */
  readonly rooms = new LRUCache<string, number>({ max: ROOMS });
  /** `room id:user id` of known participants. */
  readonly members = new LRUCache<string, true>({ max: MEMBERS });
  /** By UniqueId: the file's latest rows and the application's comments looked up. */
  readonly comments = new LRUCache<string, KnownComment>({ max: COMMENTS });

  constructor(private readonly appId: string) {}

  /**
   * Looks up users by address in lower case (unknown ones stay out) into the cache; also answered
   * as a map of their own, which a batch naming more users than the cache holds reads from.
   */
  async fetchUsers(client: pg.PoolClient, wanted: Set<string>): Promise<Map<string, KnownUser>> {
    const found = new Map<string, KnownUser>();
    if (wanted.size === 0) return found;
    const { rows } = await client.query<{ id: number; email: string; key: string }>(
      `SELECT u.id, u.email, w.key FROM unnest($2::text[]) AS w(key)
       JOIN users u ON u.app_id = $1 AND lower(u.email) = lower(w.key)`,
      [this.appId, [...wanted]],
    );
    for (const row of rows) {
      const user = { id: row.id, email: row.email };
      found.set(row.key, user);
      this.users.set(row.key, user);
    }
    return found;
  }

  /** Looks up room ids by UniqueId (answered, and kept in the cache). */
  async fetchRooms(client: pg.PoolClient, wanted: Set<string>): Promise<Map<string, number>> {
    const found = new Map<string, number>();
    if (wanted.size === 0) return found;
    const { rows } = await client.query<{ id: number; unique_id: string }>(
      "SELECT id, unique_id FROM rooms WHERE app_id = $1 AND unique_id = ANY($2::text[])",
      [this.appId, [...wanted]],
    );
    for (const row of rows) {
      found.set(row.unique_id, row.id);
      this.rooms.set(row.unique_id, row.id);
    }
    return found;
  }

  /** Looks up which `room id:user id` pairs are participants (answered, and kept in the cache). */
  async fetchMembers(client: pg.PoolClient, wanted: Set<string>): Promise<Set<string>> {
    const found = new Set<string>();
    if (wanted.size === 0) return found;
    const rooms: number[] = [];
    const users: number[] = [];
    for (const pair of wanted) {
      const colon = pair.indexOf(":");
      rooms.push(Number(pair.slice(0, colon)));
      users.push(Number(pair.slice(colon + 1)));
    }
    const { rows } = await client.query<{ room_id: number; user_id: number }>(
      `SELECT p.room_id, p.user_id FROM unnest($1::bigint[], $2::bigint[]) AS w(room_id, user_id)
       JOIN room_participants p ON p.room_id = w.room_id AND p.user_id = w.user_id`,
      [rooms, users],
    );
    for (const row of rows) {
      const pair = `${row.room_id}:${row.user_id}`;
      found.add(pair);
      this.members.set(pair, true);
    }
    return found;
  }

  /**
   * The application's comments with these UniqueIds (those of earlier batches included), as a
   * map of their own: the caller decides what enters the cache.
   */
  async fetchComments(
    client: pg.PoolClient,
    wanted: Set<string>,
  ): Promise<Map<string, KnownComment>> {
    const found = new Map<string, KnownComment>();
    if (wanted.size === 0) return found;
    const { rows } = await client.query<{
      id: number;
      unique_id: string;
      room_id: number;
      created_at: string;
    }>(
      `SELECT id, unique_id, room_id,
         to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at
       FROM comments WHERE app_id = $1 AND unique_id = ANY($2::text[])`,
      [this.appId, [...wanted]],
    );
    for (const row of rows) {
      found.set(row.unique_id, { id: row.id, roomId: row.room_id, createdAt: row.created_at });
    }
    return found;
  }
}
