/**
 * End to end, issue 6's proof: the proxy as a real process, under Deno (started the way
 * `deno task start` does: `--allow-read` limited to the credential files) and under Bun, in front
 * of `@20minutes/s3rver@5.0.0`, which verifies every signature with the key pair of the access key
 * named in it. s3rver knows only the key pairs the fakes issue (and the signing-key secret), so a
 * 200 from it proves that the proxy signed with the credentials of the source under test.
 *
 * For each source (environment with a session token, web identity through a fake STS, shared
 * files with several profiles, the container endpoint, IMDSv2, a signing-key file) a proxied
 * `index.html`, a redirect (the Location followed verbatim, its `X-Amz-Security-Token` signed) and
 * a listing all verify. Then: a signing-key file rotated with SIGHUP (503 without a key for today,
 * back to work with one), a refresh of short-lived credentials in the running process (the fake
 * rotates to a second key pair), startup without any usable source, and no credential value in
 * any output line or error body.
 *
 * Between the proxy and s3rver is a TCP forwarder that records the head of every upstream
 * request, so the tests see which access key signed it and that the session token was sent and
 * signed.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPair, type KeyPair, type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  type ProxyHandle,
  type Runtime,
  startProxy,
  startProxyExpectingExit,
} from "./support/proxy.ts";
import {
  type FakeServer,
  startFakeContainer,
  startFakeImds,
  startFakeSts,
} from "./support/fake_aws.ts";
import { closedPort, type Forwarder, startForwarder, type Upstream } from "./support/forwarder.ts";
import { main as signingKeyCli } from "../src/cli/signing_key.ts";

// ---------------------------------------------------------------------------------------------
// Test data

const BUCKET = "bkt";
const PAGE = "index.html";
const PAGE_BODY = "<h1>the page</h1>\n";
/** Redirected (not index.html); a space and a plus exercise the encoding of the Location. */
const OBJECT = "docs/a b+c.txt";
const OBJECT_PATH = "/bkt/docs/a%20b%2Bc.txt";
const OBJECT_BODY = "redirected object body\n";

/** A temporary key pair as STS would issue it: `ASIA...`. */
function temporaryPair(): KeyPair {
  const pair = generateKeyPair();
  return { ...pair, accessKeyId: "ASIA" + pair.accessKeyId.slice(4) };
}

/** A session token shaped like AWS's: long, base64, with `+`, `/` and `=`. */
function sessionToken(tag: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(96));
  return `IQoJb3JpZ2luX2Vj${tag}+/` + btoa(String.fromCharCode(...bytes));
}

const ENV_PAIR = temporaryPair();
const ENV_TOKEN = sessionToken("env");
const STS_PAIR = temporaryPair();
const STS_TOKEN = sessionToken("sts");
const PROFILE_PAIR = temporaryPair();
const PROFILE_TOKEN = sessionToken("profile");
const CONFIG_PAIR = generateKeyPair();
const CONTAINER_PAIR = temporaryPair();
const CONTAINER_TOKEN = sessionToken("ecs");
const IMDS_PAIR = temporaryPair();
const IMDS_TOKEN = sessionToken("imds");
const REFRESH_A = temporaryPair();
const REFRESH_A_TOKEN = sessionToken("refreshA");
const REFRESH_B = temporaryPair();
const REFRESH_B_TOKEN = sessionToken("refreshB");
/** Key pairs s3rver does NOT know: the profiles that must not be used. */
const UNKNOWN_DEFAULT = generateKeyPair();
const UNKNOWN_DEV = generateKeyPair();

const KNOWN_PAIRS = [
  ENV_PAIR,
  STS_PAIR,
  PROFILE_PAIR,
  CONFIG_PAIR,
  CONTAINER_PAIR,
  IMDS_PAIR,
  REFRESH_A,
  REFRESH_B,
];

const ROLE_ARN = "arn:aws:iam::123456789012:role/proxy-e2e";
const DAY_MS = 86_400_000;

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

