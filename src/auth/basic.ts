/**
 * `basic`: HTTP Basic authentication against an htpasswd file of bcrypt lines (`htpasswd -B`).
 *
 * - The file is read at startup (a line that is not `user:bcrypt-hash` stops the proxy, naming
 *   the line, never the hash), polled for a change of content every few seconds, and re-read on
 *   `reload()` (SIGHUP). A re-read that fails keeps the users read before and logs why.
 * - A check costs one bcrypt (tens of milliseconds at the usual costs), so a success is
 *   remembered for {@linkcode BasicOptions.cacheMs}, keyed by an HMAC of `user:password` under a
 *   key made at startup (a memory dump holds no fast hash of a password), in a bounded table
 *   that is emptied whenever the file changes. Concurrent checks of one pair share one bcrypt.
 * - An unknown user costs a bcrypt too (against a hash made at startup with the file's highest
 *   cost), so timing does not tell which users exist; the checksum is compared in constant time.
 * - Failures are counted per client address (a bounded table): after
 *   {@linkcode BasicOptions.freeFailures} in a row, that address is answered `429` with
 *   `Retry-After`, without a bcrypt, for a window that doubles with every further failure (one
 *   second, up to {@linkcode BasicOptions.maxLockMs}); a success clears its count.
 *
 * @module
 */

import { bcryptBase64, type BcryptHash, bcryptVerify, MIN_COST, parseBcrypt } from "./bcrypt.ts";
import { AuthConfigError, type Authenticator, type AuthIo, type AuthOutcome } from "./method.ts";
import { hmacHex, hmacKey } from "../crypto/sha256.ts";
import { messageOf } from "../text.ts";

/** What {@linkcode createBasicAuth} needs. */
export interface BasicOptions {
  /** The htpasswd file (`AUTH_BASIC_FILE`). */
  readonly file: string;
  /** `AUTH_REALM`. */
  readonly realm: string;
  /** How often the file is checked for a change (default 5000 ms). */
  readonly pollMs?: number;
  /** How long a success is remembered (default 60000 ms). */
  readonly cacheMs?: number;
  /** At most this many remembered successes (default 1024). */
  readonly cacheSize?: number;
  /** Failures in a row from one address before it is slowed down (default 5). */
  readonly freeFailures?: number;
  /** The longest lock-out of an address (default 300000 ms). */
  readonly maxLockMs?: number;
  /** At most this many addresses counted (default 10000). */
  readonly clients?: number;
  /** The bcrypt check (tests count its calls); default {@linkcode bcryptVerify}. */
  readonly verify?: (password: string, hash: BcryptHash) => Promise<boolean>;
}

/** The users of an htpasswd file. */
export type Users = ReadonlyMap<string, BcryptHash>;

/**
 * Parses an htpasswd file of bcrypt lines: `user:hash` per line, blank lines and `#` comments
 * skipped. Every problem is named by its line number (and user), never with the hash.
 *
 * @example
 * ```ts
 * const { users, errors } = parseHtpasswd("alice:$2y$05$...\n");
 * ```
 */
export function parseHtpasswd(text: string): { users: Users; errors: string[] } {
  const users = new Map<string, BcryptHash>();
  const errors: string[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/\r$/, "");
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const colon = line.indexOf(":");
    const user = colon < 0 ? "" : line.slice(0, colon);
    const where = `line ${i + 1}`;
    if (colon <= 0 || /\p{Cc}/u.test(user)) {
      errors.push(`${where}: not USER:HASH`);
      continue;
    }
    const named = `${where} (user ${JSON.stringify(user)})`;
    const parsed = parseBcrypt(line.slice(colon + 1).trim());
    if (typeof parsed === "string") {
      errors.push(`${named}: ${parsed}; only bcrypt lines (htpasswd -B) are accepted`);
    } else if (users.has(user)) {
      errors.push(`${named}: the user is already on an earlier line`);
    } else {
      users.set(user, parsed);
    }
  }
  return { users, errors };
}

