/** Bytes of the file's first form that decide what it is, as the splitter meets them. */
export enum Byte {
  Tab = 0x09,
  NewLine = 0x0a,
  Return = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Comma = 0x2c,
  OpenBracket = 0x5b,
  Backslash = 0x5c,
  CloseBracket = 0x5d,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
}

/** JSON's white space between values. */
export function isSpace(byte: number): boolean {
  return byte === Byte.Space || byte === Byte.NewLine || byte === Byte.Return || byte === Byte.Tab;
}
