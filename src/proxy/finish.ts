/**
 * What every answer gets on its way out, whichever module made it: marked private when it
 * answers an authenticated request, the route's CORS headers, the request id; and, with
 * metrics on, its size counted.
 *
 * @module
 */

import { applyCors, type CorsPolicy } from "../cors.ts";
import type { Metrics } from "../ops/metrics.ts";

/** What the way out needs to know of the request. */
export interface Finish {
  readonly id: string;
  readonly origin: string | null;
  readonly cors?: CorsPolicy;
  /** Whether an access-control method admitted the request (its answer is for that client). */
  readonly authenticated: boolean;
}

/** The answer with the headers every answer carries. */
export function finishResponse(response: Response, finish: Finish): Response {
  const out = withRequestId(response, finish.id);
  if (finish.authenticated) privately(out);
  if (finish.cors) applyCors(out.headers, finish.origin, finish.cors);
  return out;
}

/** Marks an answer to an authenticated request as for that client only: no shared cache. */
function privately(response: Response): Response {
  const cc = response.headers.get("cache-control");
  if (cc === null || !/\b(private|no-store)\b/i.test(cc)) {
    const rest = (cc ?? "").split(",").map((d) => d.trim())
      .filter((d) => d !== "" && !/^(public|s-maxage=.*)$/i.test(d));
    response.headers.set("cache-control", ["private", ...rest].join(", "));
  }
  return response;
}

/**
 * The response with its request id: itself when its headers can be changed, else a copy whose
 * headers can (a `fetch` answer's are immutable).
 */
function withRequestId(response: Response, id: string): Response {
  try {
    response.headers.set("x-request-id", id);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    copy.headers.set("x-request-id", id);
    return copy;
  }
}

/**
 * Adds the body's size to the route's byte counter: its Content-Length when it has one (no
 * cost per chunk), else the bytes as they are read.
 */
export function countBytes(response: Response, route: string | null, metrics: Metrics): Response {
  if (response.body === null) return response;
  const length = response.headers.get("content-length");
  if (length !== null) {
    metrics.responseBytes(route, Number(length) || 0);
    return response;
  }
  const reader = response.body.getReader();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      metrics.responseBytes(route, value.byteLength);
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  }, { highWaterMark: 0 });
  return new Response(body, response);
}
