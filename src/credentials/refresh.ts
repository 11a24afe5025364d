/**
 * A cache for temporary credentials: refreshed ahead of their expiration, one refresh shared by
 * all callers, a failed refresh keeps the credentials that still work and is retried with
 * exponential backoff. The clock is injected, so every branch is testable without waiting.
 *
 * @module
 */

import {
  type CredentialProvider,
  CredentialsUnavailableError,
  errorMessage,
  type ExpiringCredentials,
} from "./provider.ts";

/** What {@linkcode refreshingProvider} needs. */
export interface RefreshOptions {
  /** Description of the source, for logs and errors. */
  readonly source: string;
  /** Fetches fresh credentials; rejects with a message safe to log. */
  readonly fetchCredentials: () => Promise<ExpiringCredentials>;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** Structured log sink; events never hold a credential value. */
  readonly log: (event: Record<string, unknown>) => void;
  /** Refresh this long before expiration (default 5 minutes); at most half the lifetime. */
  readonly refreshAheadMs?: number;
  /** Credentials closer than this to expiration are not handed out (default 10 s). */
  readonly expiryMarginMs?: number;
  /** First retry delay after a failed refresh (default 1 s), doubled each failure. */
  readonly backoffMs?: number;
  /** Longest retry delay (default 60 s). */
  readonly maxBackoffMs?: number;
  /** Credentials already fetched (at startup), used until their refresh time. */
  readonly initial?: ExpiringCredentials;
}

/** Default time before expiration at which temporary credentials are refreshed. */
const DEFAULT_REFRESH_AHEAD_MS = 5 * 60_000;

/**
 * Wraps a fetch of temporary credentials in a refreshing, single-flight cache. `get()` answers
 * from the cache until the refresh time; then one caller's fetch is shared by all callers that
 * arrive while it runs. When the fetch fails, still-valid credentials are answered and the next
 * fetch waits for the backoff; expired credentials are never answered. `reload()` forces a
 * refresh now (its failure is logged, not thrown).
 *
 * @example
 * ```ts
 * const provider = refreshingProvider({
 *   source: "container",
 *   fetchCredentials: () => fetchContainerCredentials(),
 *   now: Date.now,
 *   log: (e) => console.log(JSON.stringify(e)),
 * });
 * const credentials = await provider.get();
 * ```
 */
export function refreshingProvider(options: RefreshOptions): CredentialProvider {
  const { source, now, log } = options;
  const ahead = options.refreshAheadMs ?? DEFAULT_REFRESH_AHEAD_MS;
  const margin = options.expiryMarginMs ?? 10_000;
  const backoff = options.backoffMs ?? 1000;
  const maxBackoff = options.maxBackoffMs ?? 60_000;

  let current: ExpiringCredentials | undefined;
  let answer: Promise<ExpiringCredentials> | undefined;
  let refreshAt = 0;
  let inflight: Promise<void> | undefined;
  let failures = 0;
  let totalFailures = 0;
  let retryAt = 0;
  let lastError = "";

  const usable = (t: number) => current !== undefined && t < current.expiration - margin;

  const unavailable = () =>
    new CredentialsUnavailableError(
      current
        ? `temporary credentials from ${source} expired and their refresh failed: ${lastError}`
        : `no credentials from ${source}: ${lastError}`,
    );

  function accept(fresh: ExpiringCredentials, t: number): void {
    if (!(fresh.expiration - margin > t)) {
      throw new Error(
        `answered credentials that expire at ${iso(fresh.expiration)}, which is not in the future`,
      );
    }
    current = fresh;
    answer = Promise.resolve(fresh);
    refreshAt = fresh.expiration - Math.min(ahead, (fresh.expiration - t) / 2);
    failures = 0;
    retryAt = 0;
  }

  if (options.initial) accept(options.initial, now());

  function refresh(): Promise<void> {
    if (inflight) return inflight;
    inflight = (async () => {
      try {
        const fresh = await options.fetchCredentials();
        accept(fresh, now());
        log({
          level: "info",
          event: "credentials_refreshed",
          source,
          expires: iso(fresh.expiration),
          nextRefresh: iso(refreshAt),
        });
      } catch (error) {
        failures++;
        totalFailures++;
        const delay = Math.min(maxBackoff, backoff * 2 ** (failures - 1));
        const t = now();
        retryAt = t + delay;
        lastError = errorMessage(error);
        log({
          level: usable(t) ? "warn" : "error",
          event: "credentials_refresh_failed",
          source,
          error: lastError,
          failures,
          retryInMs: delay,
          currentValidUntil: current ? iso(current.expiration) : null,
        });
        throw error;
      } finally {
        inflight = undefined;
      }
    })();
    return inflight;
  }

  async function settle(run: Promise<void>): Promise<ExpiringCredentials> {
    try {
      await run;
    } catch {
      // logged in refresh(); fall back to what still works
    }
    if (usable(now())) return current!;
    throw unavailable();
  }

  return {
    source,
    get() {
      const t = now();
      if (t < refreshAt && answer && usable(t)) return answer;
      if (inflight) return settle(inflight);
      if (t < retryAt) return usable(t) ? Promise.resolve(current!) : Promise.reject(unavailable());
      return settle(refresh());
    },
    async reload() {
      try {
        await (inflight ?? refresh());
      } catch {
        // logged in refresh()
      }
    },
    status() {
      const ok = usable(now());
      return {
        ok,
        ...(ok ? {} : { reason: unavailable().message }),
        ...(current ? { expiration: current.expiration } : {}),
        refreshFailures: totalFailures,
      };
    },
  };
}

function iso(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms);
}
