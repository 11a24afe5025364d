/**
 * Prints the credential files this environment names, comma-separated, for Deno's
 * `--allow-read` (commas in a path are doubled, as Deno's flag syntax wants):
 *
 * ```sh
 * deno run --allow-net --allow-env \
 *   --allow-read="$(deno run --allow-env src/credentials/read_paths.ts)" src/main.ts
 * ```
 *
 * Prints `/dev/null` when no file is named, so the flag never ends up empty (an empty
 * `--allow-read=` is an error, and a bare `--allow-read` would open the whole disk).
 *
 * @module
 */

import { currentRuntime } from "../runtime.ts";
import { credentialReadPaths } from "./io.ts";

/**
 * The `--allow-read` value for an environment.
 *
 * @example
 * ```ts
 * allowReadFlag({ AWS_SIGNING_KEY_FILE: "/etc/a,b" }, undefined); // "/etc/a,,b"
 * ```
 */
export function allowReadFlag(
  env: Record<string, string | undefined>,
  homeDir: string | undefined,
): string {
  const paths = credentialReadPaths(env, homeDir);
  return paths.length === 0 ? "/dev/null" : paths.map((p) => p.replaceAll(",", ",,")).join(",");
}

if (import.meta.main) {
  const env = currentRuntime().env();
  console.log(allowReadFlag(env, env.HOME || env.USERPROFILE || undefined));
}
