/**
 * The shell: reads the environment, loads the routes and their credentials (`setup.ts`), and
 * serves the handler on the runtime (`runtime.ts`). `SIGHUP` re-reads the routes file and the
 * credential files; so does a change of the routes file. Run with `deno task start` or
 * `bun run src/main.ts`.
 *
 * @module
 */

import { parseConfig } from "./config.ts";
import { setting } from "./env.ts";
import { createRouter, type Handler, type LogEntry } from "./handler.ts";
import { reloadOnSignal, runtimeCredentialIo } from "./credentials/io.ts";
import type { CredentialProvider } from "./credentials/provider.ts";
import { type Loaded, type LoadResult, loadRoutes, type SetupIo } from "./setup.ts";
import { currentRuntime, type Runtime } from "./runtime.ts";
import { createAdminHandler } from "./admin.ts";
import { createMetrics } from "./ops/metrics.ts";
import { logFilter, parseOpsSettings } from "./ops/settings.ts";
import { VERSION } from "./version.ts";
import { batchedLines, type LineWriter } from "./log_writer.ts";
import { isoTime } from "./proxy/log.ts";

/** How long a graceful shutdown waits for in-flight requests (long downloads) before exiting. */
const SHUTDOWN_GRACE_MS = 10_000;
/** How often the routes file is checked for a change of its contents. */
const ROUTES_POLL_MS = 2_000;

/**
 * One JSON line on stdout per entry that `keep` lets through (LOG_LEVEL, ACCESS_LOG), batched
 * (see log_writer.ts; the runtime's exit flushes them first, see the end of this file).
 */
function logger(out: LineWriter, keep: (entry: LogEntry) => boolean): (entry: LogEntry) => void {
  return (entry) => {
    if (!keep(entry)) return;
    out.line(JSON.stringify("time" in entry ? entry : { time: isoTime(Date.now()), ...entry }));
  };
}

/** The running proxy: what it serves now, and whether it is shutting down. */
interface Live {
  loaded: Loaded;
  handler: Handler;
  draining: boolean;
}

/** What the process runs on: its settings, log, I/O and the first load, or exit 2. */
async function configure(runtime: Runtime, out: LineWriter) {
  const env = runtime.env();
  const opsResult = parseOpsSettings(env);
  const ops = opsResult.ok ? opsResult.settings : { logLevel: "info" as const, accessLog: true };
  const log = logger(out, logFilter(ops));
  const io: SetupIo = {
    credentials: runtimeCredentialIo({ env, log }),
    fileMode: (path) => runtime.fileMode(path),
  };
  const first = await loadRoutes(env, io);
  if (!first.ok || !opsResult.ok) {
    const errors = [...(opsResult.ok ? [] : opsResult.errors), ...(first.ok ? [] : first.errors)];
    runtime.write(
      "stderr",
      "s3 signing proxy: bad configuration:\n" + errors.map((e) => `  - ${e}\n`).join(""),
    );
    runtime.exit(2);
  }
  return { env, settings: opsResult.settings, log, io, first };
}

/** The startup lines: each credential source with its routes, and the routes anyone may read. */
async function announce(loaded: Loaded, log: (entry: LogEntry) => void): Promise<void> {
  // Say at once (the provider logs it loudly) when the credentials cannot sign today, such as
  // a signing key scoped to another day; requests that need a signature then get a 503.
  await Promise.all([...loaded.providers.values()].map((p) => p.get().catch(() => {})));
  for (const provider of loaded.providers.values()) {
    const routes = loaded.routes.filter((r) => r.credentials === provider).map((r) => r.prefix);
    log({ level: "info", event: "credentials", source: provider.source, routes });
  }
  const open = loaded.routes.filter((r) => !r.auth?.length).map((r) => r.prefix);
  if (open.length > 0) {
    log({
      level: "warn",
      event: "open_routes",
      routes: open,
      message: "no access control (AUTH=none): anyone who can reach the proxy reads these routes",
    });
  }
}

/**
 * A reload of the routes file, one at a time: a good file replaces the routes (requests in
 * flight keep theirs; providers and authenticators no longer used are closed), a bad one is
 * logged with every problem and the running routes stay.
 */
function routesReloader(
  live: Live,
  load: (previous: Loaded) => Promise<LoadResult>,
  route: (loaded: Loaded) => Handler,
  reread: () => Promise<string | undefined>,
  log: (entry: LogEntry) => void,
): (reason: string) => Promise<void> {
  let reloading: Promise<void> = Promise.resolve();
  return (reason) =>
    reloading = reloading.then(async () => {
      const next = await load(live.loaded);
      if (!next.ok) {
        log({ level: "error", event: "routes_reload_failed", reason, errors: next.errors });
        // The same bad text is not tried again until it changes.
        live.loaded = { ...live.loaded, fileText: await reread() };
        return;
      }
      const kept = new Set<CredentialProvider>(next.providers.values());
      for (const p of live.loaded.providers.values()) if (!kept.has(p)) p.close?.();
      const keptAuth = new Set(next.authenticators.values());
      for (const a of live.loaded.authenticators.values()) if (!keptAuth.has(a)) a.close?.();
      live.loaded = next;
      live.handler = route(next);
      const routes = next.routes.map((r) => r.prefix);
      log({ level: "info", event: "routes_reloaded", reason, routes });
    }).catch((e) => {
      // Unexpected (every configuration problem is a result, not a throw): keep serving, and
      // keep later reloads running. The name only: a message might quote the file.
      const error = e instanceof Error ? e.name : "error";
      log({ level: "error", event: "routes_reload_failed", reason, errors: [error] });
    });
}

