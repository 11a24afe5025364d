/**
 * Access control end to end: the proxy as a real process under Deno and under Bun, in front of
 * s3rver, with a routes file holding a `basic` route (a real `htpasswd -B` file), a `jwt` route
 * (the loopback issuer of tests/support/oidc.ts), a route that takes either, an `ALLOW_CIDRS`
 * route behind a trusted proxy, and an open route. Requests are plain fetches, as curl sends
 * them: 401s with the right challenges, success (proxied pages and followed redirects), the
 * principal in the access log, SIGHUP re-reading the htpasswd file (an added user works, a
 * removed one fails), startup errors (a bad line, a missing file: exit 2 naming the route and
 * the line) and no password, hash or token in any output.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  type ProxyHandle,
  type Runtime,
  startProxy,
  startProxyExpectingExit,
} from "./support/proxy.ts";
import { type Issuer, makeKey, signJwt, startIssuer } from "./support/oidc.ts";

const BUCKET = "site";
const PAGE = "<h1>private page</h1>\n";
const FILE = "a private report\n";
const AUDIENCE = "s3-proxy";
const PASSWORDS = { alice: "alice-pässword", bob: "bob:with:colons", carol: "carol-pass" };

async function htpasswd(args: string[]): Promise<void> {
  const out = await new Deno.Command("htpasswd", { args, stdout: "null", stderr: "piped" })
    .output();
  assert.equal(out.code, 0, `htpasswd ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
}

const basic = (user: string, password: string) =>
  "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)));

describe("access control end to end", () => {
  let s3: S3rverHandle;
  let issuer: Issuer;
  let dir: string;
  const key = makeKey("RS256", "e2e-rsa");
  const ecKey = makeKey("ES256", "e2e-ec");
  const token = (claims: Record<string, unknown> = {}, k = key) =>
    signJwt(k, {
      iss: issuer.issuer,
      aud: AUDIENCE,
      sub: "sso-user-7",
      groups: ["readers"],
      exp: Math.floor(Date.now() / 1000) + 600,
      ...claims,
    });
  const secrets = (): string[] => [...Object.values(PASSWORDS), token(), token({}, ecKey)];

  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    await s3.putObject(BUCKET, "docs/index.html", PAGE, { "content-type": "text/html" });
    await s3.putObject(BUCKET, "docs/report.txt", FILE, { "content-type": "text/plain" });
    issuer = await startIssuer([key, ecKey]);
    dir = await Deno.makeTempDir({ prefix: "auth-e2e-" });
  });
  after(async () => {
    await issuer?.close();
    await s3?.stop();
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  function routesFile(name: string, basicFile: string) {
    const path = `${dir}/${name}.json`;
    const route = { S3_BUCKET: BUCKET };
    const doc = {
      routes: [
        {
          prefix: "/private/",
          ...route,
          AUTH: "basic",
          AUTH_BASIC_FILE: basicFile,
          AUTH_REALM: "Private files",
        },
        {
          prefix: "/sso/",
          ...route,
          AUTH: "jwt",
          AUTH_JWT_ISSUER: issuer.issuer,
          AUTH_JWT_AUDIENCE: AUDIENCE,
          AUTH_JWT_REQUIRE: "groups=readers",
        },
        {
          prefix: "/either/",
          ...route,
          AUTH: "basic,jwt",
          AUTH_BASIC_FILE: basicFile,
          AUTH_JWT_ISSUER: issuer.issuer,
          AUTH_JWT_AUDIENCE: AUDIENCE,
        },
        {
          prefix: "/office/",
          ...route,
          AUTH: "none",
          ALLOW_CIDRS: "203.0.113.0/24",
          TRUSTED_PROXIES: "127.0.0.1/32",
        },
        { prefix: "/open/", ...route, AUTH: "none" },
      ],
    };
    Deno.writeTextFileSync(path, JSON.stringify(doc, null, 2));
    return path;
  }

  const env = (routes: string) => ({
    ROUTES_FILE: routes,
    AWS_ENDPOINT_HOST: s3.host,
    AWS_ENDPOINT_SCHEME: "http",
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
  });

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`under ${runtime}`, () => {
      let proxy: ProxyHandle;
      let users: string;
      const get = (path: string, headers: Record<string, string> = {}) =>
        fetch(proxy.url + path, { headers, redirect: "manual" });

      before(async () => {
        users = `${dir}/htpasswd-${runtime}`;
        await htpasswd(["-cbB", "-C", "4", users, "alice", PASSWORDS.alice]);
        await htpasswd(["-bB", "-C", "4", users, "bob", PASSWORDS.bob]);
        proxy = await startProxy({ runtime, env: env(routesFile(runtime, users)) });
      });
      after(async () => {
        await proxy?.stop();
        const output = proxy?.lines().join("\n") ?? "";
        const hashes = (await Deno.readTextFile(users).catch(() => "")).match(/\$2y\$[^\s]+/g);
        for (const secret of [...secrets(), ...(hashes ?? [])]) {
          assert.ok(!output.includes(secret), `a secret in the proxy's output`);
        }
      });

      test("without credentials: 401 with each route's challenges; the open route answers", async () => {
        const a = await get("/private/docs/index.html");
        assert.equal(a.status, 401);
        assert.equal(
          a.headers.get("www-authenticate"),
          'Basic realm="Private files", charset="UTF-8"',
        );
        await a.body?.cancel();
        const b = await get("/sso/docs/index.html");
        assert.equal(b.status, 401);
        assert.equal(b.headers.get("www-authenticate"), 'Bearer realm="s3 signing proxy"');
        await b.body?.cancel();
        const c = await get("/either/docs/report.txt");
        assert.equal(c.status, 401);
        assert.equal(
          c.headers.get("www-authenticate"),
          'Basic realm="s3 signing proxy", charset="UTF-8", Bearer realm="s3 signing proxy"',
        );
        await c.body?.cancel();
        const open = await get("/open/docs/index.html");
        assert.equal(open.status, 200);
        assert.equal(await open.text(), PAGE);
        assert.doesNotMatch(open.headers.get("cache-control") ?? "", /private/);
        const warn = proxy.jsonLines().find((l) => l.event === "open_routes");
        assert.deepEqual(warn?.routes, ["/office/", "/open/"]);
      });

      test("basic: the right password reads (proxied and redirected), private to the client", async () => {
        const page = await get("/private/docs/index.html", {
          authorization: basic("alice", PASSWORDS.alice),
        });
        assert.equal(page.status, 200);
        assert.equal(await page.text(), PAGE);
        assert.match(page.headers.get("cache-control") ?? "", /^private/);
        const bob = basic("bob", PASSWORDS.bob);
        const redirect = await get("/private/docs/report.txt", { authorization: bob });
        assert.equal(redirect.status, 307);
        assert.match(redirect.headers.get("cache-control") ?? "", /private/);
        const file = await fetch(redirect.headers.get("location")!);
        assert.equal(await file.text(), FILE, "the presigned URL works without credentials");
        const wrong = await get("/private/docs/index.html", {
          authorization: basic("alice", "wrong"),
        });
        assert.equal(wrong.status, 401);
        assert.match(wrong.headers.get("www-authenticate") ?? "", /^Basic realm="Private files"/);
        const body = await wrong.text();
        assert.ok(!body.includes("alice"), body);
        const log = proxy.jsonLines().filter((l) =>
          l.event === "request" && l.route === "/private/"
        );
        assert.ok(
          log.some((l) => l.principal === "alice" && l.auth === "basic" && l.status === 200),
        );
        assert.ok(log.some((l) => l.principal === "bob" && l.status === 307));
        assert.ok(
          log.some((l) => l.status === 401 && l.authFailure === "wrong password for user alice"),
        );
      });

      test("jwt: a good token reads; a token without the group, expired or for another audience is refused", async () => {
        const ok = await get("/sso/docs/index.html", { authorization: `Bearer ${token()}` });
        assert.equal(ok.status, 200);
        assert.equal(await ok.text(), PAGE);
        assert.match(ok.headers.get("cache-control") ?? "", /^private/);
        const ec = await get("/sso/docs/report.txt", {
          authorization: `Bearer ${token({ sub: "ec-user" }, ecKey)}`,
        });
        assert.equal(ec.status, 307);
        await ec.body?.cancel();
        for (
          const bad of [
            token({ groups: ["writers"] }),
            token({ exp: Math.floor(Date.now() / 1000) - 120 }),
            token({ aud: "another-app" }),
            "not.a.token",
          ]
        ) {
          const res = await get("/sso/docs/index.html", { authorization: `Bearer ${bad}` });
          assert.equal(res.status, 401);
          assert.equal(
            res.headers.get("www-authenticate"),
            'Bearer realm="s3 signing proxy", error="invalid_token"',
          );
          assert.equal(await res.text(), "401 InvalidToken: the bearer token was refused\n");
        }
        const log = proxy.jsonLines().filter((l) => l.event === "request" && l.route === "/sso/");
        assert.ok(log.some((l) => l.principal === "sso-user-7" && l.auth === "jwt"));
        assert.ok(log.some((l) => l.principal === "ec-user"));
        assert.ok(log.some((l) => /claim rule groups=readers fails/.test(String(l.authFailure))));
        assert.ok(log.some((l) => /expired/.test(String(l.authFailure))));
      });

      test("basic,jwt: either admits", async () => {
        for (
          const authorization of [basic("bob", PASSWORDS.bob), `Bearer ${token({ groups: [] })}`]
        ) {
          const res = await get("/either/docs/index.html", { authorization });
          assert.equal(res.status, 200, authorization.slice(0, 6));
          await res.body?.cancel();
        }
      });

      test("ALLOW_CIDRS with TRUSTED_PROXIES from the routes file", async () => {
        const inside = await get("/office/docs/index.html", { "x-forwarded-for": "203.0.113.9" });
        assert.equal(inside.status, 200);
        await inside.body?.cancel();
        for (
          const headers of [{ "x-forwarded-for": "198.51.100.1" }, {}] as Record<string, string>[]
        ) {
          const res = await get("/office/docs/index.html", headers);
          assert.equal(res.status, 403);
          await res.body?.cancel();
        }
        // The trusted proxy's own address is not the client: the address before it is.
        const chain = await get("/office/docs/index.html", {
          "x-forwarded-for": "198.51.100.1, 203.0.113.9",
        });
        assert.equal(chain.status, 200);
        await chain.body?.cancel();
        const log = proxy.jsonLines().filter((l) =>
          l.event === "request" && l.route === "/office/"
        );
        assert.ok(log.some((l) => l.remote === "203.0.113.9" && l.status === 200));
        assert.ok(log.some((l) => l.remote === "198.51.100.1" && l.status === 403));
      });

      test("SIGHUP re-reads the htpasswd file: an added user works, a removed one fails", async () => {
        const alice = { authorization: basic("alice", PASSWORDS.alice) };
        const carol = { authorization: basic("carol", PASSWORDS.carol) };
        assert.equal((await get("/private/docs/report.txt", alice)).status, 307);
        assert.equal((await get("/private/docs/report.txt", carol)).status, 401);
        const reloads = () =>
          proxy.jsonLines().filter((l) => l.event === "auth_basic_file_reloaded").length;
        const before = reloads();
        await htpasswd(["-bB", "-C", "4", users, "carol", PASSWORDS.carol]);
        await htpasswd(["-D", users, "alice"]);
        Deno.kill(proxy.pid, "SIGHUP");
        await proxy.waitForLine(
          () =>
            reloads() > before &&
            proxy.jsonLines().some((l) => l.event === "auth_basic_file_reloaded" && l.users === 2),
          10_000,
          "the htpasswd file reloaded",
        );
        assert.equal((await get("/private/docs/report.txt", carol)).status, 307);
        assert.equal((await get("/private/docs/report.txt", alice)).status, 401, "removed");
        assert.equal(
          (await get("/either/docs/report.txt", alice)).status,
          401,
          "on every route that uses the file",
        );
      });
    });
  }

  describe("startup errors", () => {
    for (const runtime of ["deno", "bun"] as Runtime[]) {
      test(`${runtime}: a line that is not bcrypt, or a missing file, is exit 2 naming the route and line`, async () => {
        const users = `${dir}/bad-${runtime}`;
        await htpasswd(["-cbB", "-C", "4", users, "alice", PASSWORDS.alice]);
        await htpasswd(["-bm", users, "mallory", "md5-pass"]);
        const text = await Deno.readTextFile(users);
        const bad = await startProxyExpectingExit({
          runtime,
          env: env(routesFile(`bad-${runtime}`, users)),
        });
        assert.equal(bad.code, 2, bad.stderr);
        assert.match(
          bad.stderr,
          /route 0 \(\/private\/\): AUTH: AUTH_BASIC_FILE \S+: line 2 \(user "mallory"\): not a bcrypt hash/,
        );
        const output = bad.stdout + bad.stderr;
        for (const hash of text.match(/:(\S+)/g)!) assert.ok(!output.includes(hash.slice(1)));
        assert.ok(!output.includes("md5-pass"));

        const missing = await startProxyExpectingExit({
          runtime,
          env: env(routesFile(`missing-${runtime}`, `${dir}/nowhere`)),
        });
        assert.equal(missing.code, 2);
        assert.match(
          missing.stderr,
          /route 0 \(\/private\/\): AUTH: cannot read AUTH_BASIC_FILE \S+nowhere/,
        );
        assert.match(missing.stderr, /route 2 \(\/either\/\): AUTH: cannot read AUTH_BASIC_FILE/);
      });
    }
  });
});
