/**
 * The web-standard handler: `createHandler(config, deps)` returns `(Request) => Promise<Response>`.
 * Everything that touches the world (fetch, clock, credentials, log) is passed in.
 *
 * @module
 */

import { BodyTimeoutError, readAtMost } from "./body.ts";
import type { Config } from "./config.ts";
import { CredentialsUnavailableError } from "./credentials/provider.ts";
import { decide, type Decision, type Route } from "./route.ts";
import type { Listing } from "./listing/model.ts";
import { LISTING_CSP, renderListingHtml, renderListingJson } from "./listing/render.ts";
import { parseListing, parseS3Error } from "./listing/xml.ts";
import { s3Address } from "./s3/address.ts";
import { presignObjectUrl } from "./s3/presign_url.ts";
import { encodeKeyPath } from "./s3/encode.ts";
import { rawTarget } from "./s3/key.ts";
import {
  createSigningKeyCache,
  type Credentials,
  type Pair,
  type SignContext,
  signHeaders,
  SigningError,
  UNSIGNED_PAYLOAD,
} from "./s3/sigv4.ts";

/** Where the handler gets credentials from (see `credentials/`). */
export interface CredentialSource {
  get(): Promise<Credentials>;
}

/** A structured log entry; the shell prints it as one JSON line. */
export type LogEntry = Record<string, unknown>;

/** What the handler needs from the world. */
export interface HandlerDeps {
  readonly fetch: typeof fetch;
  /** Current time in milliseconds since the epoch. */
  readonly now: () => number;
  readonly credentials: CredentialSource;
  readonly log?: (entry: LogEntry) => void;
}

/** Client request headers forwarded upstream (and signed). Nothing else goes upstream. */
export const FORWARDED_REQUEST_HEADERS = [
  "range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
] as const;

/** Upstream response headers passed back to the client, besides `x-amz-meta-*`. */
export const FORWARDED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "accept-ranges",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-length",
  "content-range",
  "content-type",
  "etag",
  "expires",
  "last-modified",
  "x-amz-bucket-region",
  "x-amz-delete-marker",
  "x-amz-mp-parts-count",
  "x-amz-request-id",
  "x-amz-storage-class",
  "x-amz-version-id",
  "x-amz-website-redirect-location",
]);

/** Formats epoch milliseconds as `YYYYMMDDTHHMMSSZ`. */
export function amzDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + "T" + iso.slice(11, 13) +
    iso.slice(14, 16) + iso.slice(17, 19) + "Z";
}

