/**
 * Folders for people: a folder's `index.html` when it has one, else a generated HTML (or JSON)
 * listing of its prefix, one page of S3's at a time (`?page=` is the V2 continuation token); and
 * the slash redirect from `dir` to `dir/` for a browser that typed a folder's name.
 *
 * @module
 */

import type { Listing } from "../listing/model.ts";
import { LISTING_CSP, renderListingHtml, renderListingJson } from "../listing/render.ts";
import { parseListing, parseS3Error } from "../listing/xml.ts";
import { encodeKeyPath } from "../s3/encode.ts";
import { rawTarget } from "../s3/key.ts";
import type { Pair } from "../s3/sigv4.ts";
import { messageOf } from "../text.ts";
import type { Exchange } from "./context.ts";
import { HttpError } from "./errors.ts";
import { readBounded, relay } from "./relay.ts";
import { sendUpstream } from "./upstream.ts";

/** Largest listing read (S3 sends at most 1000 entries, well under this). */
const MAX_LISTING_BODY = 32 * 1024 * 1024;

/** A folder: its index document (`INDEX_DOCUMENT`), else (when listings are on) a generated listing of the prefix. */
export async function serveFolder(
  ex: Exchange,
  bucket: string,
  prefix: string,
  query: readonly Pair[],
): Promise<Response> {
  const { backend, method } = ex;
  const { config, listingCache: cache } = backend;
  const page = query.find(([name]) => name === "page")?.[1];
  const json = wantsJson(ex.req);
  // Keyed by the decided (canonical) bucket and prefix, never by the request's spelling.
  const noIndex = [backend.prefix, bucket, "no-index", prefix + config.indexDocument];
  const pageKey = [backend.prefix, bucket, json ? "json" : "html", prefix, page ?? ""];
  if (!config.listing || cache?.peek(noIndex) === undefined) {
    const index = await sendUpstream(backend, {
      method,
      bucket,
      key: prefix + config.indexDocument,
      query: [],
      forward: ex.req.headers,
    });
    if (index.status !== 404 || !config.listing) {
      const { upstreamTimeoutMs: timeoutMs, cacheControl } = config;
      return await relay(index, { method, client: ex.client, timeoutMs, cacheControl });
    }
    await index.body?.cancel();
    cache?.set(noIndex, "");
  }
  const body = cache
    ? await cache.get(pageKey, () => folderPage(ex, bucket, prefix, page, json))
    : await folderPage(ex, bucket, prefix, page, json);
  return pageResponse(body, json, method);
}

/** The generated listing page of a folder (one page of S3's), HTML or JSON. */
async function folderPage(
  ex: Exchange,
  bucket: string,
  prefix: string,
  page: string | undefined,
  json: boolean,
): Promise<string> {
  const { backend } = ex;
  const { config } = backend;
  const listQuery: Pair[] = [
    ["list-type", "2"],
    ["prefix", prefix],
    ["delimiter", "/"],
    ["encoding-type", "url"],
  ];
  if (page) listQuery.push(["continuation-token", page]);
  const listing = await listFolder(ex, bucket, listQuery, "this folder");
  if (prefix !== "" && !page && listing.files.length === 0 && listing.folders.length === 0) {
    throw new HttpError(404, "NoSuchKey", "no such folder");
  }
  const rootPath = backend.mountPath +
    (config.bucket !== undefined ? "" : encodeKeyPath(bucket) + "/");
  const options = { rootPath, title: bucket };
  return json ? renderListingJson(listing, options) : renderListingHtml(listing, options);
}

/** Whether a client asks for JSON (and not for HTML). */
function wantsJson(req: Request): boolean {
  const accept = req.headers.get("accept") ?? "";
  return accept.includes("application/json") && !accept.includes("text/html");
}

/**
 * A generated listing page: JSON for a client that asks for it (and not for HTML), else HTML
 * under a CSP that lets nothing load or run; never cached, never sniffed.
 */
function listingPage(
  listing: Listing,
  options: { rootPath: string; title: string },
  req: Request,
  method: string,
): Response {
  const json = wantsJson(req);
  const body = json ? renderListingJson(listing, options) : renderListingHtml(listing, options);
  return pageResponse(body, json, method);
}

/**
 * A listing page's answer: under a CSP that lets nothing load or run (HTML), never cached. The
 * page is encoded once, for its length and its bytes (a string body would be encoded again by
 * the runtime: ~1 ms for a 1000-entry page in Deno).
 */
