/**
 * A raw request -> a decision: reject, proxy, redirect, list. Pure: it reads the method, URL and
 * headers, and the config; it does no I/O.
 *
 * @module
 */

import type { Config } from "./config.ts";
import {
  BadTargetError,
  decodeKey,
  isBucketName,
  isDnsBucketName,
  parseQuery,
  rawTarget,
} from "./s3/key.ts";
import { decodeStrict } from "./s3/encode.ts";
import {
  checkListQuery,
  checkObjectQuery,
  keyTooLong,
  MAX_KEY_BYTES,
  type TooLarge,
  utf8Length,
} from "./limits.ts";
import type { Pair } from "./s3/sigv4.ts";

/** Methods served; every other method gets a `405` with this `Allow`. */
export const ALLOW = "GET, HEAD";

/** Query parameters of ListObjects V1 and V2, forwarded on bucket listings. */
export const LIST_PARAMS: ReadonlySet<string> = new Set([
  "list-type",
  "prefix",
  "delimiter",
  "marker",
  "continuation-token",
  "start-after",
  "max-keys",
  "encoding-type",
  "fetch-owner",
]);

/** Query parameters S3 allows on GetObject/HeadObject, carried into signed requests. */
export const OBJECT_PARAMS: ReadonlySet<string> = new Set([
  "versionId",
  "partNumber",
  "response-content-type",
  "response-content-language",
  "response-expires",
  "response-cache-control",
  "response-content-disposition",
  "response-content-encoding",
]);

/** S3 sub-resources: query names that select another API than GetObject or ListObjects. */
export const SUBRESOURCES: ReadonlySet<string> = new Set([
  "accelerate",
  "acl",
  "analytics",
  "attributes",
  "cors",
  "delete",
  "encryption",
  "intelligent-tiering",
  "inventory",
  "legal-hold",
  "lifecycle",
  "logging",
  "metadataTable",
  "metrics",
  "notification",
  "object-lock",
  "ownershipControls",
  "policy",
  "policyStatus",
  "publicAccessBlock",
  "replication",
  "requestPayment",
  "restore",
  "retention",
  "select",
  "select-type",
  "session",
  "tagging",
  "torrent",
  "uploadId",
  "uploads",
  "versioning",
  "versions",
  "website",
]);

/** Who is asking: an S3 API client (SDK, CLI, rclone...) or a browser or plain HTTP client. */
export type ClientKind = "api" | "browser" | "http";

/** The decision for one request. */
export type Route =
  | {
    readonly kind: "reject";
    readonly status: number;
    readonly code: string;
    readonly message: string;
    readonly headers?: Readonly<Record<string, string>>;
  }
  | { readonly kind: "list-buckets" }
  | {
    readonly kind: "bucket";
    readonly bucket: string;
    readonly query: readonly Pair[];
  }
  | {
    /** A human's request for a folder: its index.html, else a generated listing. */
    readonly kind: "folder";
    readonly bucket: string;
    readonly prefix: string;
    readonly query: readonly Pair[];
  }
  | {
    readonly kind: "object";
    readonly bucket: string;
    readonly key: string;
    readonly query: readonly Pair[];
    readonly mode: "proxy" | "redirect";
  };

/** A route and why it was chosen, for the access log. */
export interface Decision {
  readonly route: Route;
  readonly client: ClientKind;
  /** Short reason for the client classification, e.g. `user-agent`, `x-amz-header`. */
  readonly clientReason: string;
}

const API_AGENTS =
  /\b(aws-cli|botocore|boto3|aws-sdk-|aws-sdk\/|rclone|minio|mc\/|s3cmd|s3fs|cyberduck|goofys|mountpoint-s3|aws-chunked|s5cmd|restic|duplicity|terraform|hadoop|s3a)/i;

/**
 * Classifies the client from real signals: SDK and CLI user agents, the `amz-sdk-*` and `x-amz-*`
 * request headers, an AWS `Authorization`, and S3 API query shapes (`x-id`, `X-Amz-*`).
 *
 * @example
 * ```ts
 * classifyClient(new Headers({ "user-agent": "aws-cli/2.15 Python/3.11" }), []); // ["api", "user-agent"]
 * ```
 */
