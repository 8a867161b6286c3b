import type { StagingColumn } from "../../chat-db/staging.ts";

/**
 * The places of named columns among a resource's staged values (`ImportSpec.columns` order), so
 * that a direct writer reads a staged row by name and never by a number kept in step by hand.
 */
export function columnPlaces<N extends string>(
  columns: readonly StagingColumn[],
  names: readonly N[],
): Record<N, number> {
  const places = {} as Record<N, number>;
  for (const name of names) {
    const place = columns.findIndex((column) => column.name === name);
    if (place < 0) throw new Error(`no staged column ${name}`);
    places[name] = place;
  }
  return places;
}
