/**
 * The real-world {@linkcode CredentialIo} for Deno and Bun, and the helpers the shell needs:
 * the reload signal and the list of files Deno must be allowed to read.
 *
 * Runtime features are detected, not imported: `Deno.readTextFile` or `Bun.file().text()`,
 * `Deno.addSignalListener` or `process.on`, `Deno.unrefTimer` or `timer.unref()`. A `node:`
 * import would serve both runtimes with one code path, but it makes `deno check` need
 * `@types/node` in `node_modules` (this repository's `nodeModulesDir` is `manual`), so `src/`
 * keeps to globals, as `main.ts` does. In Deno, file reads obey `--allow-read`: see
 * {@linkcode credentialReadPaths}.
 *
 * @module
 */

import type { CredentialIo } from "./resolve.ts";
import type { CredentialProvider } from "./provider.ts";
import { sharedFilePaths } from "./shared_files.ts";

declare const Bun: { file(path: string): { text(): Promise<string> } } | undefined;

interface NodeLikeProcess {
  env: Record<string, string | undefined>;
  platform: string;
  on(signal: string, listener: () => void): void;
  off(signal: string, listener: () => void): void;
}

function nodeProcess(): NodeLikeProcess | undefined {
  return (globalThis as unknown as { process?: NodeLikeProcess }).process;
}

/**
 * The process environment, on Deno (needs `--allow-env`) or Bun.
 *
 * @example
 * ```ts
 * const env = runtimeEnv();
 * ```
 */
export function runtimeEnv(): Record<string, string | undefined> {
  if (typeof Deno !== "undefined") return Deno.env.toObject();
  return { ...(nodeProcess()?.env ?? {}) };
}

function readTextFile(path: string): Promise<string> {
  if (typeof Deno !== "undefined") return Deno.readTextFile(path);
  if (typeof Bun !== "undefined") return Bun.file(path).text();
  return Promise.reject(new Error("no file API: run with Deno or Bun"));
}

function unrefTimer(id: unknown): void {
  if (typeof Deno !== "undefined" && typeof id === "number") Deno.unrefTimer(id);
  else (id as { unref?: () => void })?.unref?.();
}

/**
 * The runtime's I/O: global `fetch`, `Date.now`, UTF-8 file reads, unref'd timers (polling
 * never keeps the process alive), the home directory from `HOME` (or `USERPROFILE`), and a log
 * sink (default: one JSON line on stderr).
 *
 * @example
 * ```ts
 * const env = runtimeEnv();
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
  const env = options.env ?? runtimeEnv();
  return {
    fetch: (input, init) => fetch(input, init),
    now: () => Date.now(),
    readTextFile,
    homeDir: env.HOME || env.USERPROFILE || undefined,
    log: options.log ?? ((event) => console.error(JSON.stringify(event))),
    setTimeout: (fn, ms) => {
      const id = setTimeout(fn, ms);
      unrefTimer(id);
      return id;
    },
    clearTimeout: (id) => clearTimeout(id as number),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  };
}

/**
 * Calls `provider.reload()` on SIGHUP (`Deno.addSignalListener` or `process.on`). Returns a
 * function that removes the listener. Does nothing for providers without `reload` or on Windows.
 *
 * @example
 * ```ts
 * const stop = reloadOnSignal(provider, log);
 * // later: stop();
 * ```
 */
export function reloadOnSignal(
  provider: CredentialProvider,
  log: (event: Record<string, unknown>) => void,
): () => void {
  const reload = provider.reload?.bind(provider);
  if (!reload) return () => {};
  const listener = () => {
    log({ level: "info", event: "credentials_reload", source: provider.source, signal: "SIGHUP" });
    reload().catch(() => {});
  };
  if (typeof Deno !== "undefined") {
    if (Deno.build.os === "windows") return () => {};
    Deno.addSignalListener("SIGHUP", listener);
    return () => Deno.removeSignalListener("SIGHUP", listener);
  }
  const proc = nodeProcess();
  if (!proc || proc.platform === "win32") return () => {};
  proc.on("SIGHUP", listener);
  return () => proc.off("SIGHUP", listener);
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
