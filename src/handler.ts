/**
 * The web-standard handler: `createRouter(routes, deps)` (several routes under path prefixes) or
 * `createHandler(config, deps)` (one route at `/`) returns `(Request) => Promise<Response>`.
 * Everything that touches the world (fetch, clock, credentials, log) is passed in.
 *
 * The way of a request: parse and validate the target (`400` here, never later) -> match a route
 * by prefix -> {@linkcode decideRoute} (pure) -> dispatch to one module of `proxy/` (upstream,
 * relay, folder, redirect: see `proxy/dispatch.ts`) -> an error answer for whatever was thrown
 * on the way -> the headers of every answer (`proxy/finish.ts`) -> one access-log line. Data
 * flows one way; the per-request facts travel as values (`Exchange`, `Facts`).
 *
 * @module
 */

import type { Config } from "./config.ts";
import type { CredentialProvider } from "./credentials/provider.ts";
import { checkMethod, classifyClient, decideRoute, parseTarget, type Target } from "./route.ts";
import { matchMount, type Mount } from "./routes.ts";
import { clientAddress, isAllowed } from "./net.ts";
import { checkHead } from "./limits.ts";
import { type Admitted, authenticate, type Authenticator, mayRead } from "./auth/method.ts";
import {
  type Backend,
  backendOf,
  type ConnInfo,
  type Handler,
  type LogEntry,
  type ServedRoute,
} from "./proxy/context.ts";
import { dispatch, readTarget } from "./proxy/dispatch.ts";
import { countBytes, finishResponse } from "./proxy/finish.ts";
import { type ErrorParts, errorResponse, HttpError } from "./proxy/errors.ts";
import { routeIndexPage } from "./proxy/folder.ts";
import { accessLogEntry, type Facts } from "./proxy/log.ts";
import { type CorsPolicy, hasAccessControl, preflight } from "./cors.ts";
import type { Metrics } from "./ops/metrics.ts";
import { requestId } from "./ops/request_id.ts";
import { serveSite } from "./proxy/site.ts";
import { messageOf } from "./text.ts";

export type { ConnInfo, Handler, LogEntry, ServedRoute } from "./proxy/context.ts";

/** The world's I/O, shared by every route. */
export interface RouterDeps {
  readonly fetch: typeof fetch;
  /** Current time in milliseconds since the epoch. */
  readonly now: () => number;
  readonly log?: (entry: LogEntry) => void;
  /** Counters and histograms of requests and upstream requests (the admin port's `/metrics`). */
  readonly metrics?: Metrics;
}

/** What the one-route handler needs from the world. */
export interface HandlerDeps extends RouterDeps {
  /** Only `get` is asked for, once per request that needs a signature. */
  readonly credentials: Pick<CredentialProvider, "get">;
}

/** What one request came to: its answer, and the facts of its log line. */
interface Outcome {
  readonly response: Response;
  readonly decision: string;
  readonly error?: string;
}

function refused(error: ErrorParts, facts: Facts, method: string): Outcome {
  return { response: errorResponse(error, facts.client, method), decision: "reject" };
}

/** The routes as mounted, and what `/` shows when no route is mounted there. */
interface Table {
  readonly mounts: readonly Mount<{ backend: Backend; auth: readonly Authenticator[] }>[];
  /** The decoded prefixes of the routes whose listings are on, or undefined: a route has `/`. */
  readonly index?: readonly string[];
}

/** Up to the route: the target parsed, the client classified, the route matched and entered. */
async function serve(
  table: Table,
  req: Request,
  url: string,
  method: string,
  facts: Facts,
  conn?: ConnInfo,
): Promise<Outcome> {
  // Below both runtimes' own limits, so that Deno and Bun answer alike (see limits.ts).
  const big = checkHead(method, url, req.headers);
  if (big?.status === 431) {
    const headers = { ...big.headers, "cache-control": "no-store" };
    return { response: new Response(null, { status: 431, headers }), decision: "reject" };
  }
  if (big) return refused(big, facts, method);
  const target = parseTarget(url, req.headers);
  if ("kind" in target) return refused(target, facts, method);
  [facts.client, facts.clientReason] = classifyClient(req.headers, target.query);
  const match = matchMount(table.mounts, target.path);
  if (!match) {
    const bad = checkMethod(method);
    if (bad) return refused(bad, facts, method);
    if (table.index && target.path === "/" && facts.client !== "api") {
      return { response: routeIndexPage(table.index, req, method), decision: "routes" };
    }
    const none = { status: 404, code: "NoSuchRoute", message: "no route serves this path" };
    return refused(none, facts, method);
  }
  const { backend, auth } = match.mount.value;
  facts.route = backend.prefix;
  const { allowCidrs, trustedProxies } = backend.config;
  facts.clientAddr = clientAddress(
    conn?.remoteAddr,
    req.headers.get("x-forwarded-for"),
    trustedProxies,
  );
  if (allowCidrs && !isAllowed(facts.clientAddr, allowCidrs)) {
    const message = "this address may not use this route (ALLOW_CIDRS)";
    return refused({ status: 403, code: "AccessDenied", message }, facts, method);
  }
  // A CORS preflight carries no credentials: it is answered before access control.
  const { cors } = backend.config;
  const pre = cors && method === "OPTIONS"
    ? preflight(req.headers, cors, hasAccessControl(backend.config))
    : undefined;
  if (pre) return { response: pre, decision: "preflight" };
  // Before anything goes upstream (folder checks, slash redirects, HEAD probes included).
  const input = { req, method, url, clientAddr: facts.clientAddr };
  const admitted = await authenticate(auth, input);
  facts.auth = admitted.method;
  if (admitted.kind === "fail") {
    facts.authFailure = admitted.reason;
    return refused(admitted, facts, method);
  }
  facts.principal = admitted.principal;
  return await serveRoute(req, method, facts, backend, match, target.query, admitted);
}