export function classifyClient(headers: Headers, query: readonly Pair[]): [ClientKind, string] {
  const agent = headers.get("user-agent") ?? "";
  if (API_AGENTS.test(agent)) return ["api", "user-agent"];
  // forEach, not for...of: Deno's Headers iterator costs ~10 µs for a browser's dozen headers,
  // forEach ~1 µs (same order: sorted names). The first matching name wins, as before.
  let sdkHeader: string | undefined;
  headers.forEach((_, name) => {
    if (sdkHeader !== undefined) return;
    if (name.startsWith("amz-sdk-")) sdkHeader = "amz-sdk-header";
    else if (name.startsWith("x-amz-")) sdkHeader = "x-amz-header";
  });
  if (sdkHeader !== undefined) return ["api", sdkHeader];
  const auth = headers.get("authorization") ?? "";
  if (auth.startsWith("AWS4-") || auth.startsWith("AWS ")) return ["api", "authorization"];
  for (const [name] of query) {
    if (name === "x-id" || name.startsWith("X-Amz-") || name === "AWSAccessKeyId") {
      return ["api", "query"];
    }
  }
  const accept = headers.get("accept") ?? "";
  if (accept.includes("text/html")) return ["browser", "accept"];
  // A client asking for JSON wants the generated listing, like a browser.
  if (accept.includes("application/json")) return ["browser", "accept-json"];
  return ["http", "default"];
}

/**
 * A Host header value: `uri-host [":" port]` (RFC 9110): no `/`, `?`, `#`, `@`, `\` or space, and
 * brackets only around an IPv6 literal (Deno refuses `[::1` itself; Bun lets it through).
 */
const HOST = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~%!$&'()*+,;=]*)(:[0-9]*)?$/;

/** A request answered by the proxy itself. */
export type Reject = Extract<Route, { kind: "reject" }>;

function reject(
  status: number,
  code: string,
  message: string,
  headers?: Record<string, string>,
): Reject {
  return { kind: "reject", status, code, message, headers };
}

function rejectOf(refusal: TooLarge): Reject {
  return reject(refusal.status, refusal.code, refusal.message);
}

/** The pairs whose name is in `allowed`, each name once (the first wins). */
function pick(query: readonly Pair[], allowed: ReadonlySet<string>): Pair[] {
  const seen = new Set<string>();
  return query.filter(([name]) => {
    if (!allowed.has(name) || seen.has(name)) return false;
    seen.add(name);
    return true;
  });
}

function isSubresource(name: string): boolean {
  return SUBRESOURCES.has(name);
}

/** A request target, split and checked: the raw path (dot segments resolved) and the query. */
export interface Target {
  readonly path: string;
  readonly query: Pair[];
}

/**
 * Checks the `Host` header and splits the request target, or answers the `400` it deserves.
 *
 * @example
 * ```ts
 * parseTarget("http://proxy/b/a%20b?x=1", new Headers()); // { path: "/b/a%20b", query: [["x", "1"]] }
 * ```
 */
export function parseTarget(url: string, headers: Headers): Target | Reject {
  const host = headers.get("host");
  if (host !== null && !HOST.test(host)) {
    // Deno builds req.url from the Host header: `Host: h/other` would put `/other` in the path.
    return reject(400, "InvalidHost", "the Host header is not a host name and port");
  }
  try {
    const target = rawTarget(url);
    return { path: target.path, query: parseQuery(target.query) };
  } catch (e) {
    if (!(e instanceof BadTargetError)) throw e;
    return reject(400, "InvalidURI", e.message);
  }
}

/**
 * Decides what to do with a request. A `Host` header that is not a host and port is a `400`.
 *
 * @example
 * ```ts
 * decide("GET", "http://proxy/bucket/a%20b.txt", new Headers(), config);
 * // { route: { kind: "object", bucket: "bucket", key: "a b.txt", mode: "redirect", ... }, ... }
 * ```
 */
export function decide(method: string, url: string, headers: Headers, config: Config): Decision {
  const target = parseTarget(url, headers);
  if ("kind" in target) return { route: target, client: "http", clientReason: "n/a" };
  const [client, clientReason] = classifyClient(headers, target.query);
  const route = decideRoute(method, target.path, target.query, client, config);
  return { route, client, clientReason };
}

/** The `405` for a method this read-only proxy does not serve, on every path. */
export function checkMethod(method: string): Reject | undefined {
  if (method === "GET" || method === "HEAD") return undefined;
  return reject(405, "MethodNotAllowed", `${method} is not allowed: this proxy is read-only`, {
    allow: ALLOW,
  });
}

