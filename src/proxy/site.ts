/**
 * Static websites from a private bucket: what a browser's page navigation gets when the key or
 * folder it asked for is missing (`SPA_FALLBACK` with `200`, else `ERROR_DOCUMENT` with `404`)
 * or forbidden (`ERROR_DOCUMENT` with `403`). Everything else (S3 API clients, `curl`, a page's
 * `fetch()`, images and scripts) gets the plain answer, as without these settings.
 *
 * On a route that redirects, the proxy presigns without asking S3, so it cannot know that a key
 * is missing. A navigation there is checked first with one `HEAD`: an object that exists still
 * gets its `307` (a link to a video or an archive goes straight to S3), a missing one gets the
 * site's documents (`/app/settings/profile` gets the app, not a `307` to S3's `404`).
 *
 * The documents are fetched with the route's credentials, from the request's bucket, with no
 * Range or conditional header of the original request, once each: a missing (or failing)
 * document means the plain answer, never a loop and never a `500`.
 *
 * @module
 */

import type { Config } from "../config.ts";
import type { ClientKind, Route } from "../route.ts";
import type { Exchange } from "./context.ts";
import { HttpError } from "./errors.ts";
import { slashRedirect, slashResponse } from "./folder.ts";
import { presignedRedirect } from "./redirect.ts";
import { relay } from "./relay.ts";
import { sendUpstream } from "./upstream.ts";

/** What a site answer was, for the access log's `decision`. */
export type SiteDocument = "fallback" | "error-document" | "slash";

/** An answer, and the site document it is when it is one. */
export interface SiteAnswer {
  readonly response: Response;
  readonly document?: SiteDocument;
}

/** Headers of a document's answer that describe the document, not the URL asked for. */
const DOCUMENT_ONLY = ["accept-ranges", "content-range"];
/** Headers an error document's answer keeps; it is sent with `no-store`, like any error. */
const ERROR_HEADERS = ["content-type", "content-length", "content-encoding", "content-language"];

/**
 * Whether a request is a browser's page navigation: `GET`/`HEAD` with `Sec-Fetch-Mode: navigate`,
 * or, without that Fetch Metadata header, an `Accept` that includes `text/html`. An S3 API client
 * never is one.
 *
 * @example
 * ```ts
 * isNavigation("GET", new Headers({ "sec-fetch-mode": "navigate" }), "browser"); // true
 * isNavigation("GET", new Headers({ "sec-fetch-mode": "cors", accept: "text/html" }), "browser"); // false
 * isNavigation("GET", new Headers({ accept: "*\/*" }), "http"); // false
 * ```
 */
export function isNavigation(method: string, headers: Headers, client: ClientKind): boolean {
  if (client === "api" || (method !== "GET" && method !== "HEAD")) return false;
  const mode = headers.get("sec-fetch-mode");
  if (mode !== null) return mode.trim().toLowerCase() === "navigate";
  return (headers.get("accept") ?? "").toLowerCase().includes("text/html");
}

/** Whether a route serves a website's documents (`SPA_FALLBACK` or `ERROR_DOCUMENT` set). */
export function isSite(config: Config): boolean {
  return config.spaFallback !== undefined || config.errorDocument !== undefined;
}

/**
 * The documents to try, in order, for a navigation that S3 answered with `status` on `key`: each
 * with the status it is sent with. The key that was just missing is not asked for again.
 *
 * @example
 * ```ts
 * siteDocuments({ ...config, spaFallback: "index.html", errorDocument: "404.html" }, 404, "a");
 * // [["index.html", 200, "fallback"], ["404.html", 404, "error-document"]]
 * ```
 */
export function siteDocuments(
  config: Config,
  status: number,
  key: string,
): [key: string, status: number, document: SiteDocument][] {
  const out: [string, number, SiteDocument][] = [];
  if (status === 404 && config.spaFallback !== undefined) {
    out.push([config.spaFallback, 200, "fallback"]);
  }
  if ((status === 404 || status === 403) && config.errorDocument !== undefined) {
    out.push([config.errorDocument, status, "error-document"]);
  }
  return out.filter(([doc]) => doc !== key);
}

/**
 * Serves an object or folder route through `next` (the ordinary dispatch), replacing a `404` or
 * `403` with the site's documents for a browser's page navigation on a site route. Any other
 * request, route or answer is `next`'s, untouched. `mayFetch` says whether the client may read a
 * document's key (a principal limited to prefixes); a document it may not read is not tried.
 */
