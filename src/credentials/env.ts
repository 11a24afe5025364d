/**
 * Credentials from the environment, the first source of the chain, in one of three modes:
 * `AWS_ACCESS_KEY_ID` with `AWS_SECRET_ACCESS_KEY` (and optional `AWS_SESSION_TOKEN`); with
 * `AWS_SIGNING_KEY` (base64, 32 bytes) and `AWS_KEY_SCOPE`; or with `AWS_SIGNING_KEY_FILE`.
 * Values are read with {@linkcode setting}: trimmed (a secret pasted with a trailing newline is
 * the usual mistake), blank as unset. A partial or ambiguous set is an error, not a reason to look
 * elsewhere (as botocore does for partial keys). The proxy and `deno task presign` read the
 * environment with the same {@linkcode environmentCredentials}.
 *
 * @module
 */

import { type Env, setting } from "../env.ts";
import { decodeSigningKey } from "../s3/scope.ts";
import type { SecretCredentials, SigningKeyCredentials } from "../s3/sigv4.ts";
import {
  type CredentialProvider,
  CredentialSourceError,
  isHeaderSafe,
  isKeyId,
  staticProvider,
} from "./provider.ts";
import type { CredentialIo } from "./resolve.ts";
import { signingKeyFileProvider, signingKeyProvider } from "./signing_key.ts";

/** What the environment names, before any file is read or the clock is asked. */
export type EnvironmentCredentials =
  | { readonly mode: "secret"; readonly credentials: SecretCredentials }
  | { readonly mode: "signing key"; readonly credentials: SigningKeyCredentials }
  | {
    readonly mode: "signing key file";
    readonly path: string;
    readonly accessKeyId: string;
    readonly sessionToken?: string;
  };

/**
 * Reads the credential variables: the mode and its values, `{ absent }` when
 * `AWS_ACCESS_KEY_ID` and the secrets are all unset, or a thrown {@linkcode CredentialSourceError}
 * naming the variables that are wrong (never their values). The scope is not checked here: the
 * signing-key provider and the signer do that.
 *
 * @example
 * ```ts
 * environmentCredentials({ AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "SECRET\n" });
 * // { mode: "secret", credentials: { accessKeyId: "AKID", secretAccessKey: "SECRET" } }
 * ```
 */
export function environmentCredentials(env: Env): EnvironmentCredentials | { absent: string } {
  const id = setting(env, "AWS_ACCESS_KEY_ID");
  const secret = setting(env, "AWS_SECRET_ACCESS_KEY");
  const key = setting(env, "AWS_SIGNING_KEY");
  const scope = setting(env, "AWS_KEY_SCOPE");
  const file = setting(env, "AWS_SIGNING_KEY_FILE");
  const token = setting(env, "AWS_SESSION_TOKEN");
  const modes = [
    secret ? "AWS_SECRET_ACCESS_KEY" : "",
    key ? "AWS_SIGNING_KEY" : "",
    file ? "AWS_SIGNING_KEY_FILE" : "",
  ].filter((m) => m !== "");
  if (id === undefined) {
    if (modes.length > 0) {
      throw new CredentialSourceError(`${modes[0]} is set but AWS_ACCESS_KEY_ID is not`);
    }
    return { absent: "AWS_ACCESS_KEY_ID is not set" };
  }
  if (!isKeyId(id)) {
    throw new CredentialSourceError("AWS_ACCESS_KEY_ID holds characters a key id cannot hold");
  }
  if (modes.length === 0) {
    throw new CredentialSourceError(
      "AWS_ACCESS_KEY_ID is set but none of AWS_SECRET_ACCESS_KEY, AWS_SIGNING_KEY (with " +
        "AWS_KEY_SCOPE) or AWS_SIGNING_KEY_FILE is",
    );
  }
  if (modes.length > 1) throw new CredentialSourceError(`set only one of ${modes.join(", ")}`);
  if (token !== undefined && !isHeaderSafe(token)) {
    throw new CredentialSourceError("AWS_SESSION_TOKEN holds characters not allowed in a header");
  }
  const session = token === undefined ? {} : { sessionToken: token };
  if (secret) {
    return {
      mode: "secret",
      credentials: { accessKeyId: id, secretAccessKey: secret, ...session },
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
    return { mode: "signing key", credentials: { accessKeyId: id, signingKey, scope, ...session } };
  }
  if (scope) {
    throw new CredentialSourceError(
      "AWS_KEY_SCOPE is set with AWS_SIGNING_KEY_FILE; the file gives each key its scope",
    );
  }
  return { mode: "signing key file", path: file!, accessKeyId: id, ...session };
}

/**
 * What {@linkcode environmentProvider} needs besides the environment: the I/O it hands to
 * {@linkcode signingKeyFileProvider} (only `now` and `log` serve the other modes).
 */
export type EnvironmentIo = Pick<
  CredentialIo,
  "readTextFile" | "now" | "log" | "setTimeout" | "clearTimeout"
>;

/** Tuning of the signing-key file (defaults in {@linkcode signingKeyFileProvider}). */
export interface EnvironmentOptions {
  readonly pollMs?: number;
  readonly warnAheadMs?: number;
}

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
  env: Env,
  io: EnvironmentIo,
  options: EnvironmentOptions = {},
): Promise<{ provider: CredentialProvider } | { absent: string }> {
  const found = environmentCredentials(env);
  if ("absent" in found) return found;
  if (found.mode === "secret") {
    return { provider: staticProvider(found.credentials, "environment") };
  }
  if (found.mode === "signing key") {
    const provider = signingKeyProvider({
      ...found.credentials,
      now: io.now,
      log: io.log,
      source: `environment (signing key, scope ${found.credentials.scope})`,
    });
    return { provider };
  }
  const provider = await signingKeyFileProvider({
    ...io,
    ...options,
    path: found.path,
    accessKeyId: found.accessKeyId,
    sessionToken: found.sessionToken,
    region: setting(env, "AWS_REGION") ?? setting(env, "AWS_DEFAULT_REGION"),
  });
  return { provider };
}
