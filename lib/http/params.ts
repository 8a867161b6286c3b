import { BadRequestError } from "../errors.ts";

/** The `page` query parameter: absent means 1; otherwise a whole number from 1 to 10,000. */
export function pageParam(query: Record<string, string | undefined>): number {
  const raw = query.page;
  if (raw === undefined || raw === "") return 1;
  if (!/^\d{1,5}$/.test(raw) || Number(raw) < 1 || Number(raw) > 10000) {
    throw new BadRequestError("invalid page", [
      `page must be a whole number from 1 to 10000, got "${raw.slice(0, 40)}"`,
    ]);
  }
  return Number(raw);
}
