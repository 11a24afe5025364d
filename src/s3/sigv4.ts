/**
 * AWS Signature Version 4: canonical request, string to sign, signing key and signature, for the
 * `Authorization` header and for presigned URLs. Pure: no I/O, no clock, no globals. The caller
 * passes the time as an `x-amz-date` string and may pass a {@linkcode SigningKeyCache}.
 *
 * S3 rules: the path is signed exactly as it is sent (encode it once with `encodeKeyPath`), with no
 * dot-segment or `//` normalisation; query names and values are decoded pairs that are encoded
 * here with the RFC 3986 unreserved set and sorted.
 *
 * @module
 */

import { hmac, hmacHex, type HmacKey, hmacKey, sha256Hex } from "../crypto/sha256.ts";
import { encodeQueryComponent } from "./encode.ts";
import { scopeMismatch } from "./scope.ts";

/** The payload hash S3 accepts for requests whose body is not hashed (presigned URLs, GETs). */
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** SHA-256 of the empty string: the payload hash of a request with no body. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** The only algorithm we sign with. */
const ALGORITHM = "AWS4-HMAC-SHA256";
/** Longest lifetime S3 accepts for a presigned URL, in seconds (7 days). */
export const MAX_PRESIGN_EXPIRES = 604800;

/** Long-lived or temporary credentials with the secret access key. */
export interface SecretCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/**
 * A pre-derived signing key and its scope (`YYYYMMDD/REGION/SERVICE/aws4_request`), used instead
 * of the secret. It signs only requests dated on the scope's UTC day, in its region and service.
 */
export interface SigningKeyCredentials {
  readonly accessKeyId: string;
  readonly signingKey: Uint8Array;
  readonly scope: string;
  readonly sessionToken?: string;
}

/** Either kind of credentials. */
export type Credentials = SecretCredentials | SigningKeyCredentials;

/** A `[name, value]` pair; names and values are plain (decoded) text. */
export type Pair = readonly [string, string];

/** Thrown when a request cannot be signed with the given credentials or inputs. */
export class SigningError extends Error {
  override name = "SigningError";
}

/**
 * Canonical query string: each name and value encoded with the RFC 3986 unreserved set, pairs
 * sorted by encoded name, then encoded value, joined with `&`. A pair with an empty value is
 * `name=`.
 *
 * @example
 * ```ts
 * canonicalQuery([["prefix", "a b"], ["list-type", "2"]]); // "list-type=2&prefix=a%20b"
 * ```
 */
export function canonicalQuery(pairs: readonly Pair[]): string {
  const encoded: string[][] = [];
  for (const [name, value] of pairs) {
    encoded.push([encodeQueryComponent(name), encodeQueryComponent(value)]);
  }
  encoded.sort(comparePairs);
  let out = "";
  for (let i = 0; i < encoded.length; i++) {
    if (i > 0) out += "&";
    out += encoded[i][0] + "=" + encoded[i][1];
  }
  return out;
}

function compareStrings(a: string, b: string): number {
  // Code-unit order equals byte order here: encoded components and header names are ASCII.
  return a < b ? -1 : a > b ? 1 : 0;
}

function comparePairs(a: string[], b: string[]): number {
  return compareStrings(a[0], b[0]) || compareStrings(a[1], b[1]);
}

/**
 * Canonical headers and the signed-headers list: names lower-cased, values trimmed with inner runs
 * of white space folded to one space, repeated headers joined with `,` in the order given, sorted
 * by name.
 *
 * @example
 * ```ts
 * canonicalHeaders([["Host", "example.com"], ["X-Amz-Date", "20150830T123600Z"]]);
 * // { canonical: "host:example.com\nx-amz-date:20150830T123600Z\n", signed: "host;x-amz-date" }
 * ```
 */
export function canonicalHeaders(headers: readonly Pair[]): { canonical: string; signed: string } {
  const entries: [string, string][] = [];
  for (let i = 0; i < headers.length; i++) {
    entries.push([headers[i][0].toLowerCase(), foldValue(headers[i][1])]);
  }
  // Array sort is stable: repeated names keep their order, and are then joined with ",".
  if (entries.length > 1) entries.sort(compareNames);
  let canonical = "";
  let signed = "";
  for (let i = 0; i < entries.length; i++) {
    const [name, value] = entries[i];
    if (i > 0 && name === entries[i - 1][0]) {
      canonical = canonical.slice(0, -1) + "," + value + "\n";
      continue;
    }
    canonical += name + ":" + value + "\n";
    signed += i === 0 ? name : ";" + name;
  }
  return { canonical, signed };
}

function compareNames(a: [string, string], b: [string, string]): number {
  return compareStrings(a[0], b[0]);
}

