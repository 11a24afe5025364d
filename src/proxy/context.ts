/**
 * The values a request carries through the proxy modules: the backend it goes to, and the
 * exchange (the request, who is asking, and that backend). Passed along, never looked up.
 *
 * @module
 */

import type { Authenticator } from "../auth/method.ts";
import type { Config } from "../config.ts";
import type { CredentialProvider } from "../credentials/provider.ts";
import type { UpstreamMetrics } from "../ops/metrics.ts";
import type { ClientKind } from "../route.ts";
import { encodeKeyPath } from "../s3/encode.ts";
import { createSigningKeyCache, type SigningKeyCache } from "../s3/sigv4.ts";
import { createListingCache, type ListingCache } from "./listing_cache.ts";

/** A structured log entry; the shell prints it as one JSON line. */
export type LogEntry = Record<string, unknown>;

/** Everything a request to one backend needs: its settings, credentials and the world's I/O. */
export interface Backend {
  /** The route's prefix as configured (`/myfiles/`), for the access log. */
  readonly prefix: string;
  /** The URL path the route is mounted at, percent-encoded, ending in `/`: links start here. */
  readonly mountPath: string;
  readonly config: Config;
  /** Only `get` is asked for, once per request that needs a signature. */
  readonly credentials: Pick<CredentialProvider, "get">;
  /** Derived signing keys, shared by every request to this backend. */
  readonly cache: SigningKeyCache;
  /** Listing pages and folder checks, when `LISTING_CACHE_SECONDS` is set. */
  readonly listingCache?: ListingCache;
  readonly fetch: typeof fetch;
  /** Current time in milliseconds since the epoch. */
  readonly now: () => number;
  readonly log: (entry: LogEntry) => void;
  /** Told of every upstream request (outcome, time to headers), when metrics are on. */
  readonly metrics?: UpstreamMetrics;
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

/** One client request on its way: what was asked, by whom, of which backend. */
export interface Exchange {
  readonly req: Request;
  /** The client's address (the socket's, or from a trusted proxy's `X-Forwarded-For`). */
  readonly clientAddr?: string;
  readonly method: string;
  readonly client: ClientKind;
  readonly backend: Backend;
}

/**
 * The backend of a route: its settings and credentials with the shared I/O, a signing-key cache
 * of its own, and the encoded path it is mounted at (`/` + each segment encoded + `/`).
 */
export function backendOf(
  route: {
    readonly prefix: string;
    readonly segments: readonly string[];
    readonly config: Config;
    readonly credentials: Pick<CredentialProvider, "get">;
  },
  io: {
    readonly fetch: typeof fetch;
    readonly now: () => number;
    readonly metrics?: UpstreamMetrics;
  },
  log: (entry: LogEntry) => void,
): Backend {
  return {
    prefix: route.prefix,
    mountPath: "/" + route.segments.map((s) => encodeKeyPath(s) + "/").join(""),
    config: route.config,
    credentials: route.credentials,
    cache: createSigningKeyCache(16),
    listingCache: route.config.listingCacheSeconds
      ? createListingCache({ ttlMs: route.config.listingCacheSeconds * 1000, now: io.now })
      : undefined,
    fetch: io.fetch,
    now: io.now,
    log,
    ...(io.metrics ? { metrics: io.metrics } : {}),
  };
}
