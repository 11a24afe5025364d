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
import {
  AuthConfigError,
  type Authenticator,
  type AuthInput,
  type AuthIo,
  type AuthOutcome,
  type MethodLog,
  methodLog,
  unauthorized,
} from "./method.ts";
import { startPoll, stopPoll } from "./poll.ts";
import { hmacHex, type HmacKey, hmacKey } from "../crypto/sha256.ts";
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
  const first = await readFirst(file, io);
  const state: BasicState = {
    io,
    file,
    log: methodLog(io, { method: "basic", file }),
    cacheMs: options.cacheMs ?? 60_000,
    cacheSize: options.cacheSize ?? 1024,
    freeFailures: options.freeFailures ?? 5,
    maxLockMs: options.maxLockMs ?? 300_000,
    maxClients: options.clients ?? 10_000,
    bcrypt: options.verify ?? bcryptVerify,
    challenge: `Basic realm="${options.realm}", charset="UTF-8"`,
    text: first.text,
    users: first.users,
    decoy: decoyFor(first.users),
    readError: "",
    cacheKey: hmacKey(crypto.getRandomValues(new Uint8Array(32))),
    cache: new Map(),
    inflight: new Map(),
    strikes: new Map(),
  };
  state.log("info", "auth_basic_file_loaded", { users: state.users.size });
  const pollMs = options.pollMs ?? 5000;
  const poll = startPoll(io, () => pollMs, () => reread(state, "changed"));
  return {
    name: "basic",
    challenge: () => state.challenge,
    check: (input) => checkBasic(state, input),
    reload: () => reread(state, "SIGHUP"),
    close: () => stopPoll(poll),
  };
}

/** The `basic` method's settings, and what it remembers between requests. */
interface BasicState {
  readonly io: AuthIo;
  readonly file: string;
  readonly log: MethodLog;
  readonly cacheMs: number;
  readonly cacheSize: number;
  readonly freeFailures: number;
  readonly maxLockMs: number;
  readonly maxClients: number;
  readonly bcrypt: (password: string, hash: BcryptHash) => Promise<boolean>;
  readonly challenge: string;
  /** The text of the last read, good or bad (an unchanged file is not parsed again). */
  text: string;
  /** The users of the last good read. */
  users: Users;
  /** What an unknown user is checked against: a hash of the file's highest cost. */
  decoy: BcryptHash;
  /** The read error last logged, so that a poll logs a lasting one once. */
  readError: string;
  /** The HMAC key of the success cache, made at startup. */
  readonly cacheKey: HmacKey;
  /** HMAC of `user:password` -> the user and when it was checked. */
  readonly cache: Map<string, { user: string; at: number }>;
  /** The bcrypt running for an HMAC of `user:password`, shared by concurrent equal pairs. */
  readonly inflight: Map<string, Promise<string | undefined>>;
  /** Failures by client address; the most recent last. */
  readonly strikes: Map<string, Strikes>;
  /** The re-read running, shared by a poll and a SIGHUP that meet. */
  reading?: Promise<void>;
}

/** The file's first read: any problem stops the proxy. */
async function readFirst(file: string, io: AuthIo): Promise<{ text: string; users: Users }> {
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
  return { text, users: first.users };
}

/** Re-reads the file (one read at a time). */
function reread(state: BasicState, why: string): Promise<void> {
  return state.reading ??= readAgain(state, why).finally(() => state.reading = undefined);
}

async function readAgain(state: BasicState, why: string): Promise<void> {
  let fresh: string;
  try {
    fresh = await state.io.readTextFile(state.file);
  } catch (e) {
    const message = messageOf(e);
    if (message !== state.readError) {
      state.readError = message;
      state.log("error", "auth_basic_file_unreadable", {
        error: message,
        action: "keeping the users read before",
      });
    }
    return;
  }
  state.readError = "";
  if (fresh === state.text) {
    if (why === "SIGHUP") state.log("info", "auth_basic_file_checked", { changed: false });
    return;
  }
  state.text = fresh;
  const parsed = parseHtpasswd(fresh);
  if (parsed.errors.length > 0 || parsed.users.size === 0) {
    // A half-written file: keep the users we have.
    state.log("error", "auth_basic_file_invalid", {
      errors: parsed.errors.length > 0 ? parsed.errors : ["no users"],
      action: "keeping the users read before",
    });
    return;
  }
  state.users = parsed.users;
  state.decoy = decoyFor(state.users);
  state.cache.clear();
  state.log("info", "auth_basic_file_reloaded", { users: state.users.size, why });
}

