/**
 * From the environment (and the routes file it names) to the routes to serve, each with its
 * credential provider: one provider per distinct set of credentials, however many routes use
 * it, and the process's own chain only when some route relies on it. Used at startup and on
 * every reload, when providers whose credentials did not change are kept (with their caches and
 * refresh loops).
 *
 * @module
 */

import { type Env, regionOf, setting } from "./env.ts";
import type { ServedRoute } from "./handler.ts";
import {
  type CredentialIo,
  type CredentialProvider,
  CredentialsConfigError,
  resolveCredentialProvider,
} from "./credentials/resolve.ts";
import { scopeProblems } from "./s3/scope.ts";
import { defaultRoute, parseRoutes, type RouteSpec } from "./routes.ts";
import { fileErrorMessage } from "./credentials/provider.ts";
import { AuthConfigError, type AuthIo, createAuthenticators } from "./auth/index.ts";
import type { Authenticator } from "./auth/method.ts";

/** What loading reads besides the environment. */
export interface SetupIo {
  readonly credentials: CredentialIo;
  /** `st_mode` of a file, or undefined where the runtime cannot tell. */
  readonly fileMode: (path: string) => Promise<number | undefined>;
}

/** The access-control I/O, from the credential I/O. */
function authIo(io: SetupIo): AuthIo {
  const c = io.credentials;
  return {
    readTextFile: c.readTextFile,
    fileMode: io.fileMode,
    fetch: c.fetch,
    now: c.now,
    log: c.log,
    setTimeout: c.setTimeout,
    clearTimeout: c.clearTimeout,
  };
}

/** Routes ready to serve, and the providers behind them (by credential key). */
export interface Loaded {
  readonly routes: readonly (ServedRoute & { readonly credentials: CredentialProvider })[];
  readonly providers: ReadonlyMap<string, CredentialProvider>;
  /** The access-control methods behind them (by method and settings). */
  readonly authenticators: ReadonlyMap<string, Authenticator>;
  /** The routes file's text as read (to notice a change), or undefined without one. */
  readonly fileText?: string;
}

/** Result of {@linkcode loadRoutes}. */
export type LoadResult =
  | ({ readonly ok: true } & Loaded)
  | { readonly ok: false; readonly errors: string[] };

/** Checks that a configured signing key's scope fits the route (region, service). */
export function keyScopeProblems(env: Env, region: string): string[] {
  const scope = setting(env, "AWS_KEY_SCOPE");
  if (!scope || !setting(env, "AWS_SIGNING_KEY")) return [];
  return scopeProblems(scope, region).map((p) => "AWS_KEY_SCOPE: " + p);
}

/**
 * The routes of this environment (from `ROUTES_FILE`, or one route at `/` without it), with
 * every problem found; `specs` holds the valid ones, so their credentials are checked too.
 */
async function readSpecs(
  env: Env,
  io: SetupIo,
): Promise<{ specs: readonly RouteSpec[]; errors: string[]; fileText?: string }> {
  const path = setting(env, "ROUTES_FILE");
  if (path === undefined) return defaultRoute(env);
  let text: string;
  try {
    text = await io.credentials.readTextFile(path);
  } catch (e) {
    return { specs: [], errors: [`ROUTES_FILE: cannot read ${path}: ${fileErrorMessage(e)}`] };
  }
  const mode = await io.fileMode(path).catch(() => undefined);
  const parsed = parseRoutes({ path, text, mode }, env);
  return { specs: parsed.routes, errors: parsed.ok ? [] : parsed.errors, fileText: text };
}

/**
 * Loads the routes and their credentials. With `previous` (a reload), providers for unchanged
 * credentials are reused; new ones are resolved (and closed again when the load fails).
 *
 * @example
 * ```ts
 * const loaded = await loadRoutes(env, io);
 * if (!loaded.ok) for (const e of loaded.errors) console.error(e);
 * ```
 */
