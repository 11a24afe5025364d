/**
 * The runtime adapter: the few things the shell needs from Deno or Bun (environment, files,
 * timers, signals, output, exit, serve), behind one interface, so that nothing else asks which
 * runtime it is on. As in Hono's adapters, each runtime's glue is a few lines.
 *
 * Runtime features are used through globals, not `node:` imports: a `node:` import would make
 * `deno check` need `@types/node` in `node_modules` (this repository's `nodeModulesDir` is
 * `manual`), and `src/` must type-check on a fresh clone. The rule for all of `src/`: no `node:`.
 *
 * @module
 */

import type { ConnInfo } from "./handler.ts";

/** A listening server. */
export interface Server {
  readonly hostname: string;
  readonly port: number;
  /** Stops accepting connections and resolves when in-flight requests have finished. */
  shutdown(): Promise<void>;
}

/** What the shell needs from the runtime. */
export interface Runtime {
  readonly name: "deno" | "bun";
  /** The runtime's own version (`2.9.6`). */
  readonly version: string;
  /** Memory and open file descriptors, where the runtime tells them (for `/metrics`). */
  stats(): ProcessStats;
  /** The process environment (Deno needs `--allow-env`). */
  env(): Record<string, string | undefined>;
  /** Command-line arguments after the script. */
  args(): string[];
  /** A UTF-8 file (Deno obeys `--allow-read`). */
  readTextFile(path: string): Promise<string>;
  /** `st_mode` of a file (permission bits included), or undefined where it has none. */
  fileMode(path: string): Promise<number | undefined>;
  /** Lets a timer not keep the process alive. */
  unrefTimer(id: unknown): void;
  /** Adds a signal listener; returns its remover. Does nothing on Windows for SIGHUP. */
  onSignal(signal: "SIGINT" | "SIGTERM" | "SIGHUP", listener: () => void): () => void;
  /** Writes text to stdout or stderr at once (no buffering by the console). */
  write(stream: "stdout" | "stderr", text: string): void;
  exit(code: number): never;
  /** The exit code once the process ends by itself (output already written is kept). */
  setExitCode(code: number): void;
  serve(options: ServeOptions): Server;
}

/** What the runtime tells of the process; absent fields are unknown. */
export interface ProcessStats {
  readonly residentBytes?: number;
  readonly heapBytes?: number;
  readonly openFds?: number;
}

/** Where and what to serve. */
export interface ServeOptions {
  readonly port: number;
  readonly hostname: string;
  readonly handler: (req: Request, conn: ConnInfo) => Promise<Response>;
  /**
   * Seconds after which an idle connection is closed: no request on a kept-alive connection, an
   * unfinished request head, an answer that does not move. Bun applies it (`idleTimeout`);
   * Deno's `Deno.serve` has no such option (2.9) and keeps such connections open.
   */
  readonly idleTimeoutSeconds?: number;
  /** Told the bound address once listening (port 0 picks a free one). */
  readonly onListen: (hostname: string, port: number) => void;
}

declare const Bun: {
  version: string;
  file(path: string): { text(): Promise<string>; stat(): Promise<{ mode: number }> };
  serve(options: {
    port: number;
    hostname: string;
    idleTimeout?: number;
    fetch: (req: Request, server: BunServer) => Promise<Response>;
  }): BunServer;
} | undefined;

interface BunServer {
  port: number;
  hostname: string;
  stop(force?: boolean): Promise<void>;
  requestIP(req: Request): { address: string } | null;
}

interface NodeLikeProcess {
  env: Record<string, string | undefined>;
  argv: string[];
  platform: string;
  stdout: { write(text: string): void };
  stderr: { write(text: string): void };
  on(signal: string, listener: () => void): void;
  off(signal: string, listener: () => void): void;
  exit(code: number): never;
  exitCode?: number;
  memoryUsage(): { rss: number; heapUsed: number };
  getBuiltinModule?(id: string): unknown;
}

const FD_DIR = "/proc/self/fd";

const encoder = new TextEncoder();

