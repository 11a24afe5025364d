/**
 * The real-world {@linkcode CredentialIo} for Deno and Bun (through `runtime.ts`), and the
 * helpers the shell needs: the reload signal and the list of files Deno must be allowed to read
 * (in Deno, file reads obey `--allow-read`: see {@linkcode credentialReadPaths}).
 *
 * @module
 */

import type { CredentialIo } from "./resolve.ts";
import type { CredentialProvider } from "./provider.ts";
import { sharedFilePaths } from "./shared_files.ts";
import { currentRuntime } from "../runtime.ts";

/**
 * The runtime's I/O: global `fetch`, `Date.now`, UTF-8 file reads, unref'd timers (polling
 * never keeps the process alive), the home directory from `HOME` (or `USERPROFILE`), and a log
 * sink (default: one JSON line on stderr).
 *
 * @example
 * ```ts
 * const env = currentRuntime().env();
 * const io = runtimeCredentialIo({ env, log: (e) => console.log(JSON.stringify(e)) });
 * const provider = await resolveCredentialProvider(env, io);
 * ```
 */
export function runtimeCredentialIo(
  options: {
    env?: Record<string, string | undefined>;
    log?: (event: Record<string, unknown>) => void;
  } = {},
): CredentialIo {
  const runtime = currentRuntime();
  const env = options.env ?? runtime.env();
  return {
    fetch: (input, init) => fetch(input, init),
    now: () => Date.now(),
    readTextFile: (path) => runtime.readTextFile(path),
    homeDir: env.HOME || env.USERPROFILE || undefined,
    log: options.log ?? ((event) => console.error(JSON.stringify(event))),
    setTimeout: (fn, ms) => {
      const id = setTimeout(fn, ms);
      runtime.unrefTimer(id);
      return id;
    },
    clearTimeout: (id) => clearTimeout(id as number),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/**
 * On SIGHUP, calls `reload()` of every provider `providers()` answers then (files re-read),
 * and then `also()` (the routes file). The listener is installed whatever the providers: a
 * SIGHUP never stops the proxy. Returns a function that removes it. Nothing on Windows.
 *
 * @example
 * ```ts
 * const stop = reloadOnSignal(() => [provider], log);
 * // later: stop();
 * ```
 */
export function reloadOnSignal(
  providers: () => Iterable<CredentialProvider>,
  log: (event: Record<string, unknown>) => void,
  also?: () => void,
): () => void {
  return currentRuntime().onSignal("SIGHUP", () => {
    for (const provider of providers()) {
      if (!provider.reload) continue;
      log({
        level: "info",
        event: "credentials_reload",
        source: provider.source,
        signal: "SIGHUP",
      });
      provider.reload().catch(() => {});
    }
    also?.();
  });
}

/**
 * The files the credential sources may read for this environment, for Deno's `--allow-read`:
 * the signing-key file, the web identity token file, the container authorization token file and
 * the two shared files. Only paths that are set (or defaulted from the home directory) appear.
 *
 * @example
 * ```ts
 * credentialReadPaths({ AWS_SIGNING_KEY_FILE: "/etc/keys" }, "/home/me");
 * // ["/etc/keys", "/home/me/.aws/credentials", "/home/me/.aws/config"]
 * ```
 */
export function credentialReadPaths(
  env: Record<string, string | undefined>,
  homeDir: string | undefined,
): string[] {
  const shared = sharedFilePaths(env, homeDir);
  const paths = [
    env.AWS_SIGNING_KEY_FILE,
    env.AWS_WEB_IDENTITY_TOKEN_FILE,
    env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE,
    shared.credentials,
    shared.config,
  ];
  return [...new Set(paths.filter((p): p is string => !!p))];
}
