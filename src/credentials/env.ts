/**
 * Credentials from the environment, the first source of the chain, in one of three modes:
 * `AWS_ACCESS_KEY_ID` with `AWS_SECRET_ACCESS_KEY` (and optional `AWS_SESSION_TOKEN`); with
 * `AWS_SIGNING_KEY` (base64, 32 bytes) and `AWS_KEY_SCOPE`; or with `AWS_SIGNING_KEY_FILE`.
 * Values are trimmed. A partial or ambiguous set is an error, not a reason to look elsewhere (as
 * botocore does for partial keys).
 *
 * @module
 */

import { type CredentialProvider, CredentialSourceError, staticProvider } from "./provider.ts";
import { decodeSigningKey } from "../s3/scope.ts";
import {
  type SigningKeyFileOptions,
  signingKeyFileProvider,
  signingKeyProvider,
} from "./signing_key.ts";

/**
 * What {@linkcode environmentProvider} needs besides the environment: the I/O and tuning it
 * hands to {@linkcode signingKeyFileProvider} (only `now` and `log` serve the other modes).
 */
export type EnvironmentIo = Pick<
  SigningKeyFileOptions,
  "readTextFile" | "now" | "log" | "setTimeout" | "clearTimeout" | "pollMs" | "warnAheadMs"
>;

const KEY_ID = /^[\x21-\x7e]+$/;

/**
 * The environment's provider, `{ absent }` when `AWS_ACCESS_KEY_ID` and the secrets are all
 * unset, or a thrown {@linkcode CredentialSourceError} naming the variables that are wrong.
 *
 * @example
 * ```ts
 * const found = await environmentProvider(
 *   { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "SECRET" },
 *   { readTextFile: (p) => Deno.readTextFile(p), now: Date.now, log: console.log },
 * );
 * ```
 */
export async function environmentProvider(
  env: Record<string, string | undefined>,
  io: EnvironmentIo,
): Promise<{ provider: CredentialProvider } | { absent: string }> {
  // Values are trimmed: a secret pasted with a trailing newline is the usual mistake.
  const id = env.AWS_ACCESS_KEY_ID?.trim();
  const secret = env.AWS_SECRET_ACCESS_KEY?.trim();
  const key = env.AWS_SIGNING_KEY?.trim();
  const scope = env.AWS_KEY_SCOPE?.trim();
  const file = env.AWS_SIGNING_KEY_FILE?.trim();
  const token = env.AWS_SESSION_TOKEN?.trim() || undefined;
  const modes = [
    secret ? "AWS_SECRET_ACCESS_KEY" : "",
    key ? "AWS_SIGNING_KEY" : "",
    file ? "AWS_SIGNING_KEY_FILE" : "",
  ].filter((m) => m !== "");
  if (!id) {
    if (modes.length > 0) {
      throw new CredentialSourceError(`${modes[0]} is set but AWS_ACCESS_KEY_ID is not`);
    }
    return { absent: "AWS_ACCESS_KEY_ID is not set" };
  }
  if (!KEY_ID.test(id) || /[/,]/.test(id)) {
    throw new CredentialSourceError("AWS_ACCESS_KEY_ID holds characters a key id cannot hold");
  }
  if (modes.length === 0) {
    throw new CredentialSourceError(
      "AWS_ACCESS_KEY_ID is set but none of AWS_SECRET_ACCESS_KEY, AWS_SIGNING_KEY (with " +
        "AWS_KEY_SCOPE) or AWS_SIGNING_KEY_FILE is",
    );
  }
  if (modes.length > 1) {
    throw new CredentialSourceError(`set only one of ${modes.join(", ")}`);
  }
  if (token !== undefined && !/^[\x20-\x7e]+$/.test(token)) {
    throw new CredentialSourceError("AWS_SESSION_TOKEN holds characters not allowed in a header");
  }
  if (secret) {
    return {
      provider: staticProvider(
        { accessKeyId: id, secretAccessKey: secret, ...(token ? { sessionToken: token } : {}) },
        "environment",
      ),
    };
  }
  if (key) {
    const signingKey = decodeSigningKey(key);
    if (!signingKey) {
      throw new CredentialSourceError(
        "AWS_SIGNING_KEY is not 32 bytes of base64 (or 64 hex digits)",
      );
    }
    if (!scope) throw new CredentialSourceError("AWS_SIGNING_KEY is set but AWS_KEY_SCOPE is not");
    const provider = signingKeyProvider({
      accessKeyId: id,
      signingKey,
      scope,
      sessionToken: token,
      now: io.now,
      log: io.log,
      source: `environment (signing key, scope ${scope})`,
    });
    return { provider };
  }
  if (scope) {
    throw new CredentialSourceError(
      "AWS_KEY_SCOPE is set with AWS_SIGNING_KEY_FILE; the file gives each key its scope",
    );
  }
  const provider = await signingKeyFileProvider({
    path: file!,
    accessKeyId: id,
    sessionToken: token,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || undefined,
    readTextFile: io.readTextFile,
    now: io.now,
    log: io.log,
    setTimeout: io.setTimeout,
    clearTimeout: io.clearTimeout,
    pollMs: io.pollMs,
    warnAheadMs: io.warnAheadMs,
  });
  return { provider };
}
