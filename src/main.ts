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
import { createRouter, type LogEntry } from "./handler.ts";
import { reloadOnSignal, runtimeCredentialIo } from "./credentials/io.ts";
import type { CredentialProvider } from "./credentials/provider.ts";
import { type Loaded, loadRoutes, type SetupIo } from "./setup.ts";
import { currentRuntime, type Runtime } from "./runtime.ts";
import { batchedLines, type LineWriter } from "./log_writer.ts";
import { isoTime } from "./proxy/log.ts";

/** How long a graceful shutdown waits for in-flight requests (long downloads) before exiting. */
const SHUTDOWN_GRACE_MS = 10_000;
/** How often the routes file is checked for a change of its contents. */
const ROUTES_POLL_MS = 2_000;

/** One JSON line on stdout per entry, batched (see log_writer.ts; flushed before every exit). */
function logger(out: LineWriter): (entry: LogEntry) => void {
  return (entry) => {
    out.line(JSON.stringify("time" in entry ? entry : { time: isoTime(Date.now()), ...entry }));
  };
}

/** One log line per credential provider: its source and the routes that use it. */
function logProviders(loaded: Loaded, log: (entry: LogEntry) => void): void {
  for (const provider of loaded.providers.values()) {
    const routes = loaded.routes.filter((r) => r.credentials === provider).map((r) => r.prefix);
    log({ level: "info", event: "credentials", source: provider.source, routes });
  }
}

async function main(runtime: Runtime, out: LineWriter): Promise<void> {
  const log = logger(out);
  const exit: (code: number) => never = (code) => {
    out.flush();
    return runtime.exit(code);
  };
  const env = runtime.env();
  const io: SetupIo = {
    credentials: runtimeCredentialIo({ env, log }),
    fileMode: (path) => runtime.fileMode(path),
  };
  const first = await loadRoutes(env, io);
  if (!first.ok) {
    runtime.write(
      "stderr",
      "s3 signing proxy: bad configuration:\n" + first.errors.map((e) => `  - ${e}\n`).join(""),
    );
    exit(2);
  }
  // Say at once (the provider logs it loudly) when the credentials cannot sign today, such as
  // a signing key scoped to another day; requests that need a signature then get a 503.
  await Promise.all([...first.providers.values()].map((p) => p.get().catch(() => {})));
  logProviders(first, log);
  const open = first.routes.filter((r) => !r.auth?.length).map((r) => r.prefix);
  if (open.length > 0) {
    log({
      level: "warn",
      event: "open_routes",
      routes: open,
      message: "no access control (AUTH=none): anyone who can reach the proxy reads these routes",
    });
  }
  const deps = { fetch, now: Date.now, log };
  let loaded: Loaded = first;
  let handler = createRouter(loaded.routes, deps);
  const routesFile = setting(env, "ROUTES_FILE");

  /** Re-reads the routes file; a bad one is logged and the running routes stay. */
  let reloading: Promise<void> = Promise.resolve();
  const reloadRoutes = (reason: string) =>
    reloading = reloading.then(async () => {
      const next = await loadRoutes(env, io, loaded);
      if (!next.ok) {
        log({ level: "error", event: "routes_reload_failed", reason, errors: next.errors });
        // The same bad text is not tried again until it changes.
        loaded = { ...loaded, fileText: await readOrUndefined(runtime, routesFile) };
        return;
      }
      const kept = new Set<CredentialProvider>(next.providers.values());
      for (const p of loaded.providers.values()) if (!kept.has(p)) p.close?.();
      const keptAuth = new Set(next.authenticators.values());
      for (const a of loaded.authenticators.values()) if (!keptAuth.has(a)) a.close?.();
      loaded = next;
      handler = createRouter(next.routes, deps);
      log({
        level: "info",
        event: "routes_reloaded",
        reason,
        routes: next.routes.map((r) => r.prefix),
      });
    }).catch((e) => {
      // Unexpected (every configuration problem is a result, not a throw): keep serving, and
      // keep later reloads running. The name only: a message might quote the file.
      const error = e instanceof Error ? e.name : "error";
      log({ level: "error", event: "routes_reload_failed", reason, errors: [error] });
    });

  const stopHup = reloadOnSignal(() => loaded.providers.values(), log, () => {
    for (const a of loaded.authenticators.values()) a.reload?.();
    if (routesFile !== undefined) reloadRoutes("SIGHUP");
  });
  const poll = routesFile === undefined ? undefined : setInterval(async () => {
    const text = await readOrUndefined(runtime, routesFile);
    if (text !== undefined && text !== loaded.fileText) reloadRoutes("changed");
  }, ROUTES_POLL_MS);

  const server = parseConfig(env);
  const { port, hostname } = server.ok ? server.config : { port: 8080, hostname: "0.0.0.0" };
  const listener = runtime.serve({
    port,
    hostname,
    handler: (req, conn) => handler(req, conn),
    onListen: (host, port) =>
      log({
        level: "info",
        event: "listening",
        host,
        port,
        region: loaded.routes[0].config.region,
        routes: loaded.routes.map((r) => r.prefix),
      }),
  });
  /** Stops taking requests, lets in-flight ones finish (for at most SHUTDOWN_GRACE_MS), exits. */
  const shutdown = (signal: string) => {
    log({ level: "info", event: "shutdown", signal });
    clearInterval(poll);
    for (const provider of loaded.providers.values()) provider.close?.();
    for (const a of loaded.authenticators.values()) a.close?.();
    setTimeout(() => {
      log({ level: "warn", event: "shutdown_forced", afterMs: SHUTDOWN_GRACE_MS });
      exit(0);
    }, SHUTDOWN_GRACE_MS);
    listener.shutdown().then(() => {
      stopHup();
      exit(0);
    });
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    runtime.onSignal(signal, () => shutdown(signal));
  }
}

function readOrUndefined(runtime: Runtime, path: string | undefined): Promise<string | undefined> {
  return path === undefined ? Promise.resolve(undefined) : runtime.readTextFile(path).catch(
    () => undefined,
  );
}

if (import.meta.main) {
  const runtime = currentRuntime();
  const out = batchedLines((text) => runtime.write("stdout", text));
  main(runtime, out).catch((e) => {
    out.flush();
    runtime.write("stderr", `s3 signing proxy: ${e instanceof Error ? e.stack : e}\n`);
    runtime.exit(1);
  });
}
