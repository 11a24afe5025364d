/**
 * The web-standard handler: `createRouter(routes, deps)` (several routes under path prefixes) or
 * `createHandler(config, deps)` (one route at `/`) returns `(Request) => Promise<Response>`.
 * Everything that touches the world (fetch, clock, credentials, log) is passed in.
 *
 * The way of a request: parse and validate the target (`400` here, never later) -> match a route
 * by prefix -> {@linkcode decideRoute} (pure) -> dispatch to one module of `proxy/` (upstream,
 * relay, folder, redirect) -> an error answer for whatever was thrown on the way -> one
 * access-log line. Data flows one way; the per-request facts travel as an {@linkcode Exchange}.
 *
 * @module
 */

import type { Config } from "./config.ts";
import type { CredentialProvider } from "./credentials/provider.ts";
import type { Listing } from "./listing/model.ts";
import { LISTING_CSP, renderListingHtml, renderListingJson } from "./listing/render.ts";
import {
  checkMethod,
  classifyClient,
  type ClientKind,
  decideRoute,
  parseTarget,
  type Route,
  type Target,
} from "./route.ts";
import { matchMount, type Mount } from "./routes.ts";
import { clientAddress, inCidrs, parseIp } from "./net.ts";
import { type Admitted, authenticate, type Authenticator, mayRead } from "./auth/method.ts";
import type { Backend, Exchange, LogEntry } from "./proxy/context.ts";
import { type ErrorParts, errorResponse, HttpError } from "./proxy/errors.ts";
import { serveFolder, slashRedirect } from "./proxy/folder.ts";
import { presignedRedirect } from "./proxy/redirect.ts";
import { relay } from "./proxy/relay.ts";
import { sendUpstream, type UpstreamRequest } from "./proxy/upstream.ts";
import { encodeKeyPath } from "./s3/encode.ts";
import { createSigningKeyCache } from "./s3/sigv4.ts";
import { messageOf } from "./text.ts";

export type { LogEntry } from "./proxy/context.ts";

/** The world's I/O, shared by every route. */
export interface RouterDeps {
  readonly fetch: typeof fetch;
  /** Current time in milliseconds since the epoch. */
  readonly now: () => number;
  readonly log?: (entry: LogEntry) => void;
}

/** What the one-route handler needs from the world. */
export interface HandlerDeps extends RouterDeps {
  /** Only `get` is asked for, once per request that needs a signature. */
  readonly credentials: Pick<CredentialProvider, "get">;
}

/** What the server knows of a request's connection. */
export interface ConnInfo {
  /** The peer's IP address, when known; `ALLOW_CIDRS` refuses requests without one. */
  readonly remoteAddr?: string;
}

/** The handler: a request (and what is known of its connection) to a response. */
export type Handler = (req: Request, conn?: ConnInfo) => Promise<Response>;

/** A route to serve: its prefix, settings and credentials. */
export interface ServedRoute {
  /** As configured; starts and ends with `/`. */
  readonly prefix: string;
  /** The prefix's decoded segments (`[]` for `/`). */
  readonly segments: readonly string[];
  readonly config: Config;
  readonly credentials: Pick<CredentialProvider, "get">;
  /** Any one of these admits a request; none (or empty): the route is open. */
  readonly auth?: readonly Authenticator[];
}

const SECRET_QUERY = /^(x-amz-security-token|x-amz-signature|x-amz-credential|signature)$/i;

/** The request's path and a redacted query, safe to log. */
function loggablePath(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  const target = start < 0 ? "/" : url.slice(start);
  const q = target.indexOf("?");
  if (q < 0) return target;
  const parts = target.slice(q + 1).split("&").map((part) => {
    const eq = part.indexOf("=");
    const name = eq < 0 ? part : part.slice(0, eq);
    return SECRET_QUERY.test(name) ? name + "=REDACTED" : part;
  });
  return target.slice(0, q) + "?" + parts.join("&");
}

