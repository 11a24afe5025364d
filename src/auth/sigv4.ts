/**
 * `sigv4`: proxy-issued S3 keys. A client signs with a key pair of `AUTH_SIGV4_KEYS_FILE` (see
 * `sigv4_keys.ts`), the proxy verifies the signature as S3 would (`sigv4_verify.ts`), and the
 * key's prefixes limit what it reads. The file must be private (no group or other access); it
 * is re-read when its content changes (polled) and on `reload()` (SIGHUP); a re-read that fails
 * keeps the keys in use and logs why.
 *
 * @module
 */

import { createSigningKeyCache } from "../s3/sigv4.ts";
import { messageOf } from "../text.ts";
import { AuthConfigError, type Authenticator, type AuthIo } from "./method.ts";
import { startPoll, stopPoll } from "./poll.ts";
import { type KeyEntry, keysFileModeProblem, parseKeysFile } from "./sigv4_keys.ts";
import { verifySigv4 } from "./sigv4_verify.ts";

/** What {@linkcode createSigv4Auth} needs. */
export interface Sigv4Options {
  /** The keys file (`AUTH_SIGV4_KEYS_FILE`). */
  readonly file: string;
  /** The route's region: signatures must be scoped to it (service `s3`). */
  readonly region: string;
  /** How often the file is checked for a change (default 3 s). */
  readonly pollMs?: number;
}

/** The keys of a good read, or why the read failed (never a secret). */
type Read =
  | { readonly ok: true; readonly text: string; readonly keys: readonly KeyEntry[] }
  | { readonly ok: false; readonly problem: string; readonly text?: string };

async function readKeys(file: string, io: AuthIo): Promise<Read> {
  let text: string;
  try {
    text = await io.readTextFile(file);
  } catch (e) {
    return { ok: false, problem: `cannot read ${file}: ${messageOf(e)}` };
  }
  const mode = await io.fileMode(file).catch(() => undefined);
  const problem = keysFileModeProblem(file, mode);
  if (problem !== undefined) return { ok: false, problem, text };
  const parsed = parseKeysFile(text);
  if (parsed.errors.length > 0) {
    return { ok: false, problem: `${file}: ${parsed.errors.join("; ")}`, text };
  }
  return { ok: true, text, keys: parsed.keys };
}

function keyMap(keys: readonly KeyEntry[]): Map<string, KeyEntry> {
  return new Map(keys.map((k) => [k.id, k]));
}

/**
 * The `sigv4` method for one keys file and region. Rejects with {@linkcode AuthConfigError}
 * when the file cannot be read, is accessible by group or others, or has a bad line (by
 * number).
 *
 * @example
 * ```ts
 * const auth = await createSigv4Auth({ file: "/etc/proxy/s3-keys", region: "eu-west-1" }, io);
 * const outcome = await auth.check({ req, method: req.method, url: req.url });
 * ```
 */
export async function createSigv4Auth(options: Sigv4Options, io: AuthIo): Promise<Authenticator> {
  const { file, region } = options;
  const first = await readKeys(file, io);
  if (!first.ok) throw new AuthConfigError(`AUTH_SIGV4_KEYS_FILE: ${first.problem}`);
  let keys = keyMap(first.keys);
  let text = first.text;
  /** The problem last logged, so that a poll logs a lasting one once. */
  let logged = "";
  const cache = createSigningKeyCache(64);
  const loaded = (event: string, extra: Record<string, unknown> = {}) =>
    io.log({
      level: keys.size === 0 ? "warn" : "info",
      event,
      method: "sigv4",
      file,
      keys: keys.size,
      ...(keys.size === 0 ? { message: "no keys: every sigv4 request is refused" } : {}),
      ...extra,
    });
  loaded("auth_keys_loaded");

  /** Re-reads the file; with `always`, logs the outcome even when nothing changed. */
  async function reread(reason: string, always: boolean): Promise<void> {
    const read = await readKeys(file, io);
    if (!read.ok) {
      if (always || read.problem !== logged) {
        io.log({
          level: "error",
          event: "auth_keys_reload_failed",
          method: "sigv4",
          file,
          reason,
          message: read.problem + " (the keys read before stay in use)",
        });
      }
      logged = read.problem;
      return;
    }
    logged = "";
    if (read.text === text) {
      if (always) loaded("auth_keys_checked", { reason, changed: false });
      return;
    }
    keys = keyMap(read.keys);
    text = read.text;
    loaded("auth_keys_loaded", { reason });
  }

  const pollMs = options.pollMs ?? 3000;
  const poll = startPoll(io, () => pollMs, () => reread("changed", false));

  return {
    name: "sigv4",
    check(input) {
      return Promise.resolve(verifySigv4(
        { method: input.method, url: input.url, headers: input.req.headers },
        { region, now: io.now(), lookup: (id) => keys.get(id), cache },
      ));
    },
    reload: () => reread("SIGHUP", true),
    close: () => stopPoll(poll),
  };
}
