/**
 * The shell: reads the environment, resolves credentials, and serves the handler with Deno.serve
 * or Bun.serve. Run with `deno task start` or `bun run src/main.ts`.
 *
 * @module
 */

import { parseConfig, regionOf } from "./config.ts";
import { createHandler, type LogEntry } from "./handler.ts";
import type { Credentials } from "./s3/sigv4.ts";

declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (req: Request) => Promise<Response>;
    idleTimeout?: number;
  }): { port: number; hostname: string; stop(force?: boolean): Promise<void> };
} | undefined;

function log(entry: LogEntry): void {
  console.log(JSON.stringify({ time: new Date().toISOString(), ...entry }));
}

function readEnv(): Record<string, string | undefined> {
  if (typeof Deno !== "undefined") return Deno.env.toObject();
  // deno-lint-ignore no-process-global
  return (globalThis as unknown as { process: { env: Record<string, string> } }).process.env;
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

/** Static credentials from the environment (secret key, or signing key with its scope). */
function staticCredentials(env: Record<string, string | undefined>, errors: string[]) {
  const accessKeyId = env.AWS_ACCESS_KEY_ID?.trim();
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY?.trim();
  const sessionToken = env.AWS_SESSION_TOKEN?.trim() || undefined;
  const signingKey = env.AWS_SIGNING_KEY?.trim();
  const scope = env.AWS_KEY_SCOPE?.trim();
  if (!accessKeyId) errors.push("AWS_ACCESS_KEY_ID: required");
  if (secretAccessKey) return { accessKeyId: accessKeyId!, secretAccessKey, sessionToken };
  if (!signingKey) {
    errors.push("AWS_SECRET_ACCESS_KEY: required (or AWS_SIGNING_KEY with AWS_KEY_SCOPE)");
    return undefined;
  }
  let key: Uint8Array | undefined;
  try {
    key = Uint8Array.from(atob(signingKey), (c) => c.charCodeAt(0));
  } catch {
    key = undefined;
  }
  if (!key || key.length !== 32) errors.push("AWS_SIGNING_KEY: not a base64 32-byte key");
  const parts = scope?.split("/") ?? [];
  if (!scope) errors.push("AWS_KEY_SCOPE: required with AWS_SIGNING_KEY");
  else if (parts.length !== 4 || !/^\d{8}$/.test(parts[0]) || parts[3] !== "aws4_request") {
    errors.push(`AWS_KEY_SCOPE: "${scope}" is not YYYYMMDD/REGION/s3/aws4_request`);
  } else {
    if (parts[1] !== regionOf(env)) {
      errors.push(`AWS_KEY_SCOPE: its region ${parts[1]} is not the configured ${regionOf(env)}`);
    }
    if (parts[2] !== "s3") errors.push(`AWS_KEY_SCOPE: its service ${parts[2]} is not s3`);
  }
  if (!key || key.length !== 32 || !scope) return undefined;
  return { accessKeyId: accessKeyId!, signingKey: key, scope, sessionToken };
}

function main(): void {
  const env = readEnv();
  const parsed = parseConfig(env);
  const errors = parsed.ok ? [] : [...parsed.errors];
  const credentials: Credentials | undefined = staticCredentials(env, errors);
  if (!parsed.ok || errors.length > 0 || !credentials) {
    console.error("s3 signing proxy: bad configuration:");
    for (const error of errors) console.error(`  - ${error}`);
    exit(2);
  }
  const config = parsed.config;
  if ("scope" in credentials) {
    const today = new Date().toISOString().slice(0, 10).replaceAll("-", "");
    const date = credentials.scope.slice(0, 8);
    if (date !== today) {
      log({
        level: "error",
        event: "signing-key-expired",
        message:
          `AWS_SIGNING_KEY is scoped to ${date} but today (UTC) is ${today}: requests that need a signature will get 503 until a key for today is configured`,
      });
    }
  }
  const handler = createHandler(config, {
    fetch,
    now: Date.now,
    credentials: { get: () => Promise.resolve(credentials) },
    log,
  });
  const listening = (host: string, port: number) =>
    log({ level: "info", event: "listening", host, port, region: config.region });
  if (typeof Deno !== "undefined") {
    const server = Deno.serve({
      port: config.port,
      hostname: config.hostname,
      onListen: ({ hostname, port }) => listening(hostname, port),
    }, handler);
    onSignals((signal) => {
      log({ level: "info", event: "shutdown", signal });
      server.shutdown().then(() => exit(0));
    });
  } else if (typeof Bun !== "undefined") {
    const server = Bun.serve({ port: config.port, hostname: config.hostname, fetch: handler });
    listening(server.hostname, server.port);
    onSignals((signal) => {
      log({ level: "info", event: "shutdown", signal });
      server.stop().then(() => exit(0));
    });
  } else {
    console.error("s3 signing proxy: run it with Deno or Bun");
    exit(2);
  }
}

main();
