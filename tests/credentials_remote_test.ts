// Remote credential sources against loopback fakes, through resolveCredentialProvider with the
// endpoints taken from the environment overrides: STS web identity, the container endpoint and
// IMDSv2. Refresh is driven by an injected clock; nothing waits for real time to pass except the
// timeout tests (200 ms).

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type CredentialIo,
  CredentialsConfigError,
  CredentialsUnavailableError,
  resolveCredentialProvider,
  type ResolveOptions,
} from "../src/credentials/resolve.ts";
import { allowedContainerHost, containerEndpoint } from "../src/credentials/container.ts";
import { imdsEndpoint, imdsPolicy } from "../src/credentials/imds.ts";
import { parseAssumeRoleResponse, stsEndpoint } from "../src/credentials/web_identity.ts";
import {
  captureLog,
  credentialsJson,
  type FakeServer,
  type IssuedCredentials,
  memoryFiles,
  startFakeContainer,
  startFakeImds,
  startFakeSts,
  stsErrorXml,
  stsSuccessXml,
  type TestClock,
  testClock,
} from "./support/fake_aws.ts";

const T0 = Date.UTC(2030, 5, 15, 8, 0, 0);
const MIN = 60_000;
const ROLE_ARN = "arn:aws:iam::123456789012:role/proxy";
const TOKEN_FILE = "/var/run/secrets/eks.amazonaws.com/serviceaccount/token";
const WEB_TOKEN_1 = "eyJhbGciOiJSUzI1NiJ9.web-identity-token-one.c2lnbmF0dXJl";
const WEB_TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.web-identity-token-two.c2lnbmF0dXJl";
const AUTH_1 = "container-auth-token-111";
const AUTH_2 = "container-auth-token-222";

interface Harness {
  clock: TestClock;
  fs: ReturnType<typeof memoryFiles>;
  logs: ReturnType<typeof captureLog>;
  io: CredentialIo;
}

function harness(files: Record<string, string> = {}): Harness {
  const clock = testClock(T0);
  const fs = memoryFiles(files);
  const logs = captureLog();
  return {
    clock,
    fs,
    logs,
    io: {
      fetch: (input, init) => fetch(input, init),
      now: clock.now,
      readTextFile: fs.readTextFile,
      log: logs.log,
      sleep: () => Promise.resolve(),
    },
  };
}

const OPTIONS: ResolveOptions = { httpTimeoutMs: 2000, backoffMs: 1000 };

/** Resolves, and on failure returns the error (for tests of startup errors). */
async function resolveError(
  env: Record<string, string>,
  io: CredentialIo,
  options = OPTIONS,
): Promise<CredentialsConfigError> {
  try {
    const p = await resolveCredentialProvider(env, io, options);
    p.close?.();
  } catch (error) {
    assert.ok(error instanceof CredentialsConfigError, String(error));
    return error;
  }
  assert.fail("resolveCredentialProvider should have failed");
}

/** No issued secret or token, nor any of `extra`, in `text`. */
function assertNoSecrets(text: string, issued: IssuedCredentials[], extra: string[] = []): void {
  const secrets = [...issued.flatMap((c) => [c.secretAccessKey, c.sessionToken]), ...extra];
  assert.ok(secrets.length > 0);
  for (const s of secrets) assert.ok(!text.includes(s), `a secret leaked: ${s.slice(0, 6)}...`);
}

const same = (got: { accessKeyId: string }, want: IssuedCredentials) =>
  assert.deepEqual(got, {
    accessKeyId: want.accessKeyId,
    secretAccessKey: want.secretAccessKey,
    sessionToken: want.sessionToken,
    expiration: want.expiration,
  });

async function withFake<F extends FakeServer>(
  start: Promise<F>,
  body: (fake: F) => Promise<void>,
): Promise<void> {
  const fake = await start;
  try {
    await body(fake);
  } finally {
    await fake.close();
  }
}

