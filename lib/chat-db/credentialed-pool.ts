import pg from "pg";
import { logger } from "../observability.ts";
import type { DatabaseLogin, LoginSource } from "./database-credentials.ts";

/** PostgreSQL's SQLSTATE for a refused password (`invalid_password`). */
const PASSWORD_REFUSED = "28P01";

type ConnectCallback = (
  err: Error | undefined,
  client: pg.PoolClient | undefined,
  done: (release?: unknown) => void,
) => void;

/**
 * A pg pool whose connections log in with credentials read from a {@link LoginSource} (the
 * database's secret) rather than from its options. When the server refuses a new connection's
 * password (28P01: the secret was rotated since it was read), the pool reads the credentials again,
 * bypassing the cache, and connects once more; concurrent refusals share one read. Open
 * connections are not affected by a rotation: PostgreSQL checks a password only at login.
 */
export class CredentialedPool extends pg.Pool {
  readonly #login: { current?: DatabaseLogin };
  readonly #source: LoginSource;
  /** Forced reads so far: a connection refused with credentials older than the last one retries without reading. */
  #refreshes = 0;
  #refreshing?: Promise<void>;

  constructor(options: pg.PoolConfig, source: LoginSource) {
    const login: { current?: DatabaseLogin } = {};
    // Every new connection logs in with the credentials read last.
    class LoginClient extends pg.Client {
      constructor(clientOptions: pg.ClientConfig) {
        const { host, port, database, user, password } = login.current as DatabaseLogin;
        super({ ...clientOptions, host, port, database, user, password });
      }
    }
    super({ ...options, Client: LoginClient as unknown as new () => pg.ClientBase });
    this.#login = login;
    this.#source = source;
  }

  override connect(): Promise<pg.PoolClient>;
  override connect(callback: ConnectCallback): void;
  override connect(callback?: ConnectCallback): Promise<pg.PoolClient> | undefined {
    const connected = this.#connectLoggedIn();
    if (!callback) return connected;
    // pg-pool's own `query` checks a client out through this callback form.
    connected.then(
      (client) => callback(undefined, client, (release) => client.release(release as Error)),
      (error: Error) => callback(error, undefined, () => {}),
    );
    return undefined;
  }

  async #connectLoggedIn(): Promise<pg.PoolClient> {
    const seen = this.#refreshes;
    const login = await this.#source({ forceFetch: false });
    // A forced read that finished meanwhile is newer than this cached one.
    if (this.#refreshes === seen) this.#login.current = login;
    try {
      return await super.connect();
    } catch (error) {
      if ((error as { code?: string }).code !== PASSWORD_REFUSED) throw error;
      await this.#refresh(seen);
      return await super.connect();
    }
  }

  #refresh(seen: number): Promise<void> {
    if (this.#refreshes !== seen) return Promise.resolve();
    this.#refreshing ??= (async () => {
      logger.warn("the chat database refused the login: reading its credentials again", {
        code: PASSWORD_REFUSED,
      });
      this.#login.current = await this.#source({ forceFetch: true });
      this.#refreshes += 1;
    })().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }
}
