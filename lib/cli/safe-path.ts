import { basename, join, resolve } from "node:path";

/**
 * Where a file named by the server goes inside `directory`: the name's last part only, with
 * directories (either slash), drive letters, control characters and leading dots stripped, so that
 * no name the server sends (`../../.bashrc`, `/etc/passwd`, `C:\x`) can place it elsewhere.
 * `fallback` is used when nothing of the name is left.
 */
export function fileInside(directory: string, name: string, fallback: string): string {
  const last = basename(name.replace(/\\/g, "/"));
  const clean = last
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what goes
    .replace(/[\u0000-\u001f\u007f]/g, "")
    .replace(/^[A-Za-z]:/, "")
    .replace(/^\.+/, "")
    .slice(0, 200);
  const dir = resolve(directory);
  const path = join(dir, clean || fallback);
  // The name is one plain component by now; this is the last word on it.
  return resolve(path).startsWith(`${dir}/`) ? path : join(dir, fallback);
}
