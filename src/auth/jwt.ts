/**
 * `jwt`: OIDC access or ID tokens (`Authorization: Bearer`), verified with WebCrypto against the
 * issuer's key set (JWKS).
 *
 * - Keys: from `AUTH_JWT_JWKS_URL`, or discovered at `<issuer>/.well-known/openid-configuration`
 *   (`jwks_uri`; the document's `issuer` must be the one configured). The set is fetched at
 *   startup, again every {@linkcode JwtOptions.refreshMs}, on `reload()` (SIGHUP), and when a
 *   token names a `kid` the set does not hold, at most once per {@linkcode JwtOptions.refetchMs}.
 *   A fetch that fails keeps the keys held before.
 * - An issuer that cannot be reached at startup does not stop the proxy: it logs
 *   `auth_jwt_keys_unavailable` (level error), refuses every token (fails closed) and tries
 *   again with a growing delay (1 s doubling to a minute). An issuer whose discovery document
 *   names another issuer is a configuration error: the proxy does not start.
 * - Accepted: RS256/384/512, PS256/384/512, ES256/384/512 and EdDSA (Ed25519, where the runtime
 *   has it). Refused: `alg: none`, HMAC (`HS*`: a public key is no secret), any other `alg`, a
 *   `crit` header, a `kid` not in the set (or no `kid` when the set has several keys for the
 *   `alg`), an `alg` the key is not for (its `kty`/`crv`, or its own `alg`), RSA keys under 2048
 *   bits, a bad signature, no `exp`, `exp`/`nbf` outside {@linkcode JwtOptions.leewayMs},
 *   another `iss` (with `AUTH_JWT_ISSUER`), an `aud` without the audience, no `sub`, a claim
 *   rule that does not hold, and anything malformed.
 * - A verified token is remembered (by its SHA-256, never the token) until it expires or for
 *   {@linkcode JwtOptions.cacheMs}, whichever is first, in a bounded table emptied when the key
 *   set changes; `exp`/`nbf` are checked on every use.
 * - A refusal is `401` with `WWW-Authenticate: Bearer realm="...", error="invalid_token"`, a body that
 *   says nothing more; the reason goes to the log. The principal is the token's `sub`.
 *
 * @module
 */

import type { AuthConfig } from "./config.ts";
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
import { sha256Hex } from "../crypto/sha256.ts";
import { readAtMost } from "../body.ts";
import { messageOf, truncate } from "../text.ts";

/** What {@linkcode createJwtAuth} needs: the route's `jwt` settings, and tuning. */
export interface JwtOptions extends NonNullable<AuthConfig["jwt"]> {
  /** `AUTH_REALM`, for the challenge. */
  readonly realm?: string;
  /** Clock skew allowed on `exp` and `nbf` (default 60000 ms). */
  readonly leewayMs?: number;
  /** An unknown `kid` fetches the key set again at most this often (default 60000 ms). */
  readonly refetchMs?: number;
  /** The key set is fetched again this often (default 900000 ms). */
  readonly refreshMs?: number;
  /** A verified token is remembered at most this long (default 300000 ms). */
  readonly cacheMs?: number;
  /** At most this many remembered tokens (default 4096). */
  readonly cacheSize?: number;
  /** Time limit of one discovery or JWKS fetch (default 10000 ms). */
  readonly fetchTimeoutMs?: number;
}

/** A JSON Web Key, as much of it as is read here. */
interface Jwk {
  readonly kty?: string;
  readonly kid?: string;
  readonly use?: string;
  readonly alg?: string;
  readonly crv?: string;
  readonly n?: string;
  readonly [name: string]: unknown;
}

type Params = AlgorithmIdentifier | RsaHashedImportParams | EcKeyImportParams;

