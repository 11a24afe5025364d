/**
 * The Cloudflare Workers entry (src/worker.ts): its configuration from bindings, in process
 * (every problem at once, no secret in any message, what a Worker cannot do refused), the
 * bad-configuration answer and the once-per-isolate build, `CF-Connecting-IP` as the peer
 * address; and under workerd, the bad-configuration answer and its log line. The proxied paths
 * under workerd are in tests/entries_test.ts, beside Deno and Bun.
 *
 * @module
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { bindingsEnv, createWorker, setupWorker, UNAVAILABLE_ON_WORKERS } from "../src/worker.ts";
import type { LogEntry } from "../src/handler.ts";
import { compatibilityDate, startWorker } from "./support/workerd.ts";
import { makeKey, signJwt, startIssuer } from "./support/oidc.ts";
import { REPO_ROOT } from "./support/proxy.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const KEYS = { AWS_ACCESS_KEY_ID: "AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY: SECRET };
const NOW = Date.UTC(2026, 11, 1, 12);

function logs(): { entries: LogEntry[]; log: (e: LogEntry) => void } {
  const entries: LogEntry[] = [];
  return { entries, log: (e) => entries.push(e) };
}

/** A fetch that must not be called: these tests never go upstream. */
const noFetch: typeof fetch = () => Promise.reject(new Error("no fetch in this test"));

function errorsOf(result: Awaited<ReturnType<typeof setupWorker>>): readonly string[] {
  assert.equal(result.ok, false, "expected a configuration error");
  return result.ok ? [] : result.errors;
}

describe("bindingsEnv", () => {
  test("strings as they are, JSON numbers and booleans as text, ROUTES objects as JSON", () => {
    const routes = { routes: [{ prefix: "/", AUTH: "none" }] };
    const { env, errors } = bindingsEnv({
      S3_BUCKET: "site",
      PRESIGN_EXPIRES: 60,
      S3_LIST_BUCKETS: true,
      ROUTES: routes,
      KV: { get() {} },
      NAMESPACE: new Map(),
    });
    assert.deepEqual(errors, []);
    assert.deepEqual(env, {
      S3_BUCKET: "site",
      PRESIGN_EXPIRES: "60",
      S3_LIST_BUCKETS: "true",
      ROUTES: JSON.stringify(routes),
    });
  });

  test("a ROUTES binding that is not JSON is a problem", () => {
    assert.deepEqual(bindingsEnv({ ROUTES: new Map() }).errors, [
      "ROUTES: must be JSON text or a JSON binding",
    ]);
  });
});

