/**
 * Errors answered to the client: {@linkcode HttpError} carries a status, an S3-style code, a
 * message safe to show, and the headers of its answer; {@linkcode errorResponse} renders it for
 * the kind of client asking (S3 XML for API clients, one line of text for everyone else).
 *
 * @module
 */

import type { ClientKind } from "../route.ts";
import { escapeMarkup } from "../text.ts";

/** An answer the proxy gives itself: a `4xx` it decided, or a `5xx` for a failing backend. */
export class HttpError extends Error {
  override name = "HttpError";
  /**
   * @param detail what only the log gets (for a 502: the runtime's error, which names internal
   * addresses and ports).
   * @param headers extra headers of the answer (`Allow` on a 405).
   */
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly detail?: string,
    readonly headers?: Readonly<Record<string, string>>,
  ) {
    super(message);
  }
}

/** What an error answer is made of. */
export interface ErrorParts {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * The answer for an error: `Cache-Control: no-store`, S3's XML error document for API clients
 * (so SDKs show the code), `STATUS CODE: message` as text for browsers and `curl`; no body for
 * `HEAD`.
 *
 * @example
 * ```ts
 * errorResponse({ status: 404, code: "NoSuchKey", message: "no such key" }, "api", "GET");
 * ```
 */
export function errorResponse(error: ErrorParts, client: ClientKind, method: string): Response {
  const headers = new Headers(error.headers);
  headers.set("cache-control", "no-store");
  let body: string;
  if (client === "api") {
    headers.set("content-type", "application/xml");
    body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${
      escapeMarkup(error.code)
    }</Code><Message>${escapeMarkup(error.message)}</Message></Error>\n`;
  } else {
    headers.set("content-type", "text/plain; charset=utf-8");
    body = `${error.status} ${error.code}: ${error.message}\n`;
  }
  return new Response(method === "HEAD" ? null : body, { status: error.status, headers });
}