/** Each `alg` accepted: the key it needs, how to import that key, and how to verify. */
const ALGS: Record<string, {
  readonly kty: string;
  readonly crv?: string;
  readonly importParams: Params;
  readonly verifyParams: AlgorithmIdentifier | RsaPssParams | EcdsaParams;
  /** Length of an ECDSA signature (r || s). */
  readonly sigBytes?: number;
}> = {};
for (const bits of [256, 384, 512]) {
  const hash = `SHA-${bits}`;
  ALGS[`RS${bits}`] = {
    kty: "RSA",
    importParams: { name: "RSASSA-PKCS1-v1_5", hash },
    verifyParams: { name: "RSASSA-PKCS1-v1_5" },
  };
  ALGS[`PS${bits}`] = {
    kty: "RSA",
    importParams: { name: "RSA-PSS", hash },
    verifyParams: { name: "RSA-PSS", saltLength: bits / 8 },
  };
  const crv = bits === 512 ? "P-521" : `P-${bits}`;
  ALGS[`ES${bits}`] = {
    kty: "EC",
    crv,
    importParams: { name: "ECDSA", namedCurve: crv },
    verifyParams: { name: "ECDSA", hash },
    sigBytes: bits === 512 ? 132 : bits / 4,
  };
}
ALGS.EdDSA = {
  kty: "OKP",
  crv: "Ed25519",
  importParams: { name: "Ed25519" },
  verifyParams: { name: "Ed25519" },
};
ALGS.Ed25519 = ALGS.EdDSA;

/** A refusal of a token: the reason is for the log only. */
class Refused extends Error {}

const B64URL = /^[A-Za-z0-9_-]*$/;

function base64url(text: string): Uint8Array<ArrayBuffer> {
  if (!B64URL.test(text) || text.length % 4 === 1) throw new Refused("malformed token");
  const b64 = text.replaceAll("-", "+").replaceAll("_", "/");
  return Uint8Array.from(
    atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)),
    (c) => c.charCodeAt(0),
  );
}

function jsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(base64url(part)));
  } catch (e) {
    throw e instanceof Refused ? e : new Refused(`malformed token (${what} is not JSON)`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new Refused(`malformed token (${what} is not an object)`);
  }
  return value as Record<string, unknown>;
}

