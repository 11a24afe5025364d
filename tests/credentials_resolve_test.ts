// The chain: SDK order, the first configured source wins, configuration errors in the
// environment, one startup error naming every source tried; plus the runtime IO helpers.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type CredentialIo,
  CredentialsConfigError,
  CredentialsUnavailableError,
  resolveCredentialProvider,
} from "../src/credentials/resolve.ts";
import { staticProvider } from "../src/credentials/provider.ts";
import { credentialReadPaths, reloadOnSignal, runtimeCredentialIo } from "../src/credentials/io.ts";
import { allowReadFlag } from "../src/credentials/read_paths.ts";
import type { SigningKeyCredentials } from "../src/s3/sigv4.ts";
import {
  captureLog,
  manualTimers,
  memoryFiles,
  startFakeContainer,
  startFakeImds,
  startFakeSts,
  testClock,
} from "./support/fake_aws.ts";

const T0 = Date.UTC(2016, 8, 2, 12); // the day of the vector signing key
const KEY_B64 = "L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=";
const KEY_HEX = "2f8bd12d600ef765f92f74aa93943275449d0749c2f7ed707ea2cc38a2db469e";
const SCOPE = "20160902/us-east-1/s3/aws4_request";
const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const SESSION = "FwoGZXIvYXdzEBYaDEXAMPLESESSIONTOKEN";

function harness(files: Record<string, string> = {}) {
  const clock = testClock(T0);
  const fs = memoryFiles(files);
  const logs = captureLog();
  const timers = manualTimers();
  let fetches = 0;
  const io: CredentialIo = {
    fetch: (input, init) => {
      fetches++;
      return fetch(input, init);
    },
    now: clock.now,
    readTextFile: fs.readTextFile,
    homeDir: "/home/proxy",
    log: logs.log,
    setTimeout: timers.setTimeout,
    clearTimeout: timers.clearTimeout,
    sleep: () => Promise.resolve(),
  };
  return { clock, fs, logs, timers, io, fetches: () => fetches };
}

async function failure(
  env: Record<string, string>,
  io: CredentialIo,
): Promise<CredentialsConfigError> {
  try {
    await resolveCredentialProvider(env, io, { httpTimeoutMs: 1000 });
  } catch (e) {
    assert.ok(e instanceof CredentialsConfigError, String(e));
    return e;
  }
  assert.fail("expected a CredentialsConfigError");
}

const SHARED = "[default]\naws_access_key_id = AKIDSHARED\naws_secret_access_key = sharedSecret\n";

