/**
 * Running the real command-line clients (aws, rclone, s3cmd) from tests: a clean environment
 * (PATH, a fresh HOME removed afterwards, UTF-8, no instance metadata, no AWS_* but what the test
 * sets), no stdin, and a timeout that kills the tool.
 *
 * @module
 */

import assert from "node:assert/strict";

/** How a tool run ended. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd` with a clean environment plus `env`, killed after `timeoutMs`. */
export async function runTool(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 60_000,
): Promise<RunResult> {
  const home = await Deno.makeTempDir({ prefix: "tool-home-" });
  try {
    const out = await new Deno.Command(cmd, {
      args,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: home,
        LC_ALL: "C.UTF-8",
        PYTHONIOENCODING: "utf-8",
        AWS_EC2_METADATA_DISABLED: "true",
        AWS_DEFAULT_REGION: "us-east-1",
        ...env,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  } finally {
    await Deno.remove(home, { recursive: true }).catch(() => {});
  }
}

/** Fails with the tail of the tool's output unless it exited 0. */
export function assertOk(result: RunResult, what: string): void {
  assert.equal(
    result.code,
    0,
    `${what} failed (${result.code}):\n${result.stderr.slice(-3000)}\n${
      result.stdout.slice(-2000)
    }`,
  );
}

/** An installed aws-cli: the command and what `--version` says. */
export interface AwsCli {
  cmd: string;
  version: string;
}

/**
 * The aws-cli installs to test: `aws` on PATH (here a pyenv shim of v1, in CI Debian's v2), and
 * Debian's /usr/bin/aws when it is another version.
 */
export async function findAwsClis(): Promise<AwsCli[]> {
  const found: AwsCli[] = [];
  for (const cmd of ["aws", "/usr/bin/aws"]) {
    try {
      const result = await runTool(cmd, ["--version"], {}, 20_000);
      const version = /aws-cli\/\S+/.exec(result.stdout + result.stderr)?.[0];
      if (result.code === 0 && version && !found.some((c) => c.version === version)) {
        found.push({ cmd, version });
      }
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) throw e;
    }
  }
  if (found.length === 0) throw new Error("no aws-cli found (apt-get install awscli)");
  return found;
}