function denoRuntime(): Runtime {
  const windows = Deno.build.os === "windows";
  return {
    name: "deno",
    version: Deno.version.deno,
    stats() {
      const memory = Deno.memoryUsage();
      let openFds: number | undefined;
      // Never a permission prompt: only with read permission, and Deno 2 allows /proc/self
      // only with --allow-all besides.
      if (Deno.permissions.querySync?.({ name: "read", path: FD_DIR }).state === "granted") {
        try {
          openFds = [...Deno.readDirSync(FD_DIR)].length;
        } catch { /* not Linux */ }
      }
      return { residentBytes: memory.rss, heapBytes: memory.heapUsed, openFds };
    },
    env: () => Deno.env.toObject(),
    args: () => [...Deno.args],
    readTextFile: (path) => Deno.readTextFile(path),
    fileMode: async (path) => (await Deno.stat(path)).mode ?? undefined,
    unrefTimer: (id) => {
      if (typeof id === "number") Deno.unrefTimer(id);
    },
    onSignal(signal, listener) {
      if (windows && signal !== "SIGINT") return () => {};
      Deno.addSignalListener(signal, listener);
      return () => Deno.removeSignalListener(signal, listener);
    },
    write(stream, text) {
      const bytes = encoder.encode(text);
      const out = stream === "stdout" ? Deno.stdout : Deno.stderr;
      for (let written = 0; written < bytes.length;) {
        written += out.writeSync(bytes.subarray(written));
      }
    },
    exit: (code) => Deno.exit(code),
    setExitCode: (code) => {
      Deno.exitCode = code;
    },
    serve(options) {
      const server = Deno.serve(
        {
          port: options.port,
          hostname: options.hostname,
          onListen: ({ hostname, port }) => options.onListen(hostname, port),
        },
        (req, info) =>
          options.handler(req, { remoteAddr: (info.remoteAddr as Deno.NetAddr).hostname }),
      );
      const addr = server.addr as Deno.NetAddr;
      return {
        get hostname() {
          return addr.hostname;
        },
        get port() {
          return addr.port;
        },
        shutdown: () => server.shutdown(),
      };
    },
  };
}

function bunRuntime(proc: NodeLikeProcess, bun: NonNullable<typeof Bun>): Runtime {
  const windows = proc.platform === "win32";
  return {
    name: "bun",
    version: bun.version,
    stats() {
      const memory = proc.memoryUsage();
      let openFds: number | undefined;
      try {
        // Not import.meta.require: a --bytecode build is CommonJS, where import.meta is an error.
        const fs = proc.getBuiltinModule?.("fs") as
          | { readdirSync(path: string): string[] }
          | undefined;
        openFds = fs?.readdirSync(FD_DIR).length;
      } catch { /* not Linux */ }
      return { residentBytes: memory.rss, heapBytes: memory.heapUsed, openFds };
    },
    env: () => ({ ...proc.env }),
    args: () => proc.argv.slice(2),
    readTextFile: (path) => bun.file(path).text(),
    fileMode: async (path) => (await bun.file(path).stat()).mode,
    unrefTimer: (id) => (id as { unref?: () => void })?.unref?.(),
    onSignal(signal, listener) {
      if (windows && signal !== "SIGINT") return () => {};
      proc.on(signal, listener);
      return () => proc.off(signal, listener);
    },
    write: (stream, text) => proc[stream].write(text),
    exit: (code) => proc.exit(code),
    setExitCode: (code) => {
      proc.exitCode = code;
    },
    serve(options) {
      const server = bun.serve({
        port: options.port,
        hostname: options.hostname,
        ...(options.idleTimeoutSeconds === undefined
          ? {}
          : { idleTimeout: options.idleTimeoutSeconds }),
        fetch: (req, server) =>
          options.handler(req, { remoteAddr: server.requestIP(req)?.address }),
      });
      options.onListen(server.hostname, server.port);
      return {
        hostname: server.hostname,
        port: server.port,
        shutdown: () => server.stop(),
      };
    },
  };
}

let detected: Runtime | undefined;

/**
 * The runtime this process runs on; throws on any other (the handler itself needs neither: see
 * `handler.ts`).
 *
 * @example
 * ```ts
 * const runtime = currentRuntime();
 * runtime.write("stdout", `running on ${runtime.name}\n`);
 * ```
 */
export function currentRuntime(): Runtime {
  if (detected) return detected;
  if (typeof Deno !== "undefined") return detected = denoRuntime();
  const proc = (globalThis as unknown as { process?: NodeLikeProcess }).process;
  if (typeof Bun !== "undefined" && proc) return detected = bunRuntime(proc, Bun);
  throw new Error("s3 signing proxy: run it with Deno or Bun");
}
