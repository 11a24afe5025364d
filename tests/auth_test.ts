/**
 * The access-control framework: src/auth/method.ts (how a route's methods combine; prefix
 * limits) and its place in the router (before anything goes upstream), with fake methods.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseConfig } from "../src/config.ts";
import { createRouter, type LogEntry } from "../src/handler.ts";
import { authenticate, type Authenticator, type AuthOutcome, mayRead } from "../src/auth/method.ts";

/** A fake method: a request with `x-test-user: NAME` is NAME, `x-test-user: bad` is refused. */
function fake(name: Authenticator["name"], challenge?: string, prefixes?: string[]): Authenticator {
  return {
    name,
    challenge: challenge ? () => challenge : undefined,
    check({ req }): Promise<AuthOutcome> {
      const user = req.headers.get(`x-${name}`);
      if (user === null) return Promise.resolve({ kind: "absent" });
      if (user === "bad") {
        return Promise.resolve({
          kind: "fail",
          status: name === "sigv4" ? 403 : 401,
          code: name === "sigv4" ? "SignatureDoesNotMatch" : "Unauthorized",
          message: "refused",
          reason: `${name} refused`,
          headers: name === "jwt"
            ? { "www-authenticate": 'Bearer error="invalid_token"' }
            : undefined,
        });
      }
      return Promise.resolve({ kind: "ok", principal: user, prefixes });
    },
  };
}

const input = (headers: Record<string, string>) => {
  const req = new Request("http://p/x", { headers });
  return { req, method: "GET", url: req.url };
};

describe("authenticate: any one method admits", () => {
  const basic = fake("basic", 'Basic realm="r", charset="UTF-8"');
  const jwt = fake("jwt", "Bearer");
  const sigv4 = fake("sigv4");

  test("no methods: open", async () => {
    assert.deepEqual(await authenticate([], input({})), { kind: "ok" });
  });

  test("the first method that admits wins, with its principal", async () => {
    const r = await authenticate([basic, jwt], input({ "x-jwt": "alice" }));
    assert.deepEqual(r, { kind: "ok", principal: "alice", method: "jwt", prefixes: undefined });
  });

  test("no credentials: 401 with every challenge; sigv4 alone: 403 AccessDenied", async () => {
    const r = await authenticate([basic, jwt, sigv4], input({}));
    assert.equal(r.kind, "fail");
    if (r.kind === "fail") {
      assert.equal(r.status, 401);
      assert.equal(r.headers?.["www-authenticate"], 'Basic realm="r", charset="UTF-8", Bearer');
    }
    const s = await authenticate([sigv4], input({}));
    assert.equal(s.kind === "fail" && s.status, 403);
    assert.equal(s.kind === "fail" && s.code, "AccessDenied");
  });

  test("presented and refused: that failure, with every challenge", async () => {
    const r = await authenticate([basic, jwt], input({ "x-jwt": "bad" }));
    assert.equal(r.kind === "fail" && r.status, 401);
    assert.equal(
      r.kind === "fail" && r.headers?.["www-authenticate"],
      'Bearer error="invalid_token", Basic realm="r", charset="UTF-8"',
    );
    const s = await authenticate([basic, sigv4], input({ "x-sigv4": "bad" }));
    assert.equal(s.kind === "fail" && s.code, "SignatureDoesNotMatch");
    assert.equal(s.kind === "fail" && s.status, 403);
  });

  test("prefix limits: keys and listings under a prefix, bucket-level needs the bucket", () => {
    const p = ["artifacts/nightly/", "logs/"];
    assert.ok(mayRead(undefined, {}));
    assert.ok(mayRead(p, { bucket: "artifacts", key: "nightly/a.tgz" }));
    assert.ok(!mayRead(p, { bucket: "artifacts", key: "release/a.tgz" }));
    assert.ok(!mayRead(p, { bucket: "artifacts", key: "nightly" }));
    assert.ok(mayRead(p, { bucket: "artifacts", listPrefix: "nightly/" }));
    assert.ok(mayRead(p, { bucket: "artifacts", listPrefix: "nightly/2024/" }));
    assert.ok(!mayRead(p, { bucket: "artifacts", listPrefix: "" }));
    assert.ok(mayRead(p, { bucket: "logs", listPrefix: "" }));
    assert.ok(mayRead(p, { bucket: "artifacts" }), "HeadBucket of a bucket with a prefix");
    assert.ok(!mayRead(p, { bucket: "other" }));
    assert.ok(!mayRead(p, {}), "the bucket list");
  });
});

