/**
 * The web-standard handler: `createHandler(config, deps)` returns `(Request) => Promise<Response>`.
 * Everything that touches the world (fetch, clock, credentials, log) is passed in.
 *
 * The way of a request: {@linkcode decide} (parse, validate, classify: pure) -> dispatch to one
 * module of `proxy/` (upstream, relay, folder, redirect) -> an error answer for whatever was
 * thrown on the way -> one access-log line. Data flows one way; the per-request facts travel as
 * an {@linkcode Exchange} value.
 *
 * @module
 */

import type { Config } from "./config.ts";
import type { CredentialProvider } from "./credentials/provider.ts";
import { decide, type Route } from "./route.ts";
import type { Backend, Exchange, LogEntry } from "./proxy/context.ts";
import { errorResponse, HttpError } from "./proxy/errors.ts";
import { serveFolder, slashRedirect } from "./proxy/folder.ts";
import { presignedRedirect } from "./proxy/redirect.ts";
import { relay } from "./proxy/relay.ts";
import { sendUpstream, type UpstreamRequest } from "./proxy/upstream.ts";
import { createSigningKeyCache } from "./s3/sigv4.ts";
import { messageOf } from "./text.ts";

export type { LogEntry } from "./proxy/context.ts";

/** What the handler needs from the world. */
export interface HandlerDeps {
  readonly fetch: typeof fetch;
  /** Current time in milliseconds since the epoch. */
  readonly now: () => number;
  /** Only `get` is asked for, once per request that needs a signature. */
  readonly credentials: Pick<CredentialProvider, "get">;
  readonly log?: (entry: LogEntry) => void;
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

/**
 * Creates the proxy's request handler.
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
export function createHandler(
  config: Config,
  deps: HandlerDeps,
): (req: Request) => Promise<Response> {
  const log = deps.log ?? (() => {});
  const backend: Backend = {
    config,
    credentials: deps.credentials,
    cache: createSigningKeyCache(16),
    fetch: deps.fetch,
    now: deps.now,
    log,
  };

  return async function handle(req: Request): Promise<Response> {
    const started = deps.now();
    const method = req.method;
    const { route, client, clientReason } = decide(method, req.url, req.headers, config);
    let response: Response;
    let error: string | undefined;
    if (route.kind === "reject") {
      response = errorResponse(route, client, method);
    } else {
      try {
        response = await dispatch({ req, method, client, backend }, route);
      } catch (e) {
        const known = e instanceof HttpError;
        error = known ? e.detail : messageOf(e);
        response = errorResponse(
          known ? e : { status: 500, code: "InternalError", message: "internal error" },
          client,
          method,
        );
      }
    }
    log({
      time: new Date(started).toISOString(),
      level: response.status >= 500 ? "error" : "info",
      event: "request",
      method,
      path: loggablePath(req.url),
      status: response.status,
      decision: route.kind === "object" ? route.mode : route.kind,
      client,
      clientReason,
      ms: deps.now() - started,
      ...(error ? { error } : {}),
    });
    return response;
  };
}
