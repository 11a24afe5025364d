/**
 * Routes: several buckets, endpoints, regions and credentials behind one proxy, each under a
 * path prefix. This module reads and validates a routes file (`{"routes": [ROUTE, ...]}`) into
 * typed routes, and matches a request path to its route. Pure: the file's text, its mode and the
 * environment are inputs.
 *
 * A ROUTE holds a `"prefix"` and any per-route setting under the name of its environment
 * variable; what it leaves out comes from the environment, then the default. Every problem is
 * reported at once, naming the route (index and prefix) and the key; no value of a credential
 * setting ever appears in a message.
 *
 * @module
 */

import { AUTH_SETTINGS } from "./auth/config.ts";
import { type Config, parseConfig } from "./config.ts";
import type { Env } from "./env.ts";
import { decodeStrict } from "./s3/encode.ts";

/** Settings a route may carry besides its credentials, under their environment names. */
export const ROUTE_SETTINGS: readonly string[] = [
  "S3_BUCKET",
  "AWS_REGION",
  "AWS_DEFAULT_REGION",
  "AWS_ENDPOINT_HOST",
  "AWS_ENDPOINT_HOST_EXTERNAL",
  "AWS_ENDPOINT_SCHEME",
  "S3_ADDRESSING_STYLE",
  "PRESIGN_EXPIRES",
  "PROXY_PATTERN",
  "REDIRECT",
  "LISTING",
  "LISTING_CACHE_SECONDS",
  "S3_LIST_BUCKETS",
  "UPSTREAM_TIMEOUT",
  "ALLOW_CIDRS",
  "TRUSTED_PROXIES",
  "INDEX_DOCUMENT",
  "ERROR_DOCUMENT",
  "SPA_FALLBACK",
  "CACHE_CONTROL",
  ...AUTH_SETTINGS,
  "CORS_ALLOW_ORIGINS",
  "CORS_MAX_AGE",
  "CORS_ALLOW_CREDENTIALS",
  "CORS_EXPOSE_HEADERS",
];

/** A route's own credentials, in one of the chain's forms; their values are secrets. */
export const CREDENTIAL_SETTINGS: readonly string[] = [
  "AWS_ACCESS_KEY_ID",
  "AWS_SECRET_ACCESS_KEY",
  "AWS_SESSION_TOKEN",
  "AWS_SIGNING_KEY",
  "AWS_KEY_SCOPE",
  "AWS_SIGNING_KEY_FILE",
  "AWS_PROFILE",
  "AWS_ROLE_ARN",
  "AWS_WEB_IDENTITY_TOKEN_FILE",
];

/** Settings whose value is a secret: a file holding one must not be readable by others. */
const SECRET_SETTINGS = ["AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SIGNING_KEY"];

/** Settings of the process, not of a route. */
const SERVER_SETTINGS: readonly string[] = [
  "PORT",
  "HOST",
  "IDLE_TIMEOUT",
  "ROUTES_FILE",
  "ADMIN_PORT",
  "ADMIN_HOST",
  "SHUTDOWN_DELAY",
  "LOG_LEVEL",
  "ACCESS_LOG",
  "AWS_SHARED_CREDENTIALS_FILE",
  "AWS_CONFIG_FILE",
  "AWS_ROLE_SESSION_NAME",
  "AWS_STS_REGIONAL_ENDPOINTS",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
  "AWS_EC2_METADATA_DISABLED",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT",
  "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
  "AWS_METADATA_SERVICE_TIMEOUT",
  "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
];

/** Every variable a credential source reads, cleared for a route that names its own. */
const CHAIN_VARIABLES: readonly string[] = [
  ...CREDENTIAL_SETTINGS,
  "AWS_ROLE_SESSION_NAME",
  "AWS_CONTAINER_CREDENTIALS_FULL_URI",
  "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN",
  "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
];

/** One route, validated. */
export interface RouteSpec {
  /** As written: starts and ends with `/`. */
  readonly prefix: string;
  /** The prefix's decoded segments (`/a/b/` -> `["a", "b"]`; `/` -> `[]`). */
  readonly segments: readonly string[];
  readonly config: Config;
  /**
   * The environment of this route's own credential chain (the process environment without its
   * credentials, plus the route's), or undefined: the route uses the process's credentials.
   */
  readonly credentialEnv?: Env;
  /** Equal for routes that name the same credentials (and region): they share one provider. */
  readonly credentialKey: string;
}

/**
 * Result of {@linkcode parseRoutes}: the routes, or every problem found (and the routes that
 * were valid, so that their credentials can be checked too).
 */
