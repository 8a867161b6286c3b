import { type ImportUserRow, importUserSchema } from "../../schemas/import-users.ts";
import { existingTokens, insertUsers, usersByEmail } from "../chat-db/import-queries.ts";
import { validatorFor } from "../validation.ts";
import { instant } from "./file-rows.ts";
import type { ImporterFactory } from "./importer.ts";
import { passwordHasher } from "./password-hasher.ts";

/** bcrypt reads no more than this many bytes of a password. */
const BCRYPT_MAX_BYTES = 72;

interface UserRow {
  index: number;
  row: ImportUserRow;
  createdAt: string;
}

/**
 * Users: Email unique case-insensitively and AuthenticationToken unique, in the file and in the
 * application; a plain Password is hashed with bcrypt, a PasswordHash is stored as it is.
 */
export const importUsers: ImporterFactory = (rows, problems, context) => {
  const validate = validatorFor<ImportUserRow>(importUserSchema);
  const valid: UserRow[] = [];
  const emails = new Map<string, number>();
  const tokens = new Map<string, number>();
  rows.forEach((row, index) => {
    if (!validate(row)) {
      problems.addSchemaErrors(index, validate.errors);
      return;
    }
    let ok = true;
    if (row.Password !== undefined && row.PasswordHash !== undefined) {
      problems.add(index, "PasswordHash", "give either Password or PasswordHash, not both");
      ok = false;
    } else if (row.Password === undefined && row.PasswordHash === undefined) {
      problems.add(index, "Password", "Password (or PasswordHash) is required");
      ok = false;
    } else if (row.Password && Buffer.byteLength(row.Password) > BCRYPT_MAX_BYTES) {
      problems.add(index, "Password", `Password must be at most ${BCRYPT_MAX_BYTES} bytes`);
      ok = false;
    }
    if (!problems.unique(emails, row.Email.toLowerCase(), index, "Email")) ok = false;
    if (!problems.unique(tokens, row.AuthenticationToken, index, "AuthenticationToken")) ok = false;
    if (ok) {
      const createdAt = row.CreateAt ? instant(row.CreateAt).text : context.importedAt.text;
      valid.push({ index, row, createdAt });
    }
  });

  let passwordHashes: string[] = [];

  return {
    async checkAgainstApp(db, found) {
      const takenEmails = await usersByEmail(
        db,
        context.appId,
        valid.map(({ row }) => row.Email),
      );
      const takenTokens = await existingTokens(
        db,
        context.appId,
        valid.map(({ row }) => row.AuthenticationToken),
      );
      for (const { index, row } of valid) {
        if (takenEmails.has(row.Email.toLowerCase())) {
          found.add(index, "Email", "a user with this Email already exists in this application");
        }
        if (takenTokens.has(row.AuthenticationToken)) {
          found.add(
            index,
            "AuthenticationToken",
            "a user with this AuthenticationToken already exists in this application",
          );
        }
      }
    },

    async prepare(work) {
      const plain = valid.filter(({ row }) => row.PasswordHash === undefined);
      const passwords = plain.map(({ row }) => row.Password as string);
      // Hashes saved by an earlier invocation cover a leading part of the same list.
      const earlier = passwords.length ? (await work.earlier()).slice(0, passwords.length) : [];
      const rest = await passwordHasher().hashAll(passwords.slice(earlier.length), undefined, {
        shouldStop: work.timeIsUp,
        onProgress: (hashed) => work.progress(earlier.length + hashed, passwords.length),
      });
      const hashes = [...earlier, ...rest];
      if (hashes.length < passwords.length) {
        await work.save(hashes);
        return false;
      }
      const byIndex = new Map(plain.map(({ index }, i) => [index, hashes[i] as string]));
      passwordHashes = valid.map(
        ({ index, row }) => row.PasswordHash ?? (byIndex.get(index) as string),
      );
      return true;
    },

    async write(client) {
      if (passwordHashes.length !== valid.length) throw new Error("passwords were not prepared");
      await insertUsers(
        client,
        context.appId,
        valid.map(({ row, createdAt }, i) => ({
          email: row.Email,
          name: row.Name,
          avatarUrl: row.AvatarUrl ?? "",
          authenticationToken: row.AuthenticationToken,
          passwordHash: passwordHashes[i] as string,
          createdAt,
        })),
      );
      return valid.length;
    },
  };
};