/**
 * Decides what to do with a path as the root of `config`'s route sees it (under a route prefix,
 * the rest of the path after it).
 */
export function decideRoute(
  method: string,
  path: string,
  query: readonly Pair[],
  client: ClientKind,
  config: Config,
): Route {
  const refused = checkMethod(method);
  if (refused) return refused;
  const sub = query.find(([name]) => isSubresource(name));
  if (sub) {
    return reject(
      403,
      "AccessDenied",
      `the "${
        sub[0]
      }" sub-resource is not available: this proxy serves only object reads and listings`,
    );
  }
  const long = checkListQuery(query);
  if (long) return rejectOf(long);
  let bucket: string;
  let rawKey: string;
  let bucketLevel: boolean;
  if (config.bucket !== undefined) {
    bucket = config.bucket;
    rawKey = path.slice(1);
    bucketLevel = rawKey === "";
  } else {
    const slash = path.indexOf("/", 1);
    const rawBucket = slash < 0 ? path.slice(1) : path.slice(1, slash);
    if (rawBucket === "" && path !== "/") {
      return reject(400, "InvalidBucketName", "the path starts with an empty bucket name");
    }
    if (rawBucket === "") {
      if (!config.listBuckets) {
        return reject(403, "AccessDenied", "listing buckets is disabled (S3_LIST_BUCKETS=false)");
      }
      return { kind: "list-buckets" };
    }
    const decoded = decodeStrict(rawBucket);
    if (decoded === undefined || !isBucketName(decoded)) {
      return reject(400, "InvalidBucketName", "the first path segment is not a valid bucket name");
    }
    if (config.addressingStyle === "virtual" && !isDnsBucketName(decoded)) {
      return reject(
        400,
        "InvalidBucketName",
        "this bucket name cannot be addressed as a host name (S3_ADDRESSING_STYLE=virtual)",
      );
    }
    bucket = decoded;
    rawKey = slash < 0 ? "" : path.slice(slash + 1);
    bucketLevel = rawKey === "";
  }
  let key: string;
  try {
    key = decodeKey(rawKey);
  } catch (e) {
    if (!(e instanceof BadTargetError)) throw e;
    return reject(400, "InvalidURI", e.message);
  }
  // S3 refuses such keys anyway; a redirect to one would carry a Location of any length.
  if (utf8Length(key) > MAX_KEY_BYTES) return rejectOf(keyTooLong());
  if (bucketLevel) return bucketRoute(method, bucket, query, client, config);
  const wantsFolder = key.endsWith("/") && client !== "api" &&
    !query.some(([name]) => LIST_PARAMS.has(name));
  if (wantsFolder) {
    return { kind: "folder", bucket, prefix: key, query: query.filter(([n]) => n === "page") };
  }
  let objectQuery = pick(query, OBJECT_PARAMS);
  const streamed = config.proxyPattern.test(key) || config.redirect === "never" ||
    (config.redirect === "auto" && client === "api");
  if (streamed && client !== "api") {
    // On our own origin, a client-chosen type would let any object be served as HTML.
    objectQuery = objectQuery.filter(([name]) => name !== "response-content-type");
  }
  const longQuery = checkObjectQuery(objectQuery);
  if (longQuery) return rejectOf(longQuery);
  return { kind: "object", bucket, key, query: objectQuery, mode: streamed ? "proxy" : "redirect" };
}

function bucketRoute(
  method: string,
  bucket: string,
  query: readonly Pair[],
  client: ClientKind,
  config: Config,
): Route {
  if (query.some(([name]) => name === "location")) {
    return { kind: "bucket", bucket, query: [["location", ""]] };
  }
  const listQuery = pick(query, LIST_PARAMS);
  if (method === "HEAD" && listQuery.length === 0) {
    return { kind: "bucket", bucket, query: [] };
  }
  if (listQuery.length === 0 && (client === "browser" || (client === "http" && !config.listing))) {
    return { kind: "folder", bucket, prefix: "", query: query.filter(([n]) => n === "page") };
  }
  if (!config.listing) {
    return reject(403, "AccessDenied", "listing keys is disabled on this proxy (LISTING=off)");
  }
  return { kind: "bucket", bucket, query: listQuery };
}
