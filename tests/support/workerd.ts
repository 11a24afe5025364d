/**
 * Runs the Cloudflare Worker (src/worker.ts) under `workerd`, Cloudflare's runtime, from npm
 * (`@cloudflare/workerd-linux-64` ships the binary), on loopback, for end-to-end tests.
 *
 * The Worker is bundled to one ES module with `bun build --target browser` (once per test
 * process), and served by `workerd serve` with a generated config: the bundle as the one module,
 * the compatibility date of wrangler.toml, each binding as text (strings) or JSON (objects), a
 * socket on 127.0.0.1 port 0, and outbound fetches allowed to local addresses only. The port
 * workerd listens on is read from its control messages (`--control-fd=1`: a JSON line
 * `{"event":"listen","socket":"http","port":N}` on stdout); the Worker's `console.log` lines (its
 * JSON log) come on stdout too.
 *
 * @module
 */

import { readLines } from "./lines.ts";
import { REPO_ROOT } from "./proxy.ts";

/** The workerd binary that `npm ci` installed. */
export const WORKERD: string = `${REPO_ROOT}node_modules/@cloudflare/workerd-linux-64/bin/workerd`;

/** A binding's value: text (a var or secret) or JSON (a JSON var, such as ROUTES). */
export type Binding = string | Record<string, unknown> | unknown[];

/** Options for {@linkcode startWorker}. */
export interface WorkerOptions {
  /** The Worker's bindings, as wrangler's `[vars]` and secrets give them. */
  bindings?: Record<string, Binding>;
  /** Milliseconds to wait for workerd to listen. Default 20000. */
  timeoutMs?: number;
}

/** A running Worker. */
export interface WorkerHandle extends AsyncDisposable {
  pid: number;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every stdout and stderr line so far, in arrival order. */
  lines(): string[];
  /** The stdout lines so far that parse as JSON objects (control messages and the Worker's log). */
  jsonLines(): Record<string, unknown>[];
  /** SIGTERM, then wait for the exit (SIGKILL after 5 s). Idempotent. */
  stop(): Promise<void>;
}

/** `compatibility_date` of wrangler.toml: the tests run the Worker as `wrangler dev` would. */
export async function compatibilityDate(): Promise<string> {
  const toml = await Deno.readTextFile(`${REPO_ROOT}wrangler.toml`);
  const date = /^compatibility_date\s*=\s*"(\d{4}-\d{2}-\d{2})"/m.exec(toml)?.[1];
  if (!date) throw new Error("wrangler.toml has no compatibility_date");
  return date;
}

let bundled: Promise<string> | undefined;

