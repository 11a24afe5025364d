/**
 * The few lines of I/O under the CLIs' pure `main` functions, for Deno and Bun: arguments, the
 * environment (read only when asked, so that `signing-key` runs with no permission at all),
 * stdout, stderr and the exit code. Runtimes are detected by their globals, as in the rest of
 * `src/`: no `node:` import.
 *
 * @module
 */

import type { Env } from "../env.ts";

/** What a CLI run produced: exit code and the text for stdout and stderr. */
export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * A usage error (exit code 2): the message, then the usage's first line and a pointer to
 * `--help`, on stderr.
 */
export function usageError(cli: string, usage: string, message: string): CliResult {
  const synopsis = usage.slice(0, usage.indexOf("\n"));
  return { code: 2, stdout: "", stderr: `${cli}: ${message}\n${synopsis}\n(--help for more)\n` };
}

interface NodeLikeProcess {
  argv: string[];
  env: Env;
  exitCode?: number;
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
}

function writeAll(to: { writeSync(bytes: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  for (let at = 0; at < bytes.length;) at += to.writeSync(bytes.subarray(at));
}

/**
 * Runs a CLI's `main` with this process's arguments and prints its result.
 *
 * @example
 * ```ts
 * if (import.meta.main) runCli((args) => main(args, new Date()));
 * ```
 */
export function runCli(run: (args: readonly string[], env: () => Env) => CliResult): void {
  if (typeof Deno !== "undefined") {
    const result = run(Deno.args, () => Deno.env.toObject());
    writeAll(Deno.stdout, result.stdout);
    writeAll(Deno.stderr, result.stderr);
    Deno.exitCode = result.code;
    return;
  }
  const process = (globalThis as unknown as { process: NodeLikeProcess }).process;
  const result = run(process.argv.slice(2), () => process.env);
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  process.exitCode = result.code;
}
