/**
 * Serving a decided request: one upstream request relayed, a folder, or a presigned redirect
 * (with the slash check for browsers). Also what the router needs to check first: what a
 * request reads (for prefix-limited principals).
 *
 * @module
 */

import type { Route } from "../route.ts";
import type { Exchange } from "./context.ts";
import { serveFolder, slashRedirect } from "./folder.ts";
import { presignedRedirect } from "./redirect.ts";
import { relay } from "./relay.ts";
import { sendUpstream, type UpstreamRequest } from "./upstream.ts";

/** A decision that is served (not rejected). */
export type Served = Exclude<Route, { kind: "reject" }>;

/** Sends one upstream request and relays its answer. */
async function proxied(
  ex: Exchange,
  request: UpstreamRequest,
  cacheControl?: string,
): Promise<Response> {
  // Kept past the headers: a small body is read whole, and a stall aborts it.
  const abort = new AbortController();
  const res = await sendUpstream(ex.backend, { ...request, abort });
  const timeoutMs = ex.backend.config.upstreamTimeoutMs;
  return await relay(res, {
    method: ex.method,
    client: ex.client,
    timeoutMs,
    cacheControl,
    abort: () => abort.abort(),
  });
}

/** Serves a route that was not rejected; throws {@linkcode HttpError} for the answers it refuses. */
export async function dispatch(ex: Exchange, route: Served): Promise<Response> {
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

/** What a decided request reads, for a principal limited to some prefixes. */
export function readTarget(decided: Served, method: string) {
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
