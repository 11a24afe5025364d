/**
 * src/admin.ts and src/ops/readiness.ts in process: the probes' answers, readiness flipping with
 * the providers' state (a signing-key file whose day runs out and is rewritten, temporary
 * credentials that expire and come back, draining), the metrics scrape's credential series; and
 * the providers' read-only `status()`; and src/ops/settings.ts.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createAdminHandler } from "../src/admin.ts";
import { createMetrics } from "../src/ops/metrics.ts";
import { logFilter, parseOpsSettings } from "../src/ops/settings.ts";
import { refreshingProvider } from "../src/credentials/refresh.ts";
import { signingKeyFileProvider, signingKeyProvider } from "../src/credentials/signing_key.ts";
import { type CredentialProvider, staticProvider } from "../src/credentials/provider.ts";
import { captureLog, memoryFiles, testClock } from "./support/fake_aws.ts";

const KEY = "L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=";
const DAY1 = Date.UTC(2024, 0, 15, 12);
const line = (date: string) => `${KEY} ${date}/us-east-1/s3/aws4_request\n`;

function admin(routes: { prefix: string; credentials: CredentialProvider }[], draining = false) {
  let drain = draining;
  const handler = createAdminHandler({
    metrics: createMetrics(),
    routes: () => routes,
    draining: () => drain,
    build: { version: "9.9.9", runtime: "deno", runtimeVersion: "2" },
    process: () => ({ residentBytes: 123 }),
    readyTimeoutMs: 200,
  });
  const get = async (path: string, method = "GET") => {
    const res = await handler(new Request("http://127.0.0.1:9" + path, { method }));
    return { res, body: await res.text() };
  };
  return { get, drain: () => (drain = true) };
}

describe("admin handler", () => {
  const fixed = staticProvider({ accessKeyId: "AKID", secretAccessKey: "SECRET" }, "environment");

  test("healthz, readyz, metrics; any other path is 404, other methods 405", async () => {
    const a = admin([{ prefix: "/", credentials: fixed }]);
    const health = await a.get("/healthz");
    assert.equal(health.res.status, 200);
    const ready = await a.get("/readyz");
    assert.equal(ready.res.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { ready: true, routes: ["/"] });
    const metrics = await a.get("/metrics");
    assert.equal(metrics.res.status, 200);
    assert.match(metrics.res.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    assert.match(metrics.body, /^s3proxy_build_info\{version="9\.9\.9",runtime="deno",/m);
    assert.match(metrics.body, /^process_resident_memory_bytes 123$/m);
    assert.match(metrics.body, /^s3proxy_route_ready\{route="\/"\} 1$/m);
    assert.equal((await a.get("/health")).res.status, 404);
    assert.equal((await a.get("/readyz/x")).res.status, 404);
    const post = await a.get("/readyz", "POST");
    assert.equal(post.res.status, 405);
    assert.equal(post.res.headers.get("allow"), "GET, HEAD");
    const head = await a.get("/readyz", "HEAD");
    assert.equal(head.res.status, 200);
    assert.equal(head.body, "");
  });

  test("readyz is 503 from the moment a shutdown starts", async () => {
    const a = admin([{ prefix: "/", credentials: fixed }]);
    assert.equal((await a.get("/readyz")).res.status, 200);
    a.drain();
    const after = await a.get("/readyz");
    assert.equal(after.res.status, 503);
    assert.equal(JSON.parse(after.body).shuttingDown, true);
    assert.equal((await a.get("/healthz")).res.status, 200, "alive while draining");
  });

  test("a signing-key file: its day runs out (503, naming the route), a rewrite fixes it", async () => {
    const clock = testClock(DAY1);
    const fs = memoryFiles({ "/keys": line("20240115") });
    const log = captureLog();
    const provider = await signingKeyFileProvider({
      path: "/keys",
      accessKeyId: "AKID",
      region: "us-east-1",
      readTextFile: fs.readTextFile,
      now: clock.now,
      log: log.log,
      missRereadMs: 0,
    });
    const a = admin([
      { prefix: "/site/", credentials: provider },
      { prefix: "/other/", credentials: fixed },
    ]);
    assert.equal((await a.get("/readyz")).res.status, 200);
    let metrics = (await a.get("/metrics")).body;
    const labels = 'route="/site/",source="signing key file /keys"';
    assert.match(
      metrics,
      new RegExp(
        `^s3proxy_credentials_expiry_timestamp_seconds\\{${labels}\\} ${
          Date.UTC(2024, 0, 16) / 1000
        }$`,
        "m",
      ),
    );
    assert.match(
      metrics,
      new RegExp(
        `^s3proxy_signing_key_last_day_timestamp_seconds\\{${labels}\\} ${
          Date.UTC(2024, 0, 15) / 1000
        }$`,
        "m",
      ),
    );

    clock.set(Date.UTC(2024, 0, 16, 0, 0, 1)); // past UTC midnight
    const down = await a.get("/readyz");
    assert.equal(down.res.status, 503);
    const body = JSON.parse(down.body);
    assert.equal(body.ready, false);
    assert.deepEqual(body.failing, [{
      route: "/site/",
      source: "signing key file /keys",
      reason: "no signing key for 20240116 in /keys (its keys are for 20240115)",
    }]);
    assert.ok(!down.body.includes(KEY), "no key material");
    metrics = (await a.get("/metrics")).body;
    assert.match(metrics, /^s3proxy_route_ready\{route="\/site\/"\} 0$/m);
    assert.match(metrics, /^s3proxy_route_ready\{route="\/other\/"\} 1$/m);

    fs.files.set("/keys", line("20240116") + line("20240117") + line("20240119"));
    assert.equal((await a.get("/readyz")).res.status, 200, "the probe re-reads the file");
    metrics = (await a.get("/metrics")).body;
    assert.match(
      metrics,
      new RegExp(
        `^s3proxy_credentials_expiry_timestamp_seconds\\{${labels}\\} ${
          Date.UTC(2024, 0, 18) / 1000
        }$`,
        "m",
      ),
      "expires at the first gap",
    );
    provider.close?.();
  });

  test("temporary credentials: expired and not refreshable is 503; a refresh brings it back", async () => {
    const clock = testClock(DAY1);
    let failing = false;
    let n = 0;
    const provider = refreshingProvider({
      source: "container endpoint http://127.0.0.1:1",
      fetchCredentials: () =>
        failing ? Promise.reject(new Error("HTTP 500 from the endpoint")) : Promise.resolve({
          accessKeyId: `ASIA${++n}`,
          secretAccessKey: "S",
          sessionToken: "T",
          expiration: clock.now() + 3_600_000,
        }),
      now: clock.now,
      log: () => {},
      backoffMs: 1000,
    });
    await provider.get();
    const a = admin([{ prefix: "/", credentials: provider }]);
    assert.equal((await a.get("/readyz")).res.status, 200);
    failing = true;
    clock.advance(3_600_000);
    const down = await a.get("/readyz");
    assert.equal(down.res.status, 503);
    assert.match(
      JSON.parse(down.body).failing[0].reason,
      /^temporary credentials from container endpoint .* expired and their refresh failed: HTTP 500/,
    );
    let metrics = (await a.get("/metrics")).body;
    assert.match(
      metrics,
      /^s3proxy_credential_refresh_failures_total\{source="container endpoint http:\/\/127\.0\.0\.1:1"\} [1-9]/m,
    );
    failing = false;
    clock.advance(60_000); // past the backoff
    assert.equal((await a.get("/readyz")).res.status, 200);
    metrics = (await a.get("/metrics")).body;
    assert.match(metrics, /^s3proxy_credentials_expiry_timestamp_seconds\{route="\/",source=/m);
  });

  test("a source that does not answer within the timeout is not ready", async () => {
    const hanging: CredentialProvider = { source: "slow", get: () => new Promise(() => {}) };
    const a = admin([{ prefix: "/", credentials: hanging }]);
    const down = await a.get("/readyz");
    assert.equal(down.res.status, 503);
    assert.match(JSON.parse(down.body).failing[0].reason, /did not answer within 0\.2 s/);
  });
});

describe("provider status()", () => {
  test("a single signing key is ok on its day only", () => {
    const clock = testClock(DAY1);
    const p = signingKeyProvider({
      accessKeyId: "AKID",
      signingKey: new Uint8Array(32),
      scope: "20240115/us-east-1/s3/aws4_request",
      now: clock.now,
      log: () => {},
    });
    assert.deepEqual(p.status!(), {
      ok: true,
      expiration: Date.UTC(2024, 0, 16),
      lastDay: "20240115",
    });
    clock.advance(86_400_000);
    assert.equal(p.status!().ok, false);
    assert.match(p.status!().reason!, /no signing key for 20240116/);
  });
});

describe("operations settings", () => {
  test("defaults, and every bad value named", () => {
    assert.deepEqual(parseOpsSettings({}), {
      ok: true,
      settings: {
        adminPort: undefined,
        adminHost: "127.0.0.1",
        logLevel: "info",
        accessLog: true,
        shutdownDelayMs: 0,
      },
    });
    const delayed = parseOpsSettings({ SHUTDOWN_DELAY: "2.5" });
    assert.equal(delayed.ok && delayed.settings.shutdownDelayMs, 2500);
    const bad = parseOpsSettings({
      ADMIN_PORT: "70000",
      LOG_LEVEL: "debug",
      ACCESS_LOG: "sometimes",
      SHUTDOWN_DELAY: "soon",
    });
    assert.ok(!bad.ok);
    assert.equal(bad.errors.length, 4);
    assert.match(bad.errors[3], /SHUTDOWN_DELAY: "soon" is not a number of seconds from 0 to 300/);
    const same = parseOpsSettings({ ADMIN_PORT: "8080", PORT: "8080" });
    assert.ok(!same.ok && /its own/.test(same.errors[0]));
  });

  test("LOG_LEVEL and ACCESS_LOG filter lines; where it listens is always said", () => {
    const keep = logFilter({ logLevel: "warn", accessLog: false });
    assert.equal(keep({ level: "info", event: "credentials" }), false);
    assert.equal(keep({ level: "warn", event: "x" }), true);
    assert.equal(keep({ level: "error", event: "request" }), false);
    assert.equal(keep({ level: "info", event: "listening" }), true);
    assert.equal(keep({ level: "info", event: "admin_listening" }), true);
    const all = logFilter({ logLevel: "error", accessLog: true });
    assert.equal(all({ level: "info", event: "request" }), true);
    assert.equal(all({ level: "warn", event: "x" }), false);
  });
});