describe("setupWorker", () => {
  test("keys from secrets: one route at /", async () => {
    const setup = await setupWorker({ ...KEYS, S3_BUCKET: "site" }, () => {}, noFetch, () => NOW);
    assert.ok(setup.ok);
    assert.deepEqual(setup.routes.map((r) => r.prefix), ["/"]);
    assert.equal(setup.routes[0].config.bucket, "site");
    assert.deepEqual(await setup.routes[0].credentials.get(), {
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: SECRET,
    });
  });

  test("a signing key and its scope from secrets", async () => {
    const setup = await setupWorker(
      {
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SIGNING_KEY: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))),
        AWS_KEY_SCOPE: "20261201/us-east-1/s3/aws4_request",
      },
      () => {},
      noFetch,
      () => NOW,
    );
    assert.ok(setup.ok);
    const credentials = await setup.routes[0].credentials.get();
    assert.equal(credentials.accessKeyId, "AKIDEXAMPLE");
    assert.ok("signingKey" in credentials);
  });

  test("a signing key scoped for another region is a problem", async () => {
    const errors = errorsOf(
      await setupWorker(
        {
          AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
          AWS_SIGNING_KEY: btoa(String.fromCharCode(...new Uint8Array(32).fill(7))),
          AWS_KEY_SCOPE: "20261201/eu-west-1/s3/aws4_request",
          AWS_REGION: "us-east-1",
        },
        () => {},
        noFetch,
        () => NOW,
      ),
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^AWS_KEY_SCOPE: .*eu-west-1/);
  });

  test("ROUTES (JSON text or object) with per-route credentials: one provider per set", async () => {
    const doc = {
      routes: [
        { prefix: "/a/", AUTH: "none", S3_BUCKET: "aaa" },
        { prefix: "/b/", AUTH: "none", S3_BUCKET: "bbb" },
        {
          prefix: "/c/",
          AUTH: "none",
          S3_BUCKET: "ccc",
          AWS_ACCESS_KEY_ID: "AKIDOTHER",
          AWS_SECRET_ACCESS_KEY: "other-secret",
        },
      ],
    };
    for (const ROUTES of [doc, JSON.stringify(doc)]) {
      const setup = await setupWorker({ ...KEYS, ROUTES }, () => {}, noFetch, () => NOW);
      assert.ok(setup.ok, JSON.stringify(setup));
      assert.deepEqual(setup.routes.map((r) => r.config.bucket), ["aaa", "bbb", "ccc"]);
      assert.equal(setup.routes[0].credentials, setup.routes[1].credentials);
      assert.equal((await setup.routes[2].credentials.get()).accessKeyId, "AKIDOTHER");
      assert.equal(setup.providers.length, 2);
    }
  });

  test("every file- and metadata-based setting is refused, each named, with every other problem", async () => {
    const bindings: Record<string, string> = { ...KEYS, PRESIGN_EXPIRES: "forever" };
    for (const name of UNAVAILABLE_ON_WORKERS.keys()) bindings[name] = "/some/file";
    const errors = errorsOf(await setupWorker(bindings, () => {}, noFetch, () => NOW));
    for (const name of UNAVAILABLE_ON_WORKERS.keys()) {
      assert.ok(
        errors.some((e) => e.startsWith(`${name}: not available on Workers`)),
        `${name} in:\n${errors.join("\n")}`,
      );
    }
    assert.ok(errors.some((e) => e.startsWith("PRESIGN_EXPIRES")), errors.join("\n"));
    for (const e of errors) assert.ok(!e.includes(SECRET), e);
  });

  test("AUTH=basic and AUTH=sigv4 read files: refused on Workers", async () => {
    const errors = errorsOf(
      await setupWorker(
        {
          ...KEYS,
          ROUTES: {
            routes: [
              { prefix: "/a/", AUTH: "basic", AUTH_BASIC_FILE: "/etc/htpasswd" },
              { prefix: "/b/", AUTH: "sigv4", AUTH_SIGV4_KEYS_FILE: "/etc/keys" },
            ],
          },
        },
        () => {},
        noFetch,
        () => NOW,
      ),
    );
    assert.ok(
      errors.includes(
        "route 0 (/a/): AUTH=basic: not available on Workers (it reads a file); " +
          "use jwt or none",
      ),
      errors.join("\n"),
    );
    assert.ok(errors.some((e) => e.startsWith("route 1 (/b/): AUTH=sigv4: not available")));
  });

  test("a route's own AWS_PROFILE or signing-key file is refused, naming the route", async () => {
    const errors = errorsOf(
      await setupWorker(
        {
          ...KEYS,
          ROUTES: JSON.stringify({
            routes: [
              { prefix: "/", AUTH: "none" },
              { prefix: "/p/", AUTH: "none", AWS_PROFILE: "prod" },
              {
                prefix: "/k/",
                AUTH: "none",
                AWS_ACCESS_KEY_ID: "AKIDK",
                AWS_SIGNING_KEY_FILE: "/keys",
              },
            ],
          }),
        },
        () => {},
        noFetch,
        () => NOW,
      ),
    );
    assert.ok(
      errors.some((e) => e.startsWith("route 1 (/p/): AWS_PROFILE: not available on Workers")),
      errors.join("\n"),
    );
    assert.ok(
      errors.some((e) =>
        e.startsWith("route 2 (/k/): AWS_SIGNING_KEY_FILE: not available on Workers")
      ),
      errors.join("\n"),
    );
  });

  test("no credentials at all: says which secrets to put", async () => {
    const errors = errorsOf(await setupWorker({ S3_BUCKET: "site" }, () => {}, noFetch));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^no AWS credentials: .*wrangler secret put/);
  });

  test("a partial key pair names the variable, never the secret", async () => {
    const errors = errorsOf(
      await setupWorker({ AWS_SECRET_ACCESS_KEY: SECRET }, () => {}, noFetch),
    );
    assert.equal(errors.length, 1);
    assert.match(errors[0], /AWS_ACCESS_KEY_ID is not/);
    assert.ok(!errors[0].includes(SECRET));
  });

  test("a ROUTES binding that is not valid JSON", async () => {
    const errors = errorsOf(await setupWorker({ ...KEYS, ROUTES: "{routes: [" }, () => {}));
    assert.equal(errors.length, 1);
    assert.match(errors[0], /^ROUTES: not valid JSON/);
  });
});

