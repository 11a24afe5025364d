/**
 * Issue 4, end to end: real S3 tools from Debian's packages (aws-cli, rclone, s3cmd) work through
 * the proxy, served by Deno and by Bun, in front of @20minutes/s3rver@5.0.0, while curl and
 * browsers still get 307 redirects. Every decision is checked in the proxy's access log.
 *
 * Each tool runs with a clean environment (a temp HOME, no AWS_CA_BUNDLE: rclone fails with
 * LoadCustomCABundleError when it is set) and a timeout.
 */
import {
  assertOk,
  type AwsCli,
  findAwsClis,
  type RunResult,
  runTool as run,
} from "./support/tools.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { classifyClient } from "../src/route.ts";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, type Runtime, startProxy } from "./support/proxy.ts";

const TOOLS = "tools";
const LARGE = "large";
const MANY = "many";

/** Keys that bit peer projects. `& < > ' "` stay out: s3rver double-escapes them in listings. */
const AWKWARD_KEYS = [
  "plain.txt",
  "empty.bin",
  "ünïcödé/naïve café.txt",
  "日本語/ファイル.txt",
  "with space/two  spaces .txt",
  "plus+sign/a+b+c.txt",
  "marks/!()*.txt",
  "sub-delims/=@$;,:.txt",
  "percent/100% done %20 %2F %zz.txt",
  "hash/#fragment#.txt",
  "question/why?x=1.txt",
  "tilde/~home~.txt",
  "emoji/😀🎉 party.bin",
  // Nested folders, with a file at each level: s3rver drops the common prefix of a folder that
  // holds only folders (`deep/` for a lone `deep/a/b.txt`) when listing with a delimiter.
  "nested/one.txt",
  "nested/a/two.txt",
  "nested/a/b/three.txt",
  "nested/a/b/c/d/e/f/g/h/four.txt",
  "nested/a/b/c/d/e/f/g/five.txt",
  "nested/a/b/c/d/e/f/six.txt",
  "nested/a/b/c/d/e/seven.txt",
  "nested/a/b/c/d/eight.txt",
  "nested/a/b/c/nine.txt",
  "index.html",
  "docs/index.html",
  "-dash/.dotfile",
];
/** A large random object: the CLI downloads it in ranged parts (8 MiB each by default). */
const LARGE_KEY = "blob/random 20 MiB.bin";
const LARGE_SIZE = 20 * 1024 * 1024 + 12345;
/** More than 1000 keys: one page of ListObjects is 1000. Awkward enough to test markers. */
const MANY_COUNT = 1111;
const MANY_KEYS = Array.from(
  { length: MANY_COUNT },
  (_, i) => `page/${String(i).padStart(4, "0")} ü+=.txt`,
);

const CURL_UA = "curl/8.5.0";
const CHROME_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36";
const CHROME_ACCEPT =
  "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8";
const AWS_UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 command/s3.cp";

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(out.subarray(i, i + 65536));
  return out;
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

function randomSize(max: number): number {
  const buf = new Uint32Array(1);
  crypto.getRandomValues(buf);
  return 1 + (buf[0] % max);
}

/** The bodies of the sync bucket: random bytes of random sizes, one empty object. */
const AWKWARD = new Map<string, Uint8Array>(
  AWKWARD_KEYS.map((
    key,
  ) => [key, key === "empty.bin" ? new Uint8Array() : randomBytes(randomSize(5000))]),
);
const LARGE_BODY = randomBytes(LARGE_SIZE);

/** Every file under `dir`, by `/`-separated relative path. */
async function readTree(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(dir + "/" + prefix)) {
    const rel = prefix + entry.name;
    if (entry.isDirectory) {
      for (const [k, v] of await readTree(dir, rel + "/")) out.set(k, v);
    } else {
      out.set(rel, await Deno.readFile(`${dir}/${rel}`));
    }
  }
  return out;
}

/** Asserts that a downloaded tree equals the bucket's objects, byte for byte. */
function assertSameTree(got: Map<string, Uint8Array>, want: Map<string, Uint8Array>): void {
  assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort());
  for (const [key, bytes] of want) {
    assert.equal(sha256(got.get(key)!), sha256(bytes), `content of ${key}`);
  }
}

const AWS_CLIS = await findAwsClis();
const AWS = AWS_CLIS[0];

