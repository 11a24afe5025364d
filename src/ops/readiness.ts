/**
 * Readiness: can every route sign now? A provider that can tell (`status()`) is asked first,
 * read-only. One that says no, or cannot tell, is then asked for credentials the way a request
 * would ask (a signing-key file is re-read when today has no key, a refresh is tried after its
 * backoff), within a timeout, so that a fixed file or a recovered endpoint makes the route ready
 * again at the next probe. Each provider is checked once, however many routes share it.
 *
 * @module
 */

import {
  type CredentialProvider,
  CredentialsUnavailableError,
  type ProviderStatus,
} from "../credentials/provider.ts";

/** A route as readiness sees it. */
export interface ReadyRoute {
  readonly prefix: string;
  readonly credentials: CredentialProvider;
}

/** One route's verdict; `reason` never holds a secret. */
export interface RouteReadiness {
  readonly route: string;
  readonly source: string;
  readonly ready: boolean;
  readonly reason?: string;
  readonly status?: ProviderStatus;
}

/** Settles with `promise`, or rejects after `ms`. */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("timeout")), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function check(
  provider: CredentialProvider,
  timeoutMs: number,
): Promise<{ ready: boolean; reason?: string; status?: ProviderStatus }> {
  const first = provider.status?.();
  if (first?.ok) return { ready: true, status: first };
  try {
    await within(provider.get(), timeoutMs);
  } catch (e) {
    const reason = e instanceof CredentialsUnavailableError
      ? e.message
      : e instanceof Error && e.message === "timeout"
      ? `the credential source did not answer within ${timeoutMs / 1000} s`
      : first?.reason ?? "credentials unavailable";
    return { ready: false, reason, status: provider.status?.() ?? first };
  }
  const after = provider.status?.();
  if (after && !after.ok) return { ready: false, reason: after.reason, status: after };
  return { ready: true, status: after };
}

/**
 * Checks every route's credentials.
 *
 * @example
 * ```ts
 * const verdicts = await checkReadiness(loaded.routes, 2000);
 * const ready = verdicts.every((v) => v.ready);
 * ```
 */
export async function checkReadiness(
  routes: readonly ReadyRoute[],
  timeoutMs: number,
): Promise<RouteReadiness[]> {
  const checks = new Map<CredentialProvider, ReturnType<typeof check>>();
  for (const r of routes) {
    if (!checks.has(r.credentials)) checks.set(r.credentials, check(r.credentials, timeoutMs));
  }
  return await Promise.all(routes.map(async (r) => {
    const verdict = await checks.get(r.credentials)!;
    return { route: r.prefix, source: r.credentials.source, ...verdict };
  }));
}
