/**
 * The Cloudflare Workers entry: a module Worker (`export default { fetch }`) serving the same
 * handler as `main.ts` (`createRouter`), configured from the Worker's bindings instead of the
 * process environment. Vars and secrets carry the environment variables' names
 * (`AWS_ACCESS_KEY_ID`, `S3_BUCKET`, ...); `ROUTES` (a JSON string or a JSON binding) holds what a
 * routes file holds, `{"routes": [...]}`.
 *
 * A Worker has no files, no instance metadata and no container endpoint: credentials are keys
 * (and a session token) or a signing key and its scope, from secrets. A setting that needs a file
 * or one of those sources is a configuration error here, and so is every other problem
 * `main.ts` would refuse to start with; a Worker cannot refuse to start, so it answers every
 * request with a `503` naming every problem (never a secret), and logs them.
 *
 * The configuration is built once per isolate, on the first request (keyed by the `env` object).
 * The peer address is `CF-Connecting-IP`, which Cloudflare's edge sets on every request (a client
 * cannot choose it there); `ALLOW_CIDRS` and `TRUSTED_PROXIES` work from it.
 *
 * Build: `bun build src/worker.ts --target browser --format esm` (wrangler bundles it itself).
 *
 * @module
 */

import type { Config } from "./config.ts";
import { type Env, regionOf, setting } from "./env.ts";
import { createRouter, type Handler, type LogEntry, type ServedRoute } from "./handler.ts";
import { defaultRoute, parseRoutes, type RouteSpec } from "./routes.ts";
import { environmentProvider } from "./credentials/env.ts";
import { type CredentialProvider, errorMessage } from "./credentials/provider.ts";
import type { AuthIo } from "./auth/index.ts";
import { keyScopeProblems, routeAuthenticators, servedRoutes } from "./setup.ts";
import type { Authenticator } from "./auth/method.ts";
import { logFilter, parseOpsSettings } from "./ops/settings.ts";

/** A Worker's bindings: strings (vars, secrets), JSON values (vars), or platform objects. */
export type Bindings = Readonly<Record<string, unknown>>;

/** Settings that need a file, or a credential source a Worker cannot reach, and what to use. */
export const UNAVAILABLE_ON_WORKERS: ReadonlyMap<string, string> = new Map([
  ["ROUTES_FILE", "put the routes document in the ROUTES binding (JSON)"],
  [
    "AWS_SIGNING_KEY_FILE",
    "set AWS_SIGNING_KEY and AWS_KEY_SCOPE as secrets (one UTC day's key) instead",
  ],
  ["AWS_PROFILE", "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY as secrets instead"],
  ["AWS_SHARED_CREDENTIALS_FILE", "set the keys as secrets instead"],
  ["AWS_CONFIG_FILE", "set the keys as secrets instead"],
  ["AWS_WEB_IDENTITY_TOKEN_FILE", "web identity reads a token file; set the keys as secrets"],
  ["AWS_ROLE_ARN", "web identity reads a token file; set the keys as secrets"],
  ["AWS_CONTAINER_CREDENTIALS_FULL_URI", "there is no container endpoint; set the keys as secrets"],
  [
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "there is no container endpoint; set the keys as secrets",
  ],
  ["AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", "there is no container endpoint"],
  ["AUTH_BASIC_FILE", "AUTH=basic reads an htpasswd file"],
  ["AUTH_SIGV4_KEYS_FILE", "AUTH=sigv4 reads a keys file"],
]);

/** Access-control methods that read a file, so cannot run on a Worker. */
const FILE_AUTH_METHODS = ["basic", "sigv4"] as const;

/** What the bindings configure: routes ready to serve, or every problem. */
export type WorkerSetup =
  | {
    readonly ok: true;
    readonly routes: readonly ServedRoute[];
    readonly providers: readonly CredentialProvider[];
  }
  | { readonly ok: false; readonly errors: readonly string[] };

/**
 * The bindings as an environment: strings as they are, numbers and booleans (JSON vars) as
 * text, `ROUTES` given as a JSON object as its JSON text; platform objects (KV, R2, ...) are left
 * out. A setting bound to something else is a problem.
 */