describe("the module Worker", () => {
  test("a bad configuration: every request a 503 naming every problem, built and logged once", async () => {
    const { entries, log } = logs();
    const worker = createWorker({ fetch: noFetch, log });
    const env = {
      AWS_PROFILE: "prod",
      AUTH_BASIC_FILE: "/etc/htpasswd",
      AWS_SECRET_ACCESS_KEY: SECRET,
    };
    for (let i = 0; i < 3; i++) {
      const res = await worker.fetch(new Request("http://proxy/bkt/key"), env);
      assert.equal(res.status, 503);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const text = await res.text();
      assert.match(text, /^s3 signing proxy: bad configuration:\n/);
      assert.match(text, /\n {2}- AWS_PROFILE: not available on Workers/);
      assert.match(text, /\n {2}- AUTH_BASIC_FILE: not available on Workers/);
      assert.match(
        text,
        /\n {2}- AWS credentials: AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID/,
      );
      assert.ok(!text.includes(SECRET));
    }
    const bad = entries.filter((e) => e.event === "bad_configuration");
    assert.equal(bad.length, 1);
    assert.ok(!JSON.stringify(entries).includes(SECRET));
    // Another bindings object (another isolate's) is built anew.
    await (await worker.fetch(new Request("http://proxy/"), { ...env })).body?.cancel();
    assert.equal(entries.filter((e) => e.event === "bad_configuration").length, 2);
  });

  test("CF-Connecting-IP is the peer address: ALLOW_CIDRS admits by it", async () => {
    const { entries, log } = logs();
    const worker = createWorker({ fetch: noFetch, log, now: () => NOW });
    const env = { ...KEYS, ALLOW_CIDRS: "192.0.2.0/24", AWS_ENDPOINT_HOST: "s3.example" };
    const ask = (headers: Record<string, string>) =>
      worker.fetch(
        new Request("http://proxy/bkt/file.bin", {
          headers: { "user-agent": "curl/8", ...headers },
        }),
        env,
      );
    const admitted = await ask({ "cf-connecting-ip": "192.0.2.7" });
    assert.equal(admitted.status, 307);
    assert.match(
      admitted.headers.get("location") ?? "",
      /^https:\/\/s3\.example\/bkt\/file\.bin\?/,
    );
    const other = await ask({ "cf-connecting-ip": "198.51.100.1" });
    assert.equal(other.status, 403);
    await other.body?.cancel();
    // Without it (never on Cloudflare) the address is unknown, and ALLOW_CIDRS refuses.
    const none = await ask({ "x-forwarded-for": "192.0.2.7" });
    assert.equal(none.status, 403);
    await none.body?.cancel();
    const requests = entries.filter((e) => e.event === "request");
    assert.deepEqual(requests.map((e) => e.status), [307, 403, 403]);
  });
});

describe("LOG_LEVEL and ACCESS_LOG", () => {
  test("filter the Worker's log as they filter main's; a bad value is a configuration problem", async () => {
    const { entries, log } = logs();
    const worker = createWorker({ fetch: noFetch, log, now: () => NOW });
    const quiet = { ...KEYS, LOG_LEVEL: "warn", ACCESS_LOG: "off" };
    const res = await worker.fetch(
      new Request("http://proxy/bkt/key", { headers: { "user-agent": "curl/8" } }),
      quiet,
    );
    assert.equal(res.status, 307);
    assert.deepEqual(entries.map((e) => e.event), ["open_routes"]);
    const bad = await worker.fetch(new Request("http://proxy/"), { ...KEYS, LOG_LEVEL: "loud" });
    assert.equal(bad.status, 503);
    assert.match(await bad.text(), /- LOG_LEVEL: /);
  });
});