describe("resolveCredentialProvider: order", () => {
  test("the environment wins over every other source, with nothing fetched; values trimmed", async () => {
    const h = harness({ "/home/proxy/.aws/credentials": SHARED, "/t": "tok" });
    const p = await resolveCredentialProvider({
      AWS_ACCESS_KEY_ID: "AKIDENV",
      AWS_SECRET_ACCESS_KEY: SECRET + "\n",
      AWS_SESSION_TOKEN: " " + SESSION,
      AWS_WEB_IDENTITY_TOKEN_FILE: "/t",
      AWS_ROLE_ARN: "arn:aws:iam::1:role/r",
      AWS_CONTAINER_CREDENTIALS_FULL_URI: "http://127.0.0.1:1/creds",
    }, h.io);
    assert.equal(p.source, "environment");
    assert.deepEqual(await p.get(), {
      accessKeyId: "AKIDENV",
      secretAccessKey: SECRET,
      sessionToken: SESSION,
    });
    assert.equal(h.fetches(), 0);
    assert.deepEqual(h.fs.reads, []);
    const text = h.logs.text();
    assert.match(text, /"event":"credentials_source","source":"environment"/);
    assert.ok(!text.includes(SECRET) && !text.includes(SESSION));
  });

  test("web identity before shared files, shared files before container, container before IMDS", async () => {
    const h = harness({ "/home/proxy/.aws/credentials": SHARED, "/t": "web-token" });
    const sts = await startFakeSts({ clock: h.clock.now });
    const container = await startFakeContainer({ clock: h.clock.now });
    const imds = await startFakeImds({ clock: h.clock.now });
    try {
      const all = {
        AWS_WEB_IDENTITY_TOKEN_FILE: "/t",
        AWS_ROLE_ARN: "arn:aws:iam::1:role/r",
        AWS_ENDPOINT_URL_STS: sts.url,
        AWS_CONTAINER_CREDENTIALS_FULL_URI: container.url + "/creds",
        AWS_EC2_METADATA_SERVICE_ENDPOINT: imds.url,
      };
      const sources: string[] = [];
      let env: Record<string, string> = { ...all };
      sources.push((await resolveCredentialProvider(env, h.io)).source);
      env = { ...all, AWS_WEB_IDENTITY_TOKEN_FILE: "" };
      sources.push((await resolveCredentialProvider(env, h.io)).source);
      h.fs.files.delete("/home/proxy/.aws/credentials");
      sources.push((await resolveCredentialProvider(env, h.io)).source);
      env = { ...env, AWS_CONTAINER_CREDENTIALS_FULL_URI: "" };
      sources.push((await resolveCredentialProvider(env, h.io)).source);
      assert.deepEqual(sources, [
        "web identity (role arn:aws:iam::1:role/r)",
        "shared file /home/proxy/.aws/credentials (profile default)",
        `container endpoint ${container.url}`,
        `instance metadata ${imds.url} (role proxy-role)`,
      ]);
      assert.equal(sts.requests.length, 1);
      assert.equal(container.requests.length, 1);
      assert.equal(imds.requests.length, 3);
      const secrets = [sts, container, imds].flatMap((f) =>
        f.issued.flatMap((c) => [c.secretAccessKey, c.sessionToken])
      );
      const text = h.logs.text();
      for (const s of [...secrets, "web-token", "sharedSecret"]) assert.ok(!text.includes(s));
    } finally {
      await Promise.all([sts.close(), container.close(), imds.close()]);
    }
  });

  test("nothing usable: one error naming every source and why", async () => {
    const h = harness({ "/home/proxy/.aws/config": "[default]\nregion = eu-west-1\n" });
    const e = await failure({
      AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:9",
    }, { ...h.io, fetch: () => Promise.reject(new TypeError("connection refused")) });
    assert.deepEqual(e.failures.map((f) => f.source), [
      "environment",
      "web identity",
      "shared files",
      "container",
      "instance metadata (IMDSv2)",
    ]);
    assert.equal(
      e.message,
      "no usable AWS credentials (sources tried, in order):\n" +
        "  - environment: AWS_ACCESS_KEY_ID is not set\n" +
        "  - web identity: AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set\n" +
        "  - shared files: /home/proxy/.aws/credentials: does not exist; profile default in " +
        "/home/proxy/.aws/config has no static keys\n" +
        "  - container: AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and " +
        "AWS_CONTAINER_CREDENTIALS_FULL_URI are not set\n" +
        "  - instance metadata (IMDSv2): instance metadata http://127.0.0.1:9 is unreachable " +
        "(connection refused)",
    );
  });

  test("AWS_EC2_METADATA_DISABLED=true skips IMDS without a request", async () => {
    const h = harness();
    const e = await failure({ AWS_EC2_METADATA_DISABLED: "true" }, h.io);
    assert.equal(e.failures.at(-1)?.reason, "AWS_EC2_METADATA_DISABLED=true");
    assert.equal(h.fetches(), 0);
  });
});