export function bindingsEnv(bindings: Bindings): { env: Env; errors: string[] } {
  const env: Record<string, string> = {};
  const errors: string[] = [];
  for (const [name, value] of Object.entries(bindings)) {
    if (typeof value === "string") env[name] = value;
    else if (typeof value === "number" || typeof value === "boolean") env[name] = String(value);
    else if (name === "ROUTES" && isPlainJson(value)) env[name] = JSON.stringify(value);
    else if (name === "ROUTES") errors.push("ROUTES: must be JSON text or a JSON binding");
  }
  return { env, errors };
}

function isPlainJson(value: unknown): boolean {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === Array.prototype || proto === null;
}

/** The settings of `env` that cannot work on a Worker, each with what to do instead. */
function unavailable(env: Env, only?: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const [name, instead] of UNAVAILABLE_ON_WORKERS) {
    if (setting(env, name) === undefined || (only && !only(name))) continue;
    out.push(`${name}: not available on Workers (no files or metadata endpoints): ${instead}`);
  }
  return out;
}

function fileAuthProblems(config: Config | undefined): string[] {
  if (!config) return [];
  return FILE_AUTH_METHODS.filter((m) => config.auth.methods.includes(m)).map((m) =>
    `AUTH=${m}: not available on Workers (it reads a file); use jwt or none`
  );
}

/** Where a Worker has no file: every read is refused, naming the path. */
function noFile(path: string): Promise<never> {
  return Promise.reject(new Error(`no files on Workers (${path})`));
}

/** The routes of the bindings: `ROUTES`, or one route at `/` from the settings. */
function routeSpecs(env: Env): { specs: readonly RouteSpec[]; errors: string[]; many: boolean } {
  const text = setting(env, "ROUTES");
  if (text === undefined) return { ...defaultRoute(env), many: false };
  const parsed = parseRoutes({ path: "ROUTES", label: "ROUTES", text }, env);
  return { specs: parsed.routes, errors: parsed.ok ? [] : parsed.errors, many: true };
}

/**
 * Reads a Worker's configuration from its bindings: the routes, each with its credential
 * provider (the environment source: keys, or a signing key and scope) and access control. Every
 * problem at once; no message holds a secret's value.
 *
 * @example
 * ```ts
 * const setup = await setupWorker({ AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "S" }, log);
 * if (!setup.ok) console.error(setup.errors.join("\n"));
 * ```
 */
export async function setupWorker(
  bindings: Bindings,
  log: (entry: LogEntry) => void,
  fetchFn: typeof fetch = fetch,
  now: () => number = Date.now,
): Promise<WorkerSetup> {
  const read = bindingsEnv(bindings);
  const { env } = read;
  const ops = parseOpsSettings(env);
  const errors = [...read.errors, ...(ops.ok ? [] : ops.errors), ...unavailable(env)];
  const { specs, errors: specErrors, many } = routeSpecs(env);
  errors.push(...specErrors);
  const name = (spec: RouteSpec) => many ? `route ${specs.indexOf(spec)} (${spec.prefix}): ` : "";
  const providers = new Map<string, CredentialProvider>();
  for (const spec of specs) {
    for (const p of fileAuthProblems(spec.config)) errors.push(name(spec) + p);
    if (providers.has(spec.credentialKey)) continue;
    const own = spec.credentialEnv;
    const credEnv = own ?? env;
    if (own) {
      // The route's own credentials: settings it names that the bindings do not.
      for (const p of unavailable(own, (n) => own[n] !== env[n])) errors.push(name(spec) + p);
    }
    const who = own || !many ? name(spec) : "the bindings' credentials: ";
    const region = spec.config?.region ?? regionOf(credEnv);
    for (const p of keyScopeProblems(credEnv, region)) errors.push(who + p);
    if (setting(credEnv, "AWS_SIGNING_KEY_FILE") !== undefined) continue; // reported above
    try {
      const found = await environmentProvider(credEnv, { readTextFile: noFile, now, log });
      if ("absent" in found) {
        errors.push(
          `${who}no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and ` +
            "AWS_SESSION_TOKEN), or AWS_ACCESS_KEY_ID, AWS_SIGNING_KEY and AWS_KEY_SCOPE, as " +
            "secrets (wrangler secret put NAME)",
        );
        continue;
      }
      providers.set(spec.credentialKey, found.provider);
    } catch (e) {
      errors.push(`${who}AWS credentials: ${errorMessage(e)}`);
    }
  }
  const authIo: AuthIo = { readTextFile: noFile, fileMode: noFile, fetch: fetchFn, now, log };
  const auth = await routeAuthenticators(
    specs,
    authIo,
    new Map<string, Authenticator>(),
    name,
    errors,
    (spec) => fileAuthProblems(spec.config).length > 0,
  );
  if (errors.length > 0) return { ok: false, errors };
  const routes = servedRoutes(specs, providers, auth);
  return { ok: true, routes, providers: [...new Set(providers.values())] };
}

