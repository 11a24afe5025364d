/**
 * Static keys from the AWS shared files: `AWS_SHARED_CREDENTIALS_FILE` (default
 * `~/.aws/credentials`, sections `[NAME]`) and `AWS_CONFIG_FILE` (default `~/.aws/config`,
 * sections `[profile NAME]`, and `[default]`), profile `AWS_PROFILE` (default `default`). As in
 * the AWS SDKs, the credentials file is looked at first, then the config file; the first profile
 * holding `aws_access_key_id` gives the keys (`aws_secret_access_key`, optional
 * `aws_session_token`). Profiles that assume roles, use SSO or run processes are not supported
 * and are reported so.
 *
 * @module
 */

import { type IniData, parseIni } from "./ini.ts";
import type { Credentials, SecretCredentials } from "../s3/sigv4.ts";
import {
  type CredentialProvider,
  CredentialSourceError,
  errorMessage,
  fileErrorMessage,
} from "./provider.ts";

/**
 * Profile sections of a config file by profile name: `[profile NAME]` and `[default]` (a
 * `[profile default]` wins over `[default]`). Other sections (`sso-session`, `services`) are left
 * out.
 *
 * @example
 * ```ts
 * configProfiles(parseIni("[profile dev]\nregion = eu-west-1\n")).get("dev")?.get("region"); // "eu-west-1"
 * ```
 */
export function configProfiles(data: IniData): IniData {
  const out: IniData = new Map();
  const plainDefault = data.get("default");
  if (plainDefault) out.set("default", plainDefault);
  for (const [name, section] of data) {
    const parts = name.split(/[ \t]+/);
    if (parts.length === 2 && parts[0] === "profile") out.set(parts[1], section);
  }
  return out;
}

/** What {@linkcode profileCredentials} found. */
export type ProfileLookup =
  | { readonly found: true; readonly credentials: SecretCredentials; readonly file: string }
  | { readonly found: false; readonly reason: string };

/** One shared file: its path and its text, or `undefined` when it could not be read. */
export interface SharedFile {
  readonly path: string;
  readonly text?: string;
  /** Why it could not be read. */
  readonly error?: string;
}

const UNSUPPORTED = [
  "role_arn",
  "sso_session",
  "sso_start_url",
  "credential_process",
  "web_identity_token_file",
  "credential_source",
];

/**
 * Finds static keys for `profile` in the credentials file, then in the config file. Throws a
 * {@linkcode CredentialSourceError} when a profile has a key id without its secret (a partial
 * profile is a mistake, not a reason to look elsewhere).
 *
 * @example
 * ```ts
 * profileCredentials(
 *   { path: "~/.aws/credentials", text: "[dev]\naws_access_key_id=AKID\naws_secret_access_key=S\n" },
 *   { path: "~/.aws/config" },
 *   "dev",
 * ); // { found: true, credentials: { accessKeyId: "AKID", secretAccessKey: "S" }, file: "~/.aws/credentials" }
 * ```
 */
export function profileCredentials(
  credentialsFile: SharedFile,
  configFile: SharedFile,
  profile: string,
): ProfileLookup {
  const notes: string[] = [];
  const candidates: [SharedFile, IniData | undefined][] = [
    [
      credentialsFile,
      credentialsFile.text === undefined ? undefined : parseIni(credentialsFile.text),
    ],
    [
      configFile,
      configFile.text === undefined ? undefined : configProfiles(parseIni(configFile.text)),
    ],
  ];
  for (const [file, data] of candidates) {
    if (!data) {
      notes.push(`${file.path}: ${file.error ?? "not read"}`);
      continue;
    }
    const section = data.get(profile);
    if (!section) {
      notes.push(`${file.path} has no profile ${profile}`);
      continue;
    }
    const id = section.get("aws_access_key_id");
    const secret = section.get("aws_secret_access_key");
    const token = section.get("aws_session_token") || section.get("aws_security_token");
    if (id) {
      if (!secret) {
        throw new CredentialSourceError(
          `profile ${profile} in ${file.path} has aws_access_key_id but no aws_secret_access_key`,
        );
      }
      return {
        found: true,
        file: file.path,
        credentials: {
          accessKeyId: id,
          secretAccessKey: secret,
          ...(token ? { sessionToken: token } : {}),
        },
      };
    }
    if (secret) {
      throw new CredentialSourceError(
        `profile ${profile} in ${file.path} has aws_secret_access_key but no aws_access_key_id`,
      );
    }
    const other = UNSUPPORTED.filter((k) => section.has(k));
    notes.push(
      `profile ${profile} in ${file.path} has no static keys` +
        (other.length ? ` (${other.join(", ")} is not supported)` : ""),
    );
  }
  return { found: false, reason: notes.join("; ") };
}