/**
 * On SIGINT/SIGTERM: readiness answers 503 at once; after `delayMs` the main listener stops
 * taking requests and in-flight ones finish (for at most SHUTDOWN_GRACE_MS more); then the
 * process exits. A second signal does not wait out the delay. The admin listener stays up.
 */
function shutdownOnSignals(
  runtime: Runtime,
  live: Live,
  delayMs: number,
  stop: () => Promise<void>,
  log: (entry: LogEntry) => void,
): void {
  let closing = false;
  const close = () => {
    if (closing) return;
    closing = true;
    for (const provider of live.loaded.providers.values()) provider.close?.();
    for (const a of live.loaded.authenticators.values()) a.close?.();
    setTimeout(() => {
      log({ level: "warn", event: "shutdown_forced", afterMs: SHUTDOWN_GRACE_MS });
      runtime.exit(0);
    }, SHUTDOWN_GRACE_MS);
    stop().then(() => runtime.exit(0));
  };
  const shutdown = (signal: string) => {
    if (live.draining) return close();
    live.draining = true;
    log({ level: "info", event: "shutdown", signal, delayMs });
    setTimeout(close, delayMs);
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    runtime.onSignal(signal, () => shutdown(signal));
  }
}

async function main(runtime: Runtime, out: LineWriter): Promise<void> {
  if (runtime.args().includes("--version")) {
    runtime.write("stdout", `s3-signing-proxy ${VERSION} (${runtime.name} ${runtime.version})\n`);
    runtime.exit(0);
  }
  const { env, settings, log, io, first } = await configure(runtime, out);
  await announce(first, log);
  // Recorded only when there is an admin port to read them from.
  const metrics = settings.adminPort === undefined ? undefined : createMetrics();
  const deps = { fetch, now: Date.now, log, metrics };
  const route = (loaded: Loaded) => createRouter(loaded.routes, deps);
  const live: Live = { loaded: first, handler: route(first), draining: false };
  const routesFile = setting(env, "ROUTES_FILE");
  const reread = () => readOrUndefined(runtime, routesFile);
  const reloadRoutes = routesReloader(live, (p) => loadRoutes(env, io, p), route, reread, log);
  const stopHup = reloadOnSignal(() => live.loaded.providers.values(), log, () => {
    for (const a of live.loaded.authenticators.values()) a.reload?.();
    if (routesFile !== undefined) reloadRoutes("SIGHUP");
  });
  const poll = routesFile === undefined ? undefined : setInterval(async () => {
    const text = await reread();
    if (text !== undefined && text !== live.loaded.fileText) reloadRoutes("changed");
  }, ROUTES_POLL_MS);

  let inFlight = 0;
  const server = parseConfig(env);
  const { port, hostname, idleTimeoutSeconds } = server.ok
    ? server.config
    : { port: 8080, hostname: "0.0.0.0", idleTimeoutSeconds: 10 };
  const listener = runtime.serve({
    port,
    hostname,
    idleTimeoutSeconds,
    // When no other request is in flight, the held log lines go out before this answer does (a
    // client that reads the log after its answer finds its line); under load they are batched,
    // and such an answer waits up to a millisecond for its batch (log_writer.ts).
    handler: async (req, conn) => {
      inFlight++;
      try {
        return await live.handler(req, conn);
      } finally {
        if (--inFlight === 0) {
          const written = out.idle();
          if (written) await written;
        }
      }
    },
    onListen: (host, port) =>
      log({
        level: "info",
        event: "listening",
        host,
        port,
        region: live.loaded.routes[0].config.region,
        routes: live.loaded.routes.map((r) => r.prefix),
      }),
  });
  if (metrics && settings.adminPort !== undefined) {
    runtime.serve({
      port: settings.adminPort,
      hostname: settings.adminHost,
      handler: createAdminHandler({
        metrics,
        routes: () => live.loaded.routes,
        draining: () => live.draining,
        build: { version: VERSION, runtime: runtime.name, runtimeVersion: runtime.version },
        process: () => ({ ...runtime.stats(), startTimeSeconds: performance.timeOrigin / 1000 }),
      }),
      onListen: (host, port) => log({ level: "info", event: "admin_listening", host, port }),
    });
  }
  shutdownOnSignals(runtime, live, settings.shutdownDelayMs, async () => {
    clearInterval(poll);
    await listener.shutdown();
    stopHup();
  }, log);
}

function readOrUndefined(runtime: Runtime, path: string | undefined): Promise<string | undefined> {
  return path === undefined ? Promise.resolve(undefined) : runtime.readTextFile(path).catch(
    () => undefined,
  );
}

if (import.meta.main) {
  const base = currentRuntime();
  const out = batchedLines((text) => base.write("stdout", text));
  // Every exit (shutdown on a signal, a bad configuration, a crash of main) writes the log
  // lines held first.
  const runtime: Runtime = {
    ...base,
    exit: (code) => {
      out.flush();
      return base.exit(code);
    },
  };
  main(runtime, out).catch((e) => {
    runtime.write("stderr", `s3 signing proxy: ${e instanceof Error ? e.stack : e}\n`);
    runtime.exit(1);
  });
}
