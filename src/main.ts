/**
 * The shell: reads the environment, resolves credentials, and serves the handler with Deno.serve
 * or Bun.serve. Run with `deno task start` or `bun run src/main.ts`.
 *
 * @module
 */

import { parseConfig, regionOf } from "./config.ts";
import { createHandler, type LogEntry } from "./handler.ts";
import { reloadOnSignal, runtimeCredentialIo, runtimeEnv } from "./credentials/io.ts";
import { parseScope } from "./credentials/signing_key.ts";
import {
  type CredentialProvider,
  CredentialsConfigError,
  resolveCredentialProvider,
} from "./credentials/resolve.ts";

declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (req: Request) => Promise<Response>;
    idleTimeout?: number;
  }): { port: number; hostname: string; stop(force?: boolean): Promise<void> };
} | undefined;

/** How long a graceful shutdown waits for in-flight requests (long downloads) before exiting. */
const SHUTDOWN_GRACE_MS = 10_000;

const encoder = new TextEncoder();

/** One JSON line on stdout; in Deno written directly (console.log costs more than the request). */
function log(entry: LogEntry): void {
  const line = JSON.stringify(
    "time" in entry ? entry : { time: new Date().toISOString(), ...entry },
  );
  if (typeof Deno === "undefined") {
    console.log(line);
    return;
  }
  const bytes = encoder.encode(line + "\n");
  for (let written = 0; written < bytes.length;) {
    written += Deno.stdout.writeSync(bytes.subarray(written));
  }
}

function exit(code: number): never {
  if (typeof Deno !== "undefined") Deno.exit(code);
  // deno-lint-ignore no-process-global
  (globalThis as unknown as { process: { exit(code: number): never } }).process.exit(code);
  throw new Error("unreachable");
}

function onSignals(stop: (signal: string) => void): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    if (typeof Deno !== "undefined") Deno.addSignalListener(signal, () => stop(signal));
    // deno-lint-ignore no-process-global
    else {(globalThis as unknown as { process: NodeLikeProcess }).process.on(signal, () =>
        stop(signal));}
  }
}

interface NodeLikeProcess {
  on(signal: string, listener: () => void): void;
}

/** Checks that a configured signing key's scope fits the proxy (region, service). */
function scopeProblems(env: Record<string, string | undefined>, region: string): string[] {
  const scope = env.AWS_KEY_SCOPE?.trim();
  if (!scope || !env.AWS_SIGNING_KEY?.trim()) return [];
  const parts = parseScope(scope);
  if (!parts) return [`AWS_KEY_SCOPE: "${scope}" is not YYYYMMDD/REGION/s3/aws4_request`];
  const problems = [];
  if (parts.region !== region) {
    problems.push(
      `AWS_KEY_SCOPE: its region ${parts.region} is not the configured region ${region}`,
    );
  }
  if (parts.service !== "s3") {
    problems.push(`AWS_KEY_SCOPE: its service ${parts.service} is not s3`);
  }
  return problems;
}

async function main(): Promise<void> {
  const env = runtimeEnv();
  const parsed = parseConfig(env);
  const errors = parsed.ok ? [] : [...parsed.errors];
  errors.push(...scopeProblems(env, regionOf(env)));
  let credentials: CredentialProvider | undefined;
  const presignExpires = parsed.ok ? parsed.config.presignExpires : 300;
  try {
    credentials = await resolveCredentialProvider(env, runtimeCredentialIo({ env, log }), {
      refreshAheadMs: Math.max(300_000, presignExpires * 1000),
    });
  } catch (e) {
    if (!(e instanceof CredentialsConfigError)) throw e;
    errors.push(e.message.replaceAll("\n", "\n    "));
  }
  if (!parsed.ok || errors.length > 0 || !credentials) {
    credentials?.close?.();
    console.error("s3 signing proxy: bad configuration:");
    for (const error of errors) console.error(`  - ${error}`);
    exit(2);
  }
  // Say at once (the provider logs it loudly) when the credentials cannot sign today, such as
  // a signing key scoped to another day; requests that need a signature then get a 503.
  await credentials.get().catch(() => {});
  const config = parsed.config;
  log({ level: "info", event: "credentials", source: credentials.source });
  const stopReload = reloadOnSignal(credentials, log);
  const handler = createHandler(config, {
    fetch,
    now: Date.now,
    credentials,
    log,
  });
  const listening = (host: string, port: number) =>
    log({ level: "info", event: "listening", host, port, region: config.region });
  /** Stops taking requests, lets in-flight ones finish (for at most SHUTDOWN_GRACE_MS), exits. */
  const shutdown = (stop: () => Promise<void>) => (signal: string) => {
    log({ level: "info", event: "shutdown", signal });
    stopReload();
    credentials.close?.();
    setTimeout(() => {
      log({ level: "warn", event: "shutdown_forced", afterMs: SHUTDOWN_GRACE_MS });
      exit(0);
    }, SHUTDOWN_GRACE_MS);
    stop().then(() => exit(0));
  };
  if (typeof Deno !== "undefined") {
    const server = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) => listening(hostname, port),
    }, handler);
    onSignals(shutdown(() => server.shutdown()));
  } else if (typeof Bun !== "undefined") {
    const server = Bun.serve({ port: config.port, hostname: config.hostname, fetch: handler });
    listening(server.hostname, server.port);
    onSignals(shutdown(() => server.stop()));
  } else {
    console.error("s3 signing proxy: run it with Deno or Bun");
    exit(2);
  }
}

// Not a top-level await: `bun build --compile --bytecode` cannot compile one.
main().catch((error) => {
  console.error(error);
  exit(1);
});
