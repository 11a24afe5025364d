/**
 * `deno task start`, exactly as deno.json has it, with no flag from the user: credentials from a
 * shared credentials file in `$HOME/.aws`, requests that verify at `@20minutes/s3rver@5.0.0`, and
 * Deno's read permission limited to the credential files. The process that serves is found under
 * the task runner (Linux `/proc`), its flags are checked, and the same flags are shown to refuse
 * any other file.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { REPO_ROOT, startProxy } from "./support/proxy.ts";

/** The processes whose parent is `pid`, with their command lines. */
async function childrenOf(pid: number): Promise<{ pid: number; argv: string[] }[]> {
  const found: { pid: number; argv: string[] }[] = [];
  for await (const entry of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(entry.name)) continue;
    try {
      const stat = await Deno.readTextFile(`/proc/${entry.name}/stat`);
      // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid !== pid) continue;
      const cmdline = await Deno.readTextFile(`/proc/${entry.name}/cmdline`);
      found.push({ pid: Number(entry.name), argv: cmdline.split("\0").filter((a) => a !== "") });
    } catch { /* the process ended meanwhile */ }
  }
  return found;
}

describe("deno task start", () => {
  let s3: S3rverHandle;
  let home: string;

  before(async () => {
    s3 = await startS3rver({ buckets: ["site"] });
    await s3.putObject("site", "index.html", "<p>home</p>");
    await s3.putObject("site", "a.txt", "redirected");
    home = await Deno.makeTempDir({ prefix: "task-start-home-" });
    await Deno.mkdir(`${home}/.aws`);
    await Deno.writeTextFile(
      `${home}/.aws/credentials`,
      `[default]\naws_access_key_id = ${s3.accessKeyId}\n` +
        `aws_secret_access_key = ${s3.secretAccessKey}\n`,
    );
    await Deno.writeTextFile(`${home}/not-a-credential.txt`, "private");
  });

  after(async () => {
    await s3?.stop();
    if (home) await Deno.remove(home, { recursive: true }).catch(() => {});
  });

  test("serves with ~/.aws/credentials, allowed to read the credential files only", async () => {
    await using proxy = await startProxy({
      runtime: "deno",
      viaTask: true,
      env: { HOME: home, AWS_ENDPOINT_HOST: s3.host, AWS_ENDPOINT_SCHEME: "http" },
    });
    const source = proxy.jsonLines().find((l) => l.event === "credentials")?.source;
    assert.equal(source, `shared file ${home}/.aws/credentials (profile default)`);

    const page = await fetch(`${proxy.url}/site/index.html`);
    assert.equal(page.status, 200);
    assert.equal(await page.text(), "<p>home</p>");
    const redirect = await fetch(`${proxy.url}/site/a.txt`, { redirect: "manual" });
    await redirect.body?.cancel();
    assert.equal(redirect.status, 307);
    const object = await fetch(redirect.headers.get("location")!);
    assert.equal(object.status, 200);
    assert.equal(await object.text(), "redirected");
    const list = await fetch(`${proxy.url}/site?list-type=2`);
    assert.equal(list.status, 200);
    assert.match(await list.text(), /<Key>a\.txt<\/Key>/);

    // The serving process is the task runner's child `deno run ... src/main.ts`.
    const servers = (await childrenOf(proxy.pid)).filter((c) => c.argv.at(-1) === "src/main.ts");
    assert.equal(servers.length, 1, JSON.stringify(await childrenOf(proxy.pid)));
    const argv = servers[0].argv;
    assert.equal(argv[1], "run");
    const allowRead = `--allow-read=${home}/.aws/credentials,${home}/.aws/config`;
    assert.deepEqual(argv.slice(2, -1), [
      "--v8-flags=--max-semi-space-size=1",
      "--allow-net",
      "--allow-env",
      allowRead,
    ]);

    // read_paths.ts, which the task runs, prints that list for this environment.
    const printed = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-env", "src/credentials/read_paths.ts"],
      cwd: REPO_ROOT,
      clearEnv: true,
      env: { HOME: home, PATH: Deno.env.get("PATH") ?? "" },
    }).output();
    assert.equal(printed.code, 0);
    assert.equal(
      new TextDecoder().decode(printed.stdout),
      `${home}/.aws/credentials,${home}/.aws/config\n`,
    );

    // With those very flags, a Deno program reads the credentials file and nothing else.
    const probe = `${home}/probe.ts`;
    await Deno.writeTextFile(
      probe,
      `const out: Record<string, string> = {};
for (const path of Deno.args) {
  try {
    await Deno.readTextFile(path);
    out[path] = "read";
  } catch (e) {
    out[path] = (e as Error).name;
  }
}
console.log(JSON.stringify(out));
`,
    );
    const probed = await new Deno.Command(Deno.execPath(), {
      args: [
        ...argv.slice(1, -1),
        probe,
        `${home}/.aws/credentials`,
        `${home}/not-a-credential.txt`,
        `${REPO_ROOT}deno.json`,
        "/etc/hostname",
      ],
      cwd: REPO_ROOT,
      clearEnv: true,
      env: { HOME: home, PATH: Deno.env.get("PATH") ?? "" },
      stdin: "null",
    }).output();
    assert.equal(probed.code, 0, new TextDecoder().decode(probed.stderr));
    assert.deepEqual(JSON.parse(new TextDecoder().decode(probed.stdout)), {
      [`${home}/.aws/credentials`]: "read",
      [`${home}/not-a-credential.txt`]: "NotCapable",
      [`${REPO_ROOT}deno.json`]: "NotCapable",
      "/etc/hostname": "NotCapable",
    });
  });
});