type Served = Exclude<Route, { kind: "reject" }>;

/** Sends one upstream request and relays its answer. */
async function proxied(ex: Exchange, request: UpstreamRequest): Promise<Response> {
  const res = await sendUpstream(ex.backend, request);
  const timeoutMs = ex.backend.config.upstreamTimeoutMs;
  return await relay(res, { method: ex.method, client: ex.client, timeoutMs });
}

/** Serves a route that was not rejected; throws {@linkcode HttpError} for the answers it refuses. */
async function dispatch(ex: Exchange, route: Served): Promise<Response> {
  const { method } = ex;
  switch (route.kind) {
    case "list-buckets":
      return await proxied(ex, { method, query: [] });
    case "bucket":
      return await proxied(ex, { method, bucket: route.bucket, query: route.query });
    case "folder":
      return await serveFolder(ex, route.bucket, route.prefix, route.query);
    case "object": {
      const { bucket, key, query } = route;
      if (route.mode === "proxy") {
        return await proxied(ex, { method, bucket, key, query, forward: ex.req.headers });
      }
      // Links in our own listings name exact keys (folders end in `/`): a click on one
      // (Sec-Fetch-Site: same-origin) needs no check; a typed or outside link does.
      if (
        ex.backend.config.listing && ex.client === "browser" &&
        ex.req.headers.get("sec-fetch-site") !== "same-origin"
      ) {
        const slash = await slashRedirect(ex, bucket, key);
        if (slash) return slash;
      }
      return await presignedRedirect(ex.backend, { method, bucket, key, query });
    }
  }
}

/** What one request came to: its answer, and the facts of its log line. */
interface Outcome {
  readonly response: Response;
  readonly decision: string;
  readonly error?: string;
}

/** What is learnt of a request on its way, for the access log. */
interface Facts {
  route: string | null;
  client: ClientKind;
  clientReason: string;
  clientAddr?: string;
  principal?: string;
  auth?: string;
  authFailure?: string;
}

function refused(error: ErrorParts, facts: Facts, method: string): Outcome {
  return { response: errorResponse(error, facts.client, method), decision: "reject" };
}

/** Marks an answer to an authenticated request as for that client only: no shared cache. */
function privately(response: Response): Response {
  const cc = response.headers.get("cache-control");
  if (cc === null || !/\b(private|no-store)\b/i.test(cc)) {
    const rest = (cc ?? "").split(",").map((d) => d.trim())
      .filter((d) => d !== "" && !/^(public|s-maxage=.*)$/i.test(d));
    response.headers.set("cache-control", ["private", ...rest].join(", "));
  }
  return response;
}

