/**
 * The few lines of I/O under the CLIs' pure `main` functions, through `runtime.ts`: arguments,
 * the environment (read only when asked, so that `signing-key` runs with no permission at all),
 * stdout, stderr and the exit code.
 *
 * @module
 */

import type { Env } from "../env.ts";
import { currentRuntime } from "../runtime.ts";

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

/**
 * Runs a CLI's `main` (synchronous, or async for one that does file I/O through what it is
 * given) with this process's arguments and prints its result.
 *
 * @example
 * ```ts
 * if (import.meta.main) runCli((args) => main(args, new Date()));
 * ```
 */
export async function runCli(
  run: (args: readonly string[], env: () => Env) => CliResult | Promise<CliResult>,
): Promise<void> {
  const runtime = currentRuntime();
  const result = await run(runtime.args(), () => runtime.env());
  runtime.write("stdout", result.stdout);
  runtime.write("stderr", result.stderr);
  runtime.setExitCode(result.code);
}
