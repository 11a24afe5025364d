/**
 * Environment -> typed configuration. Every problem is reported at once, each naming its
 * variable. Pure: the environment is passed in.
 *
 * @module
 */

import { type CorsPolicy, parseCors } from "./cors.ts";
import { type Env, regionOf, setting } from "./env.ts";
import { type AuthConfig, parseAuthConfig } from "./auth/config.ts";
import { type Cidr, parseCidrList } from "./net.ts";
import { isHeaderSafe } from "./credentials/provider.ts";
import { isBucketName, isDnsBucketName } from "./s3/key.ts";
import { MAX_PRESIGN_EXPIRES } from "./s3/sigv4.ts";
import { truncate } from "./text.ts";

/** How redirects are decided: by client detection, or always, or never. */
export type RedirectMode = "auto" | "always" | "never";

/** The proxy's settings (credentials are resolved separately, see `credentials/`). */
export interface Config {
  /** Signing region. */
  readonly region: string;
  /** `host[:port]` for proxied requests (default port omitted). */
  readonly endpointHost: string;
  /** `host[:port]` that redirects point at and are signed for. */
  readonly externalHost: string;
  readonly scheme: "http" | "https";
  /** One bucket served at the root, or undefined: the first path segment names the bucket. */
  readonly bucket?: string;
  readonly addressingStyle: "path" | "virtual";
  /** Lifetime of presigned redirect URLs, in seconds. */
  readonly presignExpires: number;
  /** Keys that are streamed through the proxy instead of redirected. */
  readonly proxyPattern: RegExp;
  readonly port: number;
  readonly hostname: string;
  /**
   * Seconds a connection may be idle (no request, or a request head or a download that does not
   * move) before the server closes it (`IDLE_TIMEOUT`). Bun applies it; Deno cannot (README).
   */
  readonly idleTimeoutSeconds: number;
  /** How long to wait for upstream response headers, in milliseconds. */
  readonly upstreamTimeoutMs: number;
  readonly redirect: RedirectMode;
  /** Whether `GET /` (path mode) lists the account's buckets. */
  readonly listBuckets: boolean;
  /** Whether generated listings (and listing of keys at all) are allowed. */
  readonly listing: boolean;
  /** Client addresses served (`ALLOW_CIDRS`); undefined: every address. */
  readonly allowCidrs?: readonly Cidr[];
  /** Proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`); empty: none. */
  readonly trustedProxies: readonly Cidr[];
  /** The key suffix served for a folder (`INDEX_DOCUMENT`): `docs/` -> `docs/index.html`. */
  readonly indexDocument: string;
  /** A key streamed with the original `404`/`403` to a browser's page navigation. */
  readonly errorDocument?: string;
  /** A key streamed with `200` to a browser's page navigation to a missing key (an SPA). */
  readonly spaFallback?: string;
  /** `Cache-Control` set on objects streamed from this route when S3 sent none. */
  readonly cacheControl?: string;
  /** Who may use the route (`AUTH` and its methods' settings). */
  readonly auth: AuthConfig;
  /** Seconds generated listings and folder checks are kept (`LISTING_CACHE_SECONDS`); 0: off. */
  readonly listingCacheSeconds?: number;
  /** CORS for browser apps on other origins (`CORS_*`); undefined: no CORS headers. */
  readonly cors?: CorsPolicy;
}

/** The default {@linkcode Config.proxyPattern}: keys whose last segment is `index.html`. */
export const DEFAULT_PROXY_PATTERN = "(^|/)index\\.html$";

/** The default {@linkcode Config.indexDocument}. */
export const DEFAULT_INDEX_DOCUMENT = "index.html";

/** Longest S3 key, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * The default {@linkcode Config.proxyPattern} for an index document: keys whose last segment is
 * exactly it, regex-escaped.
 *
 * @example
 * ```ts
 * indexPattern("default.htm"); // "(^|/)default\\.htm$"
 * ```
 */
export function indexPattern(indexDocument: string): string {
  return `(^|/)${indexDocument.replace(/[\\^$.*+?()[\]{}|]/g, "\\$&")}$`;
}

/**
 * Why `key` cannot be a document key the proxy fetches (non-empty, well-formed Unicode, no NUL,
 * no leading `/`, no `.`/`..` segment, at most 1024 UTF-8 bytes), or undefined when it can.
 */