export type RoutesResult =
  | { readonly ok: true; readonly routes: readonly RouteSpec[] }
  | { readonly ok: false; readonly errors: string[]; readonly routes: readonly RouteSpec[] };

/** What {@linkcode parseRoutes} reads besides the environment. */
export interface RoutesFile {
  /** The path, for messages. */
  readonly path: string;
  readonly text: string;
  /** `st_mode` of the file, when known: a file with secrets must not be group/other-readable. */
  readonly mode?: number;
  /** What messages call the document (a Worker's `ROUTES` binding); `ROUTES_FILE (path)` without. */
  readonly label?: string;
}

/**
 * Splits a route prefix into its segments, or answers a problem. Segments are written decoded
 * (`/my files/`) or percent-encoded (`/my%20files/`); either way a segment is matched against
 * the decoded segment of the request.
 *
 * @example
 * ```ts
 * prefixSegments("/myfiles/"); // ["myfiles"]
 * prefixSegments("/"); // []
 * ```
 */
export function prefixSegments(prefix: string): string[] | string {
  if (!prefix.startsWith("/") || !prefix.endsWith("/")) return "must start and end with /";
  if (prefix === "/") return [];
  const segments: string[] = [];
  for (const raw of prefix.slice(1, -1).split("/")) {
    const segment = decodeStrict(raw);
    if (segment === undefined) return "is not valid percent-encoded UTF-8";
    if (segment === "" || segment === "." || segment === ".." || segment.includes("/")) {
      return "has an empty, '.', '..' or encoded-slash segment";
    }
    if (raw.includes("?") || raw.includes("#") || raw.includes("\\")) {
      return "holds '?', '#' or '\\'";
    }
    segments.push(segment);
  }
  return segments;
}

/**
 * Reads a routes file. Every problem at once, each naming the route and the key.
 *
 * @example
 * ```ts
 * const result = parseRoutes({ path: "routes.json", text: '{"routes":[{"prefix":"/"}]}' }, env);
 * if (!result.ok) console.error(result.errors.join("\n"));
 * ```
 */
