/**
 * A raw HTTP/1.1 client on one kept-alive TCP connection, for fuzz and load tests: requests are
 * written byte for byte (fetch would normalise them) and answers read by their framing
 * (Content-Length, chunked, or until the server closes), so many go through one connection.
 *
 * @module
 */

import { concat, indexOfBytes } from "./bytes.ts";

/** One answer read off the wire. */
export interface Answer {
  /** 0 when the connection closed (or the deadline passed) before a status line. */
  status: number;
  /** Header names lower-cased; a repeated name's values joined with `, `. */
  headers: Map<string, string>;
  /** The head as sent, for scanning. */
  head: string;
  body: Uint8Array;
  /** Whether the body ended as its framing said. */
  complete: boolean;
  /** Whether the server closed the connection after this answer (or said it would). */
  closed: boolean;
  /** Whether our deadline, not the server, ended the read. */
  timedOut: boolean;
  ms: number;
}

const HEAD_END = new TextEncoder().encode("\r\n\r\n");
const CRLF = new TextEncoder().encode("\r\n");
const latin1 = new TextDecoder("latin1");

/** A kept-alive connection that reconnects when the server has closed it. */
export class Http1Client {
  #conn: Deno.Conn | undefined;
  #buf: Uint8Array = new Uint8Array(0);
  #chunk = new Uint8Array(65536);
  /** Connections opened so far. */
  connects = 0;

  constructor(readonly port: number, readonly hostname = "127.0.0.1") {}

  async #connection(): Promise<Deno.Conn> {
    if (!this.#conn) {
      this.#conn = await Deno.connect({ hostname: this.hostname, port: this.port });
      this.#buf = new Uint8Array(0);
      this.connects++;
    }
    return this.#conn;
  }

  /** Closes the connection (the next request opens another). */
  close(): void {
    try {
      this.#conn?.close();
    } catch { /* closed */ }
    this.#conn = undefined;
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async #fill(conn: Deno.Conn): Promise<boolean> {
    const n = await conn.read(this.#chunk);
    if (n === null) return false;
    const { buffer, byteOffset, length } = this.#buf;
    if (byteOffset + length + n <= buffer.byteLength) {
      // Room after the unread bytes: append in place.
      const grown = new Uint8Array(buffer, byteOffset, length + n);
      grown.set(this.#chunk.subarray(0, n), length);
      this.#buf = grown;
    } else {
      const next = new Uint8Array(Math.max(65536, (length + n) * 2));
      next.set(this.#buf);
      next.set(this.#chunk.subarray(0, n), length);
      this.#buf = next.subarray(0, length + n);
    }
    return true;
  }

  /**
   * Writes `raw` and reads one answer (interim 1xx skipped). `method` tells whether a body
   * follows (`HEAD`: none). Never throws: a reset or the deadline is `status: 0` or
   * `complete: false`, and the connection is closed.
   */
  async request(raw: Uint8Array, method = "GET", deadlineMs = 10_000): Promise<Answer> {
    const started = performance.now();
    let timedOut = false;
    let conn: Deno.Conn;
    try {
      conn = await this.#connection();
    } catch {
      return this.#broken(started, false);
    }
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, deadlineMs);
    try {
      for (let sent = 0; sent < raw.length;) sent += await conn.write(raw.subarray(sent));
      for (;;) {
        let end = indexOfBytes(this.#buf, HEAD_END);
        while (end < 0) {
          if (!(await this.#fill(conn))) return this.#broken(started, timedOut);
          end = indexOfBytes(this.#buf, HEAD_END);
        }
        const head = latin1.decode(this.#buf.subarray(0, end));
        this.#buf = this.#buf.subarray(end + 4);
        const lines = head.split("\r\n");
        const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(lines[0])?.[1] ?? 0);
        if (status >= 100 && status < 200) continue;
        const headers = new Map<string, string>();
        for (const line of lines.slice(1)) {
          const colon = line.indexOf(":");
          if (colon <= 0) continue;
          const name = line.slice(0, colon).trim().toLowerCase();
          const value = line.slice(colon + 1).trim();
          headers.set(name, headers.has(name) ? `${headers.get(name)}, ${value}` : value);
        }
        const said = /\bclose\b/i.test(headers.get("connection") ?? "") || lines[0].startsWith(
          "HTTP/1.0",
        );
        let body: Uint8Array;
        let complete = true;
        let closed = said;
        if (method === "HEAD" || status === 304 || status === 204) {
          body = new Uint8Array(0);
        } else if (/chunked/i.test(headers.get("transfer-encoding") ?? "")) {
          [body, complete] = await this.#chunked(conn);
        } else if (headers.has("content-length")) {
          const length = Number(headers.get("content-length"));
          while (this.#buf.length < length) {
            if (!(await this.#fill(conn))) break;
          }
          complete = this.#buf.length >= length;
          body = this.#buf.slice(0, length);
          this.#buf = this.#buf.subarray(Math.min(length, this.#buf.length));
        } else {
          // Delimited by the close.
          while (await this.#fill(conn));
          body = this.#buf;
          this.#buf = new Uint8Array(0);
          closed = true;
        }
        if (!complete) closed = true;
        if (closed) this.close();
        const ms = performance.now() - started;
        return { status, headers, head, body, complete, closed, timedOut, ms };
      }
    } catch {
      return this.#broken(started, timedOut);
    } finally {
      clearTimeout(timer);
    }
  }

  async #chunked(conn: Deno.Conn): Promise<[Uint8Array, boolean]> {
    const parts: Uint8Array[] = [];
    for (;;) {
      let eol = indexOfBytes(this.#buf, CRLF);
      while (eol < 0) {
        if (!(await this.#fill(conn))) return [concat(parts), false];
        eol = indexOfBytes(this.#buf, CRLF);
      }
      const size = parseInt(latin1.decode(this.#buf.subarray(0, eol)), 16);
      if (!(size >= 0)) return [concat(parts), false];
      while (this.#buf.length < eol + 2 + size + 2) {
        if (!(await this.#fill(conn))) return [concat(parts), false];
      }
      if (size === 0) {
        // No trailers are expected: the last chunk and its CRLF.
        this.#buf = this.#buf.subarray(eol + 4);
        return [concat(parts), true];
      }
      parts.push(this.#buf.slice(eol + 2, eol + 2 + size));
      this.#buf = this.#buf.subarray(eol + 2 + size + 2);
    }
  }

  #broken(started: number, timedOut: boolean): Answer {
    this.close();
    return {
      status: 0,
      headers: new Map(),
      head: "",
      body: new Uint8Array(0),
      complete: false,
      closed: true,
      timedOut,
      ms: performance.now() - started,
    };
  }
}