const FOLD = /\s+/g;

/**
 * A header value as canonical headers hold it: trimmed, inner runs of white space folded to one
 * space.
 *
 * @example
 * ```ts
 * foldValue("  a   b "); // "a b"
 * ```
 */
export function foldValue(value: string): string {
  const trimmed = value.trim();
  return /\s\s|[\t\r\n]/.test(trimmed) ? trimmed.replace(FOLD, " ") : trimmed;
}

/** What is signed of an HTTP request. */
export interface RequestParts {
  /** HTTP method, e.g. `GET`. */
  readonly method: string;
  /** The path exactly as sent on the wire (already encoded), e.g. `/bucket/a%20b.txt`. */
  readonly path: string;
  /** Decoded query pairs (encoded and sorted when signing). */
  readonly query?: readonly Pair[];
  /** Headers to sign, including `host`. */
  readonly headers: readonly Pair[];
  /** Hex SHA-256 of the body, {@linkcode UNSIGNED_PAYLOAD} or {@linkcode EMPTY_SHA256}. */
  readonly payloadHash: string;
}

/**
 * Credential scope `YYYYMMDD/REGION/SERVICE/aws4_request`.
 *
 * @example
 * ```ts
 * credentialScope("20130524", "us-east-1", "s3"); // "20130524/us-east-1/s3/aws4_request"
 * ```
 */
export function credentialScope(date: string, region: string, service: string): string {
  return date + "/" + region + "/" + service + "/aws4_request";
}

/**
 * String to sign for a canonical request.
 *
 * @example
 * ```ts
 * stringToSign("20130524T000000Z", "20130524/us-east-1/s3/aws4_request", "GET\n/\n...");
 * ```
 */
export function stringToSign(datetime: string, scope: string, canonical: string): string {
  return ALGORITHM + "\n" + datetime + "\n" + scope + "\n" + sha256Hex(canonical);
}

/**
 * Derives the date-scoped signing key:
 * `HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")`.
 *
 * @example
 * ```ts
 * toHex(deriveSigningKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam"));
 * // "c4afb1cc5771d871763a393e44b703571b55cc28424d1a5e86da6ed3c154a4b9"
 * ```
 */
export function deriveSigningKey(
  secretAccessKey: string,
  date: string,
  region: string,
  service: string,
): Uint8Array {
  if (!DATE.test(date)) throw new SigningError(`invalid scope date "${date}": expected YYYYMMDD`);
  const kDate = hmac(hmacKey("AWS4" + secretAccessKey), date);
  const kRegion = hmac(hmacKey(kDate), region);
  const kService = hmac(hmacKey(kRegion), service);
  return hmac(hmacKey(kService), "aws4_request");
}

const DATE = /^\d{8}$/;
const DATETIME = /^\d{8}T\d{6}Z$/;

/** The `YYYYMMDD` of an `x-amz-date`, or a {@linkcode SigningError}. */
function dateOf(datetime: string): string {
  if (!DATETIME.test(datetime)) {
    throw new SigningError(`invalid x-amz-date "${datetime}": expected YYYYMMDDTHHMMSSZ`);
  }
  return datetime.slice(0, 8);
}

/**
 * A bounded cache of prepared signing keys, keyed by (credentials, date, region, service). The
 * least recently used entry is evicted first. Create one per process (or per handler).
 */
export interface SigningKeyCache {
  /** Returns the prepared key, deriving it on a miss. */
  get(credentials: Credentials, date: string, region: string, service: string): HmacKey;
  /** Number of entries held now. */
  readonly size: number;
}

/**
 * Creates a {@linkcode SigningKeyCache} holding at most `limit` keys.
 *
 * @example
 * ```ts
 * const cache = createSigningKeyCache(32);
 * ```
 */
export function createSigningKeyCache(limit = 32): SigningKeyCache {
  if (!(limit >= 1)) throw new RangeError("cache limit must be at least 1");
  const entries = new Map<string, HmacKey>();
  return {
    get(credentials, date, region, service) {
      // The request's date, region and service are part of the id in both modes: a pre-derived
      // key's scope is checked on a miss only, so a hit must imply that same check passed.
      const where = "\0" + date + "\0" + region + "\0" + service;
      const id = "secretAccessKey" in credentials
        ? "s\0" + credentials.secretAccessKey + where
        : "k\0" + bytesId(credentials.signingKey) + "\0" + credentials.scope + where;
      const hit = entries.get(id);
      if (hit !== undefined) {
        entries.delete(id);
        entries.set(id, hit);
        return hit;
      }
      const key = prepareKey(credentials, date, region, service);
      if (entries.size >= limit) entries.delete(entries.keys().next().value!);
      entries.set(id, key);
      return key;
    },
    get size() {
      return entries.size;
    },
  };
}

