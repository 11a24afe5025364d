/**
 * Prints the files this environment names, comma-separated, for Deno's `--allow-read` (commas
 * in a path are doubled, as Deno's flag syntax wants): the credential and access-control files,
 * the routes file (`ROUTES_FILE`), and the ones its routes name.
 *
 * ```sh
 * deno run --allow-net --allow-env \
 *   --allow-read="$(deno run --allow-env --allow-read src/credentials/read_paths.ts)" src/main.ts
 * ```
 *
 * Prints `/dev/null` when no file is named, so the flag never ends up empty (an empty
 * `--allow-read=` is an error, and a bare `--allow-read` would open the whole disk).
 *
 * @module
 */

import { currentRuntime } from "../runtime.ts";
import { credentialReadPaths } from "./io.ts";

/** The access-control files a route (or the environment) may name. */
const AUTH_FILES = ["AUTH_SIGV4_KEYS_FILE", "AUTH_BASIC_FILE"];

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
  routesText?: string,
): string {
  const paths = [
    ...new Set([
      ...credentialReadPaths(env, homeDir),
      ...AUTH_FILES.map((name) => env[name]?.trim()).filter((p): p is string => !!p),
      ...routePaths(env, routesText),
    ]),
  ];
  return paths.length === 0 ? "/dev/null" : paths.map((p) => p.replaceAll(",", ",,")).join(",");
}

/**
 * The routes file and the files its routes name (signing-key, token and access-control files). A
 * file that cannot be read or parsed gives just its own path: the proxy reports what is wrong.
 */
function routePaths(env: Record<string, string | undefined>, text: string | undefined): string[] {
  const file = env.ROUTES_FILE?.trim();
  if (!file) return [];
  const paths = [file];
  try {
    const routes = (JSON.parse(text ?? "") as { routes?: unknown }).routes;
    for (const route of Array.isArray(routes) ? routes : []) {
      for (const name of ["AWS_SIGNING_KEY_FILE", "AWS_WEB_IDENTITY_TOKEN_FILE", ...AUTH_FILES]) {
        const value = (route as Record<string, unknown>)?.[name];
        if (typeof value === "string" && value.trim() !== "") paths.push(value.trim());
      }
    }
  } catch {
    // Not JSON: the proxy will say so.
  }
  return paths;
}

if (import.meta.main) {
  const runtime = currentRuntime();
  const env = runtime.env();
  const file = env.ROUTES_FILE?.trim();
  const text = file ? await runtime.readTextFile(file).catch(() => undefined) : undefined;
  console.log(allowReadFlag(env, env.HOME || env.USERPROFILE || undefined, text));
}
