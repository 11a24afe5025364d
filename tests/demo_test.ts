/**
 * `deno task demo` (scripts/demo.ts), as a user runs it: started on free ports (PORT=0,
 * S3_PORT=0), its printed URLs read and fetched (a 307 that the S3 server verifies, the
 * index.html, listings), then Ctrl-C (SIGINT to the task) stops it and every child.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { readLines } from "./support/lines.ts";
import { REPO_ROOT } from "./support/proxy.ts";

/** Settles with `promise`, or rejects with `message()` after `ms`. */
function withTimeout<T>(promise: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message())), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Resolves when a TCP connect to 127.0.0.1:`port` is refused (nothing listens). */
async function refused(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return false;
  } catch (error) {
    return error instanceof Deno.errors.ConnectionRefused;
  }
}

describe("deno task demo", () => {
  let child: Deno.ChildProcess;
  const lines: string[] = [];
  let exited: Promise<Deno.CommandStatus>;
  let proxyUrl: string;
  let s3Url: string;
  let browserUrls: string[];

  before(async () => {
    child = new Deno.Command(Deno.execPath(), {
      args: ["task", "demo"],
      cwd: REPO_ROOT,
      env: { PORT: "0", S3_PORT: "0", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    let onReady: () => void = () => {};
    const ready = new Promise<void>((resolve) => (onReady = resolve));
    const push = (line: string) => {
      lines.push(line);
      if (line.includes("Ctrl-C stops everything")) onReady();
    };
    const output = Promise.all([readLines(child.stdout, push), readLines(child.stderr, push)]);
    exited = child.status.then(async (status) => {
      await output;
      return status;
    });
    await withTimeout(
      Promise.race([
        ready,
        exited.then((s) => {
          throw new Error(`demo exited (code ${s.code}):\n${lines.join("\n")}`);
        }),
      ]),
      60_000,
      () => `demo not ready:\n${lines.join("\n")}`,
    );
    const url = (label: string) => {
      const found = lines.map((l) => new RegExp(`^\\s*${label}\\s+(http://\\S+)`).exec(l))
        .find((m) => m);
      assert.ok(found, `a "${label}" URL in:\n${lines.join("\n")}`);
      return found[1];
    };
    proxyUrl = url("proxy");
    s3Url = url("s3");
    const start = lines.findIndex((l) => l.startsWith("Open in a browser"));
    browserUrls = lines.slice(start + 1).map((l) => /^\s+(http:\/\/\S+)/.exec(l)?.[1])
      .filter((u): u is string => u !== undefined);
  });

  // If a test failed before the SIGINT one: let the demo stop its children, then make sure.
  after(async () => {
    try {
      child.kill("SIGINT");
    } catch {
      return await exited; // already exited
    }
    try {
      await withTimeout(exited, 15_000, () => "no exit after SIGINT");
    } catch {
      child.kill("SIGKILL");
      await exited;
    }
  });

  test("it prints the proxy, the S3 server and the pages to open", () => {
    assert.match(proxyUrl, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.match(s3Url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(proxyUrl, s3Url);
    assert.deepEqual(browserUrls, [
      `${proxyUrl}/demo/`,
      `${proxyUrl}/demo/site/`,
      `${proxyUrl}/demo/docs/`,
    ]);
    assert.ok(lines.some((l) => l.includes(`curl -i ${proxyUrl}/demo/docs/a%20b+c.txt`)));
    assert.ok(lines.some((l) => l.includes(`aws s3 ls s3://demo/ --recursive --no-sign-request`)));
  });

  test("a 307 to a presigned URL that the S3 server verifies", async () => {
    const res = await fetch(`${proxyUrl}/demo/docs/a%20b+c.txt`, { redirect: "manual" });
    await res.body?.cancel();
    assert.equal(res.status, 307);
    const location = res.headers.get("location")!;
    assert.ok(location.startsWith(`${s3Url}/demo/docs/a%20b%2Bc.txt?X-Amz-`), location);
    const object = await fetch(location);
    assert.equal(object.status, 200);
    assert.match(await object.text(), /^A space and a plus/);
    // Unsigned, the S3 server refuses it: the signature is what made it work.
    const unsigned = await fetch(location.slice(0, location.indexOf("?")));
    await unsigned.body?.cancel();
    assert.equal(unsigned.status, 403);
  });

  test("the site's index.html, streamed", async () => {
    const res = await fetch(browserUrls[1], { headers: { accept: "text/html" } });
    assert.equal(res.status, 200);
    assert.match(await res.text(), /<h1>Served from a private bucket<\/h1>/);
  });

  test("listings: the bucket as a page, a folder as JSON with the awkward names", async () => {
    const page = await fetch(browserUrls[0], { headers: { accept: "text/html" } });
    assert.equal(page.status, 200);
    const html = await page.text();
    for (const folder of ["big", "docs", "photos", "site"]) {
      assert.ok(html.includes(`href="/demo/${folder}/"`), `${folder}/ in the listing`);
    }
    const res = await fetch(`${proxyUrl}/demo/docs/`, { headers: { accept: "application/json" } });
    assert.equal(res.status, 200);
    const listing = await res.json();
    assert.deepEqual(listing.files.map((f: { name: string }) => f.name).sort(), [
      "(parens) [brackets].txt",
      "a b+c.txt",
      "readme.txt",
      "ünïcødé – 日本語.txt",
    ]);
    const big = await fetch(`${proxyUrl}/demo/big/`, { headers: { accept: "application/json" } });
    assert.deepEqual(
      (await big.json()).files.map((f: { key: string; size: number }) => [f.key, f.size]),
      [["big/random-4MiB.bin", 4 * 2 ** 20]],
    );
  });

  test("Ctrl-C (SIGINT) stops the demo, the proxy and the S3 server", async () => {
    child.kill("SIGINT");
    const status = await withTimeout(exited, 20_000, () => `no exit:\n${lines.join("\n")}`);
    assert.equal(status.code, 0, lines.join("\n"));
    assert.ok(lines.some((l) => l.includes('"event":"shutdown"')), "the proxy shut down");
    assert.ok(lines.includes("demo: stopped"));
    for (const url of [proxyUrl, s3Url]) {
      assert.equal(await refused(Number(new URL(url).port)), true, `${url} still listens`);
    }
  });
});
