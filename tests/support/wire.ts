/**
 * A raw HTTP/1.1 client for end-to-end tests: the request target goes on the wire byte for byte
 * (fetch would normalise it), and the answer is read as sent (fetch would decode a gzip body).
 *
 * @module
 */

import { concat, dechunk, indexOfBytes } from "./bytes.ts";

/** A response read off the wire. */
export interface Wire {
  status: number;
  /** As sent; a repeated name is joined with `, `. */
  headers: Headers;
  /** The body, de-chunked when it was chunked; empty for HEAD, 204 and 304. */
  body: Uint8Array;
  /** Whether it came with `Transfer-Encoding: chunked`. */
  chunked: boolean;
  /** The body decoded as UTF-8. */
  text: string;
}

const encoder = new TextEncoder();

/**
 * Sends one request to 127.0.0.1:`port` on a fresh connection with `Connection: close` and
 * reads the whole answer (at most 10 s). A chunked body that breaks off is an error.
 *
 * @example
 * ```ts
 * const res = await rawRequest(8080, "GET", "/bucket/a%zz");
 * // res.status === 400
 * ```
 */
export async function rawRequest(
  port: number,
  method: string,
  target: string,
  headers: Record<string, string> = {},
  host = `127.0.0.1:${port}`,
): Promise<Wire> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => conn.close(), 10_000);
  try {
    let head = `${method} ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n`;
    for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
    const bytes = encoder.encode(head + "\r\n");
    for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
    const all = concat(chunks);
    const end = indexOfBytes(all, encoder.encode("\r\n\r\n"));
    if (end < 0) throw new Error(`no response head for ${method} ${target}`);
    const lines = new TextDecoder("latin1").decode(all.subarray(0, end)).split("\r\n");
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1]);
    const parsed = new Headers();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(":");
      parsed.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    let body = all.subarray(end + 4);
    const chunked = /\bchunked\b/i.test(parsed.get("transfer-encoding") ?? "");
    if (method === "HEAD" || status === 304 || status === 204) body = new Uint8Array();
    else if (chunked) {
      const whole = dechunk(body);
      if (!whole.complete) throw new Error(`truncated chunked body for ${method} ${target}`);
      body = whole.bytes;
    }
    return { status, headers: parsed, body, chunked, text: new TextDecoder().decode(body) };
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed by the timer or the peer */ }
  }
}