describe("resolveCredentialProvider: the environment", () => {
  const wrong: [string, Record<string, string>, RegExp][] = [
    [
      "secret without id",
      { AWS_SECRET_ACCESS_KEY: SECRET },
      /AWS_SECRET_ACCESS_KEY is set but AWS_ACCESS_KEY_ID is not/,
    ],
    ["id alone", { AWS_ACCESS_KEY_ID: "AKID" }, /AWS_ACCESS_KEY_ID is set but none of/],
    [
      "secret and signing key",
      {
        AWS_ACCESS_KEY_ID: "AKID",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_SIGNING_KEY: KEY_B64,
        AWS_KEY_SCOPE: SCOPE,
      },
      /set only one of AWS_SECRET_ACCESS_KEY, AWS_SIGNING_KEY/,
    ],
    [
      "short signing key",
      { AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY: KEY_B64.slice(4), AWS_KEY_SCOPE: SCOPE },
      /AWS_SIGNING_KEY is not 32 bytes/,
    ],
    [
      "signing key without scope",
      { AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY: KEY_B64 },
      /AWS_KEY_SCOPE is not/,
    ],
    [
      "bad scope",
      {
        AWS_ACCESS_KEY_ID: "AKID",
        AWS_SIGNING_KEY: KEY_B64,
        AWS_KEY_SCOPE: "20160902/us-east-1/s3",
      },
      /AWS_KEY_SCOPE is not YYYYMMDD/,
    ],
    [
      "scope with a key file",
      { AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY_FILE: "/k", AWS_KEY_SCOPE: SCOPE },
      /AWS_KEY_SCOPE is set with AWS_SIGNING_KEY_FILE/,
    ],
    [
      "key id with a slash",
      { AWS_ACCESS_KEY_ID: "AK/ID", AWS_SECRET_ACCESS_KEY: SECRET },
      /AWS_ACCESS_KEY_ID holds/,
    ],
    [
      "session token with a newline",
      {
        AWS_ACCESS_KEY_ID: "AKID",
        AWS_SECRET_ACCESS_KEY: SECRET,
        AWS_SESSION_TOKEN: SESSION + "\nx",
      },
      /AWS_SESSION_TOKEN holds characters/,
    ],
    [
      "missing key file",
      { AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY_FILE: "/nope" },
      /cannot read \/nope/,
    ],
  ];
  for (const [name, env, expected] of wrong) {
    test(`configuration error, nothing else tried: ${name}`, async () => {
      const h = harness({ "/home/proxy/.aws/credentials": SHARED });
      const e = await failure(env, h.io);
      assert.match(
        e.message,
        /^AWS credentials: the environment source is configured but unusable/,
      );
      assert.equal(e.failures.length, 1);
      assert.match(e.failures[0].reason, expected);
      for (const secret of [SECRET, KEY_B64, KEY_HEX, SESSION, KEY_B64.slice(4)]) {
        assert.ok(!e.message.includes(secret), "secret in the error");
      }
      assert.equal(h.fetches(), 0);
    });
  }

  test("signing-key mode: today's key works, tomorrow it is 'expired' (503 material)", async () => {
    const h = harness();
    const p = await resolveCredentialProvider({
      AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
      AWS_SIGNING_KEY: KEY_B64,
      AWS_KEY_SCOPE: SCOPE,
    }, h.io);
    assert.equal(p.source, `environment (signing key, scope ${SCOPE})`);
    const creds = (await p.get()) as SigningKeyCredentials;
    assert.equal(creds.scope, SCOPE);
    assert.equal(creds.signingKey.length, 32);
    assert.equal(creds.sessionToken, undefined);
    h.clock.advance(12 * 3_600_000);
    await assert.rejects(
      p.get(),
      (e: unknown) =>
        e instanceof CredentialsUnavailableError && /^signing key expired/.test(e.message),
    );
    const text = h.logs.text();
    assert.match(text, /signing_key_expired/);
    assert.ok(!text.includes(KEY_B64) && !text.includes(KEY_HEX));
  });

  test("signing-key file mode, polled with the injected timers and closed", async () => {
    const file = `${KEY_B64} ${SCOPE}\n`;
    const h = harness({ "/etc/keys": file });
    const p = await resolveCredentialProvider(
      {
        AWS_ACCESS_KEY_ID: "AKIDEXAMPLE",
        AWS_SIGNING_KEY_FILE: "/etc/keys",
        AWS_SESSION_TOKEN: SESSION,
      },
      h.io,
      { signingKeyPollMs: 5000 },
    );
    assert.equal(p.source, "signing key file /etc/keys");
    assert.equal(((await p.get()) as SigningKeyCredentials).sessionToken, SESSION);
    assert.equal(h.timers.pending, 1);
    p.close!();
    assert.equal(h.timers.pending, 0);
  });
});

