/**
 * The access log: one entry per request. Its path has any credential in the query redacted
 * (presigned URLs from S3 tools carry signatures and session tokens); nothing in it is a secret.
 *
 * @module
 */

import type { ClientKind } from "../route.ts";
import type { LogEntry } from "./context.ts";

/** What is learnt of a request on its way, for its log line. */
export interface Facts {
  /** The route's prefix, or null when none matched. */
  route: string | null;
  client: ClientKind;
  clientReason: string;
  clientAddr?: string;
  principal?: string;
  /** The access-control method that admitted or refused it. */
  auth?: string;
  /** Why it was refused (never a credential). */
  authFailure?: string;
  /** The request's `X-Request-Id` (its own, or made). */
  requestId?: string;
}

/** How a request ended. */
export interface Ending {
  /** Epoch milliseconds when it arrived. */
  readonly started: number;
  readonly ms: number;
  readonly method: string;
  readonly url: string;
  readonly status: number;
  readonly decision: string;
  /** What went wrong, for the log only (a 502's cause names internal addresses). */
  readonly error?: string;
}

/** The access-log entry of one request. */
export function accessLogEntry(end: Ending, facts: Facts): LogEntry {
  return {
    time: isoTime(end.started),
    level: end.status >= 500 ? "error" : "info",
    event: "request",
    ...(facts.requestId ? { requestId: facts.requestId } : {}),
    method: end.method,
    path: loggablePath(end.url),
    route: facts.route,
    status: end.status,
    decision: end.decision,
    client: facts.client,
    clientReason: facts.clientReason,
    ...(facts.clientAddr ? { remote: facts.clientAddr } : {}),
    ...(facts.auth ? { auth: facts.auth } : {}),
    ...(facts.principal ? { principal: facts.principal } : {}),
    ...(facts.authFailure ? { authFailure: facts.authFailure } : {}),
    ms: end.ms,
    ...(end.error ? { error: end.error } : {}),
  };
}

let cachedSecond = NaN;
/** `YYYY-MM-DDTHH:MM:SS.` of cachedSecond. */
let cachedPrefix = "";

/**
 * `new Date(ms).toISOString()`, with the date and time up to the second formatted once per
 * second (`toISOString` per request cost ~1.5% of a redirect's samples under Deno).
 *
 * @example
 * ```ts
 * isoTime(Date.UTC(2026, 0, 2, 3, 4, 5, 6)); // "2026-01-02T03:04:05.006Z"
 * ```
 */
export function isoTime(ms: number): string {
  const whole = Math.floor(ms);
  const second = Math.floor(whole / 1000);
  if (second !== cachedSecond) {
    const iso = new Date(second * 1000).toISOString();
    // Years past 9999 (or before 0) have a longer form: not cached.
    if (iso.length !== 24) return new Date(whole).toISOString();
    cachedSecond = second;
    cachedPrefix = iso.slice(0, 20);
  }
  const milli = whole - second * 1000;
  return cachedPrefix + (milli < 10 ? "00" : milli < 100 ? "0" : "") + milli + "Z";
}

const SECRET_QUERY = /^(x-amz-security-token|x-amz-signature|x-amz-credential|signature)$/i;

/** The request's path and a redacted query, safe to log. */
export function loggablePath(url: string): string {
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