/** One request: throttle, then the success cache, then a bcrypt. */
async function checkBasic(state: BasicState, input: AuthInput): Promise<AuthOutcome> {
  const presented = credentials(input.req.headers.get("authorization"));
  if (presented === undefined) return { kind: "absent" };
  const { io, strikes, cache } = state;
  const now = io.now();
  const addr = input.clientAddr ?? "unknown";
  const s = strikes.get(addr);
  if (s && now < s.lockedUntil) return throttled(s, now);
  // An address quiet for four of the longest lock-outs starts again from a clean count.
  if (s && now - s.last > 4 * state.maxLockMs) strikes.delete(addr);
  if (presented === "malformed") {
    strike(state, addr, now);
    return refuse(state, "malformed Basic credentials");
  }
  const { user, password } = presented;
  const key = hmacHex(state.cacheKey, user + "\u0000" + password);
  const hit = cache.get(key);
  if (hit && now - hit.at < state.cacheMs && hit.user === user) {
    strikes.delete(addr);
    return { kind: "ok", principal: user };
  }
  const admitted = await verify(state, key, user, password);
  if (admitted === undefined) {
    strike(state, addr, io.now());
    return refuse(
      state,
      state.users.has(user) ? `wrong password for user ${user}` : "unknown user",
    );
  }
  cache.delete(key);
  if (cache.size >= state.cacheSize) cache.delete(cache.keys().next().value!);
  cache.set(key, { user, at: io.now() });
  strikes.delete(addr);
  return { kind: "ok", principal: user };
}

/** The user this pair authenticates, with a bcrypt (once for concurrent equal pairs). */
function verify(
  state: BasicState,
  key: string,
  user: string,
  password: string,
): Promise<string | undefined> {
  let pending = state.inflight.get(key);
  if (!pending) {
    const known = state.users.get(user);
    // A file re-read during the bcrypt may have removed the user or changed the password.
    const version = state.users;
    pending = state.bcrypt(password, known ?? state.decoy)
      .then((ok) => (ok && known && version === state.users ? user : undefined))
      .finally(() => state.inflight.delete(key));
    state.inflight.set(key, pending);
  }
  return pending;
}

/** Counts a failure of `addr`; from the free ones on, locks it out for a doubling window. */
function strike(state: BasicState, addr: string, now: number): void {
  const { strikes, freeFailures } = state;
  let s = strikes.get(addr);
  if (s) strikes.delete(addr);
  else {
    if (strikes.size >= state.maxClients) strikes.delete(strikes.keys().next().value!);
    s = { count: 0, lockedUntil: 0, last: now };
  }
  s.count++;
  s.last = now;
  if (s.count >= freeFailures) {
    const lock = Math.min(state.maxLockMs, 1000 * 2 ** Math.min(20, s.count - freeFailures));
    s.lockedUntil = now + lock;
  }
  strikes.set(addr, s); // the most recent last, so the oldest goes first when full
}

/** The `429` of an address locked out: no bcrypt is spent on it. */
function throttled(s: Strikes, now: number): AuthOutcome {
  return {
    kind: "fail",
    status: 429,
    code: "SlowDown",
    message: "too many failed logins from this address; try again later",
    headers: { "retry-after": String(Math.ceil((s.lockedUntil - now) / 1000)) },
    reason: `throttled after ${s.count} failures`,
  };
}

function refuse(state: BasicState, reason: string): AuthOutcome {
  return unauthorized("Unauthorized", "wrong user name or password", state.challenge, reason);
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