/** A string that identifies `bytes` exactly (two bytes per UTF-16 code unit, and the length). */
function bytesId(bytes: Uint8Array): string {
  let id = bytes.length + ":";
  for (let i = 0; i < bytes.length; i += 2) {
    id += String.fromCharCode((bytes[i] << 8) | (i + 1 < bytes.length ? bytes[i + 1] : 0));
  }
  return id;
}

function prepareKey(
  credentials: Credentials,
  date: string,
  region: string,
  service: string,
): HmacKey {
  if ("secretAccessKey" in credentials) {
    return hmacKey(deriveSigningKey(credentials.secretAccessKey, date, region, service));
  }
  checkScope(credentials.scope, date, region, service);
  return hmacKey(credentials.signingKey);
}

/**
 * Checks that a pre-derived key's scope covers a request dated `date` in `region` and `service`,
 * and throws a {@linkcode SigningError} that says what differs otherwise.
 *
 * @example
 * ```ts
 * checkScope("20160902/us-east-1/s3/aws4_request", "20160902", "us-east-1", "s3"); // ok
 * ```
 */
export function checkScope(scope: string, date: string, region: string, service: string): void {
  const problem = scopeMismatch(scope, date, region, service);
  if (problem !== undefined) throw new SigningError(problem);
}

/** Where and when a request is signed. */
export interface SignContext {
  readonly credentials: Credentials;
  readonly region: string;
  readonly service: string;
  /** `YYYYMMDDTHHMMSSZ`, UTC. */
  readonly datetime: string;
  /** A shared key cache; without one the key is derived for this call. */
  readonly cache?: SigningKeyCache;
}

/** Everything computed while signing, for sending and for inspection in tests. */
export interface Signature {
  readonly canonicalRequest: string;
  readonly stringToSign: string;
  readonly signedHeaders: string;
  readonly scope: string;
  readonly signature: string;
}

/**
 * Signs a canonical request as given (no headers or parameters added): the primitive under
 * {@linkcode signHeaders} and {@linkcode presign}.
 *
 * @example
 * ```ts
 * const sig = signCanonical(parts, { credentials, region: "us-east-1", service: "s3", datetime });
 * ```
 */
export function signCanonical(parts: RequestParts, ctx: SignContext): Signature {
  const date = dateOf(ctx.datetime);
  const query = parts.query ? canonicalQuery(parts.query) : "";
  return sign(parts, query, canonicalHeaders(parts.headers), ctx, date);
}

/** Signs with the canonical query and headers already computed. */
function sign(
  parts: RequestParts,
  query: string,
  headers: { canonical: string; signed: string },
  ctx: SignContext,
  date: string,
): Signature {
  const key = ctx.cache
    ? ctx.cache.get(ctx.credentials, date, ctx.region, ctx.service)
    : prepareKey(ctx.credentials, date, ctx.region, ctx.service);
  const creq = parts.method + "\n" + parts.path + "\n" + query + "\n" + headers.canonical + "\n" +
    headers.signed + "\n" + parts.payloadHash;
  const scope = credentialScope(date, ctx.region, ctx.service);
  const sts = stringToSign(ctx.datetime, scope, creq);
  return {
    canonicalRequest: creq,
    stringToSign: sts,
    signedHeaders: headers.signed,
    scope,
    signature: hmacHex(key, sts),
  };
}

/** Options of {@linkcode signHeaders}. */
export interface HeaderSignOptions {
  /** Add and sign `x-amz-content-sha256` (S3 requires it; default true). */
  readonly contentSha256?: boolean;
}

/** A header-signed request: the headers to add to it, and what was signed. */
export interface SignedHeaders extends Signature {
  readonly authorization: string;
  /** The canonical query string signed, without `?`: send exactly this. */
  readonly query: string;
  /** Headers to send besides the request's own: `authorization`, `x-amz-date`, ... */
  readonly headers: Pair[];
}

/**
 * Signs a request with the `Authorization` header. Adds and signs `x-amz-date`, the session token
 * (`x-amz-security-token`) when there is one, and `x-amz-content-sha256` unless disabled.
 * `parts.headers` must hold `host` and every other header to sign, and nothing the client chose
 * that should not be signed.
 *
 * @example
 * ```ts
 * const signed = signHeaders(
 *   { method: "GET", path: "/bucket/key", headers: [["host", "s3.amazonaws.com"]], payloadHash: UNSIGNED_PAYLOAD },
 *   { credentials, region: "us-east-1", service: "s3", datetime: "20240101T000000Z" },
 * );
 * fetch(url, { headers: signed.headers });
 * ```
 */