describe("under workerd", () => {
  test("AUTH=jwt: keys fetched from the issuer at the first request, tokens verified", async () => {
    const key = makeKey("ES256", "k1");
    await using issuer = await startIssuer([key]);
    await using worker = await startWorker({
      bindings: {
        ...KEYS,
        AWS_ENDPOINT_HOST: "s3.example",
        AUTH: "jwt",
        AUTH_JWT_ISSUER: issuer.issuer,
        AUTH_JWT_AUDIENCE: "s3-proxy",
      },
    });
    const token = (claims: Record<string, unknown>) =>
      signJwt(key, {
        iss: issuer.issuer,
        aud: "s3-proxy",
        sub: "sso-user-7",
        exp: Math.floor(Date.now() / 1000) + 600,
        ...claims,
      });
    const ask = (authorization?: string) =>
      fetch(`${worker.url}/bkt/file.bin`, {
        redirect: "manual",
        headers: { "user-agent": "curl/8", ...(authorization ? { authorization } : {}) },
      });
    // The first requests come together: one build (one discovery, one JWKS fetch) serves all.
    const first = await Promise.all(Array.from({ length: 6 }, () => ask(`Bearer ${token({})}`)));
    for (const res of first) {
      assert.equal(res.status, 307);
      await res.body?.cancel();
    }
    const none = await ask();
    assert.equal(none.status, 401);
    assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer /);
    await none.body?.cancel();
    const wrong = await ask(`Bearer ${token({ aud: "someone-else" })}`);
    assert.equal(wrong.status, 401);
    await wrong.body?.cancel();
    const good = await ask(`Bearer ${token({})}`);
    assert.equal(good.status, 307, await good.clone().text());
    assert.match(good.headers.get("location") ?? "", /^https:\/\/s3\.example\/bkt\/file\.bin\?/);
    assert.match(good.headers.get("cache-control") ?? "", /private/);
    await good.body?.cancel();
    assert.equal(issuer.discoveryFetches(), 1);
    assert.equal(issuer.jwksFetches(), 1);
    const logged = worker.jsonLines().filter((l) => l.event === "request");
    assert.equal(logged.at(-1)?.principal, "sso-user-7");
    // Nothing but JSON lines: no workerd warning (a promise shared across requests, say).
    assert.equal(worker.jsonLines().length, worker.lines().length, worker.lines().join("\n"));
  });

  test("wrangler.toml runs src/worker.ts, at the compatibility date the tests run it with", async () => {
    const toml = await Deno.readTextFile(`${REPO_ROOT}wrangler.toml`);
    assert.match(toml, /^main = "src\/worker\.ts"$/m);
    // workerd refuses a date later than its own; the launcher passes this one (below).
    assert.match(await compatibilityDate(), /^20\d\d-\d\d-\d\d$/);
  });

  test("a bad configuration: 503 naming every problem, and the log line", async () => {
    await using worker = await startWorker({
      bindings: {
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SECRET_ACCESS_KEY: SECRET,
        ROUTES: { routes: [{ prefix: "/a/", AUTH: "basic", AUTH_BASIC_FILE: "/etc/htpasswd" }] },
        AWS_SIGNING_KEY_FILE: "/etc/keys",
      },
    });
    for (const path of ["/a/bkt/key", "/"]) {
      const res = await fetch(worker.url + path);
      assert.equal(res.status, 503);
      const text = await res.text();
      assert.match(text, /- AWS_SIGNING_KEY_FILE: not available on Workers/);
      assert.match(text, /- route 0 \(\/a\/\): AUTH=basic: not available on Workers/);
      assert.ok(!text.includes(SECRET));
    }
    const logged = worker.jsonLines().filter((l) => l.event === "bad_configuration");
    assert.equal(logged.length, 1, worker.lines().join("\n"));
    assert.ok((logged[0].errors as string[]).some((e) => e.startsWith("AWS_SIGNING_KEY_FILE")));
    assert.ok(!worker.lines().join("\n").includes(SECRET));
  });
});
