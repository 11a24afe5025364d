/**
 * A transparent HTTP relay in front of the fake S3 server, for the listing tests. The proxy under
 * test is pointed at the relay; the relay forwards each request byte for byte (method, raw
 * target, headers, `Host` included, so SigV4 signatures made for the relay's address verify at
 * s3rver), and gives back s3rver's answer. On the way back it can:
 *
 * - fix s3rver's double escaping of `& < > '` and backtick in listing XML (see
 *   tests/support/s3rver.ts): every `&amp;` in a `ListBucketResult` body becomes `&`, which
 *   undoes exactly the extra layer, so that keys such as `<img src=x onerror=alert(1)>.txt` are
 *   listed as real S3 lists them;
 * - hold a response body after its first bytes until the test releases it, to prove that the
 *   proxy streams (the client sees those bytes while the rest is not sent yet);
 * - record every exchange (method, raw target, status, and the body of XML answers exactly as
 *   relayed), so a test can compare what the proxy returned with what S3 sent.
 *
 * It uses node:http on both sides: Deno's fetch drops a caller's `Host` header.
 *
 * @module
 */

import http from "node:http";
import type { AddressInfo } from "node:net";

/** One request the relay forwarded. */
export interface Exchange {
  method: string;
  /** The raw request target as received (`/bucket?list-type=2&...`). */
  target: string;
  status: number;
  /** The body of an XML answer, as relayed (after the escaping fix); undefined otherwise. */
  xml?: string;
}

/** Options for {@linkcode startS3Shim}. */
export interface S3ShimOptions {
  /** Undo s3rver's double escaping in listing XML. Default true. */
  singleEscape?: boolean;
}

/** A held response body; see {@linkcode S3Shim.hold}. */
export interface Hold {
  /** Resolves once the first bytes were written and the rest is being held back. */
  reached: Promise<void>;
  /** Send the rest. */
  release(): void;
}

/** A running relay. */
export interface S3Shim extends AsyncDisposable {
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** Every exchange so far, in completion order. */
  exchanges: Exchange[];
  /**
   * Hold the body of the next GET of raw path `path` (no query) after `firstBytes` bytes, until
   * released.
   */
  hold(path: string, firstBytes: number): Hold;
  /** Close the relay and its connections. Idempotent. */
  close(): Promise<void>;
}

function collect(stream: NodeJS.ReadableStream): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    stream.on("data", (c: Uint8Array) => chunks.push(c));
    stream.on("error", reject);
    stream.on("end", () => {
      const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.length;
      }
      resolve(out);
    });
  });
}

/**
 * Start a relay on 127.0.0.1 (free port) that forwards to `127.0.0.1:upstreamPort`.
 *
 * @example
 * ```ts
 * await using s3 = await startS3rver({ buckets: ["b"] });
 * await using shim = await startS3Shim(s3.port);
 * // point the proxy at shim.host; listings of keys with & < > ' now parse as on real S3
 * ```
 */
export async function startS3Shim(
  upstreamPort: number,
  options: S3ShimOptions = {},
): Promise<S3Shim> {
  const singleEscape = options.singleEscape ?? true;
  const exchanges: Exchange[] = [];
  const holds = new Map<string, { firstBytes: number; gate: Promise<void>; reached: () => void }>();

  const server = http.createServer((req, res) => {
    const target = req.url ?? "/";
    const method = req.method ?? "GET";
    const upstream = http.request({
      host: "127.0.0.1",
      port: upstreamPort,
      method,
      path: target,
      headers: req.headers,
    });
    upstream.on("error", (e) => {
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`shim: upstream error: ${e.message}`);
    });
    upstream.on("response", async (up) => {
      let body = await collect(up);
      const headers = { ...up.headers };
      const status = up.statusCode ?? 502;
      const xml = /xml/.test(String(headers["content-type"] ?? ""));
      let text: string | undefined;
      if (xml) {
        text = new TextDecoder().decode(body);
        if (singleEscape && text.includes("<ListBucketResult")) {
          text = text.replaceAll("&amp;", "&");
          body = new TextEncoder().encode(text);
          if (headers["content-length"] !== undefined) {
            headers["content-length"] = String(body.length);
          }
        }
      }
      res.writeHead(status, headers);
      const path = target.split("?")[0];
      const held = method === "GET" ? holds.get(path) : undefined;
      if (held) {
        holds.delete(path);
        res.write(body.subarray(0, held.firstBytes));
        held.reached();
        await held.gate;
        res.end(body.subarray(held.firstBytes));
      } else {
        res.end(body);
      }
      exchanges.push({ method, target, status, ...(text !== undefined ? { xml: text } : {}) });
    });
    req.pipe(upstream);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const releases = new Set<() => void>();
  let closing: Promise<void> | undefined;
  const close = () =>
    closing ??= new Promise<void>((resolve) => {
      for (const release of releases) release();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return {
    host: `127.0.0.1:${port}`,
    endpoint: `http://127.0.0.1:${port}`,
    exchanges,
    hold(path, firstBytes) {
      let release = () => {};
      let reached = () => {};
      const gate = new Promise<void>((resolve) => (release = resolve));
      const reachedP = new Promise<void>((resolve) => (reached = resolve));
      releases.add(release);
      holds.set(path, { firstBytes, gate, reached });
      return { reached: reachedP, release };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
