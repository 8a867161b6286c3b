import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import {
  isMainThread,
  type MessagePort,
  parentPort,
  Worker,
  workerData,
} from "node:worker_threads";
import bcrypt from "bcryptjs";
import { config } from "../config.ts";

const ROLE = "password-hasher";

interface HashRequest {
  id: number;
  passwords: string[];
  cost: number;
}

interface HashReply {
  id: number;
  hashes?: string[];
  error?: string;
}

/**
 * The body of every hashing thread. It must reference nothing but its parameters: a thread
 * started from TypeScript sources runs it from its source text.
 */
function serveHashRequests(hasher: typeof bcrypt, port: MessagePort): void {
  port.on("message", (request: HashRequest) => {
    try {
      const hashes = request.passwords.map((password) =>
        hasher.hashSync(password, hasher.genSaltSync(request.cost)),
      );
      port.postMessage({ id: request.id, hashes });
    } catch (error) {
      port.postMessage({ id: request.id, error: String(error) });
    }
  });
}

if (!isMainThread && (workerData as { role?: string } | undefined)?.role === ROLE && parentPort) {
  serveHashRequests(bcrypt, parentPort);
}

/** The file this module was loaded from: the bundled handler in Lambda, a .ts file locally. */
function moduleFile(): string {
  return typeof __filename === "string" ? __filename : fileURLToPath(import.meta.url);
}

function startThread(): Worker {
  const file = moduleFile();
  if (!file.endsWith(".ts")) return new Worker(file, { workerData: { role: ROLE } });
  // Node 20 cannot start a thread from a TypeScript file (the tsx loader does not reach
  // threads), so the same function runs from its compiled source text with bcryptjs.
  const bcryptjs = createRequire(file).resolve("bcryptjs");
  const source = `const { parentPort } = require("node:worker_threads");
(${serveHashRequests.toString()})(require(${JSON.stringify(bcryptjs)}), parentPort);`;
  return new Worker(source, { eval: true, workerData: { role: ROLE } });
}

/**
 * A pool of threads hashing passwords with bcrypt, one per core (config().hashThreads), kept
 * for the life of the container. Threads do not keep the process alive.
 */
export class PasswordHasher {
  private readonly threads: Worker[] = [];
  private readonly pending = new Map<
    number,
    { resolve(hashes: string[]): void; reject(error: Error): void }
  >();
  private nextId = 1;

  constructor(readonly size = config().hashThreads) {}

  private thread(index: number): Worker {
    let thread = this.threads[index];
    if (!thread) {
      thread = startThread();
      thread.unref();
      thread.on("message", (reply: HashReply) => {
        const waiter = this.pending.get(reply.id);
        if (!waiter) return;
        this.pending.delete(reply.id);
        if (reply.hashes) waiter.resolve(reply.hashes);
        else waiter.reject(new Error(`password hashing failed: ${reply.error}`));
      });
      thread.on("error", (error) => this.failAll(index, error));
      thread.on("exit", () => {
        if (this.threads[index] === thread) this.threads[index] = undefined as never;
      });
      this.threads[index] = thread;
    }
    return thread;
  }

  private failAll(index: number, error: Error): void {
    this.threads[index] = undefined as never;
    for (const [id, waiter] of this.pending) {
      this.pending.delete(id);
      waiter.reject(error);
    }
  }

  private send(index: number, passwords: string[], cost: number): Promise<string[]> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.thread(index).postMessage({ id, passwords, cost } satisfies HashRequest);
    });
  }

  /**
   * Hashes the passwords in order at the given cost. Work is handed out in small chunks so that
   * every thread stays busy until the end. When `shouldStop` turns true, no more chunks are
   * handed out (each thread finishes at least one first, so every call makes progress) and the
   * hashes of a leading part of the list are returned; otherwise all of them.
   */
  async hashAll(
    passwords: string[],
    cost = config().bcryptCost,
    options: { shouldStop?: () => boolean; onProgress?: (hashed: number) => void } = {},
  ): Promise<string[]> {
    const hashes: string[] = new Array(passwords.length);
    const chunk = Math.max(1, Math.min(32, Math.ceil(passwords.length / (this.size * 4))));
    let next = 0;
    let hashed = 0;
    const lane = async (index: number) => {
      let first = true;
      while (next < passwords.length && (first || !options.shouldStop?.())) {
        first = false;
        const start = next;
        next += chunk;
        const done = await this.send(index, passwords.slice(start, start + chunk), cost);
        for (let i = 0; i < done.length; i += 1) hashes[start + i] = done[i] as string;
        hashed += done.length;
        options.onProgress?.(hashed);
      }
    };
    const lanes = Math.min(this.size, Math.ceil(passwords.length / chunk));
    await Promise.all(Array.from({ length: lanes }, (_, index) => lane(index)));
    // Chunks go out in order and each one handed out has finished: the first `next` are done.
    return hashes.slice(0, Math.min(next, passwords.length));
  }

  /** Stops every thread (tests and scripts; Lambda containers simply freeze). */
  async close(): Promise<void> {
    const threads = this.threads.splice(0);
    await Promise.all(threads.filter(Boolean).map((thread) => thread.terminate()));
  }
}

let shared: PasswordHasher | undefined;

/** The hashing pool of this container. */
export function passwordHasher(): PasswordHasher {
  shared ??= new PasswordHasher();
  return shared;
}