function keyProblem(key: string): string | undefined {
  if (/\p{Cs}/u.test(key)) return "is not valid UTF-8";
  if (key.includes("\0")) return "holds a NUL character";
  if (key.startsWith("/")) return "must not start with /: it is a key, such as index.html";
  if (key.split("/").some((s) => s === "." || s === "..")) return "has a '.' or '..' segment";
  const bytes = new TextEncoder().encode(key).length;
  if (bytes > MAX_KEY_BYTES) return `is ${bytes} bytes long (a key is at most ${MAX_KEY_BYTES})`;
  return undefined;
}

/** A document key setting, or undefined when unset; a bad one is reported, naming it. */
function documentKey(env: Env, name: string, errors: string[]): string | undefined {
  const raw = setting(env, name);
  if (raw === undefined) return undefined;
  const problem = keyProblem(raw);
  if (problem !== undefined) {
    errors.push(`${name}: "${truncate(raw, 80)}" ${problem}`);
    return undefined;
  }
  return raw;
}

/** Result of {@linkcode parseConfig}: a config, or every problem found. */
export type ConfigResult =
  | { readonly ok: true; readonly config: Config }
  | { readonly ok: false; readonly errors: string[] };

/**
 * Parses a `host[:port]` for `scheme`, returning it lower-cased with a default port dropped (as
 * `fetch` sends it in `Host`), or undefined when it is not a bare host.
 *
 * @example
 * ```ts
 * normalizeHost("S3.example.com:443", "https"); // "s3.example.com"
 * ```
 */
