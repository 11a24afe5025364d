/**
 * Loopback TCP helpers for end-to-end tests: a forwarder that records the head of every HTTP/1.1
 * request passing through it (so a test sees exactly what reached the fake upstream, or that
 * nothing did), and a port that nothing listens on.
 *
 * @module
 */

/** The head of one request that went through the forwarder. */
export interface Upstream {
  method: string;
  target: string;
  /** Header names lower-cased; for a repeated name, the last value. */
  headers: Map<string, string>;
}

/** A running forwarder: point a client at `host`; `seen` grows as request heads pass. */
export interface Forwarder {
  port: number;
  /** `127.0.0.1:<port>` */
  host: string;
  seen: Upstream[];
  /** Stops listening, closes every connection and waits for the relays to end. */
  close(): Promise<void>;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
}

/**
 * Listens on 127.0.0.1 and a free port and relays each connection, both ways, to
 * 127.0.0.1:`targetPort`, recording the head of every request the client sends (a body announced
 * by Content-Length is passed over, not read as a head).
 *
 * @example
 * ```ts
 * const forwarder = startForwarder(s3.port);
 * try {
 *   await fetch(`http://${forwarder.host}/bkt/key`);
 *   // forwarder.seen[0].method === "GET", forwarder.seen[0].target === "/bkt/key"
 * } finally {
 *   await forwarder.close();
 * }
 * ```
 */
export function startForwarder(targetPort: number, port = 0): Forwarder {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const conns = new Set<Deno.Conn>();
  const tasks = new Set<Promise<void>>();
  const seen: Upstream[] = [];
  const closeQuietly = (c: Deno.Conn) => {
    try {
      c.close();
    } catch { /* already closed */ }
    conns.delete(c);
  };

  async function pipe(from: Deno.Conn, to: Deno.Conn, onData?: (b: Uint8Array) => void) {
    const buf = new Uint8Array(65536);
    for (let n; (n = await from.read(buf)) !== null;) {
      onData?.(buf.subarray(0, n));
      await writeAll(to, buf.subarray(0, n));
    }
  }

  async function serve(client: Deno.Conn) {
    conns.add(client);
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
    } catch {
      closeQuietly(client);
      return;
    }
    conns.add(server);
    let pending = "";
    let skip = 0;
    const decoder = new TextDecoder("latin1");
    const record = (bytes: Uint8Array) => {
      pending += decoder.decode(bytes, { stream: true });
      for (;;) {
        if (skip > 0) {
          const n = Math.min(skip, pending.length);
          pending = pending.slice(n);
          skip -= n;
          if (skip > 0) return;
        }
        const end = pending.indexOf("\r\n\r\n");
        if (end < 0) return;
        const [line, ...rest] = pending.slice(0, end).split("\r\n");
        pending = pending.slice(end + 4);
        const [method, target] = line.split(" ");
        const headers = new Map<string, string>();
        for (const h of rest) {
          const colon = h.indexOf(":");
          headers.set(h.slice(0, colon).trim().toLowerCase(), h.slice(colon + 1).trim());
        }
        seen.push({ method, target, headers });
        skip = Number(headers.get("content-length") ?? 0);
      }
    };
    await Promise.race([pipe(client, server, record), pipe(server, client)]).catch(() => {});
    closeQuietly(client);
    closeQuietly(server);
  }

  const accepting = (async () => {
    for await (const conn of listener) {
      const task = serve(conn).catch(() => {});
      tasks.add(task);
      task.finally(() => tasks.delete(task));
    }
  })().catch(() => {});

  const bound = (listener.addr as Deno.NetAddr).port;
  return {
    port: bound,
    host: `127.0.0.1:${bound}`,
    seen,
    async close() {
      listener.close();
      for (const c of [...conns]) closeQuietly(c);
      await accepting;
      await Promise.allSettled([...tasks]);
    },
  };
}

/**
 * A port on 127.0.0.1 that nothing listens on (bound, then released).
 *
 * @example
 * ```ts
 * const port = closedPort();
 * await fetch(`http://127.0.0.1:${port}/`); // rejects: connection refused
 * ```
 */
export function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}
