/**
 * What the row splitter learns from a row's JSON text that the parsed value no longer shows:
 * that it was too large to keep, and which of its numbers a double does not hold exactly.
 * (No imports: the splitter and the row checks both read it.)
 */

/** A row whose JSON is larger than the row limit: the splitter kept only its size. */
export class OversizedRow {
  constructor(readonly bytes: number) {}
}

/** Numbers of a row whose digits a double does not keep, by the path of their field. */
const inexactNumbersByRow = new WeakMap<object, string[]>();

/**
 * A cheap look at a row's JSON text for a number that may not survive a double: right after a
 * `:`, `,` or `[`, 16 or more digits and points, or a number with an exponent. Only then is the
 * text scanned token by token (ids such as "5e3f-..." inside strings rarely come after those).
 */
const MAYBE_INEXACT = /[:,[]\s*-?(?:[\d.]{16}|[\d.]+[eE])/;

/**
 * Notes, for the row parsed from `text`, the paths of numbers a double cannot hold exactly.
 * Called by the row splitter, which alone still has the row's text.
 */
export function noteInexactNumbers(value: unknown, text: string): void {
  if (value === null || typeof value !== "object" || !MAYBE_INEXACT.test(text)) return;
  const paths = inexactNumberPaths(text);
  if (paths.length > 0) inexactNumbersByRow.set(value, paths);
}

/** A decimal number as `<sign><digits>e<exponent>`, digits without leading or trailing zeros. */
function normalDecimal(text: string): string {
  const match = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!match) return "NaN";
  const [, sign, whole = "", fraction = "", exponent = "0"] = match;
  const digits = `${whole}${fraction}`.replace(/^0+/, "");
  if (digits === "") return "0";
  const trimmed = digits.replace(/0+$/, "");
  const scale = BigInt(exponent) - BigInt(fraction.length) + BigInt(digits.length - trimmed.length);
  return `${sign}${trimmed}e${scale}`;
}

/** True when the JSON number `token` is printed back by JavaScript with the same value. */
export function isExactNumber(token: string): boolean {
  const value = Number(token);
  return Number.isFinite(value) && normalDecimal(token) === normalDecimal(String(value));
}

/** Paths (`Payload.content.id`) of the numbers in a JSON text that a double does not keep. */
function inexactNumberPaths(text: string): string[] {
  const found: string[] = [];
  const path: (string | number)[] = [];
  const inObject: boolean[] = [];
  let expectKey = false;
  const length = text.length;
  let at = 0;
  while (at < length) {
    const code = text.charCodeAt(at);
    if (code === 0x22) {
      let end = at + 1;
      for (;;) {
        const inner = text.charCodeAt(end);
        if (inner === 0x5c) end += 2;
        else if (inner === 0x22 || Number.isNaN(inner)) break;
        else end += 1;
      }
      if (expectKey && inObject[inObject.length - 1]) {
        path[path.length - 1] = JSON.parse(text.slice(at, end + 1)) as string;
        expectKey = false;
      }
      at = end + 1;
    } else if (code === 0x7b || code === 0x5b) {
      inObject.push(code === 0x7b);
      path.push(code === 0x7b ? "" : 0);
      expectKey = code === 0x7b;
      at += 1;
    } else if (code === 0x7d || code === 0x5d) {
      inObject.pop();
      path.pop();
      at += 1;
    } else if (code === 0x2c) {
      if (inObject[inObject.length - 1]) expectKey = true;
      else path[path.length - 1] = (path[path.length - 1] as number) + 1;
      at += 1;
    } else if (code === 0x2d || (code >= 0x30 && code <= 0x39)) {
      let end = at + 1;
      while (end < length && /[\d.eE+-]/.test(text[end] as string)) end += 1;
      if (!isExactNumber(text.slice(at, end))) found.push(path.join("."));
      at = end;
    } else {
      at += 1;
    }
  }
  return found;
}

/** The paths noted by `noteInexactNumbers` for a parsed row. */
export function inexactNumbersOf(row: object): readonly string[] {
  return inexactNumbersByRow.get(row) ?? [];
}
