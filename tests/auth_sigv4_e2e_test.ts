/**
 * Issue 12 end to end: proxy-issued S3 keys (`AUTH=sigv4`) with the real tools, the proxy served
 * by Deno (through `deno task start`, so its `--allow-read` must name the keys file) and by Bun,
 * in front of @20minutes/s3rver@5.0.0. The clients sign with a pair from the keys file; the
 * proxy verifies it and signs upstream with its own credentials (s3rver knows only those).
 *
 * aws-cli v1 presigns with SigV2 for a custom endpoint unless its config says `s3v4`: that URL is
 * refused (saying SigV4 is required), the s3v4 one is served.
 */
import { assertOk, type RunResult, runTool } from "./support/tools.ts";
import { main as presignCli } from "../src/cli/presign.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, type Runtime, startProxy } from "./support/proxy.ts";
import { formatKeyLine, newKeyPair } from "../src/auth/sigv4_keys.ts";

const FILES = "files";
const MANY = "many";
const ARTIFACTS = "artifacts";
const REGION = "us-east-1";

const AWKWARD_KEYS = [
  "plain.txt",
  "with space/two  spaces .txt",
  "plus+sign/a+b+c.txt",
  "ünïcödé/naïve café.txt",
  "tilde/~home~.txt",
  "percent/100% done %20 %2F.txt",
  "marks/!()*.txt",
  "sub-delims/=@$;,:.txt",
  "日本語/ファイル.txt",
];
/** Past one page of ListObjects (1000). */
const MANY_KEYS = Array.from({ length: 1003 }, (_, i) => `p/${String(i).padStart(4, "0")}+ü.txt`);

const random = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const FULL = newKeyPair(random);
const LIMITED = newKeyPair(random);
const LATER = newKeyPair(random);

function body(key: string): Uint8Array {
  return new TextEncoder().encode(`${key}\n`.repeat(1 + (key.length % 7)));
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** A tool with the clean environment of tests/support/tools.ts, and more time. */
function run(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  timeoutMs = 90_000,
): Promise<RunResult> {
  return runTool(cmd, args, { AWS_DEFAULT_REGION: REGION, ...env }, timeoutMs);
}

function keyEnv(pair: { id: string; secret: string }): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: pair.id, AWS_SECRET_ACCESS_KEY: pair.secret };
}

/** Every file under `dir`, by `/`-separated relative path. */
async function readTree(dir: string, prefix = ""): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for await (const entry of Deno.readDir(dir + "/" + prefix)) {
    const rel = prefix + entry.name;
    if (entry.isDirectory) { for (const [k, v] of await readTree(dir, rel + "/")) out.set(k, v); }
    else out.set(rel, await Deno.readFile(`${dir}/${rel}`));
  }
  return out;
}

function assertTree(got: Map<string, Uint8Array>, keys: readonly string[]): void {
  assert.deepEqual([...got.keys()].sort(), [...keys].sort());
  for (const key of keys) assert.equal(sha256(got.get(key)!), sha256(body(key)), key);
}

let s3: S3rverHandle;

