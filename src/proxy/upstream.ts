/**
 * One signed request to S3: the typed request -> address, allow-listed client headers, SigV4
 * headers -> `fetch`, with backend failures mapped to `502`/`504` and credential failures to
 * `503`.
 *
 * @module
 */

import { CredentialsUnavailableError } from "../credentials/provider.ts";
import type { UpstreamOutcome } from "../ops/metrics.ts";
import { s3Address } from "../s3/address.ts";
import { amzDate } from "../s3/scope.ts";
import {
  type Credentials,
  type Pair,
  type SignContext,
  signHeaders,
  SigningError,
  UNSIGNED_PAYLOAD,
} from "../s3/sigv4.ts";
import { messageOf, truncate } from "../text.ts";
import type { Backend } from "./context.ts";
import { HttpError } from "./errors.ts";

/** Client request headers forwarded upstream (and signed). Nothing else goes upstream. */
export const FORWARDED_REQUEST_HEADERS = [
  "range",
  "if-match",
  "if-none-match",
  "if-modified-since",
  "if-unmodified-since",
] as const;

/** One request to S3. */
export interface UpstreamRequest {
  readonly method: string;
  /** Undefined: the account's bucket list (ListBuckets). */
  readonly bucket?: string;
  /** Undefined: the bucket itself (a listing, HeadBucket, its location). */
  readonly key?: string;
  /** Decoded query parameters, signed as given. */
  readonly query: readonly Pair[];
  /** The client's headers, when its Range and conditionals apply ({@linkcode FORWARDED_REQUEST_HEADERS}). */
  readonly forward?: Headers;
  /** Aborts the request, its body included (default: one of its own, for the timeout). */
  readonly abort?: AbortController;
}

/**
 * The credentials and time to sign with now, or a `503` saying why there are none. Only the
 * messages of credential and signing errors are shown: anything else might quote a secret.
 */
export async function signContext(backend: Backend): Promise<SignContext> {
  let credentials: Credentials;
  try {
    credentials = await backend.credentials.get();
  } catch (e) {
    const safe = e instanceof CredentialsUnavailableError || e instanceof SigningError;
    if (!safe) {
      backend.log({ level: "error", event: "credentials", error: "credentials unavailable" });
    }
    throw new HttpError(
      503,
      "ServiceUnavailable",
      `no usable credentials: ${safe ? e.message : "credentials unavailable"}`,
    );
  }
  return {
    credentials,
    region: backend.config.region,
    service: "s3",
    datetime: amzDate(backend.now()),
    cache: backend.cache,
  };
}

/** Runs a signing step, turning a {@linkcode SigningError} (a key for another day...) into a 503. */
export function signing<T>(sign: () => T): T {
  try {
    return sign();
  } catch (e) {
    if (e instanceof SigningError) throw new HttpError(503, "ServiceUnavailable", e.message);
    throw e;
  }
}

/**
 * Signs and sends one request to S3 and answers its response (headers received, body unread),
 * or throws an {@linkcode HttpError}: `504` when S3 sends no headers within the upstream
 * timeout, `502` when it cannot be reached.
 */
export async function sendUpstream(
  backend: Backend,
  request: UpstreamRequest,
): Promise<Response> {
  const { config } = backend;
  const address = request.bucket === undefined
    ? { host: config.endpointHost, path: "/" }
    : s3Address(config.endpointHost, request.bucket, request.key, config.addressingStyle);
  const signed: Pair[] = [["host", address.host]];
  if (request.forward) {
    for (const name of FORWARDED_REQUEST_HEADERS) {
      const value = request.forward.get(name);
      if (value !== null) signed.push([name, value]);
    }
  }
  const ctx = await signContext(backend);
  const { method, query } = request;
  const auth = signing(() =>
    signHeaders(
      { method, path: address.path, query, headers: signed, payloadHash: UNSIGNED_PAYLOAD },
      ctx,
    )
  );
  const url = `${config.scheme}://${address.host}${address.path}${
    auth.query ? "?" + auth.query : ""
  }`;
  // Pairs, not a Headers: fetch copies its init's headers, and Deno copies a Headers through its
  // sorting iterator (each name here is set once: the forwarded ones, the signature's, ours).
  const headers: [string, string][] = [];
  for (const [name, value] of signed) if (name !== "host") headers.push([name, value]);
  for (const [name, value] of auth.headers) headers.push([name, value]);
  headers.push(["accept-encoding", "identity"]);
  const timeout = request.abort ?? new AbortController();
  const timer = setTimeout(() => timeout.abort(), config.upstreamTimeoutMs);
  // Called unbound: workerd's fetch throws "Illegal invocation" when called as a method.
  const send = backend.fetch;
  const started = backend.metrics ? performance.now() : 0;
  let outcome: UpstreamOutcome = "unreachable";
  try {
    const res = await send(
      url,
      <RequestInit & { decompress: boolean; encodeResponseBody: "manual" }> {
        method,
        headers,
        redirect: "manual",
        // Bytes pass through as stored: Bun's fetch would otherwise gunzip an object stored
        // with Content-Encoding: gzip, and we would relay plain bytes labelled gzip. workerd
        // ignores `decompress` and decodes unless told `encodeResponseBody: "manual"` (each
        // runtime ignores the other's field).
        decompress: false,
        encodeResponseBody: "manual",
        // Not linked to the client's signal: Deno aborts it once the response headers are sent,
        // which would cut the streamed body. A client that goes away cancels the body instead.
        signal: timeout.signal,
      },
    );
    outcome = res.status >= 500
      ? "5xx"
      : res.status >= 400
      ? "4xx"
      : res.status >= 300
      ? "3xx"
      : "2xx";
    return res;
  } catch (e) {
    if (timeout.signal.aborted) {
      outcome = "timeout";
      throw new HttpError(
        504,
        "GatewayTimeout",
        `the backend sent no response within ${config.upstreamTimeoutMs / 1000} s`,
      );
    }
    const cause = truncate(
      e instanceof Error && e.cause instanceof Error ? e.cause.message : messageOf(e),
      200,
    );
    throw new HttpError(
      502,
      "BadGateway",
      `the backend is unreachable (${failureKind(cause)})`,
      cause,
    );
  } finally {
    clearTimeout(timer);
    backend.metrics?.upstream(backend.prefix, outcome, (performance.now() - started) / 1000);
  }
}

/** A short, safe name for a connection failure, for the client: no address, no port. */
function failureKind(cause: string): string {
  if (/refused/i.test(cause)) return "connection refused";
  // workerd's fetch says only this, for a refused connection as for one that drops.
  if (/network connection lost/i.test(cause)) return "connection refused or lost";
  if (/reset|broken pipe|closed/i.test(cause)) return "connection reset";
  if (/dns|lookup|resolve|getaddrinfo|not known|no address/i.test(cause)) {
    return "host name not resolved";
  }
  if (/certificate|tls|ssl|handshake/i.test(cause)) return "TLS failure";
  if (/timed? ?out/i.test(cause)) return "connection timed out";
  return "connection failed";
}
