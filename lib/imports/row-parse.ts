import { ImportFileError } from "./import-file-error.ts";
import { noteInexactNumbers } from "./row-text.ts";

/** A strict UTF-8 decoder (`new TextDecoder("utf-8", { fatal: true })`). */
export interface Utf8Decoder {
  decode(bytes: Uint8Array): string;
}

/**
 * Decodes one row's bytes (strict UTF-8) and parses them with `JSON.parse`; a broken row is one
 * sentence with the line and column in the file, the row starting at `line` and 0-based `column`.
 * The parser's own message is not repeated: it quotes the file, and a users file holds passwords.
 */
export function parseRow(
  decoder: Utf8Decoder,
  bytes: Uint8Array,
  rowLine: number,
  rowColumn: number,
): unknown {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new ImportFileError("The file is not valid UTF-8 text.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const position = Number(/position (\d+)/.exec(String((error as Error).message))?.[1]);
    let line = rowLine;
    let column = rowColumn + 1;
    if (Number.isFinite(position)) {
      const before = text.slice(0, position);
      const newLines = before.split("\n").length - 1;
      line += newLines;
      column = newLines ? position - before.lastIndexOf("\n") : column + position;
    } else {
      column += text.length;
    }
    throw new ImportFileError(`The file is not valid JSON (at line ${line}, column ${column}).`);
  }
  noteInexactNumbers(value, text);
  return value;
}

/**
 * Says what a file that is no array (nor NDJSON) holds, in the words of a whole-file parse of
 * `bytes`; always throws an ImportFileError naming what was `expected`.
 */
export function describeNonArray(decoder: Utf8Decoder, bytes: Uint8Array, expected: string): never {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new ImportFileError("The file is not valid UTF-8 text.");
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    const position = /position (\d+)/.exec(String((error as Error).message))?.[1];
    let where = "";
    if (position !== undefined) {
      const before = text.slice(0, Number(position));
      const line = before.split("\n").length;
      const column = Number(position) - before.lastIndexOf("\n");
      where = ` (at line ${line}, column ${column})`;
    }
    throw new ImportFileError(`The file is not valid JSON${where}.`);
  }
  const kind = value === null ? "null" : typeof value === "object" ? "an object" : typeof value;
  throw new ImportFileError(`The file must hold ${expected}, but it holds ${kind}.`);
}
