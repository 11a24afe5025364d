/**
 * CORS, per route: the settings (`CORS_ALLOW_ORIGINS`, `CORS_MAX_AGE`, `CORS_ALLOW_CREDENTIALS`,
 * `CORS_EXPOSE_HEADERS`), the preflight answer, and the headers put on **every** answer to an
 * allowed origin (`200`, `206`, `304`, redirects, listings, errors alike: peers missed 404s and
 * the slash redirect). Pure.
 *
 * @module
 */

import type { Config } from "./config.ts";

/** A route's CORS policy. */
export interface CorsPolicy {
  /** `*`: every origin. */
  readonly any: boolean;
  /** Exact origins, lower-case (`https://app.example.com`). */
  readonly origins: ReadonlySet<string>;
  /** `https://*.example.com`: `prefix` `https://`, `suffix` `.example.com` (port included). */
  readonly wildcards: readonly { readonly prefix: string; readonly suffix: string }[];
  /** `Access-Control-Max-Age` of preflights, in seconds. */
  readonly maxAge: number;
  readonly credentials: boolean;
  /** Response headers exposed, lower-case; a name ending in `*` is a prefix (`x-amz-meta-*`). */
  readonly expose: readonly string[];
}

/** The default of `CORS_EXPOSE_HEADERS`. */
export const DEFAULT_EXPOSE_HEADERS: readonly string[] = [
  "Content-Range",
  "Content-Length",
  "Content-Type",
  "ETag",
  "Last-Modified",
  "Accept-Ranges",
  "x-amz-meta-*",
  "x-amz-version-id",
];