/** Bundles src/worker.ts to one ES module (once per process); resolves to its path. */
export function bundleWorker(): Promise<string> {
  return bundled ??= (async () => {
    const dir = await Deno.makeTempDir({ prefix: "worker-bundle-" });
    const out = `${dir}/worker.js`;
    const result = await new Deno.Command("bun", {
      args: ["build", "src/worker.ts", "--target", "browser", "--format", "esm", "--outfile", out],
      cwd: REPO_ROOT,
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!result.success) {
      throw new Error(
        `bun build src/worker.ts failed:\n${new TextDecoder().decode(result.stderr)}`,
      );
    }
    return out;
  })();
}

/** A capnp string literal (only paths and names of ours: no quote or backslash in them). */
function capnpString(s: string): string {
  if (/["\\\n]/.test(s)) throw new Error(`not a plain string: ${s}`);
  return `"${s}"`;
}

/**
 * The workerd config for the bundle at `modulePath` with these bindings, whose values are in
 * files beside it (`embed`: no value needs escaping). Paths are relative to the config file.
 */
export function workerdConfig(
  modulePath: string,
  date: string,
  bindingFiles: readonly { name: string; kind: "text" | "json"; file: string }[],
): string {
  const bindings = bindingFiles.map((b) =>
    `(name = ${capnpString(b.name)}, ${b.kind} = embed ${capnpString(b.file)})`
  );
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "proxy", worker = .proxy),
    (name = "loopback", network = (allow = ["local"])),
  ],
  sockets = [(name = "http", address = "127.0.0.1:0", http = (), service = "proxy")],
);

const proxy :Workerd.Worker = (
  modules = [(name = "worker.js", esModule = embed ${capnpString(modulePath)})],
  compatibilityDate = ${capnpString(date)},
  bindings = [${bindings.join(", ")}],
  globalOutbound = "loopback",
);
`;
}

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the Worker under workerd and waits until it listens. Fails (never hangs) if workerd
 * exits first or is not listening within `timeoutMs`, with its output in the error.
 *
 * @example
 * ```ts
 * await using worker = await startWorker({
 *   bindings: { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret" },
 * });
 * const res = await fetch(`${worker.url}/bucket/key`);
 * ```
 */
export async function startWorker(options: WorkerOptions = {}): Promise<WorkerHandle> {
  const [module, date] = await Promise.all([bundleWorker(), compatibilityDate()]);
  const dir = await Deno.makeTempDir({ prefix: "workerd-" });
  const files = [];
  for (const [i, [name, value]] of Object.entries(options.bindings ?? {}).entries()) {
    const kind = typeof value === "string" ? "text" as const : "json" as const;
    const file = `binding-${i}.${kind === "text" ? "txt" : "json"}`;
    await Deno.writeTextFile(
      `${dir}/${file}`,
      typeof value === "string" ? value : JSON.stringify(value),
    );
    files.push({ name, kind, file });
  }
  // capnp's embed reads paths relative to the config (an absolute one is not found).
  await Deno.copyFile(module, `${dir}/worker.js`);
  const config = `${dir}/config.capnp`;
  await Deno.writeTextFile(config, workerdConfig("worker.js", date, files));
  const child = new Deno.Command(WORKERD, {
    args: ["serve", config, "--control-fd=1"],
    cwd: dir,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const all: string[] = [];
  const json: Record<string, unknown>[] = [];
  let onLine: (line: string) => void = () => {};
  const push = (line: string) => {
    all.push(line);
    onLine(line);
  };
  const stdoutDone = readLines(child.stdout, (line) => {
    const obj = parseObject(line);
    if (obj) json.push(obj);
    push(line);
  });
  const stderrDone = readLines(child.stderr, push);
  const exited = child.status.then(async (s) => {
    await Promise.all([stdoutDone, stderrDone]);
    return s;
  });
  let stopping: Promise<void> | undefined;
  const stop = () =>
    stopping ??= (async () => {
      try {
        child.kill("SIGTERM");
      } catch { /* already exited */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already exited */ }
          resolve();
        }, 5000);
      });
      await Promise.race([exited, killed]);
      await exited;
      clearTimeout(timer);
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    })();

  const timeoutMs = options.timeoutMs ?? 20_000;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const listening = (l: string) => {
    const o = parseObject(l);
    return o?.event === "listen" && o.socket === "http" && typeof o.port === "number";
  };
  try {
    const line = await new Promise<string>((resolve, reject) => {
      const seen = all.find(listening);
      if (seen) return resolve(seen);
      onLine = (l) => listening(l) && resolve(l);
      exited.then((s) => reject(new Error(`workerd exited (code ${s.code})`)));
      timer = setTimeout(() => reject(new Error(`not listening after ${timeoutMs} ms`)), timeoutMs);
    });
    const port = parseObject(line)!.port as number;
    return {
      pid: child.pid,
      port,
      url: `http://127.0.0.1:${port}`,
      lines: () => [...all],
      jsonLines: () => [...json],
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    await stop();
    throw new Error(
      `workerd did not start: ${(e as Error).message}\n--- output ---\n${all.join("\n")}`,
    );
  } finally {
    clearTimeout(timer);
    onLine = () => {};
  }
}