function randomText(prefix: string): string {
  return prefix + crypto.randomUUID().replaceAll("-", "") + crypto.randomUUID().slice(0, 8);
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Closes a fake when the scope ends. */
function closing(fake: { close(): Promise<void> }): AsyncDisposable {
  return { [Symbol.asyncDispose]: () => fake.close() };
}

/** The parameters of the form an STS request carried. */
function stsParams(fake: FakeServer, index: number): URLSearchParams {
  return new URLSearchParams(fake.requests[index].body);
}

// ---------------------------------------------------------------------------------------------

describe("credential sources end to end (issue 6)", () => {
  let s3: S3rverHandle;
  let forwarder: Forwarder;
  let scratch: string;
  let emptyHome: string;
  /** Every credential value used in this file, searched for in outputs and error bodies. */
  const secrets = new Set<string>();

  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET], extraKeyPairs: KNOWN_PAIRS });
    forwarder = startForwarder(s3.port);
    scratch = await Deno.makeTempDir({ prefix: "creds-e2e-" });
    emptyHome = `${scratch}/empty-home`;
    await Deno.mkdir(emptyHome);
    await s3.putObject(BUCKET, PAGE, PAGE_BODY);
    await s3.putObject(BUCKET, OBJECT, OBJECT_BODY);
    for (const pair of [s3, ...KNOWN_PAIRS, UNKNOWN_DEFAULT, UNKNOWN_DEV]) {
      secrets.add(pair.secretAccessKey);
    }
    for (
      const token of [
        ENV_TOKEN,
        STS_TOKEN,
        PROFILE_TOKEN,
        CONTAINER_TOKEN,
        IMDS_TOKEN,
        REFRESH_A_TOKEN,
        REFRESH_B_TOKEN,
      ]
    ) secrets.add(token);
  });

  after(async () => {
    await forwarder?.close();
    await s3?.stop();
    if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  });

  /** Credential values plus their URL-encoded spellings. */
  function allSecrets(): string[] {
    return [...secrets].flatMap((s) => [s, encodeURIComponent(s)]);
  }

  /** Fails when any text holds a credential value or something shaped like a signature/key. */
  function assertNoSecrets(texts: string[], what: string): void {
    const values = allSecrets();
    for (const text of texts) {
      for (const secret of values) {
        assert.ok(!text.includes(secret), `${what}: a credential value in: ${text}`);
      }
      assert.doesNotMatch(text, /[0-9a-f]{64}/i, `${what}: a signature or key in: ${text}`);
    }
  }

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`under ${runtime}`, () => {
      const outputs: { label: string; lines: () => string[] }[] = [];
      /** Bodies of answers the proxy wrote with an error status. */
      const errorBodies: string[] = [];

      /** Starts the proxy (Deno through `deno task start`) with a hermetic environment. */
      async function start(label: string, env: Record<string, string>): Promise<ProxyHandle> {
        const proxy = await startProxy({
          runtime,
          viaTask: runtime === "deno",
          env: {
            HOME: emptyHome,
            AWS_ENDPOINT_HOST: forwarder.host,
            AWS_ENDPOINT_SCHEME: "http",
            AWS_REGION: "us-east-1",
            ...env,
          },
        });
        outputs.push({ label, lines: proxy.lines });
        return proxy;
      }

      /** The source the proxy logged at startup. */
      function sourceOf(proxy: ProxyHandle): string {
        const line = proxy.jsonLines().find((l) => l.event === "credentials");
        assert.ok(line, proxy.lines().join("\n"));
        return String(line.source);
      }

      /** A fetch to the proxy; error bodies are kept for the secrets check. */
      async function get(proxy: ProxyHandle, path: string, init: RequestInit = {}) {
        const res = await fetch(proxy.url + path, { redirect: "manual", ...init });
        const text = await res.text();
        if (res.status >= 400) errorBodies.push(text);
        return { status: res.status, headers: res.headers, text };
      }

      /** The upstream requests made during `fn`. */
      async function upstreamDuring(fn: () => Promise<void>): Promise<Upstream[]> {
        const from = forwarder.seen.length;
        await fn();
        return forwarder.seen.slice(from);
      }

      /** Checks one upstream request's signature header against the expected credentials. */
      function assertSignedWith(
        up: Upstream | undefined,
        expected: { accessKeyId: string; sessionToken?: string },
        what: string,
      ): void {
        assert.ok(up, `${what}: no upstream request`);
        const auth = up.headers.get("authorization") ?? "";
        assert.match(
          auth,
          new RegExp(`^AWS4-HMAC-SHA256 Credential=${expected.accessKeyId}/\\d{8}/us-east-1/s3/`),
          what,
        );
        const signed = /SignedHeaders=([^,\s]+)/.exec(auth)?.[1].split(";") ?? [];
        if (expected.sessionToken === undefined) {
          assert.equal(up.headers.get("x-amz-security-token"), undefined, what);
          assert.ok(!signed.includes("x-amz-security-token"), what);
        } else {
          assert.equal(up.headers.get("x-amz-security-token"), expected.sessionToken, what);
          assert.ok(signed.includes("x-amz-security-token"), `${what}: token not signed: ${auth}`);
        }
      }

      /**
       * The redirect for OBJECT: its Location names the expected access key and carries the
       * session token; followed verbatim, s3rver verifies it. The token is covered by the
       * signature: the Location with another token is refused.
       */
      async function checkRedirect(
        proxy: ProxyHandle,
        expected: { accessKeyId: string; sessionToken?: string },
      ): Promise<void> {
        const res = await get(proxy, OBJECT_PATH);
        assert.equal(res.status, 307, res.text);
        const location = res.headers.get("location")!;
        assert.ok(location.startsWith(`http://${forwarder.host}${OBJECT_PATH}?`), location);
        // fetch sends this URL as written: the parser changes nothing in it.
        assert.equal(new URL(location).href, location);
        const raw = (name: string) => new RegExp(`[?&]${name}=([^&]*)`).exec(location)?.[1];
        assert.ok(
          decodeURIComponent(raw("X-Amz-Credential") ?? "").startsWith(
            `${expected.accessKeyId}/`,
          ),
          location,
        );
        const token = raw("X-Amz-Security-Token");
        if (expected.sessionToken === undefined) {
          assert.equal(token, undefined, location);
        } else {
          assert.equal(decodeURIComponent(token ?? ""), expected.sessionToken);
          assert.equal(token, encodeURIComponent(expected.sessionToken));
        }
        const up = await upstreamDuring(async () => {
          const got = await fetch(location);
          assert.equal(got.status, 200, await got.clone().text());
          assert.equal(await got.text(), OBJECT_BODY);
        });
        assert.equal(up.length, 1);
        assert.equal(up[0].target, location.slice(`http://${forwarder.host}`.length));
        if (token !== undefined) {
          const tampered = location.replace(
            `X-Amz-Security-Token=${token}`,
            `X-Amz-Security-Token=${encodeURIComponent(expected.sessionToken + "x")}`,
          );
          assert.notEqual(tampered, location);
          const refused = await fetch(tampered);
          await refused.body?.cancel();
          assert.equal(refused.status, 403, "a Location with another token must not verify");
        }
      }

      /** index.html proxied, OBJECT redirected, the bucket listed: all verify at s3rver. */
      async function checkThrough(
        proxy: ProxyHandle,
        expected: { accessKeyId: string; sessionToken?: string },
      ): Promise<void> {
        let page!: Awaited<ReturnType<typeof get>>;
        const pageUp = await upstreamDuring(async () => {
          page = await get(proxy, `/${BUCKET}/${PAGE}`);
        });
        assert.equal(page.status, 200, page.text);
        assert.equal(page.text, PAGE_BODY);
        assert.equal(pageUp.length, 1);
        assertSignedWith(pageUp[0], expected, "proxied index.html");

        await checkRedirect(proxy, expected);

        let list!: Awaited<ReturnType<typeof get>>;
        const listUp = await upstreamDuring(async () => {
          list = await get(proxy, `/${BUCKET}?list-type=2`);
        });
        assert.equal(list.status, 200, list.text);
        assert.match(list.text, /<Key>index\.html<\/Key>/);
        assert.match(list.text, /<Key>docs\/a b\+c\.txt<\/Key>/);
        assert.equal(listUp.length, 1);
        assertSignedWith(listUp[0], expected, "listing");
      }

      test("environment: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN", async () => {
        await using proxy = await start("environment", {
          AWS_ACCESS_KEY_ID: ENV_PAIR.accessKeyId,
          AWS_SECRET_ACCESS_KEY: ENV_PAIR.secretAccessKey,
          AWS_SESSION_TOKEN: ENV_TOKEN,
        });
        assert.equal(sourceOf(proxy), "environment");
        await checkThrough(proxy, { accessKeyId: ENV_PAIR.accessKeyId, sessionToken: ENV_TOKEN });
      });

      test("web identity: the token file goes to STS, its credentials sign", async () => {
        const webToken = randomText("eyJhbGciOiJSUzI1NiJ9.web-identity.");
        secrets.add(webToken);
        const tokenFile = `${scratch}/${runtime}-web-identity-token`;
        await Deno.writeTextFile(tokenFile, webToken + "\n");
        const sts = await startFakeSts({
          clock: Date.now,
          keys: () => ({ ...STS_PAIR, sessionToken: STS_TOKEN }),
        });
        await using _sts = closing(sts);
        await using proxy = await start("web identity", {
          AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
          AWS_ROLE_ARN: ROLE_ARN,
          AWS_ROLE_SESSION_NAME: "e2e-session",
          AWS_ENDPOINT_URL_STS: sts.url,
        });
        assert.match(
          sourceOf(proxy),
          /^web identity \(role arn:aws:iam::123456789012:role\/proxy-e2e\)$/,
        );
        assert.equal(sts.requests.length, 1);
        assert.equal(sts.requests[0].method, "POST");
        const params = stsParams(sts, 0);
        assert.equal(params.get("Action"), "AssumeRoleWithWebIdentity");
        assert.equal(params.get("WebIdentityToken"), webToken);
        assert.equal(params.get("RoleArn"), ROLE_ARN);
        assert.equal(params.get("RoleSessionName"), "e2e-session");
        await checkThrough(proxy, { accessKeyId: STS_PAIR.accessKeyId, sessionToken: STS_TOKEN });
        assert.equal(sts.requests.length, 1, "credentials valid for an hour are not fetched again");
      });

      test("shared files: AWS_PROFILE picks one profile of several; [profile X] in the config file", async () => {
        const dir = `${scratch}/${runtime}-shared`;
        await Deno.mkdir(dir);
        const credentialsFile = `${dir}/credentials`;
        const configFile = `${dir}/config`;
        await Deno.writeTextFile(
          credentialsFile,
          [
            "[default]",
            `aws_access_key_id = ${UNKNOWN_DEFAULT.accessKeyId}`,
            `aws_secret_access_key = ${UNKNOWN_DEFAULT.secretAccessKey}`,
            "",
            "[dev]",
            `aws_access_key_id=${UNKNOWN_DEV.accessKeyId}`,
            `aws_secret_access_key=${UNKNOWN_DEV.secretAccessKey}`,
            "",
            "[prod]",
            `aws_access_key_id = ${PROFILE_PAIR.accessKeyId}`,
            `aws_secret_access_key = ${PROFILE_PAIR.secretAccessKey}`,
            `aws_session_token = ${PROFILE_TOKEN}`,
            "",
          ].join("\n"),
        );
        await Deno.writeTextFile(
          configFile,
          [
            "[default]",
            "region = us-east-1",
            "",
            "[profile dev]",
            "region = us-east-1",
            "",
            "[profile cfg]",
            "region = us-east-1",
            `aws_access_key_id = ${CONFIG_PAIR.accessKeyId}`,
            `aws_secret_access_key = ${CONFIG_PAIR.secretAccessKey}`,
            "",
          ].join("\n"),
        );
        const files = {
          AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
          AWS_CONFIG_FILE: configFile,
        };
        const [prod, cfg, byDefault] = await Promise.all([
          start("shared files prod", { ...files, AWS_PROFILE: "prod" }),
          start("shared files cfg", { ...files, AWS_PROFILE: "cfg" }),
          start("shared files default", files),
        ]);
        await using _prod = prod;
        await using _cfg = cfg;
        await using _default = byDefault;
        assert.equal(sourceOf(prod), `shared file ${credentialsFile} (profile prod)`);
        assert.equal(sourceOf(cfg), `shared file ${configFile} (profile cfg)`);
        assert.equal(sourceOf(byDefault), `shared file ${credentialsFile} (profile default)`);
        await checkThrough(prod, {
          accessKeyId: PROFILE_PAIR.accessKeyId,
          sessionToken: PROFILE_TOKEN,
        });
        await checkThrough(cfg, { accessKeyId: CONFIG_PAIR.accessKeyId });
        // The other profiles are real, and s3rver refuses them: the choice above mattered.
        const up = await upstreamDuring(async () => {
          const res = await get(byDefault, `/${BUCKET}/${PAGE}`);
          assert.equal(res.status, 403, res.text);
        });
        assertSignedWith(up[0], { accessKeyId: UNKNOWN_DEFAULT.accessKeyId }, "default profile");
      });

      test("container: AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", async () => {
        const authToken = randomText("ecs-auth-");
        secrets.add(authToken);
        const tokenFile = `${scratch}/${runtime}-container-token`;
        await Deno.writeTextFile(tokenFile, authToken + "\n");
        const container = await startFakeContainer({
          clock: Date.now,
          authorization: () => authToken,
          keys: () => ({ ...CONTAINER_PAIR, sessionToken: CONTAINER_TOKEN }),
        });
        await using _container = closing(container);
        await using proxy = await start("container", {
          AWS_CONTAINER_CREDENTIALS_FULL_URI: `${container.url}/creds`,
          AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: tokenFile,
        });
        assert.equal(sourceOf(proxy), `container endpoint ${container.url}`);
        assert.equal(container.requests.length, 1);
        assert.equal(container.requests[0].method, "GET");
        assert.equal(container.requests[0].path, "/creds");
        assert.equal(container.requests[0].headers.get("authorization"), authToken);
        await checkThrough(proxy, {
          accessKeyId: CONTAINER_PAIR.accessKeyId,
          sessionToken: CONTAINER_TOKEN,
        });
      });

      test("IMDSv2: AWS_EC2_METADATA_SERVICE_ENDPOINT, token PUT first", async () => {
        const imds = await startFakeImds({
          clock: Date.now,
          role: "proxy-e2e-role",
          keys: () => ({ ...IMDS_PAIR, sessionToken: IMDS_TOKEN }),
        });
        await using _imds = closing(imds);
        await using proxy = await start("imds", { AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url });
        assert.equal(
          sourceOf(proxy),
          `instance metadata ${imds.url} (role proxy-e2e-role)`,
        );
        assert.deepEqual(
          imds.requests.map((r) => `${r.method} ${r.path}`),
          [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
            "GET /latest/meta-data/iam/security-credentials/proxy-e2e-role",
          ],
        );
        for (const token of imds.tokens.keys()) secrets.add(token);
        for (const r of imds.requests.slice(1)) {
          assert.ok(imds.tokens.has(r.headers.get("x-aws-ec2-metadata-token") ?? ""), r.path);
        }
        await checkThrough(proxy, { accessKeyId: IMDS_PAIR.accessKeyId, sessionToken: IMDS_TOKEN });
      });

      test("signing-key file: today's key signs; SIGHUP to a file without it gives 503; SIGHUP back", async () => {
        const now = Date.now();
        const yesterday = utcDate(now - DAY_MS);
        const today = utcDate(now);
        const cli = signingKeyCli(
          ["-k", s3.secretAccessKey, "-r", "us-east-1", "-d", yesterday, "--days", "3"],
          new Date(now),
        );
        assert.equal(cli.code, 0, cli.stderr);
        const lines = cli.stdout.trim().split("\n");
        assert.equal(lines.length, 3);
        assert.ok(lines[0].endsWith(` ${yesterday}/us-east-1/s3/aws4_request`), lines[0]);
        assert.ok(lines[1].endsWith(` ${today}/us-east-1/s3/aws4_request`), lines[1]);
        for (const line of lines) {
          const key = line.split(" ")[0];
          secrets.add(key);
          secrets.add(
            [...atob(key)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
          );
        }
        const file = `${scratch}/${runtime}-signing-keys`;
        /** Replaces the file in one step, as a deploy tool would. */
        const rewrite = async (text: string) => {
          await Deno.writeTextFile(file + ".new", text);
          await Deno.rename(file + ".new", file);
        };
        await rewrite(lines.join("\n") + "\n");

        await using proxy = await start("signing-key file", {
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SIGNING_KEY_FILE: file,
        });
        assert.equal(sourceOf(proxy), `signing key file ${file}`);
        await checkThrough(proxy, { accessKeyId: s3.accessKeyId });

        /** Sends SIGHUP; resolves once the proxy logged the reload and the file's new dates. */
        let hups = 0;
        const hangUp = async (from: string, to: string) => {
          const nth = ++hups;
          Deno.kill(proxy.pid, "SIGHUP");
          let seen = 0;
          await proxy.waitForLine(
            (l) => l.includes('"event":"credentials_reload"') && ++seen >= nth,
            10_000,
            `reload ${nth} after SIGHUP`,
          );
          await proxy.waitForLine(
            (l) =>
              l.includes('"event":"signing_key_file_reloaded"') &&
              l.includes(`"from":"${from}"`) && l.includes(`"to":"${to}"`),
            10_000,
            `the file reloaded with keys for ${from} to ${to}`,
          );
        };

        await rewrite(lines[0] + "\n");
        await hangUp(yesterday, yesterday);
        const refused = await upstreamDuring(async () => {
          for (const path of [`/${BUCKET}/${PAGE}`, OBJECT_PATH, `/${BUCKET}?list-type=2`]) {
            const res = await get(proxy, path);
            assert.equal(res.status, 503, `${path}: ${res.text}`);
            // (or for the next day, should this run cross UTC midnight)
            assert.match(
              res.text,
              new RegExp(`no signing key for (${today}|${utcDate(now + DAY_MS)})`),
              path,
            );
          }
        });
        assert.deepEqual(refused, [], "nothing goes upstream without a key for today");

        // Today's key again (and tomorrow's, so a run across UTC midnight still passes).
        await rewrite(lines.slice(1).join("\n") + "\n");
        await hangUp(today, utcDate(now + DAY_MS));
        await checkThrough(proxy, { accessKeyId: s3.accessKeyId });
      });

      test("refresh in the running process: short-lived credentials, then the fake rotates the key pair", async () => {
        const firstToken = randomText("eyJ.first.");
        const secondToken = randomText("eyJ.second.");
        secrets.add(firstToken);
        secrets.add(secondToken);
        const tokenFile = `${scratch}/${runtime}-refresh-token`;
        await Deno.writeTextFile(tokenFile, firstToken);
        // Phase 1: pair A for 16 s. The proxy refreshes at half the lifetime (8 s) and stops
        // using credentials 10 s before they expire (6 s), so a request after about 6 s makes
        // it fetch again. Phase 2: pair B for an hour.
        let phase = 1;
        const sts = await startFakeSts({
          clock: Date.now,
          lifetimeMs: () => phase === 1 ? 16_000 : 3_600_000,
          keys: () =>
            phase === 1
              ? { ...REFRESH_A, sessionToken: REFRESH_A_TOKEN }
              : { ...REFRESH_B, sessionToken: REFRESH_B_TOKEN },
        });
        await using _sts = closing(sts);
        await using proxy = await start("refresh", {
          AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
          AWS_ROLE_ARN: ROLE_ARN,
          AWS_ENDPOINT_URL_STS: sts.url,
        });
        // A refresh during phase 1 (a slow machine) answers pair A again: these still hold.
        await checkThrough(proxy, {
          accessKeyId: REFRESH_A.accessKeyId,
          sessionToken: REFRESH_A_TOKEN,
        });
        // A redirect signed with credentials that expire in 16 s says so.
        const early = await get(proxy, OBJECT_PATH);
        const expires = Number(/[?&]X-Amz-Expires=(\d+)/.exec(early.headers.get("location")!)?.[1]);
        assert.ok(expires >= 1 && expires <= 16, `X-Amz-Expires=${expires}`);

        phase = 2;
        await Deno.writeTextFile(tokenFile, secondToken);
        const callsBefore = sts.requests.length;
        const deadline = Date.now() + 45_000;
        let polls = 0;
        for (;;) {
          polls++;
          const res = await get(proxy, OBJECT_PATH);
          assert.equal(res.status, 307, res.text);
          const credential = decodeURIComponent(
            /[?&]X-Amz-Credential=([^&]*)/.exec(res.headers.get("location")!)?.[1] ?? "",
          );
          if (credential.startsWith(REFRESH_B.accessKeyId + "/")) break;
          assert.ok(credential.startsWith(REFRESH_A.accessKeyId + "/"), credential);
          assert.ok(
            Date.now() < deadline,
            `still pair A after ${polls} polls:\n${proxy.lines().join("\n")}`,
          );
          await new Promise((resolve) => setTimeout(resolve, 200));
        }
        await proxy.waitForLine(/"event":"credentials_refreshed"/, 5000, "credentials_refreshed");
        assert.ok(sts.requests.length > callsBefore, "the fake was called again");
        const last = stsParams(sts, sts.requests.length - 1);
        assert.equal(last.get("WebIdentityToken"), secondToken, "the token file is re-read");
        assert.equal(stsParams(sts, 0).get("WebIdentityToken"), firstToken);
        await checkThrough(proxy, {
          accessKeyId: REFRESH_B.accessKeyId,
          sessionToken: REFRESH_B_TOKEN,
        });
      });

      test("no usable source: startup fails with one message naming every source tried", async () => {
        const port = closedPort();
        const exit = await startProxyExpectingExit({
          runtime,
          viaTask: runtime === "deno",
          env: {
            HOME: emptyHome,
            AWS_ENDPOINT_HOST: forwarder.host,
            AWS_ENDPOINT_SCHEME: "http",
            AWS_EC2_METADATA_SERVICE_ENDPOINT: `http://127.0.0.1:${port}`,
          },
          timeoutMs: 20_000,
        });
        const output = exit.stdout + "\n" + exit.stderr;
        outputs.push({ label: "no source", lines: () => output.split("\n") });
        assert.notEqual(exit.code, 0, output);
        assert.doesNotMatch(exit.stdout, /"event":"listening"/);
        const summary = "no usable AWS credentials (sources tried, in order):";
        assert.equal(output.split(summary).length, 2, `one message:\n${output}`);
        const message = output.slice(output.indexOf(summary));
        let at = 0;
        for (
          const source of [
            "environment: AWS_ACCESS_KEY_ID is not set",
            "web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set",
            `shared files: ${emptyHome}/.aws/credentials: does not exist; ` +
            `${emptyHome}/.aws/config: does not exist`,
            "container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and " +
            "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set",
            `instance metadata (IMDSv2): `,
          ]
        ) {
          const found = message.indexOf(source, at);
          assert.ok(found > at, `"${source}" (in order) in:\n${message}`);
          at = found;
        }
        assert.match(message.slice(at), new RegExp(`127\\.0\\.0\\.1:${port}`));
        // Under Deno the shared files are inside --allow-read: missing, not forbidden.
        assert.doesNotMatch(output, /NotCapable|PermissionDenied|Requires read access/i);
      });

      test("no credential value in any output line, error body or 503 body", () => {
        for (const { label, lines } of outputs) {
          assert.ok(lines().length > 0, label);
          if (runtime === "deno") {
            // Started by `deno task start`, which echoes its command first.
            assert.ok(lines().some((l) => l.includes("src/credentials/read_paths.ts")), label);
          }
          assertNoSecrets(lines(), `${runtime} ${label} output`);
        }
        assertNoSecrets(errorBodies, `${runtime} error bodies`);
        // Every proxy above was looked at (10 when all tests ran), and the 503s and the 403.
        assert.ok(outputs.length >= 9, `${outputs.length} outputs`);
        assert.ok(errorBodies.length >= 4, `${errorBodies.length} error bodies`);
      });
    });
  }
});
