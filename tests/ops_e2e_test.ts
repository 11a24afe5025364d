import process from "node:process";
/**
 * The admin port end to end: src/main.ts under Deno and Bun (tests/support/proxy.ts), in front
 * of s3rver, with `ADMIN_PORT=0`. Probes through startup; readiness flipping to 503 and back
 * with a signing-key file (no key for today, then rewritten) and with container credentials
 * whose endpoint fails for a while (tests/support/fake_aws.ts); SIGTERM (readiness 503 while an
 * in-flight download finishes); `promtool check metrics` on a scrape after a mixed workload,
 * with counters equal to the requests sent; request ids in the access log; LOG_LEVEL and
 * ACCESS_LOG; bad settings; `--version`.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type ProxyHandle,
  REPO_ROOT,
  type Runtime,
  startProxy,
  startProxyExpectingExit,
} from "./support/proxy.ts";
import { startS3rver } from "./support/s3rver.ts";
import { startS3Shim } from "./support/s3_shim.ts";
import { startFakeContainer } from "./support/fake_aws.ts";
import { VERSION } from "../src/version.ts";

const RUNTIMES: Runtime[] = ["deno", "bun"];
const KEY = "L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=";

/** The admin listener's URL, from its log line. */
async function adminUrl(proxy: ProxyHandle): Promise<string> {
  const line = await proxy.waitForLine(/"event":"admin_listening"/, 5000, "admin_listening");
  const { host, port } = JSON.parse(line);
  assert.equal(host, "127.0.0.1", "ADMIN_HOST defaults to loopback");
  return `http://127.0.0.1:${port}`;
}

