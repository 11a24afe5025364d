/**
 * The shell: reads the environment, resolves credentials, and serves the handler on the runtime
 * (`runtime.ts`). Run with `deno task start` or `bun run src/main.ts`.
 *
 * @module
 */

import { parseConfig } from "./config.ts";
import { regionOf } from "./env.ts";
import { createHandler, type LogEntry } from "./handler.ts";
import { reloadOnSignal, runtimeCredentialIo } from "./credentials/io.ts";
import { parseScope } from "./credentials/signing_key.ts";
import {
  type CredentialProvider,
  CredentialsConfigError,
  resolveCredentialProvider,
} from "./credentials/resolve.ts";
import { currentRuntime, type Runtime } from "./runtime.ts";

/** How long a graceful shutdown waits for in-flight requests (long downloads) before exiting. */
const SHUTDOWN_GRACE_MS = 10_000;

/** One JSON line on stdout, written at once (console.log costs more than a redirect). */
function logger(runtime: Runtime): (entry: LogEntry) => void {
  return (entry) => {
    const line = JSON.stringify(
      "time" in entry ? entry : { time: new Date().toISOString(), ...entry },
    );
    runtime.write("stdout", line + "\n");
  };
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

async function main(runtime: Runtime): Promise<void> {
  const log = logger(runtime);
  const env = runtime.env();
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
    runtime.write(
      "stderr",
      "s3 signing proxy: bad configuration:\n" + errors.map((e) => `  - ${e}\n`).join(""),
    );
    runtime.exit(2);
  }
  // Say at once (the provider logs it loudly) when the credentials cannot sign today, such as
  // a signing key scoped to another day; requests that need a signature then get a 503.
  await credentials.get().catch(() => {});
  const config = parsed.config;
  log({ level: "info", event: "credentials", source: credentials.source });
  const stopReload = reloadOnSignal(credentials, log);
  const handler = createHandler(config, { fetch, now: Date.now, credentials, log });
  const server = runtime.serve({
    port: config.port,
    hostname: config.hostname,
    handler,
    onListen: (host, port) =>
      log({ level: "info", event: "listening", host, port, region: config.region }),
  });
  /** Stops taking requests, lets in-flight ones finish (for at most SHUTDOWN_GRACE_MS), exits. */
  const shutdown = (signal: string) => {
    log({ level: "info", event: "shutdown", signal });
    stopReload();
    credentials.close?.();
    setTimeout(() => {
      log({ level: "warn", event: "shutdown_forced", afterMs: SHUTDOWN_GRACE_MS });
      runtime.exit(0);
    }, SHUTDOWN_GRACE_MS);
    server.shutdown().then(() => runtime.exit(0));
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    runtime.onSignal(signal, () => shutdown(signal));
  }
}

if (import.meta.main) {
  const runtime = currentRuntime();
  main(runtime).catch((e) => {
    runtime.write("stderr", `s3 signing proxy: ${e instanceof Error ? e.stack : e}\n`);
    runtime.exit(1);
  });
}