/** One JSON line per entry on the Worker's log (`wrangler tail`, the dashboard). */
function consoleLog(entry: LogEntry): void {
  console.log(
    JSON.stringify("time" in entry ? entry : { time: new Date().toISOString(), ...entry }),
  );
}

/** The answer to every request of a Worker whose configuration is bad. */
function badConfiguration(errors: readonly string[]): Response {
  const body = "s3 signing proxy: bad configuration:\n" + errors.map((e) => `  - ${e}\n`).join("");
  return new Response(body, {
    status: 503,
    headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" },
  });
}

/** What the Worker touches; each defaults to the runtime's own. */
export interface WorkerDeps {
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
  readonly log?: (entry: LogEntry) => void;
}

/** A module Worker's shape. */
export interface ModuleWorker {
  fetch(request: Request, env: Bindings, ctx?: unknown): Promise<Response>;
}

/**
 * A module Worker over these deps. The handler is built once per bindings object (once per
 * isolate on Cloudflare), on the first request; a bad configuration is logged then, and every
 * request gets the `503` that names its problems.
 *
 * @example
 * ```ts
 * const worker = createWorker({ log: () => {} });
 * const res = await worker.fetch(new Request("http://proxy/bucket/key"), { S3_BUCKET: "x" });
 * ```
 */
export function createWorker(deps: WorkerDeps = {}): ModuleWorker {
  const sink = deps.log ?? consoleLog;
  const now = deps.now ?? Date.now;
  // Wrapped, not passed as it is: workerd throws "Illegal invocation" for its fetch called
  // with another `this` than the global (a method call on an I/O object, say).
  const fetchFn: typeof fetch = deps.fetch ?? ((input, init) => fetch(input, init));
  const handlers = new WeakMap<object, Promise<Handler>>();

  async function build(bindings: Bindings): Promise<Handler> {
    // LOG_LEVEL and ACCESS_LOG, as in main.ts (a bad value is reported with the rest).
    const ops = parseOpsSettings(bindingsEnv(bindings).env);
    const keep = logFilter(ops.ok ? ops.settings : { logLevel: "info", accessLog: true });
    const log = (entry: LogEntry) => {
      if (keep(entry)) sink(entry);
    };
    const setup = await setupWorker(bindings, log, fetchFn, now);
    if (!setup.ok) {
      log({ level: "error", event: "bad_configuration", errors: setup.errors });
      const errors = setup.errors;
      return () => Promise.resolve(badConfiguration(errors));
    }
    const routes = setup.routes;
    log({
      level: "info",
      event: "configured",
      routes: routes.map((r) => r.prefix),
      credentials: setup.providers.map((p) => p.source),
    });
    const open = routes.filter((r) => !r.auth?.length).map((r) => r.prefix);
    if (open.length > 0) {
      log({
        level: "warn",
        event: "open_routes",
        routes: open,
        message:
          "no access control (AUTH=none): anyone who can reach the Worker reads these routes",
      });
    }
    return createRouter(routes, { fetch: fetchFn, now, log });
  }

  function handlerFor(env: Bindings): Promise<Handler> {
    let handler = handlers.get(env);
    if (!handler) {
      handler = build(env);
      handlers.set(env, handler);
      // A bug, not a configuration problem: try again on the next request.
      handler.catch(() => handlers.delete(env));
    }
    return handler;
  }

  return {
    async fetch(request, env) {
      let handler: Handler;
      try {
        handler = await handlerFor(env ?? NO_BINDINGS);
      } catch (e) {
        // The name only: a message might quote a binding.
        const error = e instanceof Error ? e.name : "error";
        sink({ level: "error", event: "setup_failed", error });
        return new Response("internal error\n", {
          status: 500,
          headers: { "cache-control": "no-store" },
        });
      }
      // Set by Cloudflare's edge on every request (and by wrangler dev); never sent upstream.
      const peer = request.headers.get("cf-connecting-ip")?.trim();
      return handler(request, { remoteAddr: peer || undefined });
    },
  };
}

const NO_BINDINGS: Bindings = Object.freeze({});

/** The module Worker (wrangler.toml's `main`). */
export default createWorker();
