/**
 * Request ids: a client's (or a load balancer's) `X-Request-Id` is kept when it is a short safe
 * token, else one is made. The id is returned on every response and written in the access log;
 * it is never sent upstream (only allow-listed headers are).
 *
 * @module
 */

/** A short token of URL- and header-safe characters: what an id taken from a request may be. */
const SAFE_ID = /^[A-Za-z0-9._~:+\/=-]{1,64}$/;

/**
 * The id of a request: `given` when it is a short safe token, else a fresh UUID.
 *
 * @example
 * ```ts
 * requestId("lb-7f3a9c"); // "lb-7f3a9c"
 * requestId("a b\n"); // a new UUID, such as "3b241101-e2bb-4255-8caf-4136c566a962"
 * ```
 */
export function requestId(given: string | null): string {
  return given !== null && SAFE_ID.test(given) ? given : crypto.randomUUID();
}
