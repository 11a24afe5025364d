/**
 * Runs the proxy (src/main.ts) as a child process under Deno or Bun, the way a user would, for
 * end-to-end tests. The child gets a clean environment: PATH and HOME, HOST=127.0.0.1 and
 * PORT=0 (unless given), plus exactly the variables the test passes.
 *
 * The proxy writes JSON log lines on stdout; the first one once it accepts connections is
 * `{"level":"info","event":"listening","host":"127.0.0.1","port":12345,...}`.
 *
 * @module
 */

import { readLines } from "./lines.ts";

/** The runtime that serves the proxy. */
export type Runtime = "deno" | "bun";

/** Options for {@linkcode startProxy} and {@linkcode startProxyExpectingExit}. */
export interface ProxyOptions {
  runtime: Runtime;
  /** Environment of the proxy, on top of PATH, HOME, HOST=127.0.0.1 and PORT=0. */
  env?: Record<string, string>;
  /** Milliseconds to wait for the listening line (or for the exit). Default 15000. */
  timeoutMs?: number;
  /**
   * Deno only: run `deno task start` (deno.json's task, with `--allow-read` limited to the
   * credential files) instead of `deno run --allow-net --allow-env --allow-read src/main.ts`.
   * `pid` is then the task runner's, which forwards signals (SIGHUP, SIGTERM) to the proxy.
   */
  viaTask?: boolean;
  /**
   * Run this executable (a `bun build --compile` output, say) with no arguments instead of
   * `src/main.ts` under `runtime`, which then only labels the process.
   */
  executable?: string;
}

/** How the process ended. */
export interface ExitStatus {
  code: number;
  signal: Deno.Signal | null;
}

/** A running proxy. */
export interface ProxyHandle extends AsyncDisposable {
  runtime: Runtime;
  pid: number;
  port: number;
  /** `http://127.0.0.1:PORT` */
  url: string;
  /** Every stdout and stderr line so far, in arrival order. */
  lines(): string[];
  /** The stdout lines so far that parse as JSON objects. */
  jsonLines(): Record<string, unknown>[];
  /**
   * Resolves with the first line so far or to come that matches; rejects after `timeoutMs`
   * (default 5000) or when the process exits first, with `label` and the output in the message.
   */
  waitForLine(
    match: RegExp | ((line: string) => boolean),
    timeoutMs?: number,
    label?: string,
  ): Promise<string>;
  /** Resolves when the process exits by itself or after stop(). */
  exited: Promise<ExitStatus>;
  /** SIGTERM, then wait for the exit (SIGKILL after 5 s). Idempotent. */
  stop(signal?: "SIGTERM" | "SIGINT"): Promise<ExitStatus>;
}

/** What {@linkcode startProxyExpectingExit} saw. */
export interface ProxyExit extends ExitStatus {
  stdout: string;
  stderr: string;
}

/** The repository root, from this file's location (tests/support/). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;

/** The V8 flags of `deno task start` (deno.json), so that tests run Deno as users do. */
const START_V8_FLAGS: string[] = (() => {
  const tasks = JSON.parse(Deno.readTextFileSync(`${REPO_ROOT}deno.json`)).tasks;
  return String(tasks.start).match(/--v8-flags=\S+/g) ?? [];
})();

