/**
 * An independent SigV4 verifier on node:crypto, written from the AWS documentation (the same
 * method as tests/handler_test.ts's): it recomputes the signature of a request head as it went
 * over the wire (recorded by tests/support/forwarder.ts) and of presigned URLs, and says what
 * does not match. It shares no code with src/. Its primitives (hashes, key derivation, the
 * canonical query) are exported for tests/handler_test.ts's verifier, which checks more.
 *
 * @module
 */

import { createHash, createHmac } from "node:crypto";
import type { Upstream } from "./forwarder.ts";

/** The key pair whose signatures are checked. */
export interface VerifyKey {
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
}

/** SHA-256 of UTF-8 `text`, lowercase hex. */
export const sha256hex = (text: string): string =>
  createHash("sha256").update(text, "utf8").digest("hex");
/** HMAC-SHA256 of UTF-8 `text` under `key`. */
export const hmac = (key: Uint8Array | string, text: string): Uint8Array =>
  new Uint8Array(createHmac("sha256", key).update(text, "utf8").digest());
/** Lowercase hex. */
export const hex = (bytes: Uint8Array): string =>
  Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/** The SigV4 signing key for S3: `secret`'s, for day `date` (YYYYMMDD) in `region`. */
export function deriveKey(secret: string, date: string, region = "us-east-1"): Uint8Array {
  return hmac(hmac(hmac(hmac("AWS4" + secret, date), region), "s3"), "aws4_request");
}

/** encodeURIComponent, and `!'()*` too: SigV4's encoding. */
export function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(
    /[!'()*]/g,
    (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase(),
  );
}

/** The strict encoding of a path: each segment decoded, then RFC 3986-encoded, `/` kept. */
function canonicalPath(path: string): string {
  return path.split("/").map((s) => rfc3986(decodeURIComponent(s))).join("/");
}

function queryPairs(query: string): [string, string][] {
  if (query === "") return [];
  return query.split("&").map((part) => {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? "" : part.slice(eq + 1);
    return [decodeURIComponent(name), decodeURIComponent(value)];
  });
}

/** The canonical query string of decoded name/value pairs: encoded, sorted, joined. */
export function canonicalQuery(pairs: [string, string][]): string {
  return pairs
    .map(([n, v]) => [rfc3986(n), rfc3986(v)])
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([n, v]) => n + "=" + v)
    .join("&");
}

/** A header value as signed: trimmed, inner runs of white space folded to one space. */
export const fold = (value: string): string => value.trim().replace(/\s+/g, " ");

/**
 * Checks the `Authorization` of one upstream request head; returns what is wrong, or
 * undefined when the signature is the one the key makes for exactly what was sent.
 *
 * @example
 * ```ts
 * for (const u of forwarder.seen) assert.equal(verifyUpstream(u, key), undefined);
 * ```
 */
export function verifyUpstream(u: Upstream, key: VerifyKey): string | undefined {
  const region = key.region ?? "us-east-1";
  const q = u.target.indexOf("?");
  const path = q < 0 ? u.target : u.target.slice(0, q);
  const query = q < 0 ? "" : u.target.slice(q + 1);
  if (query.includes("+")) return `a raw + in the query is ambiguous: ${u.target}`;
  let strict: string;
  let pairs: [string, string][];
  try {
    strict = canonicalPath(path);
    pairs = queryPairs(query);
  } catch {
    return `the target is not valid percent-encoding: ${u.target}`;
  }
  if (strict !== path) return `the path is not strictly encoded: ${path} (${strict})`;
  const auth = u.headers.get("authorization");
  if (!auth) return "no Authorization";
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
      .exec(auth);
  if (!m) return `malformed Authorization: ${auth.slice(0, 40)}`;
  const [, accessKey, date, scopeRegion, signed, signature] = m;
  if (accessKey !== key.accessKeyId) return `another access key: ${accessKey}`;
  if (scopeRegion !== region) return `another region: ${scopeRegion}`;
  const amzDate = u.headers.get("x-amz-date") ?? "";
  if (!amzDate.startsWith(date)) return `x-amz-date ${amzDate} is not of the scope's day ${date}`;
  const names = signed.split(";");
  if (!names.includes("host") || !names.includes("x-amz-date")) return `signed: ${signed}`;
  const payload = u.headers.get("x-amz-content-sha256");
  if (!payload) return "no x-amz-content-sha256";
  const canonicalHeaders = names.map((n) => n + ":" + fold(u.headers.get(n) ?? "")).join("\n") +
    "\n";
  const canonicalRequest = [
    u.method,
    path,
    canonicalQuery(pairs),
    canonicalHeaders,
    signed,
    payload,
  ].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256hex(canonicalRequest)}`;
  const expected = hex(hmac(deriveKey(key.secretAccessKey, date, region), sts));
  return expected === signature ? undefined : `signature mismatch for ${u.method} ${u.target}`;
}

/**
 * Checks a presigned URL for `method`: what is wrong, or undefined.
 *
 * @example
 * ```ts
 * assert.equal(verifyPresigned(res.headers.get("location")!, "GET", key), undefined);
 * ```
 */
export function verifyPresigned(
  location: string,
  method: string,
  key: VerifyKey,
): string | undefined {
  const region = key.region ?? "us-east-1";
  const m = /^(https?):\/\/([^/?#]+)([^?#]*)(?:\?([^#]*))?$/.exec(location);
  if (!m) return `not an absolute URL: ${location.slice(0, 60)}`;
  const [, , host, path, query = ""] = m;
  let pairs: [string, string][];
  try {
    if (canonicalPath(path) !== path) return `the path is not strictly encoded: ${path}`;
    pairs = queryPairs(query);
  } catch {
    return "the URL is not valid percent-encoding";
  }
  const last = pairs[pairs.length - 1];
  if (last?.[0] !== "X-Amz-Signature") return "the signature does not come last";
  const map = new Map(pairs);
  const [accessKey, date, scopeRegion] = (map.get("X-Amz-Credential") ?? "").split("/");
  if (accessKey !== key.accessKeyId || scopeRegion !== region) return "another credential";
  const canonicalRequest = [
    method,
    path,
    canonicalQuery(pairs.slice(0, -1)),
    "host:" + host + "\n",
    map.get("X-Amz-SignedHeaders") ?? "",
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${map.get("X-Amz-Date")}\n${scope}\n${
    sha256hex(canonicalRequest)
  }`;
  const expected = hex(hmac(deriveKey(key.secretAccessKey, date, region), sts));
  return expected === last[1] ? undefined : `presigned signature mismatch for ${method}`;
}
