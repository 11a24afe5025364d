/**
 * Size limits, answered by the proxy and never forwarded: the request head (below both
 * runtimes' own limits, so that Deno and Bun give the same answer), keys and listing parameters
 * (as S3 bounds them), and the query parameters carried into redirects (so that no header the
 * proxy builds is over {@linkcode MAX_RESPONSE_HEADER}). Pure.
 *
 * What the runtimes do above these limits, measured (Deno 2.9, Bun 1.4): Bun answers a head
 * over 16 KiB, or with more than 198 header lines, with its own `431` (no body,
 * `Connection: close`) before the handler runs; Deno answers a head over 64 KiB, or with more
 * than 127 header lines, with its own `400`. Between our limits and theirs, the proxy answers.
 *
 * @module
 */

import { rawTarget } from "./s3/key.ts";
import type { Pair } from "./s3/sigv4.ts";

/** S3's limit on a key: 1024 bytes of UTF-8. Prefixes, markers and `start-after` are keys. */
export const MAX_KEY_BYTES = 1024;
/** Continuation tokens and the listing page's `page`: S3's are under 1 KiB; a generous bound. */
export const MAX_TOKEN_LENGTH = 4096;
/** The request target (path and query, as received): a longer one is a `414`. */
export const MAX_TARGET_LENGTH = 8192;
/** Request line and header lines together (Bun's own limit is 16 KiB): over it, a `431`. */
export const MAX_HEAD_BYTES = 12 * 1024;
/** Header lines (Deno's own limit is 127, Bun's 198): more is a `431`. */
export const MAX_HEADER_COUNT = 100;
/** No header the proxy sends (a 307's Location, one relayed from S3) is longer than this. */
export const MAX_RESPONSE_HEADER = 8192;
/**
 * The object query parameters carried into a redirect or a signed request (`response-*`,
 * `versionId`, `partNumber`), RFC 3986-encoded: a key (at most 3 KiB encoded), the host, the
 * signature's own parameters and a session token fit beside them in 8 KiB.
 */
export const MAX_OBJECT_QUERY_LENGTH = 1536;

/** A refusal of this module: a status, an S3-style code, a message, and its headers. */
export interface TooLarge {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

const encoder = new TextEncoder();

/** Bytes of `text` in UTF-8. */
export function utf8Length(text: string): number {
  // Most keys are ASCII: the length is the string's, no copy.
  // deno-lint-ignore no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).length;
}

/**
 * The length of the request target of `req.url` (from the first `/` after the scheme and
 * host), dot segments resolved: Bun resolves them before the handler runs and Deno does not, so
 * only the resolved target measures the same on both.
 */
function targetLength(url: string): number {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return 1;
  // A dot segment starts after a slash or a backslash (a slash to browsers and Bun): `a.jpg`
  // has none, and needs no second pass.
  if (!url.includes("/.", start) && !url.includes("\\.", start) && !/%2e/i.test(url)) {
    return url.length - start;
  }
  try {
    const { path, query } = rawTarget(url);
    return path.length + (url.includes("?", start) ? query.length + 1 : 0);
  } catch {
    return url.length - start;
  }
}

/**
 * Checks the size of a request's head: more than {@linkcode MAX_HEADER_COUNT} header lines or
 * {@linkcode MAX_HEAD_BYTES} in all is a `431` (with no body and `Connection: close`, as Bun
 * answers a head over its own limit), a target over {@linkcode MAX_TARGET_LENGTH} a `414`.
 *
 * @example
 * ```ts
 * checkHead("GET", "http://h/" + "a".repeat(9000), new Headers()); // { status: 414, ... }
 * checkHead("GET", "http://h/a", new Headers()); // undefined
 * ```
 */
export function checkHead(method: string, url: string, headers: Headers): TooLarge | undefined {
  const target = targetLength(url);
  let size = method.length + target + 11; // "GET " + target + " HTTP/1.1\r\n"
  let count = 0;
  headers.forEach((value, name) => {
    count++;
    size += name.length + value.length + 4;
  });
  if (count > MAX_HEADER_COUNT || size > MAX_HEAD_BYTES) {
    return {
      status: 431,
      code: "RequestHeaderFieldsTooLarge",
      message: "",
      headers: { connection: "close" },
    };
  }
  if (target > MAX_TARGET_LENGTH) {
    return {
      status: 414,
      code: "RequestURITooLong",
      message: `the request target is longer than ${MAX_TARGET_LENGTH} bytes`,
    };
  }
  return undefined;
}

/** The `400` for a key over S3's limit, with S3's own code. */
export function keyTooLong(what = "key"): TooLarge {
  return {
    status: 400,
    code: "KeyTooLongError",
    message: `Your ${what} is too long: S3 keys are at most ${MAX_KEY_BYTES} bytes of UTF-8`,
  };
}

const KEY_PARAMS: ReadonlySet<string> = new Set(["prefix", "marker", "start-after"]);
const TOKEN_PARAMS: ReadonlySet<string> = new Set(["continuation-token", "page"]);

/**
 * Checks listing parameters, every occurrence: `prefix`, `marker` and `start-after` are keys
 * (at most {@linkcode MAX_KEY_BYTES}), `continuation-token` and `page` tokens (at most
 * {@linkcode MAX_TOKEN_LENGTH} characters).
 *
 * @example
 * ```ts
 * checkListQuery([["prefix", "a".repeat(1025)]]); // { status: 400, code: "KeyTooLongError", ... }
 * ```
 */
export function checkListQuery(query: readonly Pair[]): TooLarge | undefined {
  for (const [name, value] of query) {
    if (KEY_PARAMS.has(name) && utf8Length(value) > MAX_KEY_BYTES) {
      return keyTooLong(`"${name}"`);
    }
    if (TOKEN_PARAMS.has(name) && value.length > MAX_TOKEN_LENGTH) {
      return {
        status: 400,
        code: "InvalidArgument",
        message: `the "${name}" parameter is longer than ${MAX_TOKEN_LENGTH} characters`,
      };
    }
  }
  return undefined;
}

/** Length of `text` RFC 3986-encoded (what a signed URL carries). */
function encodedLength(text: string): number {
  let n = 0;
  for (const c of text) {
    if (/^[A-Za-z0-9\-._~]$/.test(c)) n += 1;
    else n += 3 * utf8Length(c);
  }
  return n;
}

/**
 * Checks the object query parameters carried into a redirect or a signed request: together, at
 * most {@linkcode MAX_OBJECT_QUERY_LENGTH} characters once encoded.
 *
 * @example
 * ```ts
 * checkObjectQuery([["response-content-disposition", "x".repeat(2000)]]); // { status: 400, ... }
 * ```
 */
export function checkObjectQuery(query: readonly Pair[]): TooLarge | undefined {
  let n = 0;
  for (const [name, value] of query) n += encodedLength(name) + encodedLength(value) + 2;
  if (n <= MAX_OBJECT_QUERY_LENGTH) return undefined;
  return {
    status: 400,
    code: "InvalidArgument",
    message: `the object's query parameters are longer than ${MAX_OBJECT_QUERY_LENGTH} ` +
      "characters once encoded",
  };
}