export function signHeaders(
  parts: RequestParts,
  ctx: SignContext,
  options: HeaderSignOptions = {},
): SignedHeaders {
  const added: Pair[] = [["x-amz-date", ctx.datetime]];
  if (options.contentSha256 !== false) added.push(["x-amz-content-sha256", parts.payloadHash]);
  const token = ctx.credentials.sessionToken;
  if (token) added.push(["x-amz-security-token", token]);
  const date = dateOf(ctx.datetime);
  const query = parts.query ? canonicalQuery(parts.query) : "";
  const sig = sign(parts, query, canonicalHeaders(parts.headers.concat(added)), ctx, date);
  const authorization = ALGORITHM + " Credential=" + ctx.credentials.accessKeyId + "/" +
    sig.scope + ", SignedHeaders=" + sig.signedHeaders + ", Signature=" + sig.signature;
  added.push(["authorization", authorization]);
  return { ...sig, authorization, query, headers: added };
}

/** Options of {@linkcode presign}. */
export interface PresignOptions {
  /** Lifetime in seconds, 1 to 604800. */
  readonly expires: number;
}

/** A presigned request: the full query string to send, exactly as signed. */
export interface Presigned extends Signature {
  /** Encoded query string without `?`, ending in `X-Amz-Signature=...`. */
  readonly query: string;
}

/**
 * Presigns a request: adds the `X-Amz-*` query parameters (the session token included and
 * signed), signs, and returns the query string to send. Extra parameters in `parts.query`
 * (`versionId`, `response-content-disposition`, ...) are signed in.
 *
 * @example
 * ```ts
 * const p = presign(
 *   { method: "GET", path: "/test.txt", headers: [["host", "examplebucket.s3.amazonaws.com"]], payloadHash: UNSIGNED_PAYLOAD },
 *   { credentials, region: "us-east-1", service: "s3", datetime: "20130524T000000Z" },
 *   { expires: 86400 },
 * );
 * const url = "https://examplebucket.s3.amazonaws.com/test.txt?" + p.query;
 * ```
 */
export function presign(parts: RequestParts, ctx: SignContext, options: PresignOptions): Presigned {
  const { expires } = options;
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_EXPIRES) {
    throw new SigningError(
      `invalid expiry ${expires}: X-Amz-Expires must be a whole number from 1 to ${MAX_PRESIGN_EXPIRES}`,
    );
  }
  const date = dateOf(ctx.datetime);
  const headers = canonicalHeaders(parts.headers);
  // The X-Amz-* values, encoded piece by piece: the encoding of a string joined with "/" is the
  // encodings of its pieces joined with "%2F", and each piece here is usually plain ASCII.
  const credential = encodeQueryComponent(ctx.credentials.accessKeyId) + "%2F" + date + "%2F" +
    encodeQueryComponent(ctx.region) + "%2F" + encodeQueryComponent(ctx.service) +
    "%2Faws4_request";
  const token = ctx.credentials.sessionToken;
  // In sorted order already (Security-Token sorts before SignedHeaders).
  let amz = "X-Amz-Algorithm=" + ALGORITHM + "&X-Amz-Credential=" + credential +
    "&X-Amz-Date=" + ctx.datetime + "&X-Amz-Expires=" + expires;
  if (token) amz += "&X-Amz-Security-Token=" + encodeQueryComponent(token);
  amz += "&X-Amz-SignedHeaders=" + encodeQueryComponent(headers.signed);
  let query = amz;
  if (parts.query && parts.query.length > 0) {
    const encoded: string[][] = [];
    for (const [name, value] of parts.query) {
      if (name.length >= 6 && name.slice(0, 6).toLowerCase() === "x-amz-") {
        throw new SigningError(`query parameter "${name}" is reserved for the signature`);
      }
      encoded.push([encodeQueryComponent(name), encodeQueryComponent(value)]);
    }
    encoded.sort(comparePairs);
    // Merge the caller's sorted pairs with the X-Amz-* block, which sorts as one run: no
    // encoded name sorts between two X-Amz-* names unless it starts with "X-Amz-" itself.
    let before = "";
    let after = "";
    for (const [name, value] of encoded) {
      const pair = name + "=" + value;
      if (compareStrings(name, "X-Amz-") < 0) before += (before ? "&" : "") + pair;
      else after += "&" + pair;
    }
    query = (before ? before + "&" : "") + amz + after;
  }
  const sig = sign(parts, query, headers, ctx, date);
  // The query we send is exactly the canonical query that was signed, plus the signature.
  return { ...sig, query: query + "&X-Amz-Signature=" + sig.signature };
}
