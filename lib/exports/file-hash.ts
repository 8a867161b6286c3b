import { createHash, type Hash } from "node:crypto";
import { createSHA256, type IHasher } from "hash-wasm";

/**
 * The SHA-256 of a file as its parts are cut, in file order. `save()` answers the state to store
 * with each part's checkpoint (base64), from which another invocation goes on hashing; "" when
 * this hash cannot be continued elsewhere.
 */
export interface FileHash {
  update(bytes: Uint8Array): void;
  save(): string;
  digest(): string;
}

/**
 * A hash whose state is stored at every part (WebAssembly: its state can be saved and loaded),
 * continuing `state` when given. About 5x slower than the native one.
 */
export async function resumableHash(state?: string): Promise<FileHash> {
  const hasher: IHasher = await createSHA256();
  if (state) hasher.load(Buffer.from(state, "base64"));
  else hasher.init();
  return {
    update: (bytes) => {
      hasher.update(bytes);
    },
    save: () => Buffer.from(hasher.save()).toString("base64"),
    digest: () => hasher.digest("hex"),
  };
}

/**
 * Node's own SHA-256 (OpenSSL, SHA instructions where the CPU has them): for a file written whole
 * in one invocation. Its state cannot leave the process, so it saves "".
 */
export function oneInvocationHash(): FileHash {
  const hash: Hash = createHash("sha256");
  return {
    update: (bytes) => {
      hash.update(bytes);
    },
    save: () => "",
    digest: () => hash.digest("hex"),
  };
}

/** The slowest pace at which an export is assumed to write rows (Lambda, a busy database). */
const SLOWEST_ROWS_PER_SECOND = 10_000;

/**
 * True when the invocation has time to write all of `rows` rows even at the slowest assumed
 * pace, with the reserve left over: the file can then be hashed natively, since no other
 * invocation will need the hash state. A file that does not end in this invocation after all
 * (a crash, an unusually slow database) is written again from its start, resumably.
 */
export function finishesInThisInvocation(
  rows: number,
  remainingMs: number,
  reserveMs: number,
): boolean {
  return (rows * 1000) / SLOWEST_ROWS_PER_SECOND < remainingMs - reserveMs;
}