function command(options: ProxyOptions): Deno.Command {
  const { runtime, env = {} } = options;
  const [cmd, args] = options.executable !== undefined
    ? [options.executable, []]
    : runtime === "deno"
    ? [
      Deno.execPath(),
      options.viaTask
        ? ["task", "start"]
        // With `deno task start`'s V8 flags: the proxy as it runs, memory included.
        : ["run", ...START_V8_FLAGS, "--allow-net", "--allow-env", "--allow-read", "src/main.ts"],
    ]
    : ["bun", ["run", "src/main.ts"]];
  const base: Record<string, string> = { HOST: "127.0.0.1", PORT: "0" };
  for (const name of ["PATH", "HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  return new Deno.Command(cmd, {
    args,
    cwd: REPO_ROOT,
    clearEnv: true,
    env: { ...base, ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  });
}

function parseObject(line: string): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(line);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Settles with `promise`, or rejects with `message()` after `ms`; clears its timer. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * Start the proxy and wait until it logs `listening`. Fails (never hangs) if it exits first
 * or is not ready within `timeoutMs`, with its output in the error.
 *
 * @example
 * ```ts
 * await using s3 = await startS3rver({ buckets: ["site"] });
 * await using proxy = await startProxy({
 *   runtime: "deno",
 *   env: { S3_ENDPOINT: s3.endpoint, AWS_ACCESS_KEY_ID: s3.accessKeyId },
 * });
 * const res = await fetch(`${proxy.url}/site/`);
 * ```
 */
export async function startProxy(options: ProxyOptions): Promise<ProxyHandle> {
  const child = command(options).spawn();
  const all: string[] = [];
  const json: Record<string, unknown>[] = [];
  const waiters = new Set<(line: string) => void>();
  const push = (line: string) => {
    all.push(line);
    for (const w of [...waiters]) w(line);
  };
  const stdoutDone = readLines(child.stdout, (line) => {
    const obj = parseObject(line);
    if (obj) json.push(obj);
    push(line);
  });
  const stderrDone = readLines(child.stderr, push);
  const exited: Promise<ExitStatus> = child.status.then(async (s) => {
    await Promise.all([stdoutDone, stderrDone]);
    return { code: s.code, signal: s.signal };
  });
  const output = () => all.join("\n");

  let stopping: Promise<ExitStatus> | undefined;
  const stop = (signal: "SIGTERM" | "SIGINT" = "SIGTERM") =>
    stopping ??= (async () => {
      try {
        child.kill(signal);
      } catch { /* already exited */ }
      try {
        return await withTimeout(exited, 5000, () => `no exit after ${signal}`);
      } catch {
        try {
          child.kill("SIGKILL");
        } catch { /* already exited */ }
        return await exited;
      }
    })();

  const waitForLine = (
    match: RegExp | ((line: string) => boolean),
    timeoutMs = 5000,
    label = String(match),
  ) => {
    const test = typeof match === "function" ? match : (l: string) => match.test(l);
    const seen = all.find(test);
    if (seen !== undefined) return Promise.resolve(seen);
    let waiter: (line: string) => void = () => {};
    const found = new Promise<string>((resolve, reject) => {
      waiter = (line) => test(line) && resolve(line);
      exited.then((s) =>
        reject(new Error(`proxy exited (code ${s.code}) while waiting for ${label}:\n${output()}`))
      );
    });
    waiters.add(waiter);
    return withTimeout(found, timeoutMs, () => `no ${label} after ${timeoutMs} ms:\n${output()}`)
      .finally(() => waiters.delete(waiter));
  };

  const timeoutMs = options.timeoutMs ?? 15000;
  let ready: Record<string, unknown>;
  try {
    const line = await waitForLine(
      (l) => parseObject(l)?.event === "listening",
      timeoutMs,
      'the "listening" line',
    );
    ready = parseObject(line)!;
    if (typeof ready.port !== "number") throw new Error(`no port in: ${line}`);
  } catch (err) {
    await stop();
    throw new Error(
      `${options.runtime} proxy did not start: ${(err as Error).message.split("\n")[0]}\n` +
        `--- output ---\n${output()}`,
    );
  }
  // Keep an eventual rejection of a dangling waiter from surfacing as unhandled.
  exited.catch(() => {});

  const port = ready.port as number;
  return {
    runtime: options.runtime,
    pid: child.pid,
    port,
    url: `http://127.0.0.1:${port}`,
    lines: () => [...all],
    jsonLines: () => [...json],
    waitForLine,
    exited,
    stop,
    [Symbol.asyncDispose]: async () => {
      await stop();
    },
  };
}

/**
 * Run the proxy expecting it to exit by itself (a configuration error, say) within
 * `timeoutMs`; kills it and throws, with its output, if it is still running then.
 *
 * @example
 * ```ts
 * const { code, stderr, stdout } = await startProxyExpectingExit({ runtime: "bun", env: {} });
 * // code !== 0, and the output names every missing variable
 * ```
 */
export async function startProxyExpectingExit(options: ProxyOptions): Promise<ProxyExit> {
  const child = command(options).spawn();
  const out: string[] = [];
  const err: string[] = [];
  const done = Promise.all([
    child.status,
    readLines(child.stdout, (l) => out.push(l)),
    readLines(child.stderr, (l) => err.push(l)),
  ]);
  try {
    const [status] = await withTimeout(
      done,
      options.timeoutMs ?? 15000,
      () => `still running:\n${[...out, ...err].join("\n")}`,
    );
    return {
      code: status.code,
      signal: status.signal,
      stdout: out.join("\n"),
      stderr: err.join("\n"),
    };
  } catch (e) {
    try {
      child.kill("SIGKILL");
    } catch { /* already exited */ }
    await done;
    throw new Error(`${options.runtime} proxy was expected to exit: ${(e as Error).message}`);
  }
}