/** `aws <args> --endpoint-url <proxy>`, signed with what `env` gives. */
function aws(
  cli: AwsCli,
  proxy: ProxyHandle,
  args: string[],
  env: Record<string, string> = {},
) {
  return run(cli.cmd, [...args, "--endpoint-url", proxy.url], env);
}

/** `aws <args> --no-sign-request --endpoint-url <proxy>`. */
function awsAnon(cli: AwsCli, proxy: ProxyHandle, args: string[]) {
  return aws(cli, proxy, [...args, "--no-sign-request"]);
}

/** Made-up credentials: the fake rejects them (403 InvalidAccessKeyId) if they ever reach it. */
const FAKE_CREDS = {
  AWS_ACCESS_KEY_ID: "AKIAMADEUPMADEUP1234",
  AWS_SECRET_ACCESS_KEY: "made/up+secret=made/up+secret=made/up+se",
};

/** An rclone remote for the proxy, anonymous, as a connection string. */
function rcloneRemote(proxy: ProxyHandle, path: string): string {
  return `:s3,provider=Other,endpoint='${proxy.url}':${path}`;
}

async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await Deno.makeTempDir({ prefix: "tools-out-" });
  try {
    return await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

type LogEntry = Record<string, unknown>;

let sentinel = 0;

/**
 * The access-log entries written so far. A sentinel request is made first and its line awaited:
 * the proxy writes its log in order, so every earlier request's line has been read by then.
 */
async function accessLog(proxy: ProxyHandle): Promise<LogEntry[]> {
  const path = `/${TOOLS}/__sentinel-${++sentinel}`;
  const res = await fetch(proxy.url + path, { method: "HEAD", headers: { "user-agent": AWS_UA } });
  await res.body?.cancel();
  await proxy.waitForLine((line) => line.includes(`"path":"${path}"`), 5000, `log of ${path}`);
  return proxy.jsonLines().filter((e) =>
    e.event === "request" && !String(e.path).includes("/__sentinel-")
  );
}

/** Log entries of requests made while `fn` ran. */
async function logDuring<T>(proxy: ProxyHandle, fn: () => Promise<T>): Promise<[T, LogEntry[]]> {
  const before = (await accessLog(proxy)).length;
  const result = await fn();
  return [result, (await accessLog(proxy)).slice(before)];
}

function assertApiDecisions(entries: LogEntry[], what: string): void {
  assert.ok(entries.length > 0, `${what}: no requests logged`);
  for (const e of entries) {
    assert.equal(e.client, "api", `${what}: ${JSON.stringify(e)}`);
    assert.equal(typeof e.clientReason, "string", `${what}: ${JSON.stringify(e)}`);
    assert.ok(
      ["proxy", "bucket"].includes(e.decision as string),
      `${what}: not streamed: ${JSON.stringify(e)}`,
    );
    assert.ok((e.status as number) < 300, `${what}: ${JSON.stringify(e)}`);
  }
}

function objectGets(entries: LogEntry[], key: string): LogEntry[] {
  const path = `/${LARGE}/${encodeURIComponent(key).replaceAll("%2F", "/")}`;
  return entries.filter((e) => e.method === "GET" && e.path === path);
}

let s3: S3rverHandle;

function proxyEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    AWS_ENDPOINT_HOST: s3.host,
    AWS_ENDPOINT_SCHEME: "http",
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    ...extra,
  };
}