describe("the router with access control", () => {
  function setup(auth: Authenticator[], env: Record<string, string> = {}) {
    const parsed = parseConfig({ AWS_ENDPOINT_HOST: "s3.test", ...env });
    if (!parsed.ok) assert.fail(parsed.errors.join("; "));
    const calls: string[] = [];
    const logs: LogEntry[] = [];
    const fetch = ((url: string) => {
      calls.push(url);
      const status = url.includes("missing") || url.endsWith("index.html") ? 404 : 200;
      return Promise.resolve(new Response(status === 200 ? "x" : null, { status }));
    }) as typeof globalThis.fetch;
    const handler = createRouter([{
      prefix: "/r/",
      segments: ["r"],
      config: parsed.config,
      credentials: { get: () => Promise.resolve({ accessKeyId: "A", secretAccessKey: "S" }) },
      auth,
    }], { fetch, now: () => Date.UTC(2024, 0, 1), log: (e) => logs.push(e) });
    const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
      handler(new Request("http://p" + path, { method, headers }), { remoteAddr: "127.0.0.1" });
    return { calls, logs, get };
  }
  const chrome = { accept: "text/html", "user-agent": "Mozilla/5.0 Chrome/120" };

  test("without credentials: nothing goes upstream, not even folder checks, HEADs or slash redirects", async () => {
    const s = setup([fake("basic", 'Basic realm="r"')]);
    for (
      const [path, headers, method] of [
        ["/r/bkt/dir/", chrome, "GET"],
        ["/r/bkt/photos", chrome, "GET"],
        ["/r", chrome, "GET"],
        ["/r/bkt/a.txt", {}, "HEAD"],
        ["/r/bkt?list-type=2", { "user-agent": "aws-cli/2" }, "GET"],
      ] as const
    ) {
      const res = await s.get(path, headers, method);
      assert.equal(res.status, 401, path);
      assert.equal(res.headers.get("www-authenticate"), 'Basic realm="r"', path);
      await res.body?.cancel();
    }
    assert.deepEqual(s.calls, []);
    assert.ok(s.logs.every((l) => l.authFailure === "no credentials"));
  });

  test("admitted: served, marked private, the principal logged; the client's Authorization never goes upstream", async () => {
    const s = setup([fake("basic", 'Basic realm="r"')]);
    const res = await s.get("/r/bkt/a.txt", { "x-basic": "alice", authorization: "Basic YTpi" });
    assert.equal(res.status, 307);
    assert.match(res.headers.get("cache-control")!, /^private, max-age=\d+$/);
    const streamed = await s.get("/r/bkt/site/index.htm", {
      "x-basic": "alice",
      "user-agent": "aws-cli/2",
    });
    assert.equal(streamed.status, 200);
    assert.equal(streamed.headers.get("cache-control"), "private");
    await streamed.body?.cancel();
    assert.equal(s.logs[0].principal, "alice");
    assert.equal(s.logs[0].auth, "basic");
  });

  test("a principal limited to prefixes reads and lists only under them", async () => {
    const s = setup([fake("sigv4", undefined, ["bkt/nightly/"])]);
    const api = { "user-agent": "aws-cli/2", "x-sigv4": "ci" };
    const status = async (path: string) => {
      const res = await s.get(path, api);
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await status("/r/bkt/nightly/a.tgz"), 200);
    assert.equal(await status("/r/bkt/release/a.tgz"), 403);
    assert.equal(await status("/r/bkt?list-type=2&prefix=nightly/"), 200);
    assert.equal(await status("/r/bkt?list-type=2"), 403);
    assert.equal(await status("/r/other/nightly/a.tgz"), 403);
    assert.equal(await status("/r/"), 403, "the bucket list");
    assert.equal(s.calls.length, 2);
  });
});
