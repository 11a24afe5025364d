/**
 * Passing an S3 answer back to the client: S3's status, an allow-list of its headers, and the
 * body, read whole when small and streamed (with a stall timeout) when not. Error bodies are
 * rebuilt from their Code and Message only: S3 echoes the canonical request and string to sign in
 * some errors, and those can hold our session token.
 *
 * @module
 */

import { BodyTimeoutError, readAtMost } from "../body.ts";
import { MAX_RESPONSE_HEADER } from "../limits.ts";
import { parseS3Error } from "../listing/xml.ts";
import type { ClientKind } from "../route.ts";
import { errorResponse, HttpError } from "./errors.ts";

/** Upstream response headers passed back to the client, besides `x-amz-meta-*`. */
export const FORWARDED_RESPONSE_HEADERS: ReadonlySet<string> = new Set([
  "accept-ranges",
  "cache-control",
  "content-disposition",
  "content-encoding",
  "content-language",
  "content-length",
  "content-range",
  "content-type",
  "etag",
  "expires",
  "last-modified",
  "x-amz-bucket-region",
  "x-amz-delete-marker",
  "x-amz-mp-parts-count",
  "x-amz-request-id",
  "x-amz-storage-class",
  "x-amz-version-id",
  "x-amz-website-redirect-location",
]);

/** Largest upstream error body read; a longer one is not an S3 error document. */
const MAX_ERROR_BODY = 64 * 1024;
/** Largest body read whole before it is passed on; a longer one is streamed. */
const MAX_BUFFERED_BODY = 64 * 1024;

/** Who the answer is for, and how long the backend may stall. */
export interface RelayOptions {
  readonly method: string;
  readonly client: ClientKind;
  readonly timeoutMs: number;
  /** `Cache-Control` for a successful answer (`2xx`, `304`) when S3 sent none (`CACHE_CONTROL`). */
  readonly cacheControl?: string;
  /**
   * Aborts the upstream request, body included: given, a small body is read with the runtime's
   * own `arrayBuffer()` (Deno: ~60 us less per request than a reader loop) and a stall aborts it.
   */
  readonly abort?: () => void;
}

/** Passes an upstream answer back; throws an {@linkcode HttpError} for a broken one. */
export async function relay(res: Response, options: RelayOptions): Promise<Response> {
  const { method, timeoutMs } = options;
  // forEach, not for...of: for nine S3 headers Deno's iterator costs ~19 µs, forEach ~3. Pairs,
  // not a Headers: the Response copies its init's headers, and Deno copies a Headers through that
  // same iterator. forEach gives each name once (values of a repeated one joined).
  const headers: [string, string][] = [];
  let oversized: string | undefined;
  let cacheControl = false;
  res.headers.forEach((value, name) => {
    if (FORWARDED_RESPONSE_HEADERS.has(name) || name.startsWith("x-amz-meta-")) {
      if (value.length > MAX_RESPONSE_HEADER) oversized = name;
      if (name === "cache-control") cacheControl = true;
      headers.push([name, value]);
    }
  });
  if (oversized !== undefined) {
    res.body?.cancel().catch(() => {});
    const message = `the backend sent a ${oversized} header over ${MAX_RESPONSE_HEADER} bytes`;
    throw new HttpError(502, "BadGateway", message);
  }
  if (res.status < 200 || res.status > 599) {
    res.body?.cancel().catch(() => {});
    throw new HttpError(502, "BadGateway", `the backend answered with status ${res.status}`);
  }
  const success = (res.status >= 200 && res.status < 300) || res.status === 304;
  if (options.cacheControl !== undefined && success && !cacheControl) {
    headers.push(["cache-control", options.cacheControl]);
  }
  const empty = method === "HEAD" || res.status === 304 || res.status === 204;
  if (empty) res.body?.cancel().catch(() => {});
  if (res.status >= 400 && !empty) {
    const { code, message } = await upstreamError(res, timeoutMs);
    const answer = errorResponse({ status: res.status, code, message }, options.client, method);
    for (const name of ["x-amz-request-id", "content-range"]) {
      const value = res.headers.get(name);
      if (value !== null) answer.headers.set(name, value);
    }
    return answer;
  }
  // The bytes are sent as stored (upstream.ts asks for them undecoded): workerd would otherwise
  // compress a body labelled Content-Encoding: gzip a second time. Deno and Bun ignore the field.
  const init = { status: res.status, headers, encodeBody: "manual" } as ResponseInit;
  if (empty || !res.body) return new Response(null, init);
  const length = res.headers.get("content-length");
  if (length !== null && Number(length) <= MAX_BUFFERED_BODY) {
    // A small body is read whole (within the timeout), so a break or a stall is a clean
    // 502/504, and Bun sends it with its Content-Length (it drops it on a streamed body).
    const bytes = options.abort
      ? await readWhole(res, timeoutMs, options.abort)
      : await readBounded(res, MAX_BUFFERED_BODY, timeoutMs);
    if (bytes === "timeout") {
      throw new HttpError(504, "GatewayTimeout", "the backend stalled while sending the body");
    }
    if (bytes === undefined || bytes.length !== Number(length)) {
      throw new HttpError(502, "BadGateway", "the backend broke off the body");
    }
    return new Response(bytes as Uint8Array<ArrayBuffer>, init);
  }
  return new Response(idleTimeout(res.body, timeoutMs), init);
}

