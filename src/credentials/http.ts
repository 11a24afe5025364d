/**
 * HTTP for credential endpoints (STS, the container agent, IMDS): every request has a timeout,
 * never follows a redirect, reads at most a small body, and is retried only on failures that can
 * pass (network, timeout, 5xx, 429). Plus the strict parsers for their answers. Messages name
 * the endpoint and the status, never a body or a credential.
 *
 * @module
 */

import { readAtMost } from "../body.ts";
import {
  CredentialSourceError,
  errorMessage,
  type ExpiringCredentials,
  isHeaderSafe,
  isKeyId,
} from "./provider.ts";

/** How to send one request to a credential endpoint. */
export interface HttpPolicy {
  /** Per-attempt timeout in milliseconds, covering headers and body. */
  readonly timeoutMs: number;
  /** Attempts in all (at least 1). Only retryable failures are tried again. */
  readonly attempts: number;
  /** Waits between attempts; without it attempts follow each other at once. */
  readonly sleep?: (ms: number) => Promise<void>;
  /** Delay before the second attempt, doubled for each one after (default 100 ms). */
  readonly retryDelayMs?: number;
}

/** A response read in full. */
export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
}

/** Largest body read from a credential endpoint. */
const MAX_BODY_BYTES = 1 << 20;

/**
 * Sends a request with {@linkcode HttpPolicy}'s timeout and retries and reads the body. Resolves
 * with any status below 500 except 429 (the caller decides what the status means); rejects with a
 * {@linkcode CredentialSourceError} naming `label` otherwise.
 *
 * @example
 * ```ts
 * const answer = await httpRequest(fetch, "http://127.0.0.1:9/creds", { method: "GET" },
 *   { timeoutMs: 2000, attempts: 3 }, "container endpoint http://127.0.0.1:9");
 * ```
 */
export async function httpRequest(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit,
  policy: HttpPolicy,
  label: string,
): Promise<HttpAnswer> {
  const attempts = Math.max(1, Math.floor(policy.attempts));
  let delay = policy.retryDelayMs ?? 100;
  let last: CredentialSourceError | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    if (attempt > 1 && policy.sleep) {
      await policy.sleep(delay);
      delay *= 2;
    }
    try {
      const answer = await once(fetchFn, url, init, policy.timeoutMs, label);
      if (answer.status >= 500 || answer.status === 429) {
        last = new CredentialSourceError(`${label} answered HTTP ${answer.status}`, true);
        continue;
      }
      return answer;
    } catch (error) {
      if (!(error instanceof CredentialSourceError)) throw error;
      last = error;
      if (!error.retryable) throw error;
    }
  }
  throw last!;
}

async function once(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit,
  timeoutMs: number,
  label: string,
): Promise<HttpAnswer> {
  const signal = AbortSignal.timeout(timeoutMs);
  let response: Response;
  try {
    response = await fetchFn(url, { ...init, redirect: "manual", signal });
  } catch (error) {
    throw transportError(error, signal, timeoutMs, label);
  }
  if (response.status >= 300 && response.status < 400) {
    await response.body?.cancel().catch(() => {});
    throw new CredentialSourceError(
      `${label} answered a redirect (HTTP ${response.status}), which is not followed`,
    );
  }
  let text: string;
  try {
    text = await readLimited(response, MAX_BODY_BYTES);
  } catch (error) {
    if (error instanceof CredentialSourceError) {
      throw new CredentialSourceError(`${label}: ${error.message}`);
    }
    throw transportError(error, signal, timeoutMs, label);
  }
  return { status: response.status, headers: response.headers, text };
}

function transportError(
  error: unknown,
  signal: AbortSignal,
  timeoutMs: number,
  label: string,
): CredentialSourceError {
  if (signal.aborted) {
    return new CredentialSourceError(`${label} did not answer within ${timeoutMs} ms`, true);
  }
  return new CredentialSourceError(`${label} is unreachable (${errorMessage(error, 200)})`, true);
}

async function readLimited(response: Response, limit: number): Promise<string> {
  const bytes = await readAtMost(response, limit);
  if (bytes === undefined) throw new CredentialSourceError(`body larger than ${limit} bytes`);
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;

/**
 * Parses an RFC 3339 timestamp (`2024-01-02T03:04:05Z`) to epoch milliseconds, or `undefined`.
 */
function parseExpiration(text: string): number | undefined {
  if (!RFC3339.test(text)) return undefined;
  const ms = Date.parse(text);
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * Checks the three credential strings of an answer and returns them with the expiration, or
 * throws a {@linkcode CredentialSourceError} naming the first bad field (never its value).
 *
 * @example
 * ```ts
 * checkCredentials({ AccessKeyId: "ASIA1", SecretAccessKey: "s", Token: "t",
 *   Expiration: "2030-01-01T00:00:00Z" }, "IMDS"); // { accessKeyId: "ASIA1", ... }
 * ```
 */
export function checkCredentials(
  fields: {
    AccessKeyId?: unknown;
    SecretAccessKey?: unknown;
    Token?: unknown;
    Expiration?: unknown;
  },
  label: string,
): ExpiringCredentials {
  const missing = (name: string) =>
    new CredentialSourceError(`${label} answered without a valid ${name}`);
  const { AccessKeyId: id, SecretAccessKey: secret, Token: token, Expiration: exp } = fields;
  if (typeof id !== "string" || !isKeyId(id)) throw missing("AccessKeyId");
  if (typeof secret !== "string" || !isHeaderSafe(secret)) throw missing("SecretAccessKey");
  if (typeof token !== "string" || !isHeaderSafe(token)) throw missing("Token");
  const expiration = typeof exp === "string" ? parseExpiration(exp) : undefined;
  if (expiration === undefined) throw missing("Expiration");
  return { accessKeyId: id, secretAccessKey: secret, sessionToken: token, expiration };
}

/**
 * Parses the JSON answer of the container endpoint or IMDS (`AccessKeyId`, `SecretAccessKey`,
 * `Token`, `Expiration`, and IMDS's `Code` which must be `Success` when present). Anything else,
 * HTML or an error document included, is refused.
 *
 * @example
 * ```ts
 * parseCredentialsJson('{"AccessKeyId":"ASIA1","SecretAccessKey":"s","Token":"t",' +
 *   '"Expiration":"2030-01-01T00:00:00Z"}', "container endpoint");
 * ```
 */
export function parseCredentialsJson(text: string, label: string): ExpiringCredentials {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CredentialSourceError(`${label} answered a body that is not JSON`);
  }
  if (typeof body !== "object" || body === null || Array.isArray(body)) {
    throw new CredentialSourceError(`${label} answered JSON that is not an object`);
  }
  const fields = body as Record<string, unknown>;
  if ("Code" in fields && fields.Code !== "Success") {
    const code = typeof fields.Code === "string" && /^[\w.-]{1,64}$/.test(fields.Code)
      ? fields.Code
      : "not Success";
    throw new CredentialSourceError(`${label} answered Code ${code}`);
  }
  return checkCredentials(fields, label);
}