describe("S3 tools through the proxy", () => {
  before(async () => {
    s3 = await startS3rver({ buckets: [TOOLS, LARGE, MANY] });
    await Promise.all([
      s3.putObjects(TOOLS, AWKWARD, 8),
      s3.putObject(LARGE, LARGE_KEY, LARGE_BODY),
      s3.putObjects(MANY, MANY_KEYS.map((k) => [k, k]), 24),
    ]);
  });
  after(() => s3?.stop());

  test("the real tools' user agents and headers are classified as API clients", () => {
    // Captured from the tools on a loopback server.
    const awsV1 = new Headers({
      "user-agent":
        "aws-cli/1.45.11 md/Botocore#1.43.11 ua/2.1 os/linux#6.18.44 md/arch#x86_64 lang/python#3.11.7 md/pyimpl#CPython m/b,D,Z,N cfg/retry-mode#legacy botocore/1.43.11",
      "amz-sdk-invocation-id": "13c2edd8-3659-41bc-806d-8f7ee958ffd0",
      "amz-sdk-request": "attempt=1",
    });
    assert.deepEqual(classifyClient(awsV1, []), ["api", "user-agent"]);
    const awsV2 = new Headers({
      "user-agent":
        "aws-cli/2.9.19 Python/3.11.2 Linux/6.18.44-fc-v669 source/x86_64.debian.12 prompt/off command/s3.cp",
    });
    assert.deepEqual(classifyClient(awsV2, []), ["api", "user-agent"]);
    assert.deepEqual(classifyClient(new Headers({ "user-agent": AWS_UA }), []), [
      "api",
      "user-agent",
    ]);
    assert.deepEqual(classifyClient(new Headers({ "user-agent": "rclone/v1.60.1-DEV" }), []), [
      "api",
      "user-agent",
    ]);
    // s3cmd 2.3 sends no user agent at all, but signs (here with made-up keys).
    const s3cmd = new Headers({
      authorization:
        "AWS4-HMAC-SHA256 Credential=AKIDUMMY/20261126/us-east-1/s3/aws4_request,SignedHeaders=host;x-amz-content-sha256;x-amz-date,Signature=00",
      "x-amz-content-sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
      "x-amz-date": "20261126T054950Z",
    });
    assert.equal(classifyClient(s3cmd, [])[0], "api");
    assert.deepEqual(classifyClient(new Headers({ "user-agent": CURL_UA, accept: "*/*" }), []), [
      "http",
      "default",
    ]);
    assert.equal(
      classifyClient(new Headers({ "user-agent": CHROME_UA, accept: CHROME_ACCEPT }), [])[0],
      "browser",
    );
  });

  test("the made-up credentials are refused by the fake itself (the premise of the signed tests)", async () => {
    const result = await run(AWS.cmd, [
      "s3api",
      "head-bucket",
      "--bucket",
      TOOLS,
      "--endpoint-url",
      s3.endpoint,
    ], FAKE_CREDS);
    assert.notEqual(result.code, 0);
    assert.match(result.stderr, /403|Forbidden|InvalidAccessKeyId/);
  });

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`served by ${runtime}`, () => {
      let proxy: ProxyHandle;
      before(async () => {
        proxy = await startProxy({ runtime, env: proxyEnv() });
      });
      after(() => proxy?.stop());

      // Every aws-cli installed on Deno; the first one on Bun.
      for (const cli of runtime === "deno" ? AWS_CLIS : [AWS]) {
        describe(cli.version, () => {
          test("aws s3 sync (anonymous) gives a byte-identical tree, awkward keys included", async () => {
            await withTempDir(async (dir) => {
              const [result, entries] = await logDuring(
                proxy,
                () => awsAnon(cli, proxy, ["s3", "sync", `s3://${TOOLS}`, dir]),
              );
              assertOk(result, "aws s3 sync");
              assertSameTree(await readTree(dir), AWKWARD);
              assertApiDecisions(entries, "aws s3 sync");
              const gets = entries.filter((e) => e.method === "GET" && e.decision === "proxy");
              assert.equal(gets.length, AWKWARD.size, "one streamed GET per object");
              assert.ok(entries.some((e) => String(e.path).includes("encoding-type=url")));
            });
          });

          test("aws s3 cp of a 20 MiB object: ranged parts, byte-identical (SHA-256)", async () => {
            await withTempDir(async (dir) => {
              const file = `${dir}/large.bin`;
              const [result, entries] = await logDuring(
                proxy,
                () => awsAnon(cli, proxy, ["s3", "cp", `s3://${LARGE}/${LARGE_KEY}`, file]),
              );
              assertOk(result, "aws s3 cp");
              const got = await Deno.readFile(file);
              assert.equal(got.length, LARGE_SIZE);
              assert.equal(sha256(got), sha256(LARGE_BODY));
              assertApiDecisions(entries, "aws s3 cp");
              const gets = objectGets(entries, LARGE_KEY);
              assert.ok(gets.length >= 3, `expected ranged parts, got ${gets.length} GETs`);
              for (const e of gets) assert.equal(e.status, 206);
            });
          });

          test("aws s3 ls --recursive lists all 1111 keys (ListObjectsV2 continuation)", async () => {
            const [result, entries] = await logDuring(
              proxy,
              () => awsAnon(cli, proxy, ["s3", "ls", "--recursive", `s3://${MANY}`]),
            );
            assertOk(result, "aws s3 ls");
            const keys = result.stdout.trim().split("\n").map((line) =>
              /^\S+ \S+ +\d+ (.*)$/.exec(line)?.[1]
            );
            assert.deepEqual(keys, MANY_KEYS);
            assertApiDecisions(entries, "aws s3 ls");
            assert.ok(entries.some((e) => /[?&]continuation-token=/.test(String(e.path))));
          });

          test("aws s3api list-objects (V1) pages with markers past 1000 keys", async () => {
            const [result, entries] = await logDuring(
              proxy,
              () =>
                awsAnon(cli, proxy, [
                  "s3api",
                  "list-objects",
                  "--bucket",
                  MANY,
                  "--page-size",
                  "400",
                ]),
            );
            assertOk(result, "aws s3api list-objects");
            const listed = JSON.parse(result.stdout) as {
              Contents: { Key: string; Size: number }[];
            };
            assert.deepEqual(listed.Contents.map((c) => c.Key), MANY_KEYS);
            const markers = entries.filter((e) => /[?&]marker=/.test(String(e.path)));
            assert.equal(markers.length, 2, "three pages of 400: two markers");
            assertApiDecisions(entries, "aws s3api list-objects");
          });

          test("aws with made-up credentials (signed requests) syncs: its signature never reaches S3", async () => {
            await withTempDir(async (dir) => {
              const [result, entries] = await logDuring(
                proxy,
                () => aws(cli, proxy, ["s3", "sync", `s3://${TOOLS}`, dir], FAKE_CREDS),
              );
              assertOk(result, "signed aws s3 sync");
              assertSameTree(await readTree(dir), AWKWARD);
              assertApiDecisions(entries, "signed aws s3 sync");
            });
          });
        });
      }

      test("aws s3api list-objects-v2: delimiter, prefix, start-after and fetch-owner reach S3", async () => {
        const withOwner = await awsAnon(AWS, proxy, [
          "s3api",
          "list-objects-v2",
          "--bucket",
          TOOLS,
          "--prefix",
          "nested/a/",
          "--delimiter",
          "/",
          "--fetch-owner",
        ]);
        assertOk(withOwner, "list-objects-v2 --fetch-owner");
        const listed = JSON.parse(withOwner.stdout) as {
          Contents: { Key: string; Owner?: unknown }[];
          CommonPrefixes: { Prefix: string }[];
        };
        assert.deepEqual(listed.Contents.map((c) => c.Key), ["nested/a/two.txt"]);
        assert.deepEqual(listed.CommonPrefixes, [{ Prefix: "nested/a/b/" }]);
        assert.ok(listed.Contents[0].Owner, "fetch-owner=true gives owners");
        const after = await awsAnon(AWS, proxy, [
          "s3api",
          "list-objects-v2",
          "--bucket",
          MANY,
          "--start-after",
          MANY_KEYS[1100],
        ]);
        assertOk(after, "list-objects-v2 --start-after");
        const rest = JSON.parse(after.stdout) as { Contents: { Key: string; Owner?: unknown }[] };
        assert.deepEqual(rest.Contents.map((c) => c.Key), MANY_KEYS.slice(1101));
        assert.equal(rest.Contents[0].Owner, undefined, "no owners without fetch-owner");
      });

      test("rclone copy (anonymous S3 remote) is byte-identical; rclone lsf lists every key", async () => {
        await withTempDir(async (dir) => {
          const [copied, entries] = await logDuring(proxy, () =>
            run("rclone", [
              "copy",
              rcloneRemote(proxy, TOOLS),
              dir,
              "--s3-no-check-bucket",
            ]));
          assertOk(copied, "rclone copy");
          assertSameTree(await readTree(dir), AWKWARD);
          assertApiDecisions(entries, "rclone copy");
          for (const e of entries) assert.equal(e.clientReason, "user-agent");
        });
        const [listed, entries] = await logDuring(proxy, () =>
          run("rclone", [
            "lsf",
            "-R",
            "--files-only",
            "--s3-list-chunk",
            "500",
            rcloneRemote(proxy, MANY),
          ]));
        assertOk(listed, "rclone lsf");
        assert.deepEqual(listed.stdout.trim().split("\n").sort(), [...MANY_KEYS].sort());
        assert.ok(entries.some((e) => /[?&]marker=/.test(String(e.path))), "paged with markers");
      });

      test("s3cmd get works (it signs with made-up keys; the proxy drops the signature)", async () => {
        await withTempDir(async (dir) => {
          const host = proxy.url.slice("http://".length);
          const config = `${dir}/s3cfg`;
          await Deno.writeTextFile(
            config,
            [
              "[default]",
              "access_key = AKIAMADEUPMADEUP1234",
              "secret_key = made/up+secret=made/up+secret=made/up+se",
              `host_base = ${host}`,
              `host_bucket = ${host}`,
              "use_https = False",
              "signature_v2 = False",
              "",
            ].join("\n"),
          );
          // Not `*`, `?` or `[`: s3cmd reads them as wildcards and lists with the glob's prefix,
          // and s3rver's check of a signed query breaks on `!'()*` in a value (see s3rver.ts).
          const keys = [
            "ünïcödé/naïve café.txt",
            "plus+sign/a+b+c.txt",
            "sub-delims/=@$;,:.txt",
            "percent/100% done %20 %2F %zz.txt",
            "hash/#fragment#.txt",
          ];
          const [result, entries] = await logDuring(proxy, async () => {
            const results: RunResult[] = [];
            for (const [i, key] of keys.entries()) {
              results.push(
                await run("s3cmd", ["-c", config, "get", `s3://${TOOLS}/${key}`, `${dir}/${i}`]),
              );
            }
            return results;
          });
          for (const [i, key] of keys.entries()) {
            assertOk(result[i], `s3cmd get ${key}`);
            assert.equal(sha256(await Deno.readFile(`${dir}/${i}`)), sha256(AWKWARD.get(key)!));
          }
          assertApiDecisions(entries, "s3cmd get");
        });
      });

      test("a URL presigned by aws-cli for the proxy is streamed, its signature dropped and redacted", async () => {
        const key = "with space/two  spaces .txt";
        const presigned = await aws(
          AWS,
          proxy,
          ["s3", "presign", `s3://${TOOLS}/${key}`],
          FAKE_CREDS,
        );
        assertOk(presigned, "aws s3 presign");
        const url = new URL(presigned.stdout.trim());
        // aws-cli v1 presigns with SigV2 (Signature=) for a custom endpoint, v2 with SigV4.
        const sigName = url.searchParams.has("X-Amz-Signature") ? "X-Amz-Signature" : "Signature";
        const signature = url.searchParams.get(sigName);
        assert.ok(signature, presigned.stdout);
        const [bytes, entries] = await logDuring(proxy, async () => {
          const res = await fetch(url, { headers: { "user-agent": CURL_UA }, redirect: "manual" });
          assert.equal(res.status, 200);
          return new Uint8Array(await res.arrayBuffer());
        });
        assert.equal(sha256(bytes), sha256(AWKWARD.get(key)!));
        assert.equal(entries.length, 1);
        const [entry] = entries;
        assert.deepEqual([entry.decision, entry.client, entry.clientReason], [
          "proxy",
          "api",
          "query",
        ]);
        for (const spelling of [signature, encodeURIComponent(signature)]) {
          assert.ok(!String(entry.path).includes(spelling), `signature logged: ${entry.path}`);
        }
        assert.ok(String(entry.path).includes(`${sigName}=REDACTED`), String(entry.path));
      });

      test("HeadBucket and GetBucketLocation work", async () => {
        assertOk(
          await awsAnon(AWS, proxy, ["s3api", "head-bucket", "--bucket", TOOLS]),
          "head-bucket",
        );
        const location = await awsAnon(AWS, proxy, [
          "s3api",
          "get-bucket-location",
          "--bucket",
          TOOLS,
        ]);
        assertOk(location, "get-bucket-location");
        assert.ok("LocationConstraint" in JSON.parse(location.stdout), location.stdout);
        const missing = await awsAnon(AWS, proxy, [
          "s3api",
          "head-bucket",
          "--bucket",
          "no-such-bucket",
        ]);
        assert.notEqual(missing.code, 0);
        assert.match(missing.stderr, /404|Not Found/);
      });

      test("HeadObject of a missing key: 404 with no body; GetObject: S3 XML NoSuchKey", async () => {
        const head = await awsAnon(AWS, proxy, [
          "s3api",
          "head-object",
          "--bucket",
          TOOLS,
          "--key",
          "nope",
        ]);
        assert.notEqual(head.code, 0);
        assert.match(head.stderr, /\(404\)/);
        const res = await fetch(`${proxy.url}/${TOOLS}/nope`, {
          method: "HEAD",
          headers: { "user-agent": AWS_UA },
        });
        assert.equal(res.status, 404);
        assert.equal(await res.text(), "");
        const get = await fetch(`${proxy.url}/${TOOLS}/nope`, {
          headers: { "user-agent": AWS_UA },
        });
        assert.equal(get.status, 404);
        assert.match(await get.text(), /<Code>NoSuchKey<\/Code>/);
      });

      test("ListBuckets (GET /) is refused with 403 AccessDenied", async () => {
        const [result, entries] = await logDuring(proxy, () => awsAnon(AWS, proxy, ["s3", "ls"]));
        assert.notEqual(result.code, 0);
        assert.match(result.stderr, /AccessDenied/);
        assert.ok(entries.length > 0);
        for (const e of entries) {
          assert.equal(e.path, "/");
          assert.equal(e.status, 403);
          assert.equal(e.decision, "reject");
          assert.equal(e.client, "api");
        }
      });

      test("curl and a browser still get a 307 to a presigned URL; the log says why", async () => {
        const key = "ünïcödé/naïve café.txt";
        const url = `${proxy.url}/${TOOLS}/${encodeURIComponent(key).replaceAll("%2F", "/")}`;
        const [responses, entries] = await logDuring(proxy, async () => {
          const out: Response[] = [];
          for (
            const headers of [
              { "user-agent": CURL_UA, accept: "*/*" },
              { "user-agent": CHROME_UA, accept: CHROME_ACCEPT },
            ]
          ) {
            const res = await fetch(url, { headers, redirect: "manual" });
            await res.body?.cancel();
            out.push(res);
          }
          return out;
        });
        for (const res of responses) {
          assert.equal(res.status, 307);
          const location = new URL(res.headers.get("location")!);
          assert.equal(location.host, s3.host);
          assert.ok(location.searchParams.has("X-Amz-Signature"));
          // The presigned URL works at S3 and gives the object.
          const followed = await fetch(location);
          assert.equal(followed.status, 200);
          assert.equal(
            sha256(new Uint8Array(await followed.arrayBuffer())),
            sha256(AWKWARD.get(key)!),
          );
        }
        assert.deepEqual(
          entries.map((e) => [e.status, e.decision, e.client, e.clientReason]),
          [[307, "redirect", "http", "default"], [307, "redirect", "browser", "accept"]],
        );
      });

      describe("settings", () => {
        test("REDIRECT=always: aws-cli gets 307s (and fails); every decision is logged", async () => {
          await using always = await startProxy({ runtime, env: proxyEnv({ REDIRECT: "always" }) });
          const [result, entries] = await logDuring(
            always,
            () => awsAnon(AWS, always, ["s3", "cp", `s3://${TOOLS}/plain.txt`, "-"]),
          );
          assert.notEqual(result.code, 0);
          assert.match(result.stderr, /\(307\)/);
          const objects = entries.filter((e) => e.path === `/${TOOLS}/plain.txt`);
          assert.ok(objects.length > 0);
          for (const e of objects) {
            assert.deepEqual([e.status, e.decision, e.client], [307, "redirect", "api"]);
          }
        });

        test("REDIRECT=never: curl is streamed the object", async () => {
          await using never = await startProxy({ runtime, env: proxyEnv({ REDIRECT: "never" }) });
          const [res, entries] = await logDuring(never, async () => {
            const res = await fetch(`${never.url}/${TOOLS}/plain.txt`, {
              headers: { "user-agent": CURL_UA, accept: "*/*" },
              redirect: "manual",
            });
            return [res.status, new Uint8Array(await res.arrayBuffer())] as const;
          });
          assert.equal(res[0], 200);
          assert.equal(sha256(res[1]), sha256(AWKWARD.get("plain.txt")!));
          assert.deepEqual(
            entries.map((e) => [e.status, e.decision, e.client, e.clientReason]),
            [[200, "proxy", "http", "default"]],
          );
        });

        test("S3_LIST_BUCKETS=true: aws s3 ls lists the buckets", async () => {
          await using listing = await startProxy({
            runtime,
            env: proxyEnv({ S3_LIST_BUCKETS: "true" }),
          });
          const [result, entries] = await logDuring(
            listing,
            () => awsAnon(AWS, listing, ["s3", "ls"]),
          );
          assertOk(result, "aws s3 ls");
          const names = result.stdout.trim().split("\n").map((l) => l.split(" ").at(-1));
          assert.deepEqual(names.sort(), [LARGE, MANY, TOOLS]);
          assert.deepEqual(
            entries.map((e) => [e.path, e.status, e.decision, e.client]),
            [["/", 200, "list-buckets", "api"]],
          );
        });
      });
    });
  }
});