/** What a decided request reads, for a principal limited to some prefixes. */
function readTarget(decided: Served, method: string) {
  switch (decided.kind) {
    case "list-buckets":
      return {};
    case "object":
      return { bucket: decided.bucket, key: decided.key };
    case "folder":
      return { bucket: decided.bucket, listPrefix: decided.prefix };
    case "bucket": {
      const listing = method === "GET" && !decided.query.some(([n]) => n === "location");
      const prefix = decided.query.find(([n]) => n === "prefix")?.[1] ?? "";
      return { bucket: decided.bucket, ...(listing ? { listPrefix: prefix } : {}) };
    }
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
export function createRouter(
  routes: readonly ServedRoute[],
  deps: RouterDeps,
): Handler {
  const log = deps.log ?? (() => {});
  const mounts: Mount<{ backend: Backend; auth: readonly Authenticator[] }>[] = routes.map((
    r,
  ) => ({
    segments: r.segments,
    value: {
      auth: r.auth ?? [],
      backend: {
        prefix: r.prefix,
        mountPath: "/" + r.segments.map((s) => encodeKeyPath(s) + "/").join(""),
        config: r.config,
        credentials: r.credentials,
        cache: createSigningKeyCache(16),
        fetch: deps.fetch,
        now: deps.now,
        log,
      },
    },
  }));
  const index = routes.some((r) => r.segments.length === 0) ? undefined : routeIndex(routes);

  /** Up to the route: the target parsed, the client classified, the route matched. */
  async function serve(req: Request, method: string, facts: Facts, conn?: ConnInfo) {
    const target = parseTarget(req.url, req.headers);
    if ("kind" in target) return refused(target, facts, method);
    [facts.client, facts.clientReason] = classifyClient(req.headers, target.query);
    const match = matchMount(mounts, target.path);
    if (!match) {
      const bad = checkMethod(method);
      if (bad) return refused(bad, facts, method);
      if (index && target.path === "/" && facts.client !== "api") {
        return { response: index(req, method), decision: "routes" };
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
    if (allowCidrs) {
      const bytes = facts.clientAddr === undefined ? undefined : parseIp(facts.clientAddr);
      if (!bytes || !inCidrs(bytes, allowCidrs)) {
        const message = "this address may not use this route (ALLOW_CIDRS)";
        return refused({ status: 403, code: "AccessDenied", message }, facts, method);
      }
    }
    // Before anything goes upstream (folder checks, slash redirects, HEAD probes included).
    const input = { req, method, url: req.url, clientAddr: facts.clientAddr };
    const admitted = await authenticate(auth, input);
    facts.auth = admitted.method;
    if (admitted.kind === "fail") {
      facts.authFailure = admitted.reason;
      return refused(admitted, facts, method);
    }
    facts.principal = admitted.principal;
    const outcome = await serveRoute(req, method, facts, backend, match, target.query, admitted);
    return admitted.principal === undefined
      ? outcome
      : { ...outcome, response: privately(outcome.response) };
  }

  /** Under the route: the decision, its prefix limits, and the dispatch. */
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
      const location = backend.mountPath + queryOf(req.url);
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
      return { response: await dispatch(ex, decided), decision };
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

  return async function handle(req: Request, conn?: ConnInfo): Promise<Response> {
    const started = deps.now();
    const method = req.method;
    const facts: Facts = { route: null, client: "http", clientReason: "n/a" };
    const { response, decision, error } = await serve(req, method, facts, conn);
    log({
      time: new Date(started).toISOString(),
      level: response.status >= 500 ? "error" : "info",
      event: "request",
      method,
      path: loggablePath(req.url),
      route: facts.route,
      status: response.status,
      decision,
      client: facts.client,
      clientReason: facts.clientReason,
      ...(facts.clientAddr ? { remote: facts.clientAddr } : {}),
      ...(facts.auth ? { auth: facts.auth } : {}),
      ...(facts.principal ? { principal: facts.principal } : {}),
      ...(facts.authFailure ? { authFailure: facts.authFailure } : {}),
      ms: deps.now() - started,
      ...(error ? { error } : {}),
    });
    return response;
  };
}

/** `?query` of a URL, or `""`. */
function queryOf(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? "" : url.slice(q);
}

/** The page at `/` listing the routes whose listings are on, as HTML or JSON. */
function routeIndex(routes: readonly ServedRoute[]) {
  const listing: Listing = {
    version: 2,
    bucket: "",
    prefix: "",
    delimiter: "/",
    isTruncated: false,
    folders: routes.filter((r) => r.config.listing).map((r) => r.segments.join("/") + "/"),
    files: [],
  };
  const options = { rootPath: "/", title: "routes" };
  const html = renderListingHtml(listing, options);
  const json = renderListingJson(listing, options);
  return (req: Request, method: string): Response => {
    const accept = req.headers.get("accept") ?? "";
    const asJson = accept.includes("application/json") && !accept.includes("text/html");
    const body = asJson ? json : html;
    const headers = new Headers({
      "content-type": asJson ? "application/json; charset=utf-8" : "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
    });
    if (!asJson) headers.set("content-security-policy", LISTING_CSP);
    return new Response(method === "HEAD" ? null : body, { status: 200, headers });
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