export function parseRoutes(file: RoutesFile, env: Env): RoutesResult {
  const where = file.label ?? `ROUTES_FILE (${file.path})`;
  let doc: unknown;
  try {
    doc = JSON.parse(file.text);
  } catch (e) {
    // The parser's message may quote the file, which may hold a secret: only the position.
    const at = /position (\d+)/.exec(String(e))?.[1];
    const errors = [`${where}: not valid JSON${at ? ` (at character ${at})` : ""}`];
    return { ok: false, errors, routes: [] };
  }
  if (!isObject(doc) || !Array.isArray(doc.routes)) {
    const errors = [`${where}: must be a JSON object {"routes": [ROUTE, ...]}`];
    return { ok: false, errors, routes: [] };
  }
  const errors: string[] = [];
  for (const key of Object.keys(doc)) {
    if (key !== "routes") errors.push(`${where}: unknown key "${key}" (only "routes" is read)`);
  }
  if (doc.routes.length === 0) errors.push(`${where}: "routes" is empty`);
  const base = parseConfig(env);
  const baseErrors = new Set(base.ok ? [] : base.errors);
  const routes: RouteSpec[] = [];
  const seen = new Map<string, string>();
  let secrets = "";
  doc.routes.forEach((raw: unknown, index: number) => {
    const name = isObject(raw) && typeof raw.prefix === "string"
      ? `route ${index} (${raw.prefix})`
      : `route ${index}`;
    const problems: string[] = [];
    const route = parseRoute(raw, env, problems);
    for (const p of problems) if (!baseErrors.has(p)) errors.push(`${where}: ${name}: ${p}`);
    // Duplicates and secrets are checked on routes with other problems too: every problem at
    // once, and a world-readable secret is reported whatever else is wrong.
    const segments = isObject(raw) && typeof raw.prefix === "string"
      ? prefixSegments(raw.prefix)
      : undefined;
    if (Array.isArray(segments)) {
      const matchKey = segments.join("/");
      const twin = seen.get(matchKey);
      if (twin !== undefined) {
        errors.push(`${where}: ${name}: the prefix is the same as ${twin}'s`);
      }
      seen.set(matchKey, name);
    }
    if (!secrets && isObject(raw)) {
      const secret = SECRET_SETTINGS.find((k) => raw[k] !== undefined);
      if (secret) secrets = `${secret} in ${name}`;
    }
    if (route) routes.push(route);
  });
  if (secrets && file.mode !== undefined && (file.mode & 0o077) !== 0) {
    errors.push(
      `${where}: holds a secret (${secrets}) but is readable by group or others (mode ` +
        `${(file.mode & 0o777).toString(8).padStart(4, "0")}); make it private, as ssh ` +
        `requires of a key file: chmod 600 ${file.path}`,
    );
  }
  if (!base.ok) errors.unshift(...base.errors);
  return errors.length > 0 ? { ok: false, errors, routes } : { ok: true, routes };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** One route, or undefined with its problems pushed (without the route's name). */
function parseRoute(raw: unknown, env: Env, problems: string[]): RouteSpec | undefined {
  if (!isObject(raw)) {
    problems.push("must be a JSON object");
    return undefined;
  }
  let segments: string[] | undefined;
  if (typeof raw.prefix !== "string") {
    problems.push('"prefix" is required: a path such as "/files/"');
  } else {
    const parsed = prefixSegments(raw.prefix);
    if (typeof parsed === "string") problems.push(`"prefix" ${parsed}`);
    else segments = parsed;
  }
  const settings: Record<string, string> = {};
  const credentials: Record<string, string> = {};
  for (const [key, value] of Object.entries(raw)) {
    if (key === "prefix") continue;
    const secret = CREDENTIAL_SETTINGS.includes(key);
    if (!secret && !ROUTE_SETTINGS.includes(key)) {
      problems.push(unknownKey(key));
      continue;
    }
    if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
      problems.push(`${key}: must be a JSON string, number or boolean`);
      continue;
    }
    (secret ? credentials : settings)[key] = String(value);
  }
  problems.push(...credentialProblems(credentials));
  if (!("AUTH" in settings)) {
    problems.push(
      "AUTH: required on every route of a routes file (none, basic, jwt, sigv4): " +
        "nothing is public by omission",
    );
  }
  // A route that names a region names it whole: the environment's other region variable
  // (AWS_REGION wins over AWS_DEFAULT_REGION) must not override it.
  const inherited: Record<string, string | undefined> = { ...env };
  if ("AWS_REGION" in settings || "AWS_DEFAULT_REGION" in settings) {
    delete inherited.AWS_REGION;
    delete inherited.AWS_DEFAULT_REGION;
  }
  const parsed = parseConfig({ ...inherited, ...settings });
  if (!parsed.ok) problems.push(...parsed.errors);
  if (!parsed.ok || segments === undefined || problems.length > 0) return undefined;
  const own = Object.keys(credentials).length > 0;
  const credentialEnv = own ? chainEnv(env, credentials, parsed.config.region) : undefined;
  return {
    prefix: raw.prefix as string,
    segments,
    config: parsed.config,
    credentialEnv,
    credentialKey: own
      ? JSON.stringify([parsed.config.region, Object.entries(credentials).sort()])
      : "process",
  };
}

/** The environment of a route's own credential chain: nothing of the process's credentials. */
function chainEnv(env: Env, credentials: Record<string, string>, region: string): Env {
  const out: Record<string, string | undefined> = { ...env };
  for (const name of CHAIN_VARIABLES) delete out[name];
  // The route's credentials are the only source: never fall through to instance metadata.
  return { ...out, ...credentials, AWS_REGION: region, AWS_EC2_METADATA_DISABLED: "true" };
}

/** Pairs that must go together, and forms that must not be mixed. */
function credentialProblems(c: Record<string, string>): string[] {
  const has = (k: string) => k in c;
  const problems: string[] = [];
  const keyForms = ["AWS_SECRET_ACCESS_KEY", "AWS_SIGNING_KEY", "AWS_SIGNING_KEY_FILE"]
    .filter(has);
  const forms = [
    keyForms.length > 0 || has("AWS_ACCESS_KEY_ID") ? "access keys" : "",
    has("AWS_PROFILE") ? "AWS_PROFILE" : "",
    has("AWS_ROLE_ARN") || has("AWS_WEB_IDENTITY_TOKEN_FILE") ? "web identity" : "",
  ].filter((f) => f !== "");
  if (forms.length > 1) {
    problems.push(`credentials: name one form, not ${forms.join(" and ")}`);
  }
  if (has("AWS_ACCESS_KEY_ID") && keyForms.length === 0) {
    problems.push(
      "AWS_ACCESS_KEY_ID: needs AWS_SECRET_ACCESS_KEY, AWS_SIGNING_KEY + AWS_KEY_SCOPE, or " +
        "AWS_SIGNING_KEY_FILE",
    );
  }
  if (keyForms.length > 1) problems.push(`credentials: name one of ${keyForms.join(", ")}`);
  for (const k of keyForms) {
    if (!has("AWS_ACCESS_KEY_ID")) problems.push(`${k}: needs AWS_ACCESS_KEY_ID`);
  }
  if (has("AWS_SESSION_TOKEN") && !has("AWS_SECRET_ACCESS_KEY")) {
    problems.push("AWS_SESSION_TOKEN: needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
  }
  if (has("AWS_SIGNING_KEY") !== has("AWS_KEY_SCOPE")) {
    problems.push(
      has("AWS_SIGNING_KEY")
        ? "AWS_SIGNING_KEY: needs AWS_KEY_SCOPE"
        : "AWS_KEY_SCOPE: needs AWS_SIGNING_KEY",
    );
  }
  if (has("AWS_ROLE_ARN") !== has("AWS_WEB_IDENTITY_TOKEN_FILE")) {
    problems.push(
      has("AWS_ROLE_ARN")
        ? "AWS_ROLE_ARN: needs AWS_WEB_IDENTITY_TOKEN_FILE"
        : "AWS_WEB_IDENTITY_TOKEN_FILE: needs AWS_ROLE_ARN",
    );
  }
  return problems;
}

/** The message for a key that is not a route setting: server-level, or a likely misspelling. */
function unknownKey(key: string): string {
  if (SERVER_SETTINGS.includes(key)) {
    return `${key}: is a setting of the whole server, not of a route: set it in the environment`;
  }
  const known = [...ROUTE_SETTINGS, ...CREDENTIAL_SETTINGS];
  const near = known.find((k) => distance(k.toUpperCase(), key.toUpperCase()) <= 2);
  return `unknown key "${key}"${near ? ` (did you mean ${near}?)` : ""}`;
}

/** Levenshtein distance, for the "did you mean" hint. */
function distance(a: string, b: string): number {
  let row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/**
 * The one route at `/` that serves without a routes file, configured by the environment, with
 * the problems of that configuration. It is returned even when the configuration is bad (its
 * `config` is then not to be served), so that the process's credentials are checked too.
 */
export function defaultRoute(env: Env): { specs: readonly RouteSpec[]; errors: string[] } {
  const parsed = parseConfig(env);
  return {
    specs: [{
      prefix: "/",
      segments: [],
      config: (parsed.ok ? parsed.config : undefined)!,
      credentialKey: "process",
    }],
    errors: parsed.ok ? [] : parsed.errors,
  };
}

/** A route mounted at its prefix. */
export interface Mount<T> {
  readonly segments: readonly string[];
  readonly value: T;
}

/** The route a path falls under, and the rest of the path (what the root would see). */
export interface Match<T> {
  readonly mount: Mount<T>;
  /** The raw rest of the path, starting with `/` (`/myfiles` under `/myfiles/` is `/`). */
  readonly rest: string;
  /** The path asked for the route's root without its slash (`/myfiles`). */
  readonly bare: boolean;
}

/**
 * The longest prefix, aligned on segments, under which a raw path (dot segments already
 * resolved) falls. Each raw segment is decoded strictly before it is compared, so `%2F` never
 * matches a `/` and `my%20files` matches `my files`. Undefined when no route matches.
 *
 * @example
 * ```ts
 * matchMount([{ segments: ["b"], value: 1 }], "/b/x.txt"); // { mount: ..., rest: "/x.txt", bare: false }
 * matchMount([{ segments: ["b"], value: 1 }], "/bX/x.txt"); // undefined
 * ```
 */
export function matchMount<T>(mounts: readonly Mount<T>[], path: string): Match<T> | undefined {
  let raw: string[] | undefined;
  let best: Match<T> | undefined;
  for (const mount of mounts) {
    const n = mount.segments.length;
    if (best && best.mount.segments.length >= n) continue;
    // The route at `/` takes the path as it is: no split on the common one-route path.
    if (n === 0) {
      best = { mount, rest: path, bare: false };
      continue;
    }
    raw ??= path.split("/");
    if (raw.length < n + 1) continue;
    let ok = true;
    for (let i = 0; i < n && ok; i++) {
      const segment = raw[i + 1];
      ok = segment === mount.segments[i] || decodeStrict(segment) === mount.segments[i];
    }
    if (!ok) continue;
    const bare = raw.length === n + 1;
    best = { mount, rest: bare ? "/" : "/" + raw.slice(n + 1).join("/"), bare };
  }
  return best;
}