describe("runtime IO helpers", () => {
  test("staticProvider answers the same credentials", async () => {
    const p = staticProvider({ accessKeyId: "A", secretAccessKey: "S" }, "env");
    assert.equal(p.source, "env");
    assert.deepEqual(await p.get(), { accessKeyId: "A", secretAccessKey: "S" });
    assert.equal(p.reload, undefined);
  });

  test("credentialReadPaths and allowReadFlag list the files to allow, never empty", () => {
    assert.deepEqual(credentialReadPaths({}, "/home/me"), [
      "/home/me/.aws/credentials",
      "/home/me/.aws/config",
    ]);
    assert.deepEqual(
      credentialReadPaths({
        AWS_SIGNING_KEY_FILE: "/etc/keys",
        AWS_WEB_IDENTITY_TOKEN_FILE: "/var/run/token",
        AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: "/var/run/pod-token",
        AWS_SHARED_CREDENTIALS_FILE: "/etc/aws/credentials",
      }, "/home/me"),
      [
        "/etc/keys",
        "/var/run/token",
        "/var/run/pod-token",
        "/etc/aws/credentials",
        "/home/me/.aws/config",
      ],
    );
    assert.equal(allowReadFlag({}, undefined), "/dev/null");
    assert.equal(allowReadFlag({ AWS_SIGNING_KEY_FILE: "/a,b" }, undefined), "/a,,b");
    // The htpasswd file of AUTH=basic, named by the environment or by a route.
    assert.equal(allowReadFlag({ AUTH_BASIC_FILE: "/etc/htpasswd" }, undefined), "/etc/htpasswd");
    const routes = JSON.stringify({
      routes: [{ prefix: "/a/", AUTH: "basic", AUTH_BASIC_FILE: "/etc/route-htpasswd" }],
    });
    assert.equal(
      allowReadFlag({ ROUTES_FILE: "/etc/routes.json" }, undefined, routes),
      "/etc/routes.json,/etc/route-htpasswd",
    );
  });

  test("runtimeCredentialIo reads files and uses the home directory from the environment", async () => {
    const io = runtimeCredentialIo({ env: { HOME: "/home/x" }, log: () => {} });
    assert.equal(io.homeDir, "/home/x");
    const text = await io.readTextFile(new URL(import.meta.url).pathname);
    assert.match(text, /runtimeCredentialIo reads files/);
    await assert.rejects(io.readTextFile("/nonexistent/credentials-file"));
    // The poll timer is unref'd (it never keeps the process alive): hold the loop open while
    // it runs, and check that clearTimeout cancels another one.
    const keepAlive = setTimeout(() => {}, 60_000);
    let cancelledRan = false;
    const cancelled = io.setTimeout!(() => cancelledRan = true, 1);
    io.clearTimeout!(cancelled);
    try {
      await new Promise<void>((resolve) => io.setTimeout!(resolve, 5));
    } finally {
      clearTimeout(keepAlive);
    }
    assert.equal(cancelledRan, false);
  });

  test("reloadOnSignal calls reload() on SIGHUP, and stops when told", async () => {
    let reloads = 0;
    let reloaded!: () => void;
    const done = new Promise<void>((r) => reloaded = r);
    const provider = {
      source: "test",
      get: () => Promise.reject(new Error("unused")),
      reload: () => {
        reloads++;
        reloaded();
        return Promise.resolve();
      },
    };
    const { log, events } = captureLog();
    const stop = reloadOnSignal(() => [provider], log);
    const keepAlive = setTimeout(() => {}, 60_000); // signal listeners do not hold the loop open
    try {
      Deno.kill(Deno.pid, "SIGHUP");
      await done;
    } finally {
      stop();
      clearTimeout(keepAlive);
    }
    assert.equal(reloads, 1);
    assert.equal(events[0].event, "credentials_reload");
  });
});