export async function loadRoutes(
  env: Env,
  io: SetupIo,
  previous: Pick<Loaded, "providers" | "authenticators"> = {
    providers: new Map(),
    authenticators: new Map(),
  },
): Promise<LoadResult> {
  const read = await readSpecs(env, io);
  const { specs } = read;
  const errors = [...read.errors];
  const many = setting(env, "ROUTES_FILE") !== undefined;
  const name = (spec: RouteSpec) => many ? `route ${specs.indexOf(spec)} (${spec.prefix}): ` : "";
  for (const spec of specs) {
    const region = spec.config?.region ?? regionOf(env);
    for (const p of keyScopeProblems(spec.credentialEnv ?? env, region)) {
      errors.push(name(spec) + p);
    }
  }
  const refreshAheadMs = Math.max(
    300_000,
    ...specs.map((s) => (s.config?.presignExpires ?? 0) * 1000),
  );
  const providers = new Map<string, CredentialProvider>();
  const created: CredentialProvider[] = [];
  for (const spec of specs) {
    if (providers.has(spec.credentialKey)) continue;
    let provider = previous.providers.get(spec.credentialKey);
    if (!provider) {
      try {
        provider = await resolveCredentialProvider(spec.credentialEnv ?? env, io.credentials, {
          refreshAheadMs,
        });
        created.push(provider);
      } catch (e) {
        if (!(e instanceof CredentialsConfigError)) throw e;
        const users = specs.filter((s) => s.credentialKey === spec.credentialKey);
        const who = spec.credentialEnv || !many
          ? name(spec)
          : `the environment's credentials (for ${users.map((s) => s.prefix).join(", ")}): `;
        errors.push(who + e.message.replaceAll("\n", "\n    "));
        continue;
      }
    }
    providers.set(spec.credentialKey, provider);
  }
  const authenticators = new Map(previous.authenticators);
  const auth = await routeAuthenticators(specs, authIo(io), authenticators, name, errors);
  const used = new Set([...auth.values()].flat());
  for (const [key, a] of authenticators) {
    if (used.has(a)) continue;
    authenticators.delete(key);
    if (![...previous.authenticators.values()].includes(a)) a.close?.();
  }
  if (errors.length > 0) {
    for (const provider of created) provider.close?.();
    for (const a of used) if (![...previous.authenticators.values()].includes(a)) a.close?.();
    return { ok: false, errors };
  }
  const routes = servedRoutes(specs, providers, auth);
  return { ok: true, routes, providers, authenticators, fileText: read.fileText };
}

/**
 * Each route's authenticators, created through `shared` (one per method and settings, reused
 * across routes and reloads); a method that cannot start is a problem named by its route.
 * Routes without a configuration, or that `skip` names, get none.
 */
export async function routeAuthenticators(
  specs: readonly RouteSpec[],
  io: AuthIo,
  shared: Map<string, Authenticator>,
  name: (spec: RouteSpec) => string,
  errors: string[],
  skip: (spec: RouteSpec) => boolean = () => false,
): Promise<Map<RouteSpec, Authenticator[]>> {
  const auth = new Map<RouteSpec, Authenticator[]>();
  for (const spec of specs) {
    if (!spec.config || skip(spec)) continue;
    try {
      auth.set(
        spec,
        await createAuthenticators(spec.config.auth, spec.config.region, io, shared),
      );
    } catch (e) {
      if (!(e instanceof AuthConfigError)) throw e;
      errors.push(`${name(spec)}AUTH: ${e.message}`);
    }
  }
  return auth;
}

/** The routes to serve: each one's settings with its provider and authenticators. */
export function servedRoutes(
  specs: readonly RouteSpec[],
  providers: ReadonlyMap<string, CredentialProvider>,
  auth: ReadonlyMap<RouteSpec, Authenticator[]>,
): (ServedRoute & { readonly credentials: CredentialProvider })[] {
  return specs.map((spec) => ({
    prefix: spec.prefix,
    segments: spec.segments,
    config: spec.config,
    credentials: providers.get(spec.credentialKey)!,
    auth: auth.get(spec),
  }));
}
