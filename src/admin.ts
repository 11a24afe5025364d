/**
 * The admin listener's handler (`ADMIN_PORT`, on `ADMIN_HOST`): liveness, readiness and
 * Prometheus metrics, on a port of their own, so that no path of the main port is reserved
 * (every path there is a key).
 *
 * - `GET /healthz`: `200` while the process serves.
 * - `GET /readyz`: `200` when every route can sign, else `503` with a JSON body naming each
 *   failing route and why; `503` from the moment a shutdown starts.
 * - `GET /metrics`: the text exposition format (version 0.0.4).
 *
 * @module
 */

import type { Metrics, ProcessState, Scrape } from "./ops/metrics.ts";
import { checkReadiness, type ReadyRoute } from "./ops/readiness.ts";

/** What the admin handler reads from the running proxy. */
export interface AdminDeps {
  readonly metrics: Metrics;
  /** The routes served now (they change on a reload). */
  readonly routes: () => readonly ReadyRoute[];
  /** True from the moment a shutdown starts. */
  readonly draining: () => boolean;
  readonly build: NonNullable<Scrape["build"]>;
  /** The process's memory and file descriptors, where the runtime tells them. */
  readonly process?: () => ProcessState;
  /** How long a readiness check waits for a credential source (default 2 s). */
  readonly readyTimeoutMs?: number;
}

const JSON_TYPE = "application/json; charset=utf-8";
const METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";

function answer(status: number, type: string, body: string, method: string): Response {
  return new Response(method === "HEAD" ? null : body, {
    status,
    headers: { "content-type": type, "cache-control": "no-store" },
  });
}

/**
 * Creates the admin handler.
 *
 * @example
 * ```ts
 * const admin = createAdminHandler({ metrics, routes: () => loaded.routes, draining: () => false,
 *   build: { version: VERSION, runtime: "deno", runtimeVersion: Deno.version.deno } });
 * ```
 */
export function createAdminHandler(deps: AdminDeps): (req: Request) => Promise<Response> {
  const timeoutMs = deps.readyTimeoutMs ?? 2000;
  return async (req) => {
    const method = req.method;
    const path = new URL(req.url).pathname;
    if (path !== "/healthz" && path !== "/readyz" && path !== "/metrics") {
      return answer(
        404,
        "text/plain; charset=utf-8",
        "not found: /healthz, /readyz, /metrics\n",
        method,
      );
    }
    if (method !== "GET" && method !== "HEAD") {
      const res = answer(405, "text/plain; charset=utf-8", `${method} is not allowed\n`, method);
      res.headers.set("allow", "GET, HEAD");
      return res;
    }
    if (path === "/healthz") return answer(200, "text/plain; charset=utf-8", "ok\n", method);
    const verdicts = await checkReadiness(deps.routes(), timeoutMs);
    if (path === "/readyz") {
      const draining = deps.draining();
      const failing = verdicts.filter((v) => !v.ready).map((v) => ({
        route: v.route,
        source: v.source,
        reason: v.reason ?? "not ready",
      }));
      const ready = !draining && failing.length === 0;
      const body = JSON.stringify({
        ready,
        ...(draining ? { shuttingDown: true } : {}),
        routes: verdicts.map((v) => v.route),
        ...(failing.length > 0 ? { failing } : {}),
      });
      return answer(ready ? 200 : 503, JSON_TYPE, body + "\n", method);
    }
    // One counter per source: the failures of every provider of that source, summed.
    const bySource = new Map<string, number>();
    for (const provider of new Set(deps.routes().map((r) => r.credentials))) {
      const count = provider.status?.().refreshFailures;
      if (count !== undefined) {
        bySource.set(provider.source, (bySource.get(provider.source) ?? 0) + count);
      }
    }
    const refreshFailures = [...bySource].map(([source, count]) => ({ source, count }));
    const text = deps.metrics.render({
      routes: verdicts.map((v) => ({
        route: v.route,
        source: v.source,
        ready: v.ready,
        expiration: v.status?.expiration,
        lastDay: v.status?.lastDay,
      })),
      refreshFailures,
      build: deps.build,
      process: deps.process?.(),
    });
    return answer(200, METRICS_TYPE, text, method);
  };
}