/** Under the route: the slash redirect, the decision, its prefix limits, and the dispatch. */
async function serveRoute(
  req: Request,
  method: string,
  facts: Facts,
  backend: Backend,
  match: { rest: string; bare: boolean },
  query: Target["query"],
  admitted: Admitted,
): Promise<Outcome> {
  const { client } = facts;
  if (match.bare && client !== "api" && !checkMethod(method)) {
    const q = req.url.indexOf("?");
    const location = backend.mountPath + (q < 0 ? "" : req.url.slice(q));
    const response = new Response(null, {
      status: 302,
      headers: { location, "cache-control": "no-store" },
    });
    return { response, decision: "slash" };
  }
  const decided = decideRoute(method, match.rest, query, client, backend.config);
  if (decided.kind === "reject") return refused(decided, facts, method);
  if (!mayRead(admitted.prefixes, readTarget(decided, method))) {
    const message = "Access Denied: this key may not read here";
    return refused({ status: 403, code: "AccessDenied", message }, facts, method);
  }
  const decision = decided.kind === "object" ? decided.mode : decided.kind;
  try {
    const ex = { req, clientAddr: facts.clientAddr, method, client, backend };
    // A site's documents are keys too: a principal limited to prefixes gets only theirs.
    const may = (bucket: string, key: string) => mayRead(admitted.prefixes, { bucket, key });
    const site = await serveSite(ex, decided, () => dispatch(ex, decided), may);
    return { response: site.response, decision: site.document ?? decision };
  } catch (e) {
    const known = e instanceof HttpError;
    const response = errorResponse(
      known ? e : { status: 500, code: "InternalError", message: "internal error" },
      client,
      method,
    );
    return { response, decision, error: known ? e.detail : messageOf(e) };
  }
}

/**
 * Creates the handler for several routes, each under its path prefix (longest prefix, aligned
 * on segments). A path under no route is a `404` and nothing goes upstream; a browser at `/`
 * with no route there gets a page listing the routes whose listings are on.
 *
 * @example
 * ```ts
 * const handler = createRouter([
 *   { prefix: "/docs/", segments: ["docs"], config: docsConfig, credentials: docsProvider },
 *   { prefix: "/", segments: [], config, credentials },
 * ], { fetch, now: Date.now });
 * ```
 */
export function createRouter(routes: readonly ServedRoute[], deps: RouterDeps): Handler {
  const log = deps.log ?? (() => {});
  const table: Table = {
    mounts: routes.map((r) => ({
      segments: r.segments,
      value: { auth: r.auth ?? [], backend: backendOf(r, deps, log) },
    })),
    index: routes.some((r) => r.segments.length === 0)
      ? undefined
      : routes.filter((r) => r.config.listing).map((r) => r.segments.join("/") + "/"),
  };
  const corsByRoute = new Map<string, CorsPolicy>();
  for (const r of routes) if (r.config.cors) corsByRoute.set(r.prefix, r.config.cors);
  const { metrics } = deps;
  return async function handle(req: Request, conn?: ConnInfo): Promise<Response> {
    const started = deps.now();
    const method = req.method;
    // Read once: Bun builds a new string for each read of req.url.
    const url = req.url;
    const id = requestId(req.headers.get("x-request-id"));
    const facts: Facts = { route: null, client: "http", clientReason: "n/a", requestId: id };
    const outcome = await serve(table, req, url, method, facts, conn);
    const { decision, error } = outcome;
    let response = finishResponse(outcome.response, {
      id,
      origin: req.headers.get("origin"),
      cors: facts.route === null ? undefined : corsByRoute.get(facts.route),
      authenticated: facts.principal !== undefined,
    });
    const { status } = response;
    const ms = deps.now() - started;
    log(accessLogEntry({ started, ms, method, url, status, decision, error }, facts));
    if (metrics) {
      // The log's clock (milliseconds): a second, finer clock costs a redirect about 2%.
      metrics.request(facts.route, decision, status, ms / 1000);
      if (facts.authFailure !== undefined) metrics.authFailure(facts.route, facts.auth ?? "none");
      response = countBytes(response, facts.route, metrics);
    }
    return response;
  };
}

/**
 * Creates the handler for one route at `/`, configured by `config`.
 *
 * @example
 * ```ts
 * const handler = createHandler(config, {
 *   fetch,
 *   now: Date.now,
 *   credentials: staticProvider({ accessKeyId, secretAccessKey }),
 * });
 * Deno.serve(handler);
 * ```
 */
export function createHandler(config: Config, deps: HandlerDeps): Handler {
  return createRouter([{ prefix: "/", segments: [], config, credentials: deps.credentials }], deps);
}