function pageResponse(body: string, json: boolean, method: string): Response {
  const bytes = new TextEncoder().encode(body);
  const headers = new Headers({
    "content-type": json ? "application/json; charset=utf-8" : "text/html; charset=utf-8",
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "content-length": String(bytes.length),
  });
  if (!json) headers.set("content-security-policy", LISTING_CSP);
  return new Response(method === "HEAD" ? null : bytes, { status: 200, headers });
}

/**
 * The page at `/` when no route is mounted there: the routes (their decoded prefixes, e.g.
 * `docs/` or `a/b/`) as folders, linked to their encoded paths.
 */
export function routeIndexPage(prefixes: readonly string[], req: Request, method: string) {
  const listing: Listing = {
    version: 2,
    bucket: "",
    prefix: "",
    delimiter: "/",
    isTruncated: false,
    folders: [...prefixes],
    files: [],
  };
  return listingPage(listing, { rootPath: "/", title: "routes" }, req, method);
}

/**
 * A browser asking for `dir` (no slash) where no such object exists but the prefix `dir/` has
 * keys: a redirect to `dir/`, keeping the query string. Undefined when that does not apply.
 * `knownMissing`: the caller has seen the `404` for `dir` already (no HEAD is sent).
 */
export async function slashRedirect(
  ex: Exchange,
  bucket: string,
  key: string,
  knownMissing = false,
): Promise<Response | undefined> {
  const cache = knownMissing ? undefined : ex.backend.listingCache;
  const check = () => slashCheck(ex, bucket, key, knownMissing);
  // Keyed by the decided (canonical) bucket and key; the Location follows the request.
  const found = cache
    ? await cache.get([ex.backend.prefix, bucket, "slash", key], check)
    : await check();
  if (found === "object") return undefined;
  if (found === "missing") throw new HttpError(404, "NoSuchKey", "no such key or folder");
  return slashResponse(ex.req.url);
}

/** Whether `key` is an object, else a folder (`key/` has keys), else missing. */
async function slashCheck(
  ex: Exchange,
  bucket: string,
  key: string,
  knownMissing: boolean,
): Promise<"object" | "folder" | "missing"> {
  if (!knownMissing) {
    const head = await sendUpstream(ex.backend, { method: "HEAD", bucket, key, query: [] });
    await head.body?.cancel();
    if (head.status !== 404) return "object";
  }
  const listing = await listFolder(ex, bucket, [
    ["list-type", "2"],
    ["prefix", key + "/"],
    ["max-keys", "1"],
  ], "the folder");
  return listing.files.length === 0 && listing.folders.length === 0 ? "missing" : "folder";
}

/** The `302` from a request's path to the same path with a `/` added, keeping the query. */
export function slashResponse(url: string): Response {
  const { path, query } = rawTarget(url);
  // A path starting with `//` would be read as another host: `/.//x/` is the same path.
  const location = (path.startsWith("//") ? "/." : "") + path + "/" + (query ? "?" + query : "");
  return new Response(null, {
    status: 302,
    headers: { location, "cache-control": "no-store" },
  });
}

/** Lists a bucket; throws an {@linkcode HttpError} that keeps S3's status and says why. */
async function listFolder(
  ex: Exchange,
  bucket: string,
  query: readonly Pair[],
  what: string,
): Promise<Listing> {
  const { backend } = ex;
  const res = await sendUpstream(backend, { method: "GET", bucket, query });
  const bytes = await readBounded(res, MAX_LISTING_BODY, backend.config.upstreamTimeoutMs);
  if (bytes === "timeout") {
    throw new HttpError(504, "GatewayTimeout", "the backend stalled while sending a listing");
  }
  if (bytes === undefined) {
    throw new HttpError(502, "BadGateway", "the backend sent a listing we cannot read");
  }
  const xml = new TextDecoder().decode(bytes);
  if (res.status !== 200) {
    let detail = `the backend answered ${res.status}`;
    try {
      const error = parseS3Error(xml);
      detail += ` (${error.code}: ${error.message})`;
    } catch {
      // Not an S3 error document: the status says enough.
    }
    throw new HttpError(res.status, "ListingFailed", `cannot list ${what}: ${detail}`);
  }
  try {
    return parseListing(xml);
  } catch (e) {
    throw new HttpError(
      502,
      "BadGateway",
      `the backend sent a listing we cannot read: ${messageOf(e)}`,
    );
  }
}