describe("proxy-issued S3 keys (AUTH=sigv4) with real clients", () => {
  before(async () => {
    s3 = await startS3rver({ buckets: [FILES, MANY, ARTIFACTS] });
    await Promise.all([
      s3.putObjects(FILES, AWKWARD_KEYS.map((k) => [k, body(k)]), 8),
      s3.putObjects(MANY, MANY_KEYS.map((k) => [k, body(k)]), 24),
      s3.putObjects(ARTIFACTS, [
        ["nightly/build 1.tgz", body("nightly/build 1.tgz")],
        ["release/v1.tgz", body("release/v1.tgz")],
      ]),
    ]);
  });
  after(() => s3?.stop());

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`served by ${runtime}`, () => {
      let proxy: ProxyHandle;
      let dir: string;
      let keysFile: string;
      const aws = (args: string[], env: Record<string, string>, endpoint = proxy.url) =>
        run("aws", [...args, "--endpoint-url", endpoint], env);

      before(async () => {
        dir = await Deno.makeTempDir({ prefix: "sigv4-e2e-" });
        keysFile = `${dir}/keys`;
        await Deno.writeTextFile(
          keysFile,
          `# full\n${formatKeyLine(FULL.id, FULL.secret, [])}\n# nightly only\n` +
            `${formatKeyLine(LIMITED.id, LIMITED.secret, [`${ARTIFACTS}/nightly/`])}\n`,
          { mode: 0o600 },
        );
        await Deno.chmod(keysFile, 0o600);
        const auth = { AUTH: "sigv4", AUTH_SIGV4_KEYS_FILE: keysFile };
        await Deno.writeTextFile(
          `${dir}/routes.json`,
          JSON.stringify({ routes: [{ prefix: "/", ...auth }, { prefix: "/b/", ...auth }] }),
        );
        proxy = await startProxy({
          runtime,
          viaTask: runtime === "deno",
          env: {
            ROUTES_FILE: `${dir}/routes.json`,
            AWS_ENDPOINT_HOST: s3.host,
            AWS_ENDPOINT_SCHEME: "http",
            AWS_ACCESS_KEY_ID: s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
            AWS_REGION: REGION,
          },
        });
      });
      after(async () => {
        await proxy?.stop();
        // Nothing secret in anything the proxy wrote.
        const output = proxy?.lines().join("\n") ?? "";
        for (const secret of [FULL.secret, LIMITED.secret, LATER.secret, s3.secretAccessKey]) {
          assert.ok(!output.includes(secret), "a secret in the proxy's output");
        }
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      });

      test("aws s3 ls and cp with a proxy-issued pair; awkward keys byte-identical", async () => {
        const ls = await aws(["s3", "ls", "--recursive", `s3://${FILES}`], keyEnv(FULL));
        assertOk(ls, "aws s3 ls");
        const listed = ls.stdout.trim().split("\n").map((l) => /^\S+ \S+ +\d+ (.*)$/.exec(l)?.[1]);
        assert.deepEqual(listed.sort(), [...AWKWARD_KEYS].sort());
        const out = await Deno.makeTempDir({ dir });
        for (const key of ["plus+sign/a+b+c.txt", "percent/100% done %20 %2F.txt"]) {
          assertOk(await aws(["s3", "cp", `s3://${FILES}/${key}`, `${out}/f`], keyEnv(FULL)), key);
          assert.equal(sha256(await Deno.readFile(`${out}/f`)), sha256(body(key)), key);
        }
        const admitted = proxy.jsonLines().filter((e) => e.event === "request" && e.status === 200);
        assert.ok(admitted.length > 0);
        for (const e of admitted) assert.deepEqual([e.auth, e.principal], ["sigv4", FULL.id]);
      });

      test(`aws s3 sync past 1000 keys, and of awkward keys`, async () => {
        const many = await Deno.makeTempDir({ dir });
        assertOk(await aws(["s3", "sync", `s3://${MANY}`, many], keyEnv(FULL)), "sync many");
        assertTree(await readTree(many), MANY_KEYS);
        const files = await Deno.makeTempDir({ dir });
        assertOk(await aws(["s3", "sync", `s3://${FILES}`, files], keyEnv(FULL)), "sync files");
        assertTree(await readTree(files), AWKWARD_KEYS);
      });

      test("a route prefix in the endpoint URL (--endpoint-url .../b)", async () => {
        const ls = await aws(
          ["s3", "ls", `s3://${FILES}/ünïcödé/`],
          keyEnv(FULL),
          proxy.url + "/b",
        );
        assertOk(ls, "aws s3 ls under /b");
        assert.match(ls.stdout, /naïve café\.txt/);
        const out = await Deno.makeTempDir({ dir });
        const key = "with space/two  spaces .txt";
        assertOk(
          await aws(
            ["s3", "cp", `s3://${FILES}/${key}`, `${out}/f`],
            keyEnv(FULL),
            proxy.url + "/b",
          ),
          "cp under /b",
        );
        assert.equal(sha256(await Deno.readFile(`${out}/f`)), sha256(body(key)));
        assert.ok(proxy.jsonLines().some((e) => e.route === "/b/" && e.principal === FULL.id));
      });

      test("a wrong secret: SignatureDoesNotMatch; an unknown key: InvalidAccessKeyId", async () => {
        const wrong = await aws(
          ["s3api", "list-objects-v2", "--bucket", FILES],
          keyEnv({ id: FULL.id, secret: LATER.secret }),
        );
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /SignatureDoesNotMatch/);
        const unknown = await aws(["s3api", "list-objects-v2", "--bucket", FILES], keyEnv(LATER));
        assert.match(unknown.stderr, /InvalidAccessKeyId/);
        const anonymous = await aws([
          "s3api",
          "list-objects-v2",
          "--bucket",
          FILES,
          "--no-sign-request",
        ], {});
        assert.match(anonymous.stderr, /AccessDenied/);
      });

      test("a prefix-limited key reads and lists under its prefix, AccessDenied elsewhere", async () => {
        const env = keyEnv(LIMITED);
        const out = await Deno.makeTempDir({ dir });
        const key = "nightly/build 1.tgz";
        assertOk(
          await aws(["s3", "cp", `s3://${ARTIFACTS}/${key}`, `${out}/f`], env),
          "cp nightly",
        );
        assert.equal(sha256(await Deno.readFile(`${out}/f`)), sha256(body(key)));
        const ls = await aws(["s3", "ls", `s3://${ARTIFACTS}/nightly/`], env);
        assertOk(ls, "ls nightly/");
        assert.match(ls.stdout, /build 1\.tgz/);
        for (
          const args of [
            ["s3api", "get-object", "--bucket", ARTIFACTS, "--key", "release/v1.tgz", `${out}/g`],
            ["s3api", "list-objects-v2", "--bucket", ARTIFACTS],
            ["s3api", "get-object", "--bucket", FILES, "--key", "plain.txt", `${out}/g`],
          ]
        ) {
          const denied = await aws(args, env);
          assert.notEqual(denied.code, 0, args.join(" "));
          assert.match(denied.stderr, /AccessDenied/, args.join(" "));
        }
      });

      test("aws s3 presign: the s3v4 URL is served; an expired one (presigned an hour ago) and a SigV2 one are refused", async () => {
        const config = `${dir}/aws-config`;
        await Deno.writeTextFile(config, "[default]\ns3 =\n    signature_version = s3v4\n");
        const env = { ...keyEnv(FULL), AWS_CONFIG_FILE: config };
        const key = "ünïcödé/naïve café.txt";
        const presigned = await aws(["s3", "presign", `s3://${FILES}/${key}`], env);
        assertOk(presigned, "aws s3 presign");
        const url = presigned.stdout.trim();
        assert.match(url, /X-Amz-Credential=AKPX/);
        const res = await fetch(url, { headers: { "user-agent": "curl/8" } });
        assert.equal(res.status, 200);
        assert.equal(sha256(new Uint8Array(await res.arrayBuffer())), sha256(body(key)));
        const tampered = await fetch(url.replace("naïve", "naive").replace("na%C3%AFve", "naive"));
        assert.equal(tampered.status, 403);
        assert.match(await tampered.text(), /SignatureDoesNotMatch/);

        // A URL that expired an hour ago, presigned for the proxy with the same proxy-issued
        // key by the project's presign CLI (aws-cli cannot sign for a past date).
        const past = new Date(Date.now() - 3600_000);
        const short = presignCli(["s3://" + FILES + "/" + key, "--expires", "60"], {
          ...keyEnv(FULL),
          AWS_REGION: REGION,
          AWS_ENDPOINT_HOST: new URL(proxy.url).host,
          AWS_ENDPOINT_SCHEME: "http",
        }, past);
        assert.equal(short.code, 0, short.stderr);
        const expired = await fetch(short.stdout.trim(), {
          headers: { "user-agent": "aws-cli/1" },
        });
        assert.equal(expired.status, 403);
        assert.match(
          await expired.text(),
          /<Code>AccessDenied<\/Code><Message>Request has expired/,
        );

        const v2 = await aws(["s3", "presign", `s3://${FILES}/${key}`], keyEnv(FULL));
        assertOk(v2, "aws s3 presign (SigV2)");
        // Without s3v4 in its config, aws-cli v1 presigns with SigV2 here; v2 with SigV4.
        const v2url = v2.stdout.trim();
        const answer = await fetch(v2url, { headers: { "user-agent": "aws-cli/1" } });
        if (new URL(v2url).searchParams.has("Signature")) {
          assert.equal(answer.status, 403);
          assert.match(await answer.text(), /Signature Version 4/);
        } else {
          assert.equal(answer.status, 200);
          await answer.body?.cancel();
        }
      });

      test("rclone and s3cmd with a proxy-issued pair", async () => {
        const out = await Deno.makeTempDir({ dir });
        const copied = await run("rclone", ["copy", `:s3:${FILES}`, out, "--s3-no-check-bucket"], {
          RCLONE_S3_PROVIDER: "Other",
          RCLONE_S3_ENDPOINT: proxy.url,
          RCLONE_S3_REGION: REGION,
          RCLONE_S3_ACCESS_KEY_ID: FULL.id,
          RCLONE_S3_SECRET_ACCESS_KEY: FULL.secret,
        });
        assertOk(copied, "rclone copy");
        assertTree(await readTree(out), AWKWARD_KEYS);
        const wrong = await run("rclone", ["lsf", `:s3:${FILES}`], {
          RCLONE_S3_PROVIDER: "Other",
          RCLONE_S3_ENDPOINT: proxy.url,
          RCLONE_S3_ACCESS_KEY_ID: FULL.id,
          RCLONE_S3_SECRET_ACCESS_KEY: LATER.secret,
        });
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /SignatureDoesNotMatch/);

        const host = proxy.url.slice("http://".length);
        const s3cfg = (pair: { id: string; secret: string }) => {
          const path = `${dir}/s3cfg-${pair.id}`;
          Deno.writeTextFileSync(
            path,
            [
              "[default]",
              `access_key = ${pair.id}`,
              `secret_key = ${pair.secret}`,
              `host_base = ${host}`,
              `host_bucket = ${host}`,
              "bucket_location = us-east-1",
              "use_https = False",
              "signature_v2 = False",
              "",
            ].join("\n"),
          );
          return path;
        };
        const key = "plus+sign/a+b+c.txt";
        const got = await run("s3cmd", [
          "-c",
          s3cfg(FULL),
          "get",
          `s3://${FILES}/${key}`,
          `${out}/s3cmd`,
        ]);
        assertOk(got, "s3cmd get");
        assert.equal(sha256(await Deno.readFile(`${out}/s3cmd`)), sha256(body(key)));
        const ls = await run("s3cmd", ["-c", s3cfg(FULL), "ls", `s3://${FILES}/ünïcödé/`]);
        assertOk(ls, "s3cmd ls");
        assert.match(ls.stdout, /naïve café\.txt/);
        const denied = await run("s3cmd", [
          "-c",
          s3cfg({ id: FULL.id, secret: LATER.secret }),
          "ls",
          `s3://${FILES}/`,
        ]);
        assert.notEqual(denied.code, 0);
        assert.match(denied.stderr + denied.stdout, /SignatureDoesNotMatch|403/);
      });

      test("SIGHUP re-reads the keys file: a new key works, a removed one is InvalidAccessKeyId", async () => {
        await Deno.writeTextFile(
          keysFile,
          `# later\n${formatKeyLine(LATER.id, LATER.secret, [])}\n`,
        );
        const seen = proxy.lines().length;
        Deno.kill(proxy.pid, "SIGHUP");
        // The poll may see the change first; the SIGHUP then finds the file as read.
        await proxy.waitForLine(
          (l) =>
            proxy.lines().indexOf(l) >= seen &&
            /"event":"auth_keys_(loaded|checked)".*"reason":"SIGHUP"/.test(l),
          10_000,
          "the SIGHUP re-read",
        );
        const listed = await aws(["s3api", "list-objects-v2", "--bucket", FILES], keyEnv(LATER));
        assertOk(listed, "list with the new key");
        const removed = await aws(["s3api", "list-objects-v2", "--bucket", FILES], keyEnv(FULL));
        assert.notEqual(removed.code, 0);
        assert.match(removed.stderr, /InvalidAccessKeyId/);
      });
    });
  }
});
