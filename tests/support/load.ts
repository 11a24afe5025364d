/**
 * A load generator and a process sampler for the load tests (tests/load_test.ts): `connections`
 * kept-alive raw HTTP/1.1 clients (tests/support/http1.ts) send a mix of requests for a bounded
 * time, and every answer is checked against the status its kind expects; `/proc/PID/status`
 * (VmRSS) and `/proc/PID/fd` are sampled meanwhile. Loopback only.
 *
 * @module
 */

import { Http1Client } from "./http1.ts";

/** One kind of request in the mix. */
export interface LoadKind {
  readonly name: string;
  /** The whole raw request. */
  readonly raw: Uint8Array;
  readonly method: string;
  /** Statuses that count as success. */
  readonly expect: readonly number[];
  /** Body length expected, when it is known. */
  readonly bodyLength?: number;
  /** Relative weight in the mix. */
  readonly weight: number;
}

/** What a run came to. */
export interface LoadResult {
  requests: number;
  /** No answer, a reset, or a body cut short. */
  transportErrors: number;
  /** Of those, answers whose head came and whose body was cut short. */
  cutShort: number;
  /** An answer with a status (or body length) its kind does not expect. */
  unexpected: number;
  /** A few examples of either, for messages. */
  examples: string[];
  byKind: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
  seconds: number;
  /** New connections opened (beyond the first of each client). */
  reconnects: number;
}

/** A raw GET/HEAD request head for `path`, kept alive. */
export function rawRequest(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Uint8Array {
  let head = `${method} ${path} HTTP/1.1\r\nHost: proxy.test\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return new TextEncoder().encode(head + "\r\n");
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/**
 * Runs the mix on `connections` kept-alive connections to 127.0.0.1:`port` for `seconds` (or
 * until `stop` resolves), each request waiting for its answer (a client with a slow answer
 * falls behind; none is abandoned).
 *
 * @example
 * ```ts
 * const result = await runLoad(proxy.port, kinds, { connections: 64, seconds: 10 });
 * assert.equal(result.transportErrors, 0);
 * ```
 */
export async function runLoad(
  port: number,
  kinds: readonly LoadKind[],
  options: { connections: number; seconds: number; stop?: Promise<void> },
): Promise<LoadResult> {
  const total = kinds.reduce((n, k) => n + k.weight, 0);
  const deck: LoadKind[] = [];
  for (const k of kinds) for (let i = 0; i < k.weight; i++) deck.push(k);
  const result: LoadResult = {
    requests: 0,
    transportErrors: 0,
    cutShort: 0,
    unexpected: 0,
    examples: [],
    byKind: {},
    p50: 0,
    p99: 0,
    max: 0,
    seconds: 0,
    reconnects: 0,
  };
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  let stopped = false;
  options.stop?.then(() => stopped = true);
  await Promise.all(Array.from({ length: options.connections }, async (_, lane) => {
    const client = new Http1Client(port);
    let i = lane * 7;
    try {
      while (!stopped && performance.now() < deadline) {
        const kind = deck[i++ % total];
        const answer = await client.request(kind.raw, kind.method, 15_000);
        result.requests++;
        result.byKind[kind.name] = (result.byKind[kind.name] ?? 0) + 1;
        latencies.push(answer.ms);
        if (answer.status === 0 || !answer.complete) {
          result.transportErrors++;
          if (answer.status !== 0) result.cutShort++;
          if (result.examples.length < 5) {
            result.examples.push(
              `${kind.name}: status ${answer.status}, complete ${answer.complete}`,
            );
          }
        } else if (
          !kind.expect.includes(answer.status) ||
          (kind.bodyLength !== undefined && answer.body.length !== kind.bodyLength)
        ) {
          result.unexpected++;
          if (result.examples.length < 5) {
            result.examples.push(`${kind.name}: ${answer.status}, ${answer.body.length} bytes`);
          }
        }
      }
    } finally {
      result.reconnects += Math.max(0, client.connects - 1);
      client.close();
    }
  }));
  latencies.sort((a, b) => a - b);
  result.p50 = percentile(latencies, 0.5);
  result.p99 = percentile(latencies, 0.99);
  result.max = latencies[latencies.length - 1] ?? 0;
  result.seconds = (performance.now() - started) / 1000;
  return result;
}

/** One sample of a process. */
export interface Sample {
  /** Milliseconds since the sampler started. */
  at: number;
  /** Resident set, KiB. */
  rssKiB: number;
  fds: number;
}

/** Resident memory (KiB) and open descriptors of `pid` now. */
export function sampleProcess(pid: number): { rssKiB: number; fds: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rssKiB = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  let fds = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
  return { rssKiB, fds };
}

/** Samples `pid` every `everyMs` until stopped; `stop()` returns the samples. */
export function startSampler(pid: number, everyMs = 200): { stop(): Sample[]; samples: Sample[] } {
  const samples: Sample[] = [];
  const t0 = performance.now();
  const take = () => {
    try {
      samples.push({ at: performance.now() - t0, ...sampleProcess(pid) });
    } catch { /* the process is gone */ }
  };
  take();
  const timer = setInterval(take, everyMs);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
      return samples;
    },
  };
}