describe("web identity (STS AssumeRoleWithWebIdentity)", () => {
  const env = (sts: FakeServer) => ({
    AWS_WEB_IDENTITY_TOKEN_FILE: TOKEN_FILE,
    AWS_ROLE_ARN: ROLE_ARN,
    AWS_ROLE_SESSION_NAME: "proxy-session",
    AWS_ENDPOINT_URL_STS: sts.url,
    AWS_EC2_METADATA_DISABLED: "true",
  });

  test("an unsigned form POST; credentials from the XML answer", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 + "\n" });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      const p = await resolveCredentialProvider(env(sts), h.io, OPTIONS);
      assert.equal(p.source, `web identity (role ${ROLE_ARN})`);
      same(await p.get(), sts.issued[0]);
      assert.equal(sts.requests.length, 1);
      const req = sts.requests[0];
      assert.equal(req.method, "POST");
      assert.equal(req.path, "/");
      assert.equal(req.headers.get("authorization"), null);
      const form = new URLSearchParams(req.body);
      assert.equal(form.get("Action"), "AssumeRoleWithWebIdentity");
      assert.equal(form.get("Version"), "2011-06-15");
      assert.equal(form.get("RoleArn"), ROLE_ARN);
      assert.equal(form.get("RoleSessionName"), "proxy-session");
      assert.equal(form.get("WebIdentityToken"), WEB_TOKEN_1);
      assertNoSecrets(h.logs.text(), sts.issued, [WEB_TOKEN_1]);
    });
  });

  test("the token file is re-read on every refresh", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      const p = await resolveCredentialProvider(env(sts), h.io, OPTIONS);
      h.fs.files.set(TOKEN_FILE, WEB_TOKEN_2);
      h.clock.advance(55 * MIN);
      same(await p.get(), sts.issued[1]);
      const tokens = sts.requests.map((r) => new URLSearchParams(r.body).get("WebIdentityToken"));
      assert.deepEqual(tokens, [WEB_TOKEN_1, WEB_TOKEN_2]);
      assert.equal(h.fs.reads.filter((f) => f === TOKEN_FILE).length, 2);
      assertNoSecrets(h.logs.text(), sts.issued, [WEB_TOKEN_1, WEB_TOKEN_2]);
    });
  });

  test("concurrent get() calls share one refresh (counted at the fake)", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      const p = await resolveCredentialProvider(env(sts), h.io, OPTIONS);
      h.clock.advance(56 * MIN);
      const release = sts.hold();
      const early = Array.from({ length: 10 }, () => p.get());
      await sts.waitForRequests(2);
      const late = Array.from({ length: 10 }, () => p.get());
      release();
      const all = await Promise.all([...early, ...late]);
      assert.equal(sts.requests.length, 2);
      for (const c of all) same(c, sts.issued[1]);
    });
  });

  test("short expirations: refreshed at half-life; expired credentials never answered", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(
      startFakeSts({ clock: h.clock.now, lifetimeMs: () => 2 * MIN }),
      async (sts) => {
        const p = await resolveCredentialProvider(env(sts), h.io, OPTIONS);
        h.clock.advance(MIN - 1);
        same(await p.get(), sts.issued[0]);
        h.clock.advance(1);
        same(await p.get(), sts.issued[1]);
        // STS goes down; the current set expires at +2 min
        sts.override(() => true, { status: 503, body: "busy" }, 100);
        h.clock.advance(MIN + 30_000);
        same(await p.get(), sts.issued[1]); // refresh failed, still valid: kept
        h.clock.advance(30_000);
        await assert.rejects(p.get(), CredentialsUnavailableError);
        const failed = h.logs.events.filter((e) => e.event === "credentials_refresh_failed");
        assert.ok(failed.length >= 1);
        assert.match(String(failed[0].error), /answered HTTP 503/);
        assertNoSecrets(h.logs.text(), sts.issued, [WEB_TOKEN_1]);
      },
    );
  });

  test("a 5xx at startup is retried; a 5xx on refresh keeps the credentials and backs off", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      sts.override(() => true, { status: 500, body: "<html>oops</html>" }, 1);
      const p = await resolveCredentialProvider(env(sts), h.io, OPTIONS);
      assert.equal(sts.requests.length, 2);
      same(await p.get(), sts.issued[0]);

      sts.override(() => true, { status: 502 }, 3); // all three attempts of one refresh
      h.clock.advance(56 * MIN);
      same(await p.get(), sts.issued[0]);
      assert.equal(sts.requests.length, 5);
      same(await p.get(), sts.issued[0]); // within the backoff: no request
      assert.equal(sts.requests.length, 5);
      h.clock.advance(1000);
      same(await p.get(), sts.issued[1]);
      assert.equal(sts.requests.length, 6);
    });
  });

  test("malformed or error answers are never taken as credentials", async () => {
    const cases: [string, { status?: number; body: string }, RegExp][] = [
      [
        "HTML",
        { body: "<html><body>login</body></html>" },
        /not an AssumeRoleWithWebIdentityResponse/,
      ],
      ["empty", { body: "" }, /not an AssumeRoleWithWebIdentityResponse/],
      [
        "error XML with 200",
        { body: stsErrorXml("Throttling", "slow down") },
        /not an AssumeRoleWithWebIdentityResponse/,
      ],
      [
        "error XML with 400",
        { status: 400, body: stsErrorXml("InvalidIdentityToken", "bad token") },
        /answered HTTP 400 InvalidIdentityToken: bad token/,
      ],
      ["403 empty", { status: 403, body: "" }, /answered HTTP 403$/],
      [
        "missing SessionToken",
        {
          body: stsSuccessXml({
            accessKeyId: "ASIAX",
            secretAccessKey: "s",
            sessionToken: "t",
            expiration: T0 + 3_600_000,
          }, ROLE_ARN).replace(/<SessionToken>.*<\/SessionToken>/, ""),
        },
        /without a valid Token/,
      ],
      [
        "bad Expiration",
        {
          body: stsSuccessXml({
            accessKeyId: "ASIAX",
            secretAccessKey: "s",
            sessionToken: "t",
            expiration: T0,
          }, ROLE_ARN).replace(/<Expiration>.*<\/Expiration>/, "<Expiration>soon</Expiration>"),
        },
        /without a valid Expiration/,
      ],
    ];
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      for (const [name, reply, expected] of cases) {
        sts.override(() => true, reply, 1);
        const error = await resolveError(env(sts), h.io);
        assert.match(error.message, /the web identity source is configured but unusable/, name);
        assert.match(error.failures.at(-1)!.reason, expected, name);
        assert.ok(!error.message.includes(WEB_TOKEN_1));
      }
    });
  });

  test("an STS error message that echoes the token is redacted", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      sts.override(() => true, {
        status: 400,
        body: stsErrorXml("InvalidIdentityToken", `token ${WEB_TOKEN_1} is not valid`),
      });
      const error = await resolveError(env(sts), h.io);
      assert.match(error.message, /InvalidIdentityToken: token \[redacted\] is not valid/);
      assert.ok(!error.message.includes(WEB_TOKEN_1));
    });
  });

  test("a hung STS fails startup within the timeout", async () => {
    const h = harness({ [TOKEN_FILE]: WEB_TOKEN_1 });
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      sts.override(() => true, { hang: true }, 1);
      const started = performance.now();
      const error = await resolveError(env(sts), h.io, { httpTimeoutMs: 200, httpAttempts: 1 });
      assert.ok(performance.now() - started < 1500);
      assert.match(error.message, /did not answer within 200 ms/);
    });
  });

  test("a missing token file and a half-configured environment say so", async () => {
    const h = harness();
    await withFake(startFakeSts({ clock: h.clock.now }), async (sts) => {
      const error = await resolveError(env(sts), h.io);
      assert.match(error.message, /cannot read the web identity token file .*: does not exist/);
      assert.equal(sts.requests.length, 0);
    });
    const error = await resolveError(
      { AWS_ROLE_ARN: ROLE_ARN, AWS_EC2_METADATA_DISABLED: "true" },
      h.io,
    );
    assert.match(
      error.message,
      /web identity: AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not/,
    );
  });

  test("stsEndpoint: global, regional, override", () => {
    assert.equal(stsEndpoint({}), "https://sts.amazonaws.com");
    assert.equal(stsEndpoint({ AWS_REGION: "eu-west-1" }), "https://sts.amazonaws.com");
    assert.equal(
      stsEndpoint({ AWS_STS_REGIONAL_ENDPOINTS: "regional", AWS_DEFAULT_REGION: "eu-west-1" }),
      "https://sts.eu-west-1.amazonaws.com",
    );
    assert.equal(
      stsEndpoint({
        AWS_STS_REGIONAL_ENDPOINTS: "regional",
        AWS_REGION: "ap-south-1",
        AWS_DEFAULT_REGION: "eu-west-1",
      }),
      "https://sts.ap-south-1.amazonaws.com",
    );
    assert.equal(
      stsEndpoint({ AWS_STS_REGIONAL_ENDPOINTS: "regional", AWS_REGION: "cn-north-1" }),
      "https://sts.cn-north-1.amazonaws.com.cn",
    );
    assert.equal(
      stsEndpoint({ AWS_STS_REGIONAL_ENDPOINTS: "legacy", AWS_REGION: "eu-west-1" }),
      "https://sts.amazonaws.com",
    );
    assert.equal(
      stsEndpoint({ AWS_STS_REGIONAL_ENDPOINTS: "regional" }),
      "https://sts.amazonaws.com",
    );
    assert.equal(
      stsEndpoint({ AWS_ENDPOINT_URL_STS: "http://127.0.0.1:9", AWS_REGION: "eu-west-1" }),
      "http://127.0.0.1:9",
    );
  });

  test("parseAssumeRoleResponse decodes XML entities", () => {
    const creds = parseAssumeRoleResponse(
      stsSuccessXml({
        accessKeyId: "ASIAENT",
        secretAccessKey: "a&b<c>",
        sessionToken: "t&amp;",
        expiration: Date.UTC(2031, 0, 1),
      }, ROLE_ARN),
      "STS",
    );
    assert.equal(creds.secretAccessKey, "a&b<c>");
    assert.equal(creds.sessionToken, "t&amp;");
    assert.equal(creds.expiration, Date.UTC(2031, 0, 1));
  });
});

