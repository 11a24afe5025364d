/**
 * Start time of the proxy: from launching the process to its first successful response (a `307`
 * for a plain HTTP client, which needs no upstream), for the one-binary builds with and without
 * `--bytecode`, and for `bun run` and `deno run` of src/main.ts for comparison.
 *
 *   deno run --allow-all bench/start_bench.ts [--runs N] [--variants plain,bytecode,bun,deno,task]
 *
 * It compiles both binaries into a scratch folder (`bun build --compile --minify [--bytecode]`,
 * the Dockerfile's command), then runs the variants in turn, N rounds (default 10), each on a
 * fresh port: spawn, then send `GET /bench/file.txt` every millisecond until one is answered
 * `307`, then SIGTERM and wait for the exit. It prints the median, minimum and maximum per
 * variant, and the binaries' sizes. The first round is a warm-up and is not counted (the page
 * cache holds the binaries afterwards, as on a node that pulled the image).
 *
 * @module
 */

import { REPO_ROOT } from "../tests/support/proxy.ts";

const args = Deno.args;
const option = (name: string, fallback: string) => {
  const i = args.indexOf(name);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const runs = Number(option("--runs", "10"));
const variants = option("--variants", "plain,bytecode,bun,deno,task").split(",");

const dir = await Deno.makeTempDir({ prefix: "start-bench-" });

async function compile(outfile: string, extra: string[]): Promise<void> {
  const out = await new Deno.Command("bun", {
    args: ["build", "--compile", "--minify", ...extra, "src/main.ts", "--outfile", outfile],
    cwd: REPO_ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(`bun build failed:\n${new TextDecoder().decode(out.stderr)}`);
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

const commands: Record<string, () => [string, string[]]> = {
  plain: () => [`${dir}/plain`, []],
  bytecode: () => [`${dir}/bytecode`, []],
  bun: () => ["bun", ["run", "src/main.ts"]],
  deno: () => [Deno.execPath(), ["run", "--allow-net", "--allow-env", "src/main.ts"]],
  // deno.json's task: a shell, `deno run` of read_paths.ts for --allow-read, then the proxy.
  task: () => [Deno.execPath(), ["task", "start"]],
};

/** Milliseconds from spawn to the first 307. */
async function once(variant: string): Promise<number> {
  const [cmd, cmdArgs] = commands[variant]();
  const port = freePort();
  const started = performance.now();
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    cwd: REPO_ROOT,
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      HOME: Deno.env.get("HOME") ?? "/",
      HOST: "127.0.0.1",
      PORT: String(port),
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      AWS_ENDPOINT_HOST: "127.0.0.1:9",
      AWS_ENDPOINT_SCHEME: "http",
    },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const deadline = started + 20_000;
    while (performance.now() < deadline) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/bench/file.txt`, { redirect: "manual" });
        await res.body?.cancel();
        if (res.status === 307) return performance.now() - started;
        throw new Error(`${variant}: status ${res.status}`);
      } catch (error) {
        if (!(error instanceof TypeError)) throw error; // not yet listening
      }
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    throw new Error(`${variant}: no answer in 20 s`);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
}

try {
  await compile(`${dir}/plain`, []);
  await compile(`${dir}/bytecode`, ["--bytecode"]);
  const times: Record<string, number[]> = Object.fromEntries(variants.map((v) => [v, []]));
  for (let round = 0; round <= runs; round++) {
    for (const variant of variants) {
      const ms = await once(variant);
      if (round > 0) times[variant].push(ms);
    }
  }
  const size = async (name: string) => ((await Deno.stat(`${dir}/${name}`)).size / 2 ** 20);
  console.log(`start to first 307, ${runs} runs each (after one warm-up round), ms:`);
  console.log("variant    median    min    max");
  for (const variant of variants) {
    const sorted = [...times[variant]].sort((a, b) => a - b);
    const median = sorted.length % 2
      ? sorted[(sorted.length - 1) / 2]
      : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
    const cells = [median, sorted[0], sorted[sorted.length - 1]].map((n) => n.toFixed(1));
    console.log(`${variant.padEnd(9)} ${cells.map((c) => c.padStart(7)).join("")}`);
  }
  console.log(
    `binary sizes: plain ${(await size("plain")).toFixed(1)} MiB, bytecode ${
      (await size("bytecode")).toFixed(1)
    } MiB`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