export function normalizeHost(host: string, scheme: string): string | undefined {
  if (/[/?#@\s\\]/.test(host)) return undefined;
  try {
    const url = new URL(`${scheme}://${host}`);
    return url.host === "" ? undefined : url.host;
  } catch {
    return undefined;
  }
}

function integer(
  env: Env,
  name: string,
  fallback: number,
  min: number,
  max: number,
  errors: string[],
): number {
  const raw = setting(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    errors.push(`${name}: "${raw}" is not a whole number from ${min} to ${max}`);
    return fallback;
  }
  return Number(raw);
}

function choice<T extends string>(
  env: Env,
  name: string,
  options: readonly T[],
  fallback: T,
  errors: string[],
): T {
  const raw = setting(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase() as T;
  if (!options.includes(lower)) {
    errors.push(`${name}: "${raw}" must be one of ${options.join(", ")}`);
    return fallback;
  }
  return lower;
}

/** A CIDR list, or undefined when unset; a list with bad entries names each of them. */
function cidrs(env: Env, name: string, errors: string[]): Cidr[] | undefined {
  const raw = setting(env, name);
  if (raw === undefined) return undefined;
  const parsed = parseCidrList(raw);
  if ("bad" in parsed) {
    errors.push(`${name}: ${parsed.bad.map((b) => `"${b}"`).join(", ")} not an IPv4/IPv6 CIDR`);
    return undefined;
  }
  if (parsed.length === 0) errors.push(`${name}: "${raw}" names no address`);
  return parsed;
}

function flag(env: Env, name: string, fallback: boolean, errors: string[]): boolean {
  const raw = setting(env, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (["true", "1", "yes", "on"].includes(lower)) return true;
  if (["false", "0", "no", "off"].includes(lower)) return false;
  errors.push(`${name}: "${raw}" must be true or false (on/off)`);
  return fallback;
}

/**
 * Parses the proxy's environment (credentials excepted).
 *
 * @example
 * ```ts
 * const result = parseConfig({ S3_BUCKET: "site", PORT: "9000" });
 * if (result.ok) console.log(result.config.port); // 9000
 * ```
 */
export function parseConfig(env: Env): ConfigResult {
  const errors: string[] = [];
  const region = regionOf(env);
  if (!/^[a-z0-9-]{1,64}$/.test(region)) {
    errors.push(`AWS_REGION/AWS_DEFAULT_REGION: "${region}" is not a region name`);
  }
  const scheme = choice(env, "AWS_ENDPOINT_SCHEME", ["https", "http"] as const, "https", errors);
  const rawHost = setting(env, "AWS_ENDPOINT_HOST") ?? `s3.${region}.amazonaws.com`;
  const endpointHost = normalizeHost(rawHost, scheme);
  if (endpointHost === undefined) {
    errors.push(`AWS_ENDPOINT_HOST: "${rawHost}" is not a host name with an optional port`);
  }
  const rawExternal = setting(env, "AWS_ENDPOINT_HOST_EXTERNAL");
  const externalHost = rawExternal === undefined
    ? endpointHost
    : normalizeHost(rawExternal, scheme);
  if (externalHost === undefined && rawExternal !== undefined) {
    errors.push(
      `AWS_ENDPOINT_HOST_EXTERNAL: "${rawExternal}" is not a host name with an optional port`,
    );
  }
  const addressingStyle = choice(
    env,
    "S3_ADDRESSING_STYLE",
    ["path", "virtual"] as const,
    "path",
    errors,
  );
  const bucket = setting(env, "S3_BUCKET");
  if (bucket !== undefined) {
    if (!isBucketName(bucket)) {
      errors.push(`S3_BUCKET: "${bucket}" is not a bucket name`);
    } else if (addressingStyle === "virtual" && !isDnsBucketName(bucket)) {
      errors.push(
        `S3_BUCKET: "${bucket}" cannot be used with S3_ADDRESSING_STYLE=virtual (not a DNS name)`,
      );
    }
  }
  const presignExpires = integer(env, "PRESIGN_EXPIRES", 300, 1, MAX_PRESIGN_EXPIRES, errors);
  let indexDocument = documentKey(env, "INDEX_DOCUMENT", errors) ?? DEFAULT_INDEX_DOCUMENT;
  if (indexDocument.includes("/")) {
    errors.push(`INDEX_DOCUMENT: "${indexDocument}" must not hold a / (it is a file name suffix)`);
    indexDocument = DEFAULT_INDEX_DOCUMENT;
  }
  const errorDocument = documentKey(env, "ERROR_DOCUMENT", errors);
  const spaFallback = documentKey(env, "SPA_FALLBACK", errors);
  const cacheControl = setting(env, "CACHE_CONTROL");
  if (cacheControl !== undefined && !isHeaderSafe(cacheControl)) {
    errors.push(
      `CACHE_CONTROL: "${truncate(cacheControl, 80)}" is not a header value (printable ASCII)`,
    );
  }
  const patternSource = setting(env, "PROXY_PATTERN") ?? indexPattern(indexDocument);
  let proxyPattern = new RegExp(DEFAULT_PROXY_PATTERN);
  try {
    proxyPattern = new RegExp(patternSource);
  } catch (e) {
    errors.push(`PROXY_PATTERN: "${patternSource}" is not a valid regular expression (${e})`);
  }
  const port = integer(env, "PORT", 8080, 0, 65535, errors);
  const hostname = setting(env, "HOST") ?? "0.0.0.0";
  const rawTimeout = setting(env, "UPSTREAM_TIMEOUT") ?? "30";
  const timeout = Number(rawTimeout);
  if (!/^\d+(\.\d+)?$/.test(rawTimeout) || !(timeout >= 0.001) || timeout > 3600) {
    errors.push(`UPSTREAM_TIMEOUT: "${rawTimeout}" is not a number of seconds from 0.001 to 3600`);
  }
  // Bun counts a request still waiting on the backend as idle: the idle time must outlast
  // UPSTREAM_TIMEOUT, or a slow backend is a reset connection instead of a 504.
  const idleFloor = Math.min(255, Math.floor(timeout) + 1);
  const idleTimeoutSeconds = integer(env, "IDLE_TIMEOUT", Math.max(10, idleFloor), 1, 255, errors);
  if (setting(env, "IDLE_TIMEOUT") !== undefined && idleTimeoutSeconds < idleFloor) {
    errors.push(
      `IDLE_TIMEOUT: ${idleTimeoutSeconds} must be more than UPSTREAM_TIMEOUT (${rawTimeout})`,
    );
  }
  const redirect = choice(env, "REDIRECT", ["auto", "always", "never"] as const, "auto", errors);
  const listBuckets = flag(env, "S3_LIST_BUCKETS", false, errors);
  const listing = flag(env, "LISTING", true, errors);
  const listingCacheSeconds = integer(env, "LISTING_CACHE_SECONDS", 0, 0, 3600, errors);
  const allowCidrs = cidrs(env, "ALLOW_CIDRS", errors);
  const trustedProxies = cidrs(env, "TRUSTED_PROXIES", errors) ?? [];
  const auth = parseAuthConfig(env, errors);
  const cors = parseCors((name) => setting(env, name), errors);
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    config: {
      region,
      endpointHost: endpointHost!,
      externalHost: externalHost!,
      scheme,
      bucket,
      addressingStyle,
      presignExpires,
      proxyPattern,
      port,
      hostname,
      idleTimeoutSeconds,
      upstreamTimeoutMs: Math.round(timeout * 1000),
      redirect,
      listBuckets,
      listing,
      listingCacheSeconds,
      allowCidrs,
      trustedProxies,
      indexDocument,
      errorDocument,
      spaFallback,
      cacheControl,
      auth,
      ...(cors ? { cors } : {}),
    },
  };
}