export async function serveSite(
  ex: Exchange,
  route: Route,
  next: () => Promise<Response>,
  mayFetch: (bucket: string, key: string) => boolean = () => true,
): Promise<SiteAnswer> {
  const { config } = ex.backend;
  if (
    (route.kind !== "object" && route.kind !== "folder") || !isSite(config) ||
    !isNavigation(ex.method, ex.req.headers, ex.client)
  ) {
    return { response: await next() };
  }
  const { bucket } = route;
  const key = route.kind === "object" ? route.key : route.prefix;
  let plain: Response | HttpError;
  if (route.kind === "object" && route.mode === "redirect") {
    const versionId = route.query.filter(([name]) => name === "versionId");
    const head = await sendUpstream(ex.backend, { method: "HEAD", bucket, key, query: versionId });
    await head.body?.cancel().catch(() => {});
    if (head.status !== 404 && head.status !== 403) {
      const target = { method: ex.method, bucket, key, query: route.query };
      return { response: await presignedRedirect(ex.backend, target) };
    }
    plain = head.status === 404
      ? new HttpError(404, "NoSuchKey", "The specified key does not exist.")
      : new HttpError(403, "AccessDenied", "Access Denied");
  } else {
    try {
      const response = await next();
      if (response.status !== 404 && response.status !== 403) return { response };
      plain = response;
    } catch (e) {
      if (!(e instanceof HttpError) || (e.status !== 404 && e.status !== 403)) throw e;
      plain = e;
    }
  }
  const status = plain.status;
  if (status === 404 && route.kind === "object" && !key.endsWith("/")) {
    const slash = await folderSlash(ex, bucket, key);
    if (slash) return discard(plain, { response: slash, document: "slash" });
  }
  for (const [doc, docStatus, document] of siteDocuments(config, status, key)) {
    if (!mayFetch(bucket, doc)) continue;
    const response = await fetchDocument(ex, bucket, doc, docStatus);
    if (response) return discard(plain, { response, document });
  }
  if (plain instanceof HttpError) throw plain;
  return { response: plain };
}

function discard(plain: Response | HttpError, answer: SiteAnswer): SiteAnswer {
  if (plain instanceof Response) plain.body?.cancel().catch(() => {});
  return answer;
}

/**
 * The `302` from `dir` to `dir/` for a navigation to a missing key that is a folder: one with
 * keys when listings are on (as on redirect routes today), one with its index document when they
 * are off (that reveals nothing the folder's page does not). Undefined otherwise.
 */
async function folderSlash(
  ex: Exchange,
  bucket: string,
  key: string,
): Promise<Response | undefined> {
  const { config } = ex.backend;
  try {
    if (config.listing) return await slashRedirect(ex, bucket, key, true);
    const index = await sendUpstream(ex.backend, {
      method: "HEAD",
      bucket,
      key: `${key}/${config.indexDocument}`,
      query: [],
    });
    await index.body?.cancel().catch(() => {});
    return index.status === 200 ? slashResponse(ex.req.url) : undefined;
  } catch (e) {
    // No such folder, or the backend failed us on the way: the plain answer stands.
    if (e instanceof HttpError) return undefined;
    throw e;
  }
}

/**
 * A site document streamed with `status`, or undefined when it is missing or cannot be had. The
 * original request's Range and conditional headers are not applied to it. A fallback (`200`) is
 * an object like any other (`CACHE_CONTROL` applies); an error document is sent with `no-store`.
 * Both say `Vary: Sec-Fetch-Mode, Accept`: the same URL gets a plain `404` when not navigated to.
 */
async function fetchDocument(
  ex: Exchange,
  bucket: string,
  key: string,
  status: number,
): Promise<Response | undefined> {
  const { backend, method, client } = ex;
  const { upstreamTimeoutMs: timeoutMs, cacheControl } = backend.config;
  let relayed: Response;
  try {
    const res = await sendUpstream(backend, { method, bucket, key, query: [] });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      return undefined;
    }
    relayed = await relay(res, { method, client, timeoutMs, cacheControl });
  } catch (e) {
    if (e instanceof HttpError) return undefined;
    throw e;
  }
  let headers = new Headers(relayed.headers);
  if (status !== 200) {
    headers = new Headers({ "cache-control": "no-store" });
    for (const name of ERROR_HEADERS) {
      const value = relayed.headers.get(name);
      if (value !== null) headers.set(name, value);
    }
  }
  for (const name of DOCUMENT_ONLY) headers.delete(name);
  headers.set("vary", "Sec-Fetch-Mode, Accept");
  // As in relay.ts: workerd would gzip a body labelled gzip again; Deno and Bun ignore the field.
  return new Response(relayed.body, { status, headers, encodeBody: "manual" } as ResponseInit);
}