describe("container credentials", () => {
  const env = (fake: FakeServer, extra: Record<string, string> = {}) => ({
    AWS_CONTAINER_CREDENTIALS_FULL_URI: fake.url + "/creds",
    AWS_EC2_METADATA_DISABLED: "true",
    ...extra,
  });

  test("a GET with the Authorization token; credentials from the JSON", async () => {
    const h = harness();
    await withFake(
      startFakeContainer({ clock: h.clock.now, authorization: () => AUTH_1 }),
      async (fake) => {
        const p = await resolveCredentialProvider(
          env(fake, { AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTH_1 }),
          h.io,
          OPTIONS,
        );
        assert.equal(p.source, `container endpoint ${fake.url}`);
        same(await p.get(), fake.issued[0]);
        assert.equal(fake.requests[0].method, "GET");
        assert.equal(fake.requests[0].headers.get("authorization"), AUTH_1);
        assertNoSecrets(h.logs.text(), fake.issued, [AUTH_1]);
      },
    );
  });

  test("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE is re-read on every fetch (EKS Pod Identity)", async () => {
    const file = "/var/run/secrets/pods.eks.amazonaws.com/serviceaccount/eks-pod-identity-token";
    const h = harness({ [file]: AUTH_1 + "\n" });
    let expected = AUTH_1;
    await withFake(
      startFakeContainer({ clock: h.clock.now, authorization: () => expected }),
      async (fake) => {
        const p = await resolveCredentialProvider(
          env(fake, {
            AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: file,
            AWS_CONTAINER_AUTHORIZATION_TOKEN: "ignored-when-the-file-is-set",
          }),
          h.io,
          OPTIONS,
        );
        h.fs.files.set(file, AUTH_2);
        expected = AUTH_2;
        h.clock.advance(56 * MIN);
        same(await p.get(), fake.issued[1]);
        assert.deepEqual(fake.requests.map((r) => r.headers.get("authorization")), [
          AUTH_1,
          AUTH_2,
        ]);
        assertNoSecrets(h.logs.text(), fake.issued, [AUTH_1, AUTH_2]);
      },
    );
  });

  test("a wrong token (401), a 5xx and malformed bodies are refused at startup", async () => {
    const h = harness();
    await withFake(
      startFakeContainer({ clock: h.clock.now, authorization: () => AUTH_1 }),
      async (fake) => {
        let error = await resolveError(
          env(fake, { AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTH_2 }),
          h.io,
        );
        assert.match(
          error.message,
          /container: container endpoint http:\/\/127.*answered HTTP 401/,
        );
        assert.ok(!error.message.includes(AUTH_2));

        const good = env(fake, { AWS_CONTAINER_AUTHORIZATION_TOKEN: AUTH_1 });
        fake.override(() => true, { status: 500 }, 3);
        error = await resolveError(good, h.io);
        assert.match(error.message, /answered HTTP 500/);

        const issued = {
          accessKeyId: "ASIAX",
          secretAccessKey: "s",
          sessionToken: "t",
          expiration: T0 + 3_600_000,
        };
        const full = JSON.parse(credentialsJson(issued));
        const bodies: [string, string, RegExp][] = [
          ["HTML", "<!doctype html><title>proxy login</title>", /not JSON/],
          ["truncated", credentialsJson(issued).slice(0, 40), /not JSON/],
          ["array", "[]", /not an object/],
          ["no Token", JSON.stringify({ ...full, Token: undefined }), /valid Token/],
          ["no Expiration", JSON.stringify({ ...full, Expiration: null }), /valid Expiration/],
          ["numeric key id", JSON.stringify({ ...full, AccessKeyId: 7 }), /valid AccessKeyId/],
          [
            "error document",
            JSON.stringify({ Code: "AccessDenied", Message: "no" }),
            /Code AccessDenied/,
          ],
          [
            "already expired",
            credentialsJson({ ...issued, expiration: T0 - 1000 }),
            /not in the future|expired/,
          ],
        ];
        for (const [name, body, expected] of bodies) {
          fake.override(() => true, { status: 200, body }, 1);
          error = await resolveError(good, h.io);
          assert.match(error.failures.at(-1)!.reason, expected, name);
        }
      },
    );
  });

  test("a redirect is not followed, and an oversized body is not read", async () => {
    const h = harness();
    await withFake(startFakeContainer({ clock: h.clock.now }), async (fake) => {
      await withFake(startFakeContainer({ clock: h.clock.now }), async (elsewhere) => {
        fake.override(() => true, {
          status: 302,
          headers: { location: elsewhere.url + "/creds" },
        });
        let error = await resolveError(env(fake), h.io);
        assert.match(error.message, /answered a redirect \(HTTP 302\), which is not followed/);
        assert.equal(elsewhere.requests.length, 0);
        fake.override(() => true, { status: 200, body: " ".repeat(2 << 20) });
        error = await resolveError(env(fake), h.io);
        assert.match(error.message, /body larger than 1048576 bytes/);
      });
    });
  });

  test("a 5xx on refresh keeps valid credentials; concurrent get() share one fetch", async () => {
    const h = harness();
    await withFake(startFakeContainer({ clock: h.clock.now }), async (fake) => {
      const p = await resolveCredentialProvider(env(fake), h.io, OPTIONS);
      fake.override(() => true, { status: 503 }, 3);
      h.clock.advance(57 * MIN);
      const results = await Promise.all(Array.from({ length: 25 }, () => p.get()));
      for (const c of results) same(c, fake.issued[0]);
      assert.equal(fake.requests.length, 4, "one startup fetch, one refresh of three attempts");
      h.clock.advance(1000);
      const fresh = await Promise.all(Array.from({ length: 25 }, () => p.get()));
      for (const c of fresh) same(c, fake.issued[1]);
      assert.equal(fake.requests.length, 5);
      assertNoSecrets(h.logs.text(), fake.issued);
    });
  });

  test("allowed hosts for AWS_CONTAINER_CREDENTIALS_FULL_URI", () => {
    for (
      const host of [
        "127.0.0.1",
        "127.1.2.3",
        "localhost",
        "[::1]",
        "169.254.170.2",
        "169.254.170.23",
        "[fd00:ec2::23]",
      ]
    ) {
      assert.ok(allowedContainerHost(host), host);
    }
    for (
      const host of [
        "10.0.0.1",
        "169.254.169.254",
        "example.com",
        "128.0.0.1",
        "[fd00:ec2::24]",
        "127.0.0.1.example.com",
      ]
    ) {
      assert.ok(!allowedContainerHost(host), host);
    }
    assert.deepEqual(
      containerEndpoint({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc" }),
      {
        url: "http://169.254.170.2/v2/credentials/abc",
        origin: "http://169.254.170.2",
      },
    );
    assert.deepEqual(
      containerEndpoint({
        AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/rel",
        AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:1/full",
      }),
      { url: "http://169.254.170.2/rel", origin: "http://169.254.170.2" },
    );
    assert.deepEqual(
      containerEndpoint({
        AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://[fd00:ec2::23]/v1/credentials",
      }),
      { url: "http://[fd00:ec2::23]/v1/credentials", origin: "http://[fd00:ec2::23]" },
    );
    assert.throws(
      () => containerEndpoint({ AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://evil.example/creds" }),
      /host evil.example is not allowed/,
    );
    assert.throws(
      () => containerEndpoint({ AWS_CONTAINER_CREDENTIALS_FULL_URI: "https://169.254.169.254/" }),
      /not allowed/,
    );
    assert.throws(
      () => containerEndpoint({ AWS_CONTAINER_CREDENTIALS_FULL_URI: "file:///etc/passwd" }),
      /must be http or https/,
    );
    assert.throws(
      () => containerEndpoint({ AWS_CONTAINER_CREDENTIALS_FULL_URI: "/creds" }),
      /not a URL/,
    );
  });

  test("a full URI to a host that is not allowed stops the chain and fetches nothing", async () => {
    const h = harness();
    let fetched = 0;
    const io = { ...h.io, fetch: () => (fetched++, Promise.reject(new Error("no"))) };
    const error = await resolveError(
      { AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://10.1.2.3/creds" },
      io,
    );
    assert.match(error.message, /the container source is configured but unusable/);
    assert.equal(fetched, 0);
  });
});

describe("instance metadata (IMDSv2)", () => {
  const env = (fake: FakeServer) => ({ AWS_EC2_METADATA_SERVICE_ENDPOINT: fake.url + "/" });

  test("token PUT, role name, role credentials; every GET carries the token", async () => {
    const h = harness();
    await withFake(startFakeImds({ clock: h.clock.now, role: "web-role" }), async (imds) => {
      const p = await resolveCredentialProvider(env(imds), h.io, OPTIONS);
      assert.equal(p.source, `instance metadata ${imds.url} (role web-role)`);
      same(await p.get(), imds.issued[0]);
      assert.deepEqual(imds.requests.map((r) => `${r.method} ${r.path}`), [
        "PUT /latest/api/token",
        "GET /latest/meta-data/iam/security-credentials/",
        "GET /latest/meta-data/iam/security-credentials/web-role",
      ]);
      assert.equal(imds.requests[0].headers.get("x-aws-ec2-metadata-token-ttl-seconds"), "21600");
      const token = [...imds.tokens.keys()][0];
      for (const r of imds.requests.slice(1)) {
        assert.equal(r.headers.get("x-aws-ec2-metadata-token"), token);
      }
      assertNoSecrets(h.logs.text(), imds.issued, [token]);
    });
  });

  test("the fake requires the token: a GET without one is 401", async () => {
    const h = harness();
    await withFake(startFakeImds({ clock: h.clock.now }), async (imds) => {
      const res = await fetch(imds.url + "/latest/meta-data/iam/security-credentials/");
      await res.body?.cancel();
      assert.equal(res.status, 401);
      const put = await fetch(imds.url + "/latest/api/token", { method: "PUT" });
      await put.body?.cancel();
      assert.equal(put.status, 400, "a token PUT without a TTL is refused");
    });
  });

  test("a session token that stops working is fetched again (401, then a new PUT)", async () => {
    const h = harness();
    await withFake(startFakeImds({ clock: h.clock.now }), async (imds) => {
      const p = await resolveCredentialProvider(env(imds), h.io, OPTIONS);
      imds.tokens.clear();
      h.clock.advance(6 * 3_600_000 - 4 * MIN);
      same(await p.get(), imds.issued[1]);
      assert.deepEqual(
        imds.requests.slice(3).map((r) =>
          `${r.method} ${r.path} ${r.headers.has("x-aws-ec2-metadata-token") ? "with" : "without"}`
        ),
        [
          "GET /latest/meta-data/iam/security-credentials/ with",
          "PUT /latest/api/token without",
          "GET /latest/meta-data/iam/security-credentials/ with",
          "GET /latest/meta-data/iam/security-credentials/proxy-role with",
        ],
      );
      assert.equal(imds.requests.filter((r) => r.method === "PUT").length, 2);
    });
  });

  test("the session token is reused until shortly before its TTL, then renewed", async () => {
    const h = harness();
    await withFake(
      startFakeImds({ clock: h.clock.now, lifetimeMs: () => 60 * MIN }),
      async (imds) => {
        const p = await resolveCredentialProvider(env(imds), h.io, OPTIONS);
        for (let i = 1; i <= 5; i++) {
          h.clock.advance(55 * MIN);
          same(await p.get(), imds.issued[i]);
        }
        // 5 refreshes over 4h35m: one token; the 6 h token is renewed on the refresh after 5h59m
        assert.equal(imds.requests.filter((r) => r.method === "PUT").length, 1);
        h.clock.advance(90 * MIN);
        await p.get();
        assert.equal(imds.requests.filter((r) => r.method === "PUT").length, 2);
      },
    );
  });

  test("refused token PUT, no role, a 5xx, malformed answers: never credentials", async () => {
    const h = harness();
    await withFake(startFakeImds({ clock: h.clock.now }), async (imds) => {
      const cases: [
        string,
        (r: { method: string; path: string }) => boolean,
        { status?: number; body?: string },
        RegExp,
      ][] = [
        [
          "PUT 403",
          (r) => r.method === "PUT",
          { status: 403 },
          /refused an IMDSv2 session token \(HTTP 403\)/,
        ],
        [
          "no role",
          (r) => r.path.endsWith("credentials/"),
          { status: 404 },
          /no IAM role is attached/,
        ],
        [
          "bad role name",
          (r) => r.path.endsWith("credentials/"),
          { body: "<html>" },
          /malformed role name/,
        ],
        ["5xx", (r) => r.path.endsWith("proxy-role"), { status: 500 }, /answered HTTP 500/],
        ["HTML", (r) => r.path.endsWith("proxy-role"), { body: "<html></html>" }, /not JSON/],
        [
          "Code not Success",
          (r) => r.path.endsWith("proxy-role"),
          { body: JSON.stringify({ Code: "AssumeRoleUnauthorizedAccess", AccessKeyId: "A" }) },
          /Code AssumeRoleUnauthorizedAccess/,
        ],
      ];
      for (const [name, match, reply, expected] of cases) {
        imds.override(match, reply, 1);
        const error = await resolveError(env(imds), h.io);
        assert.match(error.message, /^no usable AWS credentials/, name);
        assert.match(error.failures.at(-1)!.reason, expected, name);
      }
      assertNoSecrets(
        h.logs.text(),
        imds.issued.length ? imds.issued : [{
          accessKeyId: "",
          secretAccessKey: "never-issued",
          sessionToken: "never-issued",
          expiration: 0,
        }],
      );
    });
  });

  test("a silent metadata address fails within the timeout", async () => {
    const h = harness();
    await withFake(startFakeImds({ clock: h.clock.now }), async (imds) => {
      imds.override(() => true, { hang: true }, 10);
      const started = performance.now();
      const error = await resolveError(
        { ...env(imds), AWS_METADATA_SERVICE_TIMEOUT: "0.2" },
        h.io,
        {},
      );
      assert.ok(performance.now() - started < 1500);
      assert.match(error.message, /did not answer within 200 ms/);
      assert.equal(imds.requests.length, 1, "one attempt by default");
    });
  });

  test("imdsEndpoint and imdsPolicy read the environment as the SDKs do", () => {
    assert.equal(imdsEndpoint({}), "http://169.254.169.254");
    assert.equal(
      imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE: "IPv6" }),
      "http://[fd00:ec2::254]",
    );
    assert.equal(
      imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:1234//" }),
      "http://127.0.0.1:1234",
    );
    assert.equal(imdsEndpoint({ AWS_EC2_METADATA_DISABLED: "TRUE" }), undefined);
    assert.equal(imdsEndpoint({ AWS_EC2_METADATA_DISABLED: "false" }), "http://169.254.169.254");
    assert.deepEqual(imdsPolicy({}), { timeoutMs: 1000, attempts: 1 });
    assert.deepEqual(
      imdsPolicy({ AWS_METADATA_SERVICE_TIMEOUT: "2.5", AWS_METADATA_SERVICE_NUM_ATTEMPTS: "3" }),
      { timeoutMs: 2500, attempts: 3 },
    );
    assert.deepEqual(
      imdsPolicy({ AWS_METADATA_SERVICE_TIMEOUT: "x", AWS_METADATA_SERVICE_NUM_ATTEMPTS: "-1" }),
      { timeoutMs: 1000, attempts: 1 },
    );
  });
});