/** An error answered to the client with a status and a short message. */
class HttpError extends Error {
  /**
   * @param detail what only the log gets (for a 502: the runtime's error, which names internal
   * addresses and ports).
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: string,
  ) {
    super(message);
  }
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

function errorResponse(
  status: number,
  code: string,
  message: string,
  client: Decision["client"],
  method: string,
  extra?: Readonly<Record<string, string>>,
): Response {
  const headers = new Headers(extra);
  headers.set("cache-control", "no-store");
  let body: string;
  if (client === "api") {
    headers.set("content-type", "application/xml");
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${
      escapeXml(code)
    }</Code><Message>${escapeXml(message)}</Message></Error>\n`;
  } else {
    headers.set("content-type", "text/plain; charset=utf-8");
    body = `${status} ${code}: ${message}\n`;
  }
  return new Response(method === "HEAD" ? null : body, { status, headers });
}

function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * Creates the proxy's request handler.
 *
 * @example
 * ```ts
 * const handler = createHandler(config, {
 *   fetch,
 *   now: Date.now,
 *   credentials: { get: async () => ({ accessKeyId, secretAccessKey }) },
 * });
 * Deno.serve(handler);
 * ```
 */
export function createHandler(
  config: Config,
  deps: HandlerDeps,
): (req: Request) => Promise<Response> {
  const cache = createSigningKeyCache(16);
  const log = deps.log ?? (() => {});

  async function signContext(): Promise<SignContext> {
    let credentials: Credentials;
    try {
      credentials = await deps.credentials.get();
    } catch (e) {
      // Only these messages are written to be shown; anything else might quote a secret.
      const safe = e instanceof CredentialsUnavailableError || e instanceof SigningError;
      if (!safe) log({ level: "error", event: "credentials", error: "credentials unavailable" });
      throw new HttpError(
        503,
        "ServiceUnavailable",
        `no usable credentials: ${safe ? e.message : "credentials unavailable"}`,
      );
    }
    return {
      credentials,
      region: config.region,
      service: "s3",
      datetime: amzDate(deps.now()),
      cache,
    };
  }

  /** Signs and sends one upstream request, answering 502/504 on backend failure. */
  async function upstream(
    req: Request,
    method: string,
    bucket: string,
    key: string | undefined,
    query: readonly Pair[],
    forward: boolean,
  ): Promise<globalThis.Response> {
    const address = bucket === ""
      ? { host: config.endpointHost, path: "/" }
      : s3Address(config.endpointHost, bucket, key, config.addressingStyle);
    const signed: Pair[] = [["host", address.host]];
    if (forward) {
      for (const name of FORWARDED_REQUEST_HEADERS) {
        const value = req.headers.get(name);
        if (value !== null) signed.push([name, value]);
      }
    }
    const ctx = await signContext();
    let auth;
    try {
      auth = signHeaders(
        { method, path: address.path, query, headers: signed, payloadHash: UNSIGNED_PAYLOAD },
        ctx,
      );
    } catch (e) {
      if (e instanceof SigningError) throw new HttpError(503, "ServiceUnavailable", e.message);
      throw e;
    }
    const queryString = auth.canonicalRequest.split("\n", 3)[2];
    const url = `${config.scheme}://${address.host}${address.path}${
      queryString ? "?" + queryString : ""
    }`;
    const headers = new Headers();
    for (const [name, value] of signed) if (name !== "host") headers.set(name, value);
    for (const [name, value] of auth.headers) headers.set(name, value);
    headers.set("accept-encoding", "identity");
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), config.upstreamTimeoutMs);
    try {
      return await deps.fetch(
        url,
        <RequestInit & { decompress: boolean }> {
          method,
          headers,
          redirect: "manual",
          // Bytes pass through as stored: Bun's fetch would otherwise gunzip an object stored
          // with Content-Encoding: gzip, and we would relay plain bytes labelled gzip.
          decompress: false,
          // Not linked to req.signal: Deno aborts it once the response headers are sent, which
          // would cut the streamed body. A client that goes away cancels the body stream instead.
          signal: timeout.signal,
        },
      );
    } catch (e) {
      if (timeout.signal.aborted) {
        throw new HttpError(
          504,
          "GatewayTimeout",
          `the backend sent no response within ${config.upstreamTimeoutMs / 1000} s`,
        );
      }
      const cause = causeOf(e);
      throw new HttpError(
        502,
        "BadGateway",
        `the backend is unreachable (${failureKind(cause)})`,
        cause,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Passes an upstream answer back: S3's status, the allow-listed headers and the streamed body.
   * An error body is rewritten to its Code and Message only: S3 echoes the canonical request and
   * string to sign in some errors, and those can hold our session token.
   */
  async function relay(req: Request, res: globalThis.Response): Promise<Response> {
    const method = req.method;
    const headers = new Headers();
    // forEach, not for...of: for nine S3 headers Deno's iterator costs ~19 µs, forEach ~3.
    res.headers.forEach((value, name) => {
      if (FORWARDED_RESPONSE_HEADERS.has(name) || name.startsWith("x-amz-meta-")) {
        headers.set(name, value);
      }
    });
    if (res.status < 200 || res.status > 599) {
      res.body?.cancel().catch(() => {});
      throw new HttpError(502, "BadGateway", `the backend answered with status ${res.status}`);
    }
    const empty = method === "HEAD" || res.status === 304 || res.status === 204;
    if (empty) res.body?.cancel().catch(() => {});
    if (res.status >= 400 && !empty) {
      const { code, message } = await upstreamError(res, config.upstreamTimeoutMs);
      const answer = errorResponse(
        res.status,
        code,
        message,
        decisions.get(req)?.client ?? "http",
        method,
      );
      for (const name of ["x-amz-request-id", "content-range"]) {
        const value = res.headers.get(name);
        if (value !== null) answer.headers.set(name, value);
      }
      return answer;
    }
    if (empty || !res.body) return new Response(null, { status: res.status, headers });
    const length = res.headers.get("content-length");
    if (length !== null && Number(length) <= MAX_BUFFERED_BODY) {
      // A small body is read whole (within the timeout), so a break or a stall is a clean
      // 502/504, and Bun sends it with its Content-Length (it drops it on a streamed body).
      const bytes = await readBounded(res, MAX_BUFFERED_BODY, config.upstreamTimeoutMs);
      if (bytes === "timeout") {
        throw new HttpError(504, "GatewayTimeout", "the backend stalled while sending the body");
      }
      if (bytes === undefined || bytes.length !== Number(length)) {
        throw new HttpError(502, "BadGateway", "the backend broke off the body");
      }
      return new Response(bytes as Uint8Array<ArrayBuffer>, { status: res.status, headers });
    }
    const body = idleTimeout(res.body, config.upstreamTimeoutMs);
    return new Response(body, { status: res.status, headers });
  }

  async function redirect(
    method: string,
    bucket: string,
    key: string,
    query: readonly Pair[],
  ): Promise<Response> {
    const ctx = await signContext();
    // A URL signed with temporary credentials stops working when they expire: say so.
    const expiration = (ctx.credentials as { expiration?: unknown }).expiration;
    const expires = typeof expiration === "number"
      ? Math.max(1, Math.min(config.presignExpires, Math.floor((expiration - deps.now()) / 1000)))
      : config.presignExpires;
    let location: string;
    try {
      location = presignObjectUrl({
        scheme: config.scheme,
        host: config.externalHost,
        bucket,
        key,
        style: config.addressingStyle,
        method,
        query,
        expires,
        datetime: ctx.datetime,
        credentials: ctx.credentials,
        region: ctx.region,
        cache: ctx.cache,
      });
    } catch (e) {
      if (e instanceof SigningError) throw new HttpError(503, "ServiceUnavailable", e.message);
      throw e;
    }
    return new Response(null, {
      status: 307,
      headers: {
        location,
        "cache-control": `private, max-age=${Math.max(0, expires - 30)}`,
      },
    });
  }

  const decisions = new WeakMap<Request, Decision>();

  /** The URL path under which a bucket's keys live, for links in generated listings. */
  function rootPath(bucket: string): string {
    return config.bucket !== undefined ? "/" : "/" + encodeKeyPath(bucket) + "/";
  }

  /** Reads an upstream listing, or throws an HttpError that keeps S3's status and says why. */
  async function readListing(res: globalThis.Response, what: string): Promise<Listing> {
    const bytes = await readBounded(res, MAX_LISTING_BODY, config.upstreamTimeoutMs);
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

  /**
   * A folder: its `index.html` when there is one, else (when listings are on) a generated HTML or
   * JSON listing of that prefix, one page at a time.
   */
  async function folder(
    req: Request,
    bucket: string,
    prefix: string,
    query: readonly Pair[],
  ): Promise<Response> {
    const method = req.method;
    const index = await upstream(req, method, bucket, prefix + "index.html", [], true);
    if (index.status !== 404 || !config.listing) return await relay(req, index);
    await index.body?.cancel();
    const page = query.find(([name]) => name === "page")?.[1];
    const listQuery: Pair[] = [
      ["list-type", "2"],
      ["prefix", prefix],
      ["delimiter", "/"],
      ["encoding-type", "url"],
    ];
    if (page) listQuery.push(["continuation-token", page]);
    const res = await upstream(req, "GET", bucket, undefined, listQuery, false);
    const listing = await readListing(res, "this folder");
    if (prefix !== "" && !page && listing.files.length === 0 && listing.folders.length === 0) {
      throw new HttpError(404, "NoSuchKey", "no such folder");
    }
    const options = { rootPath: rootPath(bucket), title: bucket };
    const accept = req.headers.get("accept") ?? "";
    const json = accept.includes("application/json") && !accept.includes("text/html");
    const body = json ? renderListingJson(listing, options) : renderListingHtml(listing, options);
    const headers = new Headers({
      "content-type": json ? "application/json; charset=utf-8" : "text/html; charset=utf-8",
      "cache-control": "no-store",
      "x-content-type-options": "nosniff",
      "content-length": String(new TextEncoder().encode(body).length),
    });
    if (!json) headers.set("content-security-policy", LISTING_CSP);
    return new Response(method === "HEAD" ? null : body, { status: 200, headers });
  }

  /**
   * A browser asking for `dir` (no slash) where no such object exists but the prefix `dir/` has
   * keys: a redirect to `dir/`, keeping the query string. Undefined when that does not apply.
   */
  async function slashRedirect(
    req: Request,
    bucket: string,
    key: string,
  ): Promise<Response | undefined> {
    const head = await upstream(req, "HEAD", bucket, key, [], false);
    await head.body?.cancel();
    if (head.status !== 404) return undefined;
    const res = await upstream(req, "GET", bucket, undefined, [
      ["list-type", "2"],
      ["prefix", key + "/"],
      ["max-keys", "1"],
    ], false);
    const listing = await readListing(res, "the folder");
    if (listing.files.length === 0 && listing.folders.length === 0) {
      throw new HttpError(404, "NoSuchKey", "no such key or folder");
    }
    const { path, query } = rawTarget(req.url);
    // A path starting with `//` would be read as another host: `/.//x/` is the same path.
    const location = (path.startsWith("//") ? "/." : "") + path + "/" + (query ? "?" + query : "");
    return new Response(null, {
      status: 302,
      headers: { location, "cache-control": "no-store" },
    });
  }

  async function serve(req: Request, route: Route): Promise<Response> {
    const method = req.method;
    switch (route.kind) {
      case "reject":
        throw new HttpError(route.status, route.code, route.message);
      case "list-buckets": {
        const res = await upstream(req, method, "", undefined, [], false);
        return await relay(req, res);
      }
      case "bucket": {
        const res = await upstream(req, method, route.bucket, undefined, route.query, false);
        return await relay(req, res);
      }
      case "folder":
        return await folder(req, route.bucket, route.prefix, route.query);
      case "object": {
        if (route.mode === "redirect") {
          // Links in our own listings name exact keys (folders end in `/`): a click on one
          // (Sec-Fetch-Site: same-origin) needs no check; a typed or outside link does.
          if (
            config.listing && decisions.get(req)?.client === "browser" &&
            req.headers.get("sec-fetch-site") !== "same-origin"
          ) {
            const slash = await slashRedirect(req, route.bucket, route.key);
            if (slash) return slash;
          }
          return await redirect(method, route.bucket, route.key, route.query);
        }
        const res = await upstream(req, method, route.bucket, route.key, route.query, true);
        return await relay(req, res);
      }
    }
  }

  return async function handle(req: Request): Promise<Response> {
    const started = deps.now();
    const decision = decide(req.method, req.url, req.headers, config);
    decisions.set(req, decision);
    const { route } = decision;
    let response: Response;
    let error: string | undefined;
    try {
      response = await serve(req, route);
    } catch (e) {
      const known = e instanceof HttpError;
      error = known ? e.detail : messageOf(e);
      response = errorResponse(
        known ? e.status : 500,
        known ? e.code : "InternalError",
        known ? e.message : "internal error",
        decision.client,
        req.method,
        route.kind === "reject" ? route.headers : undefined,
      );
    }
    log({
      time: new Date(started).toISOString(),
      level: response.status >= 500 ? "error" : "info",
      event: "request",
      method: req.method,
      path: loggablePath(req.url),
      status: response.status,
      decision: route.kind === "object" ? route.mode : route.kind,
      client: decision.client,
      clientReason: decision.clientReason,
      ms: deps.now() - started,
      ...(error ? { error } : {}),
    });
    return response;
  };
}

/** Largest upstream error body read; a longer one is not an S3 error document. */
const MAX_ERROR_BODY = 64 * 1024;
/** Largest body read whole before it is passed on; a longer one is streamed. */
const MAX_BUFFERED_BODY = 64 * 1024;
/** Largest listing read (S3 sends at most 1000 entries, well under this). */
const MAX_LISTING_BODY = 32 * 1024 * 1024;

/**
 * Reads a whole upstream body of at most `max` bytes within `timeoutMs`: the bytes, `undefined`
 * when it is larger or breaks off, or `"timeout"` when it stalls. Never holds more than `max`.
 */
async function readBounded(
  res: globalThis.Response,
  max: number,
  timeoutMs: number,
): Promise<Uint8Array | undefined | "timeout"> {
  try {
    return await readAtMost(res, max, timeoutMs);
  } catch (e) {
    return e instanceof BodyTimeoutError ? "timeout" : undefined;
  }
}

/** The Code and Message of an upstream error answer, read with a size cap. */
async function upstreamError(
  res: globalThis.Response,
  timeoutMs: number,
): Promise<{ code: string; message: string }> {
  const fallback = { code: "UpstreamError", message: `the backend answered ${res.status}` };
  const bytes = await readBounded(res, MAX_ERROR_BODY, timeoutMs);
  if (!(bytes instanceof Uint8Array)) return fallback;
  try {
    const error = parseS3Error(new TextDecoder().decode(bytes));
    return { code: error.code || fallback.code, message: error.message || fallback.message };
  } catch {
    return fallback;
  }
}

/**
 * The upstream body, erroring (and cancelling the upstream read) when a chunk it was asked for
 * does not come within `ms`: a backend that stalls mid-body breaks the client's download instead
 * of holding it open forever. Only time spent waiting on the backend counts; a client that reads
 * slowly asks for less, and is never cut off.
 */
function idleTimeout(body: ReadableStream<Uint8Array>, ms: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stalled = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the backend sent nothing for ${ms / 1000} s`)),
          ms,
        );
      });
      try {
        const { done, value } = await Promise.race([reader.read(), stalled]);
        if (done) controller.close();
        else controller.enqueue(value);
      } catch (e) {
        reader.cancel(e).catch(() => {});
        controller.error(e);
      } finally {
        clearTimeout(timer);
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A short, safe name for a connection failure, for the client: no address, no port. */
function failureKind(cause: string): string {
  if (/refused/i.test(cause)) return "connection refused";
  if (/reset|broken pipe|closed/i.test(cause)) return "connection reset";
  if (/dns|lookup|resolve|getaddrinfo|not known|no address/i.test(cause)) {
    return "host name not resolved";
  }
  if (/certificate|tls|ssl|handshake/i.test(cause)) return "TLS failure";
  if (/timed? ?out/i.test(cause)) return "connection timed out";
  return "connection failed";
}

function causeOf(e: unknown): string {
  const cause = e instanceof Error && e.cause instanceof Error ? e.cause.message : messageOf(e);
  return cause.length > 200 ? cause.slice(0, 200) : cause;
}