async function get(url: string): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url);
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Polls `url` until it answers `status`, within `ms`; the last answer. */
async function until(url: string, status: number, ms = 15_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const answer = await get(url);
    if (answer.status === status) return answer;
    if (Date.now() > deadline) {
      assert.fail(`${url}: still ${answer.status} after ${ms} ms: ${answer.body}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function utcDay(offsetDays: number): string {
  return new Date(Date.now() + offsetDays * 86_400_000).toISOString().slice(0, 10).replaceAll(
    "-",
    "",
  );
}

function keyLine(day: string): string {
  return `${KEY} ${day}/us-east-1/s3/aws4_request\n`;
}

async function promtool(text: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const dec = new TextDecoder();
  return { code: out.code, output: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

function sum(text: string, family: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(family + "{")) total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

for (const runtime of RUNTIMES) {
  describe(`admin port under ${runtime}`, () => {
    test("probes, a mixed workload, promtool, counters equal to requests, request ids", async () => {
      await using s3 = await startS3rver({ buckets: ["site"] });
      await s3.putObject("site", "index.html", "<h1>home</h1>", { "content-type": "text/html" });
      await s3.putObject("site", "docs/a.txt", "a");
      await s3.putObject("site", "big.bin", new Uint8Array(100_000));
      await using proxy = await startProxy({
        runtime,
        env: {
          AWS_ENDPOINT_HOST: s3.host,
          AWS_ENDPOINT_SCHEME: "http",
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
          ADMIN_PORT: "0",
          CORS_ALLOW_ORIGINS: "http://app.test",
        },
      });
      const admin = await adminUrl(proxy);
      assert.equal((await get(`${admin}/healthz`)).status, 200);
      const ready = await get(`${admin}/readyz`);
      assert.equal(ready.status, 200, ready.body);
      assert.equal((await get(`${admin}/metrics`)).status, 200);

      // Nothing is reserved on the main port: /healthz there is a key like any other.
      const workload: [string, RequestInit, number][] = [
        ["/site/index.html", {}, 200],
        ["/site/index.html", { headers: { range: "bytes=0-3" } }, 206],
        ["/site/docs/a.txt", {}, 307],
        ["/site/big.bin", { headers: { "user-agent": "aws-cli/2.15.0" } }, 200],
        ["/site/healthz", { headers: { "user-agent": "aws-cli/2.15.0" } }, 404],
        ["/site/metrics/index.html", {}, 404],
        ["/site/docs/", { headers: { accept: "text/html" } }, 200],
        ["/site?list-type=2", {}, 200],
        ["/site/x", { method: "DELETE" }, 405],
        ["/site/x", {
          method: "OPTIONS",
          headers: { origin: "http://app.test", "access-control-request-method": "GET" },
        }, 204],
        ["/%ZZ", {}, 400],
      ];
      const ids: string[] = [];
      for (let round = 0; round < 2; round++) {
        for (const [path, init, status] of workload) {
          const res = await fetch(proxy.url + path, {
            ...init,
            redirect: "manual",
            headers: {
              ...init.headers as Record<string, string>,
              "x-request-id": `w-${ids.length}`,
            },
          });
          await res.body?.cancel();
          assert.equal(res.status, status, path);
          assert.equal(res.headers.get("x-request-id"), `w-${ids.length}`);
          ids.push(`w-${ids.length}`);
        }
      }
      const scrape = await get(`${admin}/metrics`);
      assert.match(scrape.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
      const lint = await promtool(scrape.body);
      assert.deepEqual(lint, { code: 0, output: "" }, scrape.body);
      assert.equal(sum(scrape.body, "s3proxy_requests_total"), workload.length * 2);
      assert.equal(sum(scrape.body, "s3proxy_request_duration_seconds_count"), workload.length * 2);
      assert.match(
        scrape.body,
        /^s3proxy_requests_total\{route="\/",decision="redirect",status="307"\} 2$/m,
      );
      assert.match(
        scrape.body,
        /^s3proxy_upstream_requests_total\{route="\/",outcome="2xx"\} \d+$/m,
      );
      assert.ok(sum(scrape.body, "s3proxy_response_bytes_total") >= 200_000);
      assert.match(
        scrape.body,
        new RegExp(
          `^s3proxy_build_info\\{version="${VERSION.replaceAll(".", "\\.")}",runtime="${runtime}",`,
          "m",
        ),
      );
      assert.match(scrape.body, /^process_resident_memory_bytes \d+$/m);
      // Deno 2 lets /proc/self/fd be read only with --allow-all; Bun reads it.
      if (runtime === "bun") assert.match(scrape.body, /^process_open_fds \d+$/m);
      else assert.doesNotMatch(scrape.body, /process_open_fds/);
      assert.ok(!scrape.body.includes(s3.secretAccessKey) && !scrape.body.includes("healthz"));
      // Every request's id is in its access-log line.
      await proxy.waitForLine((l) => l.includes(`"requestId":"${ids.at(-1)}"`), 5000);
      const logged = proxy.jsonLines().filter((l) => l.event === "request").map((l) => l.requestId);
      assert.deepEqual(logged, ids);
    });

    test("SIGTERM: readiness 503 at once while an in-flight download finishes", async () => {
      await using s3 = await startS3rver({ buckets: ["site"] });
      await using shim = await startS3Shim(s3.port);
      const size = 300_000;
      await s3.putObject("site", "big/index.html", new Uint8Array(size).fill(0x61));
      const proxy = await startProxy({
        runtime,
        env: {
          AWS_ENDPOINT_HOST: shim.host,
          AWS_ENDPOINT_SCHEME: "http",
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
          ADMIN_PORT: "0",
        },
      });
      try {
        const admin = await adminUrl(proxy);
        assert.equal((await get(`${admin}/readyz`)).status, 200);
        const hold = shim.hold("/site/big/index.html", 1000);
        const res = await fetch(`${proxy.url}/site/big/index.html`);
        assert.equal(res.status, 200);
        const reader = res.body!.getReader();
        await hold.reached;
        let received = (await reader.read()).value?.length ?? 0;
        const stopped = proxy.stop("SIGTERM");
        await proxy.waitForLine(/"event":"shutdown"/, 5000, "the shutdown line");
        const during = await get(`${admin}/readyz`);
        assert.equal(during.status, 503);
        assert.equal(JSON.parse(during.body).shuttingDown, true);
        assert.equal((await get(`${admin}/healthz`)).status, 200);
        hold.release();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          received += value.length;
        }
        assert.equal(received, size, "the download finished");
        const exit = await stopped;
        assert.equal(exit.code, 0);
      } finally {
        await proxy.stop();
      }
    });

    test("SHUTDOWN_DELAY: readiness 503 while the main port still serves; a second signal closes at once", async () => {
      const proxy = await startProxy({
        runtime,
        env: {
          AWS_ENDPOINT_HOST: "127.0.0.1:9",
          AWS_ENDPOINT_SCHEME: "http",
          AWS_ACCESS_KEY_ID: "AKIADELAY",
          AWS_SECRET_ACCESS_KEY: "delay-secret",
          ADMIN_PORT: "0",
          SHUTDOWN_DELAY: "60",
        },
      });
      try {
        const admin = await adminUrl(proxy);
        assert.equal((await get(`${admin}/readyz`)).status, 200);
        process.kill(proxy.pid, "SIGTERM");
        await proxy.waitForLine(/"event":"shutdown".*"delayMs":60000/, 5000, "the shutdown line");
        assert.equal((await get(`${admin}/readyz`)).status, 503);
        // The load balancer has not noticed yet: requests still get their answers.
        const during = await fetch(`${proxy.url}/bucket/a.txt`, { redirect: "manual" });
        assert.equal(during.status, 307);
        await during.body?.cancel();
        process.kill(proxy.pid, "SIGTERM");
        const exit = await proxy.exited;
        assert.equal(exit.code, 0);
      } finally {
        await proxy.stop();
      }
    });
  });
}

describe("readiness follows the credentials", () => {
  test("a signing-key file without today's key is 503 naming the route; a rewrite makes it 200 (deno)", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ops-keys-" });
    try {
      const file = `${dir}/keys`;
      await Deno.writeTextFile(file, keyLine(utcDay(-1)));
      const routes = `${dir}/routes.json`;
      await Deno.writeTextFile(
        routes,
        JSON.stringify({
          routes: [
            {
              prefix: "/keys/",
              AUTH: "none",
              AWS_ACCESS_KEY_ID: "AKIAOPSKEYFILE000001",
              AWS_SIGNING_KEY_FILE: file,
            },
            {
              prefix: "/static/",
              AUTH: "none",
              AWS_ACCESS_KEY_ID: "AKIAOPSSTATIC0000001",
              AWS_SECRET_ACCESS_KEY: "x/y+z",
            },
          ],
        }),
      );
      await Deno.chmod(routes, 0o600);
      await using proxy = await startProxy({
        runtime: "deno",
        env: { ROUTES_FILE: routes, ADMIN_PORT: "0", AWS_ENDPOINT_HOST: "127.0.0.1:9" },
      });
      const admin = await adminUrl(proxy);
      const down = await get(`${admin}/readyz`);
      assert.equal(down.status, 503);
      const body = JSON.parse(down.body);
      assert.equal(body.failing.length, 1);
      assert.equal(body.failing[0].route, "/keys/");
      assert.match(body.failing[0].reason, new RegExp(`no signing key for ${utcDay(0)} in `));
      assert.ok(!down.body.includes(KEY) && !down.body.includes("x/y+z"), "no secret");
      await Deno.writeTextFile(file, keyLine(utcDay(0)) + keyLine(utcDay(1)));
      await until(`${admin}/readyz`, 200);
      const metrics = (await get(`${admin}/metrics`)).body;
      assert.match(metrics, /^s3proxy_route_ready\{route="\/keys\/"\} 1$/m);
      assert.match(metrics, /^s3proxy_signing_key_last_day_timestamp_seconds\{route="\/keys\/",/m);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  test("container credentials whose endpoint fails: 503, then 200 once it answers again (bun)", async () => {
    await using fake = {
      server: await startFakeContainer({ clock: Date.now, lifetimeMs: () => 12_000 }),
      async [Symbol.asyncDispose]() {
        await this.server.close();
      },
    };
    await using proxy = await startProxy({
      runtime: "bun",
      env: {
        AWS_CONTAINER_CREDENTIALS_FULL_URI: `${fake.server.url}/creds`,
        AWS_ENDPOINT_HOST: "127.0.0.1:9",
        ADMIN_PORT: "0",
      },
    });
    const admin = await adminUrl(proxy);
    await until(`${admin}/readyz`, 200);
    fake.server.override(() => true, { status: 500, body: "boom" }, 3);
    const down = await until(`${admin}/readyz`, 503);
    assert.match(JSON.parse(down.body).failing[0].reason, /refresh failed|no credentials/);
    await until(`${admin}/readyz`, 200);
    const metrics = (await get(`${admin}/metrics`)).body;
    assert.match(
      metrics,
      /^s3proxy_credential_refresh_failures_total\{source="container endpoint [^"]+"\} [1-9]/m,
    );
    assert.match(
      metrics,
      /^s3proxy_credentials_expiry_timestamp_seconds\{route="\/",source="container/m,
    );
    for (const issued of fake.server.issued) {
      assert.ok(
        !metrics.includes(issued.secretAccessKey) && !metrics.includes(issued.sessionToken),
      );
    }
  });
});

describe("process settings", () => {
  test("LOG_LEVEL=warn and ACCESS_LOG=off keep only warnings, errors and where it listens (bun)", async () => {
    const dir = await Deno.makeTempDir({ prefix: "ops-log-" });
    try {
      await Deno.writeTextFile(`${dir}/keys`, keyLine(utcDay(-1)));
      const proxy = await startProxy({
        runtime: "bun",
        env: {
          AWS_ACCESS_KEY_ID: "AKIAOPSLOGLEVEL00001",
          AWS_SIGNING_KEY_FILE: `${dir}/keys`,
          AWS_ENDPOINT_HOST: "127.0.0.1:9",
          LOG_LEVEL: "warn",
          ACCESS_LOG: "off",
        },
      });
      const res = await fetch(`${proxy.url}/bkt/x.txt`);
      await res.body?.cancel();
      assert.equal(res.status, 503);
      await proxy.stop();
      const lines = proxy.jsonLines();
      assert.ok(lines.some((l) => l.event === "signing_key_missing"), "errors are written");
      assert.deepEqual(lines.filter((l) => l.level === "info").map((l) => l.event), ["listening"]);
      assert.ok(!lines.some((l) => l.event === "request"));
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });

  test("bad settings stop the process with every problem named (deno)", async () => {
    const exit = await startProxyExpectingExit({
      runtime: "deno",
      env: {
        AWS_ACCESS_KEY_ID: "AKIAOPSBADSETTING001",
        AWS_SECRET_ACCESS_KEY: "s",
        ADMIN_PORT: "x",
        LOG_LEVEL: "loud",
        CORS_ALLOW_ORIGINS: "*",
        CORS_ALLOW_CREDENTIALS: "true",
      },
    });
    assert.equal(exit.code, 2);
    for (const name of ["ADMIN_PORT", "LOG_LEVEL", "CORS_ALLOW_CREDENTIALS"]) {
      assert.match(exit.stderr, new RegExp(`- ${name}: `), name);
    }
  });

  test("--version on the proxy and both CLIs, under Deno and Bun", async () => {
    const run = async (cmd: string, args: string[]) => {
      const out = await new Deno.Command(cmd, {
        args,
        cwd: REPO_ROOT,
        stdout: "piped",
        stderr: "piped",
      })
        .output();
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      return new TextDecoder().decode(out.stdout);
    };
    const deno = Deno.execPath();
    assert.equal(
      await run(deno, ["run", "--allow-env", "src/main.ts", "--version"]),
      `s3-signing-proxy ${VERSION} (deno ${Deno.version.deno})\n`,
    );
    assert.match(
      await run("bun", ["run", "src/main.ts", "--version"]),
      new RegExp(`^s3-signing-proxy ${VERSION.replaceAll(".", "\\.")} \\(bun \\d`),
    );
    assert.equal(
      await run(deno, ["run", "src/cli/signing_key.ts", "--version"]),
      `signing-key ${VERSION}\n`,
    );
    assert.equal(
      await run("bun", ["run", "src/cli/presign.ts", "--version"]),
      `presign ${VERSION}\n`,
    );
  });
});
