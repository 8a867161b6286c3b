/**
 * jsonb text in the form JavaScript prints the same value (JSON.stringify(JSON.parse(text))),
 * which is what export files have always held.
 *
 * jsonb prints a space after every `:` and `,`, numbers as PostgreSQL's numeric prints them
 * (`1.0`, `100000`, `0.0000001`), keys in its own order, and strings with the very escapes
 * JSON.stringify uses. So when no number is printed otherwise by JavaScript and no key is one
 * that JavaScript moves to the front (an array index such as `"10"`), the JavaScript text is the
 * jsonb text without those spaces: one pass over the bytes instead of building and printing the
 * whole value. Anything else takes the parse-and-print path.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SPACE = 0x20;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const NINE = 0x39;

let scratch = Buffer.allocUnsafe(64 * 1024);

/** The payload's bytes as JavaScript prints the value; a view valid until the next call. */
export function javascriptJson(jsonb: Buffer, from = 0, to = jsonb.length): Buffer {
  return withoutSpaces(jsonb, from, to) ?? printed(jsonb, from, to);
}

/**
 * The jsonb text without its spaces when that is JavaScript's text of the value; undefined when
 * a number or key needs the parse-and-print path. A view valid until the next call.
 */
export function withoutSpaces(jsonb: Buffer, from = 0, to = jsonb.length): Buffer | undefined {
  if (scratch.length < to - from) scratch = Buffer.allocUnsafe((to - from) * 2);
  const out = scratch;
  let length = 0;
  const end = to;
  let at = from;
  while (at < end) {
    const byte = jsonb[at] as number;
    if (byte === QUOTE) {
      // A string, copied as it is; a key that is an array index changes places in JavaScript.
      out[length++] = byte;
      at += 1;
      let digitsOnly = true;
      let digits = 0;
      while (at < end) {
        const inner = jsonb[at] as number;
        out[length++] = inner;
        at += 1;
        if (inner === QUOTE) break;
        if (inner === BACKSLASH) {
          out[length++] = jsonb[at] as number;
          at += 1;
          digitsOnly = false;
        } else if (inner < ZERO || inner > NINE) digitsOnly = false;
        else digits += 1;
      }
      if (digitsOnly && digits > 0 && jsonb[at] === COLON) return undefined;
    } else if (byte === MINUS || (byte >= ZERO && byte <= NINE)) {
      const start = at;
      while (at < end) {
        const inner = jsonb[at] as number;
        if (inner !== DOT && inner !== MINUS && (inner < ZERO || inner > NINE)) break;
        out[length++] = inner;
        at += 1;
      }
      if (!printsAlike(jsonb, start, at)) return undefined;
    } else {
      if (byte !== SPACE) out[length++] = byte;
      at += 1;
    }
  }
  return out.subarray(0, length);
}

/** The parse-and-print path. */
function printed(jsonb: Buffer, from: number, to: number): Buffer {
  return Buffer.from(JSON.stringify(JSON.parse(jsonb.toString("utf8", from, to))), "utf8");
}

/**
 * True when JavaScript prints the number `text[start, end)` (as numeric prints it: `-?digits`
 * with an optional `.digits`, never an exponent) with the same characters: at most 15
 * significant digits (so the double holds exactly those), no trailing zero after the point, no
 * exponent form (below 1e-6 JavaScript writes `1e-7`), and not minus zero.
 */
function printsAlike(text: Buffer, start: number, end: number): boolean {
  let at = start;
  let negative = false;
  if (text[at] === MINUS) {
    negative = true;
    at += 1;
  }
  let significant = 0;
  let leadingZeros = 0;
  let sawPoint = false;
  let nonZero = false;
  let last = -1;
  for (; at < end; at += 1) {
    const byte = text[at] as number;
    if (byte === DOT) {
      if (sawPoint) return false;
      sawPoint = true;
      continue;
    }
    if (byte < ZERO || byte > NINE) return false;
    last = byte;
    if (byte !== ZERO) nonZero = true;
    if (nonZero) significant += 1;
    else if (sawPoint) leadingZeros += 1;
  }
  if (last === -1) return false;
  if (sawPoint && last === ZERO) return false;
  if (significant > 15) return false;
  if (!nonZero) return !negative && !sawPoint;
  // 0.000001 prints as is; 0.0000001 as 1e-7.
  return leadingZeros <= 5;
}
