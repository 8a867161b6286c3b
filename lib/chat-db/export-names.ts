import type pg from "pg";
import { chatDb } from "./pool.ts";

/** A table whose rows an exported row names by id: users by email, rooms by unique id. */
export type NamedTable = "users" | "rooms";

const NAME_COLUMNS: Record<NamedTable, string> = { users: "email", rooms: "unique_id" };

/** Fetches the JSON text of the names of `ids` in `table`; ids that are gone are left out. */
export type NameSource = (table: NamedTable, ids: number[]) => Promise<Map<number, Buffer>>;

/** Names read through `db` (a pool, or one connection holding a snapshot), as JSON string literals escaped by PostgreSQL. */
export function namesFrom(db: Pick<pg.ClientBase, "query">): NameSource {
  return async (table, ids) => {
    const { rows } = await db.query<{ id: number; name: string }>(
      `SELECT id, to_json(${NAME_COLUMNS[table]})::text AS name FROM ${table} WHERE id = ANY($1::bigint[])`,
      [ids],
    );
    return new Map(rows.map((row) => [Number(row.id), Buffer.from(row.name, "utf8")]));
  };
}

/** Names read from the chat database's pool. */
export const chatDbNames: NameSource = (table, ids) => namesFrom(chatDb())(table, ids);

/** Entries kept per table before the cache starts afresh: a few tens of MiB at most. */
const DEFAULT_CAPACITY = 200_000;

/** The cached names of one table and the ids still to fetch. */
export interface CachedNames {
  readonly names: Map<number, Buffer>;
  readonly wanted: Set<number>;
}

/**
 * The names (a creator's email, a room's unique id) exported rows refer to by id, kept in memory
 * and fetched in batches. A comment export names the same few users and rooms over and over: a
 * map look-up here replaces an index look-up per row in PostgreSQL, the largest part of building a
 * row there. A tenant with more users than the capacity still works; the cache then starts afresh
 * whenever a batch would overflow it.
 */
export class NameCache {
  private readonly tables: Record<NamedTable, CachedNames> = {
    users: { names: new Map(), wanted: new Set() },
    rooms: { names: new Map(), wanted: new Set() },
  };

  constructor(
    private readonly source: NameSource = chatDbNames,
    private readonly capacity = DEFAULT_CAPACITY,
  ) {}

  /** The table's cache: rows look names up in `names` and note missing ids in `wanted`. */
  table(table: NamedTable): CachedNames {
    return this.tables[table];
  }

  /**
   * Fetches every id noted in `wanted`. `all` lists every id the rows waiting for this fetch
   * refer to: when the cache must start afresh to stay in bounds, those are fetched again with
   * the missing ones.
   */
  async fetch(all: () => Record<NamedTable, Iterable<number>>): Promise<void> {
    for (const table of ["users", "rooms"] as const) {
      const { names, wanted } = this.tables[table];
      if (wanted.size === 0) continue;
      if (names.size + wanted.size > this.capacity) {
        names.clear();
        for (const id of all()[table]) wanted.add(id);
      }
      const ids = [...wanted];
      wanted.clear();
      const found = await this.source(table, ids);
      for (const id of ids) {
        const name = found.get(id);
        if (!name) throw new Error(`the exported rows refer to ${table} row ${id}, which is gone`);
        names.set(id, name);
      }
    }
  }
}