/** Request headers a preflight allows (what the proxy forwards upstream). */
const ALLOW_HEADERS = "Range, If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since";
const TOKEN = /^[A-Za-z0-9!#$%&'+.^_`|~-]+\*?$/;
const LABELS = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

/** One entry of `CORS_ALLOW_ORIGINS`: an exact origin, a wildcard, or a problem. */
function originEntry(
  entry: string,
): { exact: string } | { prefix: string; suffix: string } | { bad: string } {
  const wild = /^(https?:\/\/)\*\.(.+)$/i.exec(entry);
  const probe = wild ? `${wild[1]}x.${wild[2]}` : entry;
  let url: URL;
  try {
    url = new URL(probe);
  } catch {
    return { bad: `"${entry}" is not an origin (scheme://host[:port])` };
  }
  if (
    (url.protocol !== "http:" && url.protocol !== "https:") ||
    url.origin.toLowerCase() !== probe.toLowerCase() || probe.includes("*")
  ) {
    return {
      bad: `"${entry}" is not an origin: http(s)://host[:port], no path, "*" only as ` +
        "the first label (https://*.example.com)",
    };
  }
  if (!wild) return { exact: url.origin };
  return { prefix: wild[1].toLowerCase(), suffix: url.origin.slice(wild[1].length + 1) };
}

/**
 * Reads a route's CORS settings through `get` (the route's setting or the environment's);
 * undefined when `CORS_ALLOW_ORIGINS` is unset. Problems are pushed to `errors`, each naming its
 * variable.
 *
 * @example
 * ```ts
 * const errors: string[] = [];
 * const cors = parseCors((name) => ({ CORS_ALLOW_ORIGINS: "https://*.example.com" })[name], errors);
 * ```
 */
export function parseCors(
  get: (name: string) => string | undefined,
  errors: string[],
): CorsPolicy | undefined {
  const raw = get("CORS_ALLOW_ORIGINS");
  const others = ["CORS_MAX_AGE", "CORS_ALLOW_CREDENTIALS", "CORS_EXPOSE_HEADERS"];
  if (raw === undefined) {
    for (const name of others) {
      if (get(name) !== undefined) errors.push(`${name}: needs CORS_ALLOW_ORIGINS`);
    }
    return undefined;
  }
  const entries = raw.split(/[\s,]+/).filter((e) => e !== "");
  const any = entries.includes("*");
  const origins = new Set<string>();
  const wildcards: { prefix: string; suffix: string }[] = [];
  if (any && entries.length > 1) {
    errors.push(`CORS_ALLOW_ORIGINS: "*" stands alone (it allows every origin)`);
  }
  if (entries.length === 0) errors.push(`CORS_ALLOW_ORIGINS: names no origin`);
  for (const entry of any ? [] : entries) {
    const parsed = originEntry(entry);
    if ("bad" in parsed) errors.push(`CORS_ALLOW_ORIGINS: ${parsed.bad}`);
    else if ("exact" in parsed) origins.add(parsed.exact);
    else wildcards.push(parsed);
  }
  const rawAge = get("CORS_MAX_AGE") ?? "600";
  if (!/^\d{1,6}$/.test(rawAge) || Number(rawAge) > 86400) {
    errors.push(`CORS_MAX_AGE: "${rawAge}" is not a whole number of seconds from 0 to 86400`);
  }
  const rawCredentials = (get("CORS_ALLOW_CREDENTIALS") ?? "false").toLowerCase();
  const credentials = ["true", "1", "yes", "on"].includes(rawCredentials);
  if (!credentials && !["false", "0", "no", "off"].includes(rawCredentials)) {
    errors.push(`CORS_ALLOW_CREDENTIALS: "${rawCredentials}" must be true or false (on/off)`);
  }
  if (credentials && any) {
    errors.push(
      'CORS_ALLOW_CREDENTIALS: cannot be true with CORS_ALLOW_ORIGINS="*" (browsers refuse ' +
        "credentials for any origin): list the origins",
    );
  }
  const rawExpose = get("CORS_EXPOSE_HEADERS");
  const expose = rawExpose === undefined
    ? DEFAULT_EXPOSE_HEADERS
    : rawExpose.split(/[\s,]+/).filter((e) => e !== "");
  for (const name of expose) {
    if (!TOKEN.test(name)) errors.push(`CORS_EXPOSE_HEADERS: "${name}" is not a header name`);
  }
  return {
    any,
    origins,
    wildcards,
    maxAge: Number(rawAge),
    credentials,
    expose: expose.map((e) => e.toLowerCase()),
  };
}

/**
 * Whether `origin` (the request's `Origin` header) is allowed by `policy`.
 *
 * @example
 * ```ts
 * allowsOrigin(policy, "https://app.example.com"); // true for https://*.example.com
 * ```
 */
export function allowsOrigin(policy: CorsPolicy, origin: string): boolean {
  if (policy.any) return true;
  const o = origin.toLowerCase();
  if (policy.origins.has(o)) return true;
  for (const { prefix, suffix } of policy.wildcards) {
    if (o.length <= prefix.length + suffix.length || !o.startsWith(prefix) || !o.endsWith(suffix)) {
      continue;
    }
    if (LABELS.test(o.slice(prefix.length, o.length - suffix.length))) return true;
  }
  return false;
}

/** Appends `value` to the response's `Vary` unless it is there already. */
function vary(headers: Headers, value: string): void {
  const current = headers.get("vary");
  if (current === null) headers.set("vary", value);
  else if (!current.toLowerCase().split(/\s*,\s*/).includes(value.toLowerCase())) {
    headers.set("vary", `${current}, ${value}`);
  }
}

function allowOrigin(headers: Headers, policy: CorsPolicy, origin: string): void {
  headers.set("access-control-allow-origin", policy.any && !policy.credentials ? "*" : origin);
  if (policy.credentials) headers.set("access-control-allow-credentials", "true");
}

/**
 * The answer to a CORS preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`)
 * for `GET` or `HEAD` from an allowed origin: `204` with the allow headers. Undefined for any
 * other `OPTIONS`, which stays a `405`. `withAuthorization`: the route has access control, so
 * the `Authorization` request header is allowed too.
 *
 * @example
 * ```ts
 * const res = preflight(req.headers, policy, false); // Response (204) or undefined
 * ```
 */
export function preflight(
  headers: Headers,
  policy: CorsPolicy,
  withAuthorization: boolean,
): Response | undefined {
  const origin = headers.get("origin");
  const method = headers.get("access-control-request-method");
  if (origin === null || (method !== "GET" && method !== "HEAD")) return undefined;
  if (!allowsOrigin(policy, origin)) return undefined;
  const out = new Headers({
    "access-control-allow-methods": "GET, HEAD",
    "access-control-allow-headers": ALLOW_HEADERS + (withAuthorization ? ", Authorization" : ""),
    "access-control-max-age": String(policy.maxAge),
    "cache-control": "no-store",
  });
  allowOrigin(out, policy, origin);
  vary(out, "Origin");
  vary(out, "Access-Control-Request-Method");
  vary(out, "Access-Control-Request-Headers");
  return new Response(null, { status: 204, headers: out });
}

/**
 * Puts the CORS headers on an answer (any status) when `origin` is allowed, and `Vary: Origin`
 * on every answer whose headers depend on the origin.
 *
 * @example
 * ```ts
 * applyCors(response.headers, req.headers.get("origin"), policy);
 * ```
 */
export function applyCors(headers: Headers, origin: string | null, policy: CorsPolicy): void {
  if (!policy.any || policy.credentials) vary(headers, "Origin");
  if (origin === null || !allowsOrigin(policy, origin)) return;
  if (policy.any && !policy.credentials) vary(headers, "Origin");
  allowOrigin(headers, policy, origin);
  if (headers.has("access-control-allow-methods")) return; // a preflight: complete already
  const names: string[] = [];
  for (const name of policy.expose) {
    if (!name.endsWith("*")) {
      names.push(name);
      continue;
    }
    const prefix = name.slice(0, -1);
    headers.forEach((_, present) => {
      if (present.startsWith(prefix)) names.push(present);
    });
  }
  if (names.length > 0) headers.set("access-control-expose-headers", names.join(", "));
}

/**
 * Whether a route has access control (`AUTH` names a method other than `none`), so that a
 * preflight allows the `Authorization` header its methods read.
 */
export function hasAccessControl(config: Config): boolean {
  return config.auth.methods.some((m) => m !== "none");
}
