/**
 * From a raw request URL to a validated bucket and key: dot segments resolved once (the same way
 * on every runtime), each part percent-decoded once and strictly. Pure.
 *
 * @module
 */

import { truncate } from "../text.ts";
import { decodeStrict } from "./encode.ts";
import type { Pair } from "./sigv4.ts";

/** A request target that could not be understood; answered with a `400`, never forwarded. */
export class BadTargetError extends Error {
  override name = "BadTargetError";
}

/** The raw path and query of a request target, split but not decoded. */
export interface RawTarget {
  /** Raw path with dot segments resolved, always starting with `/`. */
  readonly path: string;
  /** Raw query string without `?` (empty when none). */
  readonly query: string;
}

/**
 * Splits a request URL (`req.url`) into its raw path and query without decoding them, and
 * resolves `.` and `..` segments, whether written raw or as `%2E` in any case, as RFC 3986 does.
 * Deno hands us `/a/../b` unresolved where Bun has already resolved it; resolving here gives both
 * the same answer. For the same reason a raw `\` in the path is a `/`, as in WHATWG URLs: Bun
 * (like every browser) has already made it one, so `/a\..\b` is `/b` on both runtimes (a
 * backslash in a key is spelled `%5C`). `//` is kept: S3 keys may contain empty segments.
 *
 * @example
 * ```ts
 * rawTarget("http://h/a/%2e%2E/b//c?x=1"); // { path: "/b//c", query: "x=1" }
 * rawTarget("http://h/a\\..\\b"); // { path: "/b", query: "" }
 * ```
 */
export function rawTarget(url: string): RawTarget {
  const scheme = url.indexOf("://");
  const start = url.indexOf("/", scheme < 0 ? 0 : scheme + 3);
  if (start < 0) return { path: "/", query: "" };
  const q = url.indexOf("?", start);
  const rawPath = q < 0 ? url.slice(start) : url.slice(start, q);
  const query = q < 0 ? "" : url.slice(q + 1);
  if (rawPath.includes("#") || query.includes("#")) {
    throw new BadTargetError("the request target contains a raw '#'");
  }
  return { path: removeDotSegments(rawPath.replaceAll("\\", "/")), query };
}

function dotKind(segment: string): 0 | 1 | 2 {
  if (segment.length > 6 || segment.length === 0) return 0;
  const s = segment.toLowerCase().replaceAll("%2e", ".");
  return s === "." ? 1 : s === ".." ? 2 : 0;
}

function removeDotSegments(path: string): string {
  // A dot segment starts right after a `/` (backslashes are slashes by now): `key.txt` has none.
  if (!path.includes("/.") && !/\/%2e/i.test(path)) return path;
  const segments = path.split("/");
  const out: string[] = [];
  for (let i = 1; i < segments.length; i++) {
    const last = i === segments.length - 1;
    const kind = dotKind(segments[i]);
    if (kind === 0) {
      out.push(segments[i]);
      continue;
    }
    if (kind === 2) out.pop();
    if (last) out.push("");
  }
  return "/" + out.join("/");
}

/**
 * Parses a raw query string into decoded pairs, strictly: a bad escape, invalid UTF-8, a NUL or
 * U+FFFD (what Bun makes of bytes that are not UTF-8) throws {@linkcode BadTargetError}. `+` is a space, as in forms and in S3's own query parsing. A name
 * without `=` gets an empty value (`?acl` is `["acl", ""]`).
 *
 * @example
 * ```ts
 * parseQuery("prefix=a+b&list-type=2&acl"); // [["prefix","a b"],["list-type","2"],["acl",""]]
 * ```
 */
export function parseQuery(query: string): Pair[] {
  const pairs: Pair[] = [];
  if (query === "") return pairs;
  for (const part of query.split("&")) {
    if (part === "") continue;
    const eq = part.indexOf("=");
    const rawName = eq < 0 ? part : part.slice(0, eq);
    const rawValue = eq < 0 ? "" : part.slice(eq + 1);
    const name = decodeStrict(rawName, true);
    const value = decodeStrict(rawValue, true);
    if (name === undefined || value === undefined) {
      throw new BadTargetError(
        `the query parameter "${truncate(part, 57)}" is not valid percent-encoded UTF-8`,
      );
    }
    if (name.includes("\0") || value.includes("\0")) {
      throw new BadTargetError("the query contains a NUL character");
    }
    if (name.includes(REPLACEMENT) || value.includes(REPLACEMENT)) throw notUtf8("query");
    pairs.push([name, value]);
  }
  return pairs;
}

/**
 * U+FFFD, the replacement character. Bun turns bytes of a request target that are not UTF-8 into
 * it before the handler sees the URL (Deno refuses them with a 400), so it cannot be told from
 * them: it is refused too, and both runtimes give the same answer. A key holding U+FFFD cannot be
 * read through the proxy.
 */
const REPLACEMENT = "\uFFFD";

function notUtf8(where: string): BadTargetError {
  return new BadTargetError(
    `the ${where} holds U+FFFD, the mark of bytes that were not UTF-8`,
  );
}

/**
 * Decodes a raw key path (the part of the path after the bucket) into an S3 key: percent-decoded
 * once and strictly, `+` kept as a plus. Throws {@linkcode BadTargetError} on a bad escape, bytes
 * that are not UTF-8, a NUL, U+FFFD (see {@linkcode parseQuery}), or a `.`/`..` segment that only appears after decoding (such as
 * `a%2F..%2Fb`), since no client or S3 URL could carry it unchanged.
 *
 * @example
 * ```ts
 * decodeKey("dir/a+b%20c.txt"); // "dir/a+b c.txt"
 * ```
 */
export function decodeKey(rawKey: string): string {
  const key = decodeStrict(rawKey);
  if (key === undefined) {
    throw new BadTargetError("the path is not valid percent-encoded UTF-8");
  }
  if (key.includes("\0")) throw new BadTargetError("the path contains a NUL character");
  if (key.includes(REPLACEMENT)) throw notUtf8("path");
  if (key.includes(".")) {
    for (const segment of key.split("/")) {
      if (segment === "." || segment === "..") {
        throw new BadTargetError("the key contains a '.' or '..' segment");
      }
    }
  }
  return key;
}

const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

/**
 * Validates a bucket name: 2 to 255 letters, digits, `.`, `_` or `-`, starting with a letter or
 * digit (S3's own rules are stricter; S3-compatible servers allow more).
 *
 * @example
 * ```ts
 * isBucketName("my-bucket"); // true
 * isBucketName("a/b"); // false
 * ```
 */
export function isBucketName(name: string): boolean {
  return BUCKET.test(name);
}

const DNS_BUCKET = /^[a-z0-9][a-z0-9-]*(\.[a-z0-9][a-z0-9-]*)*$/;

/**
 * Whether a bucket can be addressed as a host name (virtual-hosted style): lower-case DNS labels,
 * 3 to 63 characters, no label ending in `-`.
 *
 * @example
 * ```ts
 * isDnsBucketName("my.bucket"); // true
 * isDnsBucketName("My_Bucket"); // false
 * ```
 */
export function isDnsBucketName(name: string): boolean {
  return name.length >= 3 && name.length <= 63 && DNS_BUCKET.test(name) && !/-(\.|$)/.test(name);
}
