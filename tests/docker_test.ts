/**
 * The container image, as far as it can be tested without a Docker engine:
 *
 * - the Dockerfile passes `dockerfilelint` (npm, offline), and says what the chart relies on (a
 *   numeric non-root USER, an exec-form ENTRYPOINT at the compiled binary);
 * - the binary it ships: the Dockerfile's own `bun build --compile ...` command, read from its
 *   RUN line, is run here with only the output path changed, and that executable is started
 *   (`startProxy({ executable })`) in front of `@20minutes/s3rver`, which verifies signatures.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, REPO_ROOT, startProxy } from "./support/proxy.ts";

const DOCKERFILE = `${REPO_ROOT}Dockerfile`;
const LINT = `${REPO_ROOT}node_modules/.bin/dockerfilelint`;

interface LintReport {
  totalIssues: number;
  files: { issues: { line: string; title: string; description: string }[] }[];
}

/** dockerfilelint's JSON report of one file (it exits with the number of issues). */
async function lint(path: string): Promise<LintReport> {
  const out = await new Deno.Command(LINT, { args: ["-j", path], stdin: "null" }).output();
  const text = new TextDecoder().decode(out.stdout);
  try {
    return JSON.parse(text);
  } catch {
    throw new Error(`dockerfilelint (npm ci installs it) printed no report:\n${text}`);
  }
}

/** The Dockerfile's instructions of its last stage, and every RUN, continuation lines joined. */
function instructions(text: string): { final: string[]; runs: string[] } {
  const lines = text.replace(/\\\n/g, " ").split("\n").map((l) => l.trim());
  const all = lines.filter((l) => l !== "" && !l.startsWith("#"));
  const lastFrom = all.findLastIndex((l) => /^FROM\s/i.test(l));
  return {
    final: all.slice(lastFrom),
    runs: all.filter((l) => /^RUN\s/i.test(l)).map((l) => l.replace(/^RUN\s+/i, "")),
  };
}

/** The RUN line's `bun build` arguments, with `--outfile` pointed at `outfile`. */
function buildArgs(dockerfile: string, outfile: string): string[] {
  const run = instructions(dockerfile).runs.find((r) => /^bun build\s/.test(r));
  assert.ok(run, "a RUN bun build line");
  assert.doesNotMatch(run, /[&|;$`]/, "one plain command");
  const words = run.split(/\s+/).slice(1);
  const at = words.indexOf("--outfile");
  assert.ok(at > 0 && words[at + 1], "--outfile PATH");
  words[at + 1] = outfile;
  return words;
}

describe("Dockerfile", () => {
  test("dockerfilelint finds no issue (and does find them in a bad Dockerfile)", async () => {
    const ours = await lint(DOCKERFILE);
    assert.deepEqual(ours.files[0].issues, []);
    assert.equal(ours.totalIssues, 0);

    const bad = await Deno.makeTempFile({ suffix: ".Dockerfile" });
    try {
      await Deno.writeTextFile(bad, "FROM ubuntu:latest\nRUN apt-get install curl\n");
      const report = await lint(bad);
      assert.deepEqual(report.files[0].issues.map((i) => i.title).sort(), [
        "Base Image Latest Tag",
        "Consider `--no-install-recommends`",
        "Missing parameter for `apt-get`",
      ]);
    } finally {
      await Deno.remove(bad);
    }
  });

  test("the image runs the compiled binary as a numeric non-root user", async () => {
    const text = await Deno.readTextFile(DOCKERFILE);
    const { final } = instructions(text);
    const user = final.find((l) => /^USER\s/i.test(l));
    // Kubernetes' runAsNonRoot can only verify a numeric user.
    const uid = /^USER\s+(\d+)(:\d+)?$/.exec(user ?? "")?.[1];
    assert.ok(uid !== undefined && Number(uid) > 0, `numeric non-root USER, got ${user}`);
    const entrypoint = final.find((l) => /^ENTRYPOINT\s/i.test(l));
    assert.ok(entrypoint, "an ENTRYPOINT");
    const argv = JSON.parse(entrypoint.replace(/^ENTRYPOINT\s+/i, ""));
    const copied = final.find((l) => l.startsWith("COPY --from=build"))?.split(/\s+/).at(-1);
    assert.deepEqual(argv, [copied]);
    const args = buildArgs(text, "/out");
    assert.ok(args.includes("--compile") && args.includes("src/main.ts"), args.join(" "));
  });
});

describe("the binary the Dockerfile ships, end to end against s3rver", () => {
  let dir: string;
  let binary: string;
  let s3: S3rverHandle;
  let proxy: ProxyHandle;

  before(async () => {
    dir = await Deno.makeTempDir({ prefix: "docker-binary-" });
    binary = `${dir}/s3-signing-proxy`;
    const args = buildArgs(await Deno.readTextFile(DOCKERFILE), binary);
    const built = await new Deno.Command("bun", {
      args,
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decoder = new TextDecoder();
    assert.ok(
      built.success,
      `bun ${args.join(" ")}:\n${decoder.decode(built.stdout)}${decoder.decode(built.stderr)}`,
    );
    s3 = await startS3rver({ buckets: ["site"] });
    await s3.putObject("site", "index.html", "<h1>hello from the binary</h1>", {
      "content-type": "text/html",
    });
    await s3.putObject("site", "docs/a b+c.txt", "plus and space");
    proxy = await startProxy({
      runtime: "bun",
      executable: binary,
      env: {
        AWS_ACCESS_KEY_ID: s3.accessKeyId,
        AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        AWS_REGION: s3.region,
        AWS_ENDPOINT_HOST: s3.host,
        AWS_ENDPOINT_SCHEME: "http",
      },
    });
  });

  after(async () => {
    await proxy?.stop();
    await s3?.stop();
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  test("the Dockerfile's build command includes --bytecode", async () => {
    assert.ok(buildArgs(await Deno.readTextFile(DOCKERFILE), binary).includes("--bytecode"));
  });

  test("a 307 to a presigned URL that s3rver accepts", async () => {
    const res = await fetch(`${proxy.url}/site/docs/a%20b+c.txt`, { redirect: "manual" });
    await res.body?.cancel();
    assert.equal(res.status, 307);
    const location = res.headers.get("location")!;
    assert.ok(location.startsWith(`${s3.endpoint}/site/docs/a%20b%2Bc.txt?`), location);
    const object = await fetch(location);
    assert.equal(object.status, 200);
    assert.equal(await object.text(), "plus and space");
  });

  test("an index.html streamed through, signed", async () => {
    const res = await fetch(`${proxy.url}/site/index.html`, { redirect: "manual" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(await res.text(), "<h1>hello from the binary</h1>");
  });

  test("PUT is a 405 with Allow", async () => {
    const res = await fetch(`${proxy.url}/site/new.txt`, { method: "PUT", body: "x" });
    await res.body?.cancel();
    assert.equal(res.status, 405);
    assert.equal(res.headers.get("allow"), "GET, HEAD");
  });

  test("a bad escape is a 400", async () => {
    const res = await fetch(`${proxy.url}/site/bad%ZZ.txt`, { redirect: "manual" });
    await res.body?.cancel();
    assert.equal(res.status, 400);
  });

  test("SIGTERM: a clean exit, with its shutdown line", async () => {
    const status = await proxy.stop("SIGTERM");
    assert.deepEqual(status, { code: 0, signal: null });
    assert.ok(
      proxy.jsonLines().some((l) => l.event === "shutdown" && l.signal === "SIGTERM"),
      proxy.lines().join("\n"),
    );
  });
});
