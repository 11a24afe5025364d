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
} from "./route.ts";
import { matchMount, type Mount } from "./routes.ts";
import { clientAddress, inCidrs, parseIp } from "./net.ts";
import type { Backend, Exchange, LogEntry } from "./proxy/context.ts";
import { type ErrorParts, errorResponse, HttpError } from "./proxy/errors.ts";
import { serveFolder, slashRedirect } from "./proxy/folder.ts";
import { presignedRedirect } from "./proxy/redirect.ts";
import { relay } from "./proxy/relay.ts";
import { serveSite } from "./proxy/site.ts";
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
async function proxied(
  ex: Exchange,
  request: UpstreamRequest,
  cacheControl?: string,
): Promise<Response> {
  const res = await sendUpstream(ex.backend, request);
  const timeoutMs = ex.backend.config.upstreamTimeoutMs;
  return await relay(res, { method: ex.method, client: ex.client, timeoutMs, cacheControl });
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
        const request = { method, bucket, key, query, forward: ex.req.headers };
        return await proxied(ex, request, ex.backend.config.cacheControl);
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

/** What one request came to, for its answer and its log line. */
interface Outcome {
  readonly response: Response;
  readonly decision: string;
  readonly route: string | null;
  readonly client?: ClientKind;
  readonly clientReason?: string;
  readonly clientAddr?: string;
  readonly error?: string;
}

function refused(
  error: ErrorParts,
  client: ClientKind,
  method: string,
  route: string | null,
): Outcome {
  return { response: errorResponse(error, client, method), decision: "reject", route };
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
  const mounts: Mount<Backend>[] = routes.map((r) => ({
    segments: r.segments,
    value: {
      prefix: r.prefix,
      mountPath: "/" + r.segments.map((s) => encodeKeyPath(s) + "/").join(""),
      config: r.config,
      credentials: r.credentials,
      cache: createSigningKeyCache(16),
      fetch: deps.fetch,
      now: deps.now,
      log,
    },
  }));
  const index = routes.some((r) => r.segments.length === 0) ? undefined : routeIndex(routes);

  async function serve(req: Request, method: string, conn?: ConnInfo): Promise<Outcome> {
    const target = parseTarget(req.url, req.headers);
    if ("kind" in target) return refused(target, "http", method, null);
    const [client, clientReason] = classifyClient(req.headers, target.query);
    const base = { client, clientReason };
    const match = matchMount(mounts, target.path);
    if (!match) {
      const bad = checkMethod(method);
      if (bad) return { ...refused(bad, client, method, null), ...base };
      if (index && target.path === "/" && client !== "api") {
        return { response: index(req, method), decision: "routes", route: null, ...base };
      }
      const none = { status: 404, code: "NoSuchRoute", message: "no route serves this path" };
      return { ...refused(none, client, method, null), ...base };
    }
    const backend = match.mount.value;
    const route = backend.prefix;
    const { allowCidrs, trustedProxies } = backend.config;
    const clientAddr = clientAddress(
      conn?.remoteAddr,
      req.headers.get("x-forwarded-for"),
      trustedProxies,
    );
    if (allowCidrs) {
      const bytes = clientAddr === undefined ? undefined : parseIp(clientAddr);
      if (!bytes || !inCidrs(bytes, allowCidrs)) {
        const denied = {
          status: 403,
          code: "AccessDenied",
          message: "this address may not use this route (ALLOW_CIDRS)",
        };
        return { ...refused(denied, client, method, route), ...base, clientAddr };
      }
    }
    if (match.bare && client !== "api" && !checkMethod(method)) {
      const location = target.path + "/" + queryOf(req.url);
      const response = new Response(null, {
        status: 302,
        headers: { location, "cache-control": "no-store" },
      });
      return { response, decision: "slash", route, ...base };
    }
    const decided = decideRoute(method, match.rest, target.query, client, backend.config);
    if (decided.kind === "reject") return { ...refused(decided, client, method, route), ...base };
    let decision: string = decided.kind === "object" ? decided.mode : decided.kind;
    try {
      const ex = { req, clientAddr, method, client, backend };
      const { response, document } = await serveSite(ex, decided, () => dispatch(ex, decided));
      decision = document ?? decision;
      return { response, decision, route, ...base, clientAddr };
    } catch (e) {
      const known = e instanceof HttpError;
      const response = errorResponse(
        known ? e : { status: 500, code: "InternalError", message: "internal error" },
        client,
        method,
      );
      const error = known ? e.detail : messageOf(e);
      return { response, decision, route, error, ...base, clientAddr };
    }
  }

  return async function handle(req: Request, conn?: ConnInfo): Promise<Response> {
    const started = deps.now();
    const method = req.method;
    const outcome = await serve(req, method, conn);
    const { response, error } = outcome;
    log({
      time: new Date(started).toISOString(),
      level: response.status >= 500 ? "error" : "info",
      event: "request",
      method,
      path: loggablePath(req.url),
      route: outcome.route,
      status: response.status,
      decision: outcome.decision,
      client: outcome.client ?? "http",
      clientReason: outcome.clientReason ?? "n/a",
      ...(outcome.clientAddr ? { remote: outcome.clientAddr } : {}),
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