/**
 * The paths of the shared files and the profile, from the environment.
 *
 * @example
 * ```ts
 * sharedFilePaths({ AWS_PROFILE: "dev" }, "/home/me");
 * // { credentials: "/home/me/.aws/credentials", config: "/home/me/.aws/config", profile: "dev", explicitProfile: true }
 * ```
 */
export function sharedFilePaths(
  env: Record<string, string | undefined>,
  homeDir: string | undefined,
): { credentials?: string; config?: string; profile: string; explicitProfile: boolean } {
  const expand = (p: string | undefined) =>
    p && homeDir && (p === "~" || p.startsWith("~/")) ? homeDir + p.slice(1) : p;
  const home = homeDir ? homeDir.replace(/\/+$/, "") : undefined;
  return {
    credentials: expand(env.AWS_SHARED_CREDENTIALS_FILE) ||
      (home ? home + "/.aws/credentials" : undefined),
    config: expand(env.AWS_CONFIG_FILE) || (home ? home + "/.aws/config" : undefined),
    profile: env.AWS_PROFILE || "default",
    explicitProfile: !!env.AWS_PROFILE,
  };
}

/** What {@linkcode sharedFilesProvider} needs. */
export interface SharedFilesOptions {
  readonly env: Record<string, string | undefined>;
  readonly homeDir?: string;
  readonly readTextFile: (path: string) => Promise<string>;
  readonly log: (event: Record<string, unknown>) => void;
}

/**
 * Reads a file for {@linkcode profileCredentials}: its text, or why it could not be read.
 *
 * @example
 * ```ts
 * await readSharedFile("/nonexistent", (p) => Deno.readTextFile(p)); // { path: "/nonexistent", error: "does not exist" }
 * ```
 */
async function readSharedFile(
  path: string | undefined,
  readTextFile: (path: string) => Promise<string>,
): Promise<SharedFile> {
  if (!path) return { path: "(no home directory)", error: "no path" };
  try {
    return { path, text: await readTextFile(path) };
  } catch (error) {
    return { path, error: fileErrorMessage(error) };
  }
}

/**
 * Static keys from the shared files, or `undefined` with the reason when the profile has none
 * there. Throws a {@linkcode CredentialSourceError} when the files name the profile wrongly: a
 * partial profile, or an `AWS_PROFILE` that gives no keys. `reload()` re-reads both files and
 * swaps the keys in when they are still complete.
 *
 * @example
 * ```ts
 * const found = await sharedFilesProvider({ env: {}, homeDir: "/home/me",
 *   readTextFile: (p) => Deno.readTextFile(p), log: console.log });
 * if ("provider" in found) await found.provider.get();
 * ```
 */
export async function sharedFilesProvider(
  options: SharedFilesOptions,
): Promise<{ provider: CredentialProvider } | { absent: string }> {
  const paths = sharedFilePaths(options.env, options.homeDir);
  const lookup = async () =>
    profileCredentials(
      await readSharedFile(paths.credentials, options.readTextFile),
      await readSharedFile(paths.config, options.readTextFile),
      paths.profile,
    );
  const first = await lookup();
  if (!first.found) {
    if (paths.explicitProfile) {
      throw new CredentialSourceError(`AWS_PROFILE=${paths.profile}: ${first.reason}`);
    }
    return { absent: first.reason };
  }
  const source = `shared file ${first.file} (profile ${paths.profile})`;
  let answer: Promise<Credentials> = Promise.resolve(first.credentials);
  const provider: CredentialProvider = {
    source,
    get: () => answer,
    async reload() {
      try {
        const next = await lookup();
        if (!next.found) throw new CredentialSourceError(next.reason);
        answer = Promise.resolve(next.credentials);
        options.log({ level: "info", event: "shared_files_reloaded", source, file: next.file });
      } catch (error) {
        options.log({
          level: "error",
          event: "shared_files_reload_failed",
          source,
          error: errorMessage(error),
          action: "keeping the keys read before",
        });
      }
    },
  };
  return { provider };
}