/**
 * Reads a whole upstream body of at most `max` bytes within `timeoutMs`: the bytes, `undefined`
 * when it is larger or breaks off, or `"timeout"` when it stalls. Never holds more than `max`.
 */
export async function readBounded(
  res: Response,
  max: number,
  timeoutMs: number,
): Promise<Uint8Array | undefined | "timeout"> {
  try {
    return await readAtMost(res, max, timeoutMs);
  } catch (e) {
    return e instanceof BodyTimeoutError ? "timeout" : undefined;
  }
}

/**
 * Reads a body whose Content-Length is small, whole, within `timeoutMs` (else `abort()`s it):
 * the bytes, `undefined` when it breaks off, or `"timeout"`.
 */
async function readWhole(
  res: Response,
  timeoutMs: number,
  abort: () => void,
): Promise<Uint8Array | undefined | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  // Raced as well as aborted: a fetch that does not end the body on abort cannot hold us.
  const stalled = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => {
      abort();
      resolve("timeout");
    }, timeoutMs);
  });
  try {
    const bytes = await Promise.race([res.arrayBuffer(), stalled]);
    return bytes === "timeout" ? bytes : new Uint8Array(bytes);
  } catch {
    return undefined;
  } finally {
    clearTimeout(timer);
  }
}

/** The Code and Message of an upstream error answer, read with a size cap. */
async function upstreamError(
  res: Response,
  timeoutMs: number,
): Promise<{ code: string; message: string }> {
  const fallback = { code: "UpstreamError", message: `the backend answered ${res.status}` };
  const bytes = await readBounded(res, MAX_ERROR_BODY, timeoutMs);
  if (!(bytes instanceof Uint8Array)) return fallback;
  try {
    const error = parseS3Error(new TextDecoder().decode(bytes));
    return { code: error.code || fallback.code, message: error.message || fallback.message };
  } catch {
    return fallback;
  }
}

/**
 * The upstream body, erroring (and cancelling the upstream read) when a chunk it was asked for
 * does not come within `ms`: a backend that stalls mid-body breaks the client's download instead
 * of holding it open forever. Only time spent waiting on the backend counts; a client that reads
 * slowly asks for less, and is never cut off.
 *
 * One timer per stream, re-armed lazily: each read only notes when it started waiting, and the
 * timer, when it fires, checks that and sleeps again for what is left (a timer and a
 * `Promise.race` per chunk cost Deno 44% of a 1 MiB download's throughput).
 */
function idleTimeout(body: ReadableStream<Uint8Array>, ms: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  /** When the pending read began (Date.now()), or -1 while none is pending. */
  let waitingSince = -1;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let ended = false;
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const end = () => {
    ended = true;
    waitingSince = -1;
    clearTimeout(timer);
    timer = undefined;
  };
  const check = () => {
    timer = undefined;
    if (ended || waitingSince < 0) return; // not waiting on the backend: the next read re-arms
    const left = waitingSince + ms - Date.now();
    if (left > 0) {
      timer = setTimeout(check, left);
      return;
    }
    end();
    const e = new Error(`the backend sent nothing for ${ms / 1000} s`);
    reader.cancel(e).catch(() => {});
    controller.error(e);
  };
  return new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    async pull(controller) {
      waitingSince = Date.now();
      timer ??= setTimeout(check, ms);
      let chunk: ReadableStreamReadResult<Uint8Array>;
      try {
        chunk = await reader.read();
      } catch (e) {
        if (ended) return;
        end();
        reader.cancel(e).catch(() => {});
        controller.error(e);
        return;
      }
      if (ended) return; // timed out meanwhile: the stream has errored
      waitingSince = -1;
      if (chunk.done) {
        end();
        controller.close();
      } else controller.enqueue(chunk.value);
    },
    cancel(reason) {
      end();
      return reader.cancel(reason);
    },
  }, { highWaterMark: 0 });
}
