/**
 * The credential provider contract the handler is written against, its errors, and the trivial
 * provider for credentials that never change.
 *
 * A provider is asked once per request that needs a signature. It answers fast from a cache, and
 * it never puts a credential value (secret, session token, signing key, web identity token) in an
 * error message or a log line.
 *
 * @module
 */

import type { Credentials } from "../s3/sigv4.ts";
import { messageOf, truncate } from "../text.ts";

/** A source of credentials, asked once per request that needs a signature. */
export interface CredentialProvider {
  /**
   * Current credentials; fast when cached. Rejects with {@linkcode CredentialsUnavailableError}
   * (message safe to show a client, never containing a credential value) when none are usable
   * right now: for example the signing-key file has no key for today's UTC date, or temporary
   * credentials expired and their refresh failed.
   */
  get(): Promise<Credentials>;
  /** Human-readable description of the source, e.g. `"environment"`, `"web identity (role arn:...)"`. */
  readonly source: string;
  /** Re-reads files now (SIGHUP); absent for sources without files. Never rejects. */
  reload?(): Promise<void>;
  /** Stops timers. Safe to call more than once. */
  close?(): void;
  /**
   * What the provider holds now, read-only (no fetch, no file read), for readiness and metrics;
   * absent for sources that never change (static keys, shared files).
   */
  status?(): ProviderStatus;
}

/** A provider's state, as {@linkcode CredentialProvider.status} tells it. No secret in it. */
export interface ProviderStatus {
  /** Whether `get()` would answer credentials now without fetching or reading anything. */
  readonly ok: boolean;
  /** Why not, safe to show (as the messages of {@linkcode CredentialsUnavailableError}). */
  readonly reason?: string;
  /** Epoch milliseconds at which the credentials in hand stop working. */
  readonly expiration?: number;
  /** Signing keys: the last UTC day (`YYYYMMDD`) that has a key. */
  readonly lastDay?: string;
  /** Refreshing sources: failed refreshes since the provider was made. */
  readonly refreshFailures?: number;
}

/**
 * No credentials are usable right now; the handler answers 503. The message says why and is safe
 * to show a client: it never holds a credential value.
 */
export class CredentialsUnavailableError extends Error {
  override name = "CredentialsUnavailableError";
}

/** One source tried at startup, and why it gave no credentials. */
export interface SourceFailure {
  readonly source: string;
  readonly reason: string;
}

/**
 * Startup found no usable credentials, or a source is configured wrongly. `failures` lists every
 * source tried, in order, and why each failed; the message says the same in one text.
 */
export class CredentialsConfigError extends Error {
  override name = "CredentialsConfigError";
  readonly failures: readonly SourceFailure[];
  constructor(summary: string, failures: readonly SourceFailure[]) {
    super(
      summary + failures.map((f) => "\n  - " + f.source + ": " + f.reason).join(""),
    );
    this.failures = failures;
  }
}

/**
 * A provider that always answers the same credentials.
 *
 * @example
 * ```ts
 * const provider = staticProvider({ accessKeyId: "AKID", secretAccessKey: "SECRET" });
 * await provider.get(); // { accessKeyId: "AKID", secretAccessKey: "SECRET" }
 * ```
 */
export function staticProvider(credentials: Credentials, source = "static"): CredentialProvider {
  const answer = Promise.resolve(credentials);
  return { source, get: () => answer };
}

/** Temporary credentials with the time they stop working, in milliseconds since the epoch. */
export interface ExpiringCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
  /** Epoch milliseconds. */
  readonly expiration: number;
}

/**
 * A failure of a credential source whose message is safe to log and to show: built only from
 * status codes, error codes, URLs and file names, never from a credential value. `retryable`
 * marks failures worth trying again soon (network, timeout, 5xx, 429).
 */
export class CredentialSourceError extends Error {
  override name = "CredentialSourceError";
  readonly retryable: boolean;
  constructor(message: string, retryable = false) {
    super(message);
    this.retryable = retryable;
  }
}

// Key ids go into `Credential=ID/scope`, tokens into a header. Secrets go only into an HMAC, but
// a control character there is a corrupt value all the same.
const KEY_ID = /^[\x21-\x7e]+$/;
const FORBIDDEN_IN_KEY_ID = /[/,]/;
const HEADER_SAFE = /^[\x20-\x7e]+$/;

/**
 * Whether `text` can be an access key id: printable ASCII without spaces, `/` or `,` (it is
 * written into `Credential=ID/scope, ...`).
 *
 * @example
 * ```ts
 * isKeyId("AKIDEXAMPLE"); // true
 * isKeyId("AK/ID"); // false
 * ```
 */
export function isKeyId(text: string): boolean {
  return KEY_ID.test(text) && !FORBIDDEN_IN_KEY_ID.test(text);
}

/**
 * Whether `text` is non-empty printable ASCII, safe in a header value (a session token, an
 * authorization token).
 *
 * @example
 * ```ts
 * isHeaderSafe("token+/="); // true
 * isHeaderSafe("a\nb"); // false
 * ```
 */
export function isHeaderSafe(text: string): boolean {
  return HEADER_SAFE.test(text);
}

/**
 * The message of any thrown value, shortened, for a log line or an error that wraps it. Use only
 * on errors whose text cannot hold a credential (ours, or `fetch`/file-system errors).
 *
 * @example
 * ```ts
 * errorMessage(new Error("boom")); // "boom"
 * ```
 */
export function errorMessage(error: unknown, limit = 300): string {
  return truncate(messageOf(error), limit);
}

/**
 * A short reason for a failed file read: `does not exist` for a missing file, else the message.
 *
 * @example
 * ```ts
 * fileErrorMessage(Object.assign(new Error("x"), { code: "ENOENT" })); // "does not exist"
 * ```
 */
export function fileErrorMessage(error: unknown): string {
  const e = error as { code?: unknown; name?: unknown; message?: unknown };
  if (e && (e.code === "ENOENT" || e.name === "NotFound")) return "does not exist";
  const text = e && typeof e.message === "string" ? e.message : String(error);
  return truncate(text, 200);
}