/** `Basic` credentials of an `Authorization` header: absent, malformed, or the pair. */
function credentials(header: string | null):
  | undefined
  | "malformed"
  | { readonly user: string; readonly password: string } {
  if (header === null) return undefined;
  const m = /^Basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i.exec(header);
  if (!m) return /^Basic(\s|$)/i.test(header) ? "malformed" : undefined;
  let text: string;
  try {
    const binary = atob(m[1]);
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return "malformed";
  }
  const colon = text.indexOf(":");
  if (colon < 0) return "malformed";
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** One address's failures. */
interface Strikes {
  count: number;
  /** Until when it is answered 429. */
  lockedUntil: number;
  last: number;
}

/**
 * Reads the htpasswd file and returns the `basic` method. Rejects with {@linkcode AuthConfigError}
 * when the file cannot be read, holds no users, or has a line that is not a bcrypt user.
 *
 * @example
 * ```ts
 * const basic = await createBasicAuth({ file: "/etc/s3proxy/htpasswd", realm: "docs" }, io);
 * await basic.check({ req, method: req.method, url: req.url, clientAddr });
 * ```
 */
export async function createBasicAuth(options: BasicOptions, io: AuthIo): Promise<Authenticator> {
  const { file } = options;
  const pollMs = options.pollMs ?? 5000;
  const cacheMs = options.cacheMs ?? 60_000;
  const cacheSize = options.cacheSize ?? 1024;
  const freeFailures = options.freeFailures ?? 5;
  const maxLockMs = options.maxLockMs ?? 300_000;
  const maxClients = options.clients ?? 10_000;
  const bcrypt = options.verify ?? bcryptVerify;
  const challenge = `Basic realm="${options.realm}", charset="UTF-8"`;

  let text: string;
  try {
    text = await io.readTextFile(file);
  } catch (e) {
    throw new AuthConfigError(`cannot read AUTH_BASIC_FILE ${file}: ${messageOf(e)}`);
  }
  const first = parseHtpasswd(text);
  if (first.errors.length > 0) {
    throw new AuthConfigError(`AUTH_BASIC_FILE ${file}: ${first.errors.join("; ")}`);
  }
  if (first.users.size === 0) throw new AuthConfigError(`AUTH_BASIC_FILE ${file} holds no users`);

  const log = (level: string, event: string, fields: Record<string, unknown> = {}) =>
    io.log({ level, event, method: "basic", file, ...fields });

  /** What is known now: the users, and a hash for unknown users of the file's highest cost. */
  let users: Users = first.users;
  let decoy = decoyFor(users);
  let readError = "";
  const cacheKey = hmacKey(crypto.getRandomValues(new Uint8Array(32)));
  /** HMAC of `user:password` -> the user and when it was checked. */
  const cache = new Map<string, { user: string; at: number }>();
  const inflight = new Map<string, Promise<string | undefined>>();
  const strikes = new Map<string, Strikes>();
  let timer: unknown;
  let closed = false;
  let reading: Promise<void> | undefined;
  log("info", "auth_basic_file_loaded", { users: users.size });

  async function readAgain(why: string): Promise<void> {
    let fresh: string;
    try {
      fresh = await io.readTextFile(file);
    } catch (e) {
      const message = messageOf(e);
      if (message !== readError) {
        readError = message;
        log("error", "auth_basic_file_unreadable", {
          error: message,
          action: "keeping the users read before",
        });
      }
      return;
    }
    readError = "";
    if (fresh === text) {
      if (why === "SIGHUP") log("info", "auth_basic_file_checked", { changed: false });
      return;
    }
    text = fresh;
    const parsed = parseHtpasswd(fresh);
    if (parsed.errors.length > 0 || parsed.users.size === 0) {
      log("error", "auth_basic_file_invalid", {
        errors: parsed.errors.length > 0 ? parsed.errors : ["no users"],
        action: "keeping the users read before",
      });
      return;
    }
    users = parsed.users;
    decoy = decoyFor(users);
    cache.clear();
    log("info", "auth_basic_file_reloaded", { users: users.size, why });
  }
  const reread = (why: string) => reading ??= readAgain(why).finally(() => reading = undefined);

  function schedule(): void {
    if (closed || !io.setTimeout) return;
    timer = io.setTimeout(async () => {
      await reread("changed");
      schedule();
    }, pollMs);
  }
  schedule();

  /** The user this pair authenticates, with a bcrypt (once for concurrent equal pairs). */
  function verify(key: string, user: string, password: string): Promise<string | undefined> {
    let pending = inflight.get(key);
    if (!pending) {
      const known = users.get(user);
      const version = users;
      pending = bcrypt(password, known ?? decoy)
        .then((ok) => (ok && known && version === users ? user : undefined))
        .finally(() => inflight.delete(key));
      inflight.set(key, pending);
    }
    return pending;
  }

  function strike(addr: string, now: number): void {
    let s = strikes.get(addr);
    if (s) strikes.delete(addr);
    else {
      if (strikes.size >= maxClients) strikes.delete(strikes.keys().next().value!);
      s = { count: 0, lockedUntil: 0, last: now };
    }
    s.count++;
    s.last = now;
    if (s.count >= freeFailures) {
      const lock = Math.min(maxLockMs, 1000 * 2 ** Math.min(20, s.count - freeFailures));
      s.lockedUntil = now + lock;
    }
    strikes.set(addr, s); // the most recent last, so the oldest goes first when full
  }

  const refuse = (reason: string): AuthOutcome => ({
    kind: "fail",
    status: 401,
    code: "Unauthorized",
    message: "wrong user name or password",
    headers: { "www-authenticate": challenge },
    reason,
  });

  return {
    name: "basic",
    challenge: () => challenge,
    async check(input): Promise<AuthOutcome> {
      const presented = credentials(input.req.headers.get("authorization"));
      if (presented === undefined) return { kind: "absent" };
      const now = io.now();
      const addr = input.clientAddr ?? "unknown";
      const s = strikes.get(addr);
      if (s && now < s.lockedUntil) {
        return {
          kind: "fail",
          status: 429,
          code: "SlowDown",
          message: "too many failed logins from this address; try again later",
          headers: { "retry-after": String(Math.ceil((s.lockedUntil - now) / 1000)) },
          reason: `throttled after ${s.count} failures`,
        };
      }
      if (s && now - s.last > 4 * maxLockMs) strikes.delete(addr);
      if (presented === "malformed") {
        strike(addr, now);
        return refuse("malformed Basic credentials");
      }
      const { user, password } = presented;
      const key = hmacHex(cacheKey, user + "\u0000" + password);
      const hit = cache.get(key);
      if (hit && now - hit.at < cacheMs && hit.user === user) {
        strikes.delete(addr);
        return { kind: "ok", principal: user };
      }
      const admitted = await verify(key, user, password);
      if (admitted === undefined) {
        strike(addr, io.now());
        return refuse(users.has(user) ? `wrong password for user ${user}` : "unknown user");
      }
      cache.delete(key);
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!);
      cache.set(key, { user, at: io.now() });
      strikes.delete(addr);
      return { kind: "ok", principal: user };
    },
    reload: () => reread("SIGHUP"),
    close() {
      closed = true;
      if (timer !== undefined) io.clearTimeout?.(timer);
      timer = undefined;
    },
  };
}

/** A hash no password matches, at the file's highest cost: what an unknown user is checked against. */
function decoyFor(users: Users): BcryptHash {
  let cost = MIN_COST;
  for (const h of users.values()) cost = Math.max(cost, h.cost);
  const random = crypto.getRandomValues(new Uint8Array(16 + 23));
  return {
    version: "2y",
    cost,
    salt: random.subarray(0, 16),
    checksum: bcryptBase64(random.subarray(16)),
  };
}