/** A claim by name, or by a dotted path into nested objects (`realm_access.roles`). */
function claim(payload: Record<string, unknown>, name: string): unknown {
  if (name in payload) return payload[name];
  let value: unknown = payload;
  for (const part of name.split(".")) {
    if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** Whether a claim's value is `want`: strings as they are, others by their JSON text. */
function matches(value: unknown, want: string): boolean {
  if (Array.isArray(value)) return value.some((v) => !Array.isArray(v) && matches(v, want));
  if (value === undefined) return false;
  return typeof value === "string" ? value === want : JSON.stringify(value) === want;
}

/**
 * Checks the claims of a verified token at time `now`; returns its `sub`, or throws
 * {@linkcode Refused}.
 */
function checkClaims(
  payload: Record<string, unknown>,
  options: JwtOptions,
  now: number,
  leewayMs: number,
): string {
  const { exp, nbf, iss, aud, sub } = payload;
  if (typeof exp !== "number") throw new Refused("no exp claim");
  if (now >= exp * 1000 + leewayMs) throw new Refused("expired (exp)");
  if (nbf !== undefined) {
    if (typeof nbf !== "number") throw new Refused("malformed nbf claim");
    if (now < nbf * 1000 - leewayMs) throw new Refused("not yet valid (nbf)");
  }
  if (options.issuer !== undefined && iss !== options.issuer) {
    throw new Refused(`wrong issuer ${truncate(JSON.stringify(iss) ?? "(none)", 100)}`);
  }
  const auds = Array.isArray(aud) ? aud : [aud];
  if (!auds.includes(options.audience)) throw new Refused("audience not in aud");
  if (typeof sub !== "string" || sub === "") throw new Refused("no sub claim");
  for (const [name, want] of options.require) {
    if (!matches(claim(payload, name), want)) throw new Refused(`claim rule ${name}=${want} fails`);
  }
  return sub;
}

/** The key set as last fetched. */
interface KeySet {
  readonly keys: readonly Jwk[];
  /** The imported keys, by position in `keys` and alg. */
  readonly imported: Map<string, Promise<CryptoKey>>;
  readonly text: string;
}

/** Whether `jwk` may verify `alg`. */
function fits(jwk: Jwk, alg: string): boolean {
  const a = ALGS[alg];
  if (jwk.use !== undefined && jwk.use !== "sig") return false;
  if (
    jwk.alg !== undefined && jwk.alg !== alg && !(alg.startsWith("Ed") && jwk.alg.startsWith("Ed"))
  ) {
    return false;
  }
  if (jwk.kty !== a.kty || (a.crv !== undefined && jwk.crv !== a.crv)) return false;
  // RSA moduli under 2048 bits: 256 bytes are 342 characters of base64url.
  return a.kty !== "RSA" || (typeof jwk.n === "string" && jwk.n.length >= 342);
}

/**
 * Starts the `jwt` method: fetches the key set once (see the module notes for an issuer that
 * cannot be reached). Rejects with {@linkcode AuthConfigError} only for an issuer whose
 * discovery document names another issuer.
 *
 * @example
 * ```ts
 * const jwt = await createJwtAuth(
 *   { issuer: "https://login.example.com", audience: "s3-proxy", require: [["groups", "readers"]] },
 *   io,
 * );
 * ```
 */
export async function createJwtAuth(options: JwtOptions, io: AuthIo): Promise<Authenticator> {
  const state: JwtState = {
    options,
    io,
    leewayMs: options.leewayMs ?? 60_000,
    refetchMs: options.refetchMs ?? 60_000,
    refreshMs: options.refreshMs ?? 900_000,
    cacheMs: options.cacheMs ?? 300_000,
    cacheSize: options.cacheSize ?? 4096,
    fetchTimeoutMs: options.fetchTimeoutMs ?? 10_000,
    log: methodLog(io, { method: "jwt", source: options.jwksUrl ?? options.issuer! }),
    invalid: options.realm === undefined
      ? 'Bearer error="invalid_token"'
      : `Bearer realm="${options.realm}", error="invalid_token"`,
    jwksUrl: options.jwksUrl,
    lastAttempt: -Infinity,
    failures: 0,
    lastError: "",
    starting: true,
    cache: new Map(),
  };
  const challenge = options.realm === undefined ? "Bearer" : `Bearer realm="${options.realm}"`;
  await refetch(state);
  state.starting = false;
  const poll = startPoll(io, () => pollDelay(state), () => refetch(state));
  return {
    name: "jwt",
    challenge: () => challenge,
    check: (input) => checkJwt(state, input),
    async reload() {
      await refetch(state);
    },
    close: () => stopPoll(poll),
  };
}

/** What a token is remembered by, once verified. */
interface Verified {
  readonly sub: string;
  readonly exp: number;
  readonly nbf?: number;
}

/** The `jwt` method's settings, and what it remembers between requests. */
interface JwtState {
  readonly options: JwtOptions;
  readonly io: AuthIo;
  readonly leewayMs: number;
  readonly refetchMs: number;
  readonly refreshMs: number;
  readonly cacheMs: number;
  readonly cacheSize: number;
  readonly fetchTimeoutMs: number;
  /** Its entries name where the keys come from: the JWKS URL or the issuer. */
  readonly log: MethodLog;
  /** `WWW-Authenticate` of a refusal. */
  readonly invalid: string;
  /** Configured, or found by discovery (once: it is not looked up again). */
  jwksUrl?: string;
  /** Undefined until a fetch succeeds: every token is refused until then. */
  set?: KeySet;
  /** When the last fetch started: an unknown kid fetches again at most once per refetchMs. */
  lastAttempt: number;
  /** Fetches failed in a row: the retry delay grows with them. */
  failures: number;
  /** The fetch error last logged, so that a lasting one is logged once. */
  lastError: string;
  /** The fetch running, shared by the poll, a SIGHUP and unknown kids that meet. */
  fetching?: Promise<void>;
  /** During the first fetch, when an issuer naming another stops startup. */
  starting: boolean;
  /** SHA-256 of a token -> its claims, and until when it is remembered. */
  readonly cache: Map<string, Verified & { readonly until: number }>;
}

/** Fetches the key set (one fetch at a time). */
function refetch(state: JwtState): Promise<void> {
  return state.fetching ??= fetchKeys(state).finally(() => state.fetching = undefined);
}

/** The next poll: the refresh period while the keys are fresh, a backoff while fetches fail. */
function pollDelay(state: JwtState): number {
  return state.set && state.failures === 0
    ? state.refreshMs
    : Math.min(state.refetchMs, 1000 * 2 ** Math.min(state.failures - 1, 10));
}

async function getJson(state: JwtState, url: string): Promise<unknown> {
  const { fetchTimeoutMs } = state;
  const res = await state.io.fetch(url, {
    headers: { accept: "application/json" },
    signal: AbortSignal.timeout(fetchTimeoutMs),
  });
  const body = await readAtMost(res, 1 << 20, fetchTimeoutMs);
  if (res.status !== 200) throw new Error(`${url} answered ${res.status}`);
  if (body === undefined) throw new Error(`${url}: the answer is over 1 MiB`);
  try {
    return JSON.parse(new TextDecoder().decode(body));
  } catch {
    throw new Error(`${url}: the answer is not JSON`);
  }
}

/** Discovery: the issuer's `jwks_uri`. Throws AuthConfigError for another issuer. */
async function discover(state: JwtState): Promise<string> {
  const issuer = state.options.issuer!;
  const url = issuer.replace(/\/$/, "") + "/.well-known/openid-configuration";
  const doc = await getJson(state, url) as { issuer?: unknown; jwks_uri?: unknown } | null;
  if (doc?.issuer !== issuer) {
    throw new AuthConfigError(
      `AUTH_JWT_ISSUER ${issuer}: its discovery document names the issuer ` +
        truncate(JSON.stringify(doc?.issuer) ?? "(none)", 200),
    );
  }
  if (typeof doc.jwks_uri !== "string" || !/^https?:\/\//.test(doc.jwks_uri)) {
    throw new Error(`${url} has no http(s) jwks_uri`);
  }
  return doc.jwks_uri;
}

/** The signing keys of the JWKS document that some accepted `alg` may use. */
async function usableKeys(state: JwtState): Promise<Jwk[]> {
  const jwksUrl = state.jwksUrl ??= await discover(state);
  const doc = await getJson(state, jwksUrl) as { keys?: unknown } | null;
  if (!Array.isArray(doc?.keys)) throw new Error(`${jwksUrl} holds no "keys" array`);
  const keys = (doc.keys as unknown[]).filter((k): k is Jwk =>
    k !== null && typeof k === "object" && !Array.isArray(k)
  );
  const usable = keys.filter((k) => Object.keys(ALGS).some((alg) => fits(k, alg)));
  if (usable.length === 0) throw new Error(`${jwksUrl} holds no usable signing key`);
  return usable;
}

/** One fetch of the key set; a failure keeps the keys held before and is logged, not thrown. */
async function fetchKeys(state: JwtState): Promise<void> {
  state.lastAttempt = state.io.now();
  try {
    const usable = await usableKeys(state);
    const text = JSON.stringify(usable);
    state.failures = 0;
    state.lastError = "";
    if (state.set?.text === text) return;
    const first = state.set === undefined;
    state.set = { keys: usable, imported: new Map(), text };
    // A token verified with a key that is gone must not stay admitted.
    state.cache.clear();
    state.log("info", first ? "auth_jwt_keys_loaded" : "auth_jwt_keys_changed", {
      keys: usable.length,
      kids: usable.map((k) => k.kid ?? null),
    });
  } catch (e) {
    if (e instanceof AuthConfigError && state.starting) throw e;
    state.failures++;
    const message = messageOf(e);
    if (message !== state.lastError) {
      state.lastError = message;
      state.log("error", "auth_jwt_keys_unavailable", {
        error: message,
        action: state.set
          ? "keeping the keys fetched before"
          : "refusing every token until fetched",
      });
    }
  }
}

/** The keys that may verify this token's `alg` and `kid`; an unknown kid fetches the set again. */
async function keysFor(
  state: JwtState,
  alg: string,
  kid: unknown,
): Promise<{ set: KeySet; index: number }> {
  if (kid !== undefined && typeof kid !== "string") throw new Refused("malformed kid");
  const find = () =>
    state.set?.keys.flatMap((k, i) => (kid === undefined || k.kid === kid ? [i] : []));
  let found = find();
  if (
    (found === undefined || found.length === 0) &&
    state.io.now() - state.lastAttempt >= state.refetchMs
  ) {
    await refetch(state);
    found = find();
  } else if ((found === undefined || found.length === 0) && state.fetching) {
    await state.fetching;
    found = find();
  }
  const { set } = state;
  if (!set || found === undefined) throw new Refused("no key set (the issuer was unreachable)");
  if (found.length === 0) throw new Refused(`unknown kid ${truncate(String(kid), 60)}`);
  const fitting = found.filter((i) => fits(set.keys[i], alg));
  if (fitting.length === 0) throw new Refused(`alg ${alg} does not fit the key`);
  if (fitting.length > 1) throw new Refused("no kid, and several keys fit");
  return { set, index: fitting[0] };
}

/** The header's `alg`, when it is one accepted; throws {@linkcode Refused} otherwise. */
function acceptedAlg(header: Record<string, unknown>): string {
  const { alg } = header;
  if (typeof alg !== "string") throw new Refused("malformed token (no alg)");
  if (alg.toLowerCase() === "none") throw new Refused("alg none");
  if (/^HS/i.test(alg)) throw new Refused(`HMAC alg ${truncate(alg, 20)}`);
  if (!Object.hasOwn(ALGS, alg)) throw new Refused(`unsupported alg ${truncate(alg, 20)}`);
  if (header.crit !== undefined) throw new Refused("crit header");
  return alg;
}

/** A key of the set imported for `alg`, once per key and alg. */
function importedKey(set: KeySet, index: number, alg: string): Promise<CryptoKey> {
  const id = `${index} ${alg}`;
  let key = set.imported.get(id);
  if (!key) {
    // fits() has decided that the key may verify `alg`: its own alg, use and key_ops are left
    // out so that WebCrypto does not judge them again (an EdDSA key imported as Ed25519).
    const { alg: _alg, use: _use, key_ops: _ops, ...jwk } = set.keys[index];
    const { importParams } = ALGS[alg];
    key = crypto.subtle.importKey("jwk", jwk as JsonWebKey, importParams, false, ["verify"]);
    set.imported.set(id, key);
  }
  return key;
}

/** Verifies a token's signature, then its claims at `now`; throws {@linkcode Refused}. */
async function verifyToken(state: JwtState, token: string, now: number): Promise<Verified> {
  const parts = token.split(".");
  if (parts.length !== 3) throw new Refused("malformed token (not three parts)");
  const header = jsonObject(parts[0], "header");
  const alg = acceptedAlg(header);
  const payload = jsonObject(parts[1], "payload");
  const signature = base64url(parts[2]);
  const a = ALGS[alg];
  if (a.sigBytes !== undefined && signature.length !== a.sigBytes) {
    throw new Refused("bad signature length");
  }
  const { set, index } = await keysFor(state, alg, header.kid);
  const key = importedKey(set, index, alg);
  let ok: boolean;
  try {
    const data = new TextEncoder().encode(parts[0] + "." + parts[1]);
    ok = await crypto.subtle.verify(a.verifyParams, await key, signature, data);
  } catch (e) {
    throw new Refused(`cannot verify with the key: ${truncate(messageOf(e), 100)}`);
  }
  if (!ok) throw new Refused("bad signature");
  const sub = checkClaims(payload, state.options, now, state.leewayMs);
  return {
    sub,
    exp: payload.exp as number,
    nbf: typeof payload.nbf === "number" ? payload.nbf : undefined,
  };
}

/** One request: the remembered token (its `exp`/`nbf` checked again), else a verification. */
async function checkJwt(state: JwtState, input: AuthInput): Promise<AuthOutcome> {
  const header = input.req.headers.get("authorization");
  if (header === null || !/^Bearer(\s|$)/i.test(header)) return { kind: "absent" };
  const token = header.slice(6).trim();
  if (token === "") return refuse(state, "malformed token (empty)");
  const { cache, leewayMs } = state;
  const now = state.io.now();
  const id = sha256Hex(token);
  const hit = cache.get(id);
  if (hit && now < hit.until) {
    if (now >= hit.exp * 1000 + leewayMs) return refuse(state, "expired (exp)");
    if (hit.nbf !== undefined && now < hit.nbf * 1000 - leewayMs) {
      return refuse(state, "not yet valid (nbf)");
    }
    return { kind: "ok", principal: hit.sub };
  }
  try {
    const verified = await verifyToken(state, token, now);
    cache.delete(id);
    if (cache.size >= state.cacheSize) cache.delete(cache.keys().next().value!);
    const until = Math.min(now + state.cacheMs, verified.exp * 1000 + leewayMs);
    cache.set(id, { ...verified, until });
    return { kind: "ok", principal: verified.sub };
  } catch (e) {
    if (e instanceof Refused) return refuse(state, e.message);
    return refuse(state, `cannot verify: ${truncate(messageOf(e), 100)}`);
  }
}

function refuse(state: JwtState, reason: string): AuthOutcome {
  return unauthorized("InvalidToken", "the bearer token was refused", state.invalid, reason);
}
