/**
 * Issue 10 ("Routes"), end to end: the proxy as a real process (Deno through `deno task start`,
 * so `--allow-read` is limited to the files the environment and the routes file name; Bun with
 * `bun run`) with a ROUTES_FILE, in front of TWO `@20minutes/s3rver@5.0.0` backends on different
 * ports that know different key pairs. s3rver verifies every signature, so a 200 from it proves
 * which credentials signed; a recording TCP forwarder in front of each backend shows exactly which
 * bucket and which access key every upstream request named, or that nothing went upstream.
 *
 * The routes: `/one/` (backend A, its own keys in the routes file), `/two/` (backend B, the
 * process's keys from the environment), `/b/` (backend B, path mode: `/b/<bucket>/<key>`, used by
 * aws-cli as a prefixed endpoint), `/keys/` (backend A, AWS_ACCESS_KEY_ID + AWS_SIGNING_KEY_FILE
 * made with the signing-key CLI for today and tomorrow) and `/prof/` (backend B, AWS_PROFILE from
 * the AWS_SHARED_CREDENTIALS_FILE of the environment). There is no route at `/`.
 *
 * Checked: each route's proxied page, redirect (every 307 Location fetched from the backend it
 * names) and listing; the bare prefix, a path under no route, the route index; spellings that try
 * to leave route one (`%2F`, `%2e%2e`, `\`, `%5C`, `//`, a `..` that appears only after decoding);
 * aws-cli ls/cp/sync through `--endpoint-url http://127.0.0.1:PORT/b`; a reload (SIGHUP and a
 * change of the file, good and bad) under load with a download in flight; every validation error,
 * exit code 2; SIGHUP without a routes file; and no secret in any output line or response.
 *
 * @module
 */
import { findAwsClis, type RunResult, runTool } from "./support/tools.ts";
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { generateKeyPair, type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  type ProxyHandle,
  type Runtime,
  startProxy,
  startProxyExpectingExit,
} from "./support/proxy.ts";
import { type Forwarder, startForwarder, type Upstream } from "./support/forwarder.ts";
import { concat, indexOfBytes } from "./support/bytes.ts";
import { main as signingKeyCli } from "../src/cli/signing_key.ts";

// ---------------------------------------------------------------------------------------------
// Test data

/** Backend A knows A1 (route /one/, in the routes file) and A2 (route /keys/, signing keys). */
const A1 = generateKeyPair();
const A2 = generateKeyPair();
/** Backend B knows B1 (the process's, for /two/ and /b/) and B2 (the profile of /prof/). */
const B1 = generateKeyPair();
const B2 = generateKeyPair();
/** The credentials file's [default]: known to neither backend, so it must never be used. */
const UNKNOWN = generateKeyPair();

const PROFILE = "routes-profile";
const DAY_MS = 86_400_000;
const AWS_UA = "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 command/s3.cp";
const API = { "user-agent": AWS_UA };
const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };
const CHROME = {
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/131.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,*/*;q=0.8",
};

/** Objects of every bucket a route serves with S3_BUCKET. */
function bucketObjects(bucket: string): [string, string][] {
  return [
    ["index.html", `<p>${bucket} home</p>`],
    ["docs/file.txt", `${bucket} file`],
    ["docs/a b+c.txt", `${bucket} spaced`],
    ["x", `${bucket} x`],
    // In route one's bucket, keys spelled like the other route: an escape that stayed inside
    // route one would find these, one that left it would find the other bucket's `x`.
    ["two/x", `${bucket} two/x`],
  ];
}

/** The path-mode bucket, synced with aws-cli. */
const GAMMA: [string, string][] = [
  ["index.html", "<p>gamma home</p>"],
  ["docs/file.txt", "gamma file"],
  ["a b/c+d.txt", "gamma plus and space"],
  ["ünïcödé/naïve café.txt", "gamma unicode"],
  ["deep/1/2/3.txt", "gamma deep"],
  ["empty.bin", ""],
];

/** A downloaded while the routes are reloaded: large enough to be in flight. */
const BIG_KEY = "big.bin";
const BIG = crypto.getRandomValues(new Uint8Array(65536)).slice();
const BIG_BODY = concat(Array.from({ length: 96 }, () => BIG)); // 6 MiB

interface RouteUnderTest {
  prefix: string;
  backend: "A" | "B";
  bucket: string;
  keyId: string;
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The access key named in an upstream request's Authorization header. */
function signer(up: Upstream): string | undefined {
  return /^AWS4-HMAC-SHA256 Credential=([^/]+)\//.exec(up.headers.get("authorization") ?? "")
    ?.[1];
}

/** Writes a file in one step (write, then rename), as a deploy tool would. */
async function replaceFile(path: string, text: string, mode = 0o600): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.new`;
  await Deno.writeTextFile(tmp, text, { mode });
  await Deno.chmod(tmp, mode);
  await Deno.rename(tmp, path);
}

/** A raw HTTP/1.1 answer. */
interface Wire {
  status: number;
  headers: Headers;
  text: string;
}

/** One request with `target` sent byte for byte (fetch would normalise `\`, `..`, `%2e`). */
async function raw(port: number, target: string, headers: Record<string, string>): Promise<Wire> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  let head = `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  const chunks: Uint8Array[] = [];
  try {
    const bytes = new TextEncoder().encode(head + "\r\n");
    for (let sent = 0; sent < bytes.length;) sent += await conn.write(bytes.subarray(sent));
    const buf = new Uint8Array(65536);
    for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
  } finally {
    try {
      conn.close();
    } catch { /* closed by the peer */ }
  }
  const all = concat(chunks);
  const end = indexOfBytes(all, new TextEncoder().encode("\r\n\r\n"));
  assert.ok(end > 0, `no answer head for ${target}`);
  const lines = new TextDecoder().decode(all.subarray(0, end)).split("\r\n");
  const out = new Headers();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    out.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
  }
  let body = all.subarray(end + 4);
  if (out.get("transfer-encoding")?.includes("chunked")) {
    // Small bodies only here: one pass over the chunk sizes.
    const parts: Uint8Array[] = [];
    const crlf = new TextEncoder().encode("\r\n");
    for (let at = 0;;) {
      const eol = indexOfBytes(body, crlf, at);
      const size = parseInt(new TextDecoder().decode(body.subarray(at, eol)), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      at = eol + 4 + size;
    }
    body = concat(parts);
  }
  return {
    status: Number(/^HTTP\/1\.1 (\d{3})/.exec(lines[0])?.[1] ?? 0),
    headers: out,
    text: new TextDecoder().decode(body),
  };
}

// ---------------------------------------------------------------------------------------------
// aws-cli: `aws` on PATH and Debian's /usr/bin/aws when it is another version (as tools_test).

/** A tool with the clean environment of tests/support/tools.ts. */
function run(cmd: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  return runTool(cmd, args, {}, timeoutMs);
}

async function readTree(dir: string, prefix = ""): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for await (const entry of Deno.readDir(dir + "/" + prefix)) {
    const rel = prefix + entry.name;
    if (entry.isDirectory) { for (const [k, v] of await readTree(dir, rel + "/")) out.set(k, v); }
    else out.set(rel, await Deno.readTextFile(`${dir}/${rel}`));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------

describe("routes end to end (issue 10)", () => {
  let s3a: S3rverHandle;
  let s3b: S3rverHandle;
  let fwdA: Forwarder;
  let fwdB: Forwarder;
  let scratch: string;
  let emptyHome: string;
  let routesFile: string;
  let credentialsFile: string;
  let keysFile: string;
  let routes: RouteUnderTest[];
  /** Every secret of this file (and its encoded spellings), searched for in every output. */
  const secrets = new Set<string>();
  /** Every proxy's output, every response's head and body, for the secrets check. */
  const outputs: { label: string; lines: () => string[] }[] = [];
  const responses: string[] = [];

  const forwarderOf = (backend: "A" | "B") => backend === "A" ? fwdA : fwdB;

  /** The upstream requests (per backend) made during `fn`. */
  async function upstreamDuring<T>(fn: () => Promise<T>): Promise<[T, Upstream[], Upstream[]]> {
    const a = fwdA.seen.length;
    const b = fwdB.seen.length;
    const result = await fn();
    return [result, fwdA.seen.slice(a), fwdB.seen.slice(b)];
  }

  /** A fetch to the proxy (never following a redirect); head and body kept for the check. */
  async function get(proxy: ProxyHandle, path: string, headers: Record<string, string> = CURL) {
    const res = await fetch(proxy.url + path, { headers, redirect: "manual" });
    const text = await res.text();
    responses.push(`${res.status} ${[...res.headers].join(" ")}\n${text}`);
    return { status: res.status, headers: res.headers, text };
  }

  async function rawGet(proxy: ProxyHandle, target: string, headers: Record<string, string>) {
    const res = await raw(proxy.port, target, headers);
    responses.push(`${res.status} ${[...res.headers].join(" ")}\n${res.text}`);
    return res;
  }

  /** The routes file of the main suite (chmod 600: it holds route one's secret). */
  function routesDoc(): unknown {
    return {
      routes: [
        {
          AUTH: "none",
          prefix: "/one/",
          AWS_ENDPOINT_HOST: fwdA.host,
          S3_BUCKET: "alpha",
          AWS_ACCESS_KEY_ID: A1.accessKeyId,
          AWS_SECRET_ACCESS_KEY: A1.secretAccessKey,
        },
        { AUTH: "none", prefix: "/two/", AWS_ENDPOINT_HOST: fwdB.host, S3_BUCKET: "beta" },
        { AUTH: "none", prefix: "/b/", AWS_ENDPOINT_HOST: fwdB.host, S3_LIST_BUCKETS: true },
        {
          AUTH: "none",
          prefix: "/keys/",
          AWS_ENDPOINT_HOST: fwdA.host,
          S3_BUCKET: "kappa",
          AWS_ACCESS_KEY_ID: A2.accessKeyId,
          AWS_SIGNING_KEY_FILE: keysFile,
        },
        {
          AUTH: "none",
          prefix: "/prof/",
          AWS_ENDPOINT_HOST: fwdB.host,
          S3_BUCKET: "delta",
          AWS_PROFILE: PROFILE,
        },
      ],
    };
  }

  before(async () => {
    [s3a, s3b] = await Promise.all([
      startS3rver({ buckets: ["alpha", "kappa"], keyPair: A1, extraKeyPairs: [A2] }),
      startS3rver({ buckets: ["beta", "gamma", "delta"], keyPair: B1, extraKeyPairs: [B2] }),
    ]);
    fwdA = startForwarder(s3a.port);
    fwdB = startForwarder(s3b.port);
    await Promise.all([
      s3a.putObjects("alpha", bucketObjects("alpha")),
      s3a.putObject("alpha", BIG_KEY, BIG_BODY),
      s3a.putObjects("kappa", bucketObjects("kappa")),
      s3b.putObjects("beta", bucketObjects("beta")),
      s3b.putObjects("delta", bucketObjects("delta")),
      s3b.putObjects("gamma", GAMMA),
    ]);
    scratch = await Deno.makeTempDir({ prefix: "routes-e2e-" });
    emptyHome = `${scratch}/home`;
    await Deno.mkdir(emptyHome);
    credentialsFile = `${scratch}/credentials`;
    await replaceFile(
      credentialsFile,
      `[default]\naws_access_key_id = ${UNKNOWN.accessKeyId}\n` +
        `aws_secret_access_key = ${UNKNOWN.secretAccessKey}\n\n[${PROFILE}]\n` +
        `aws_access_key_id = ${B2.accessKeyId}\naws_secret_access_key = ${B2.secretAccessKey}\n`,
    );
    // Today's and tomorrow's keys (a run across UTC midnight still signs), made by the CLI.
    const cli = signingKeyCli(
      ["-k", A2.secretAccessKey, "-r", "us-east-1", "--days", "2"],
      new Date(),
    );
    assert.equal(cli.code, 0, cli.stderr);
    const lines = cli.stdout.trim().split("\n");
    assert.equal(lines.length, 2);
    assert.ok(lines[0].endsWith(` ${utcDate(Date.now())}/us-east-1/s3/aws4_request`), lines[0]);
    const tomorrow = utcDate(Date.now() + DAY_MS);
    assert.ok(lines[1].endsWith(` ${tomorrow}/us-east-1/s3/aws4_request`), lines[1]);
    for (const line of lines) {
      const key = line.split(" ")[0];
      secrets.add(key);
      secrets.add(
        [...atob(key)].map((c) => c.charCodeAt(0).toString(16).padStart(2, "0")).join(""),
      );
    }
    keysFile = `${scratch}/keys.txt`;
    await replaceFile(keysFile, lines.join("\n") + "\n");
    routesFile = `${scratch}/routes.json`;
    await replaceFile(routesFile, JSON.stringify(routesDoc(), null, 2));
    for (const pair of [A1, A2, B1, B2, UNKNOWN]) secrets.add(pair.secretAccessKey);
    routes = [
      { prefix: "/one/", backend: "A", bucket: "alpha", keyId: A1.accessKeyId },
      { prefix: "/two/", backend: "B", bucket: "beta", keyId: B1.accessKeyId },
      { prefix: "/keys/", backend: "A", bucket: "kappa", keyId: A2.accessKeyId },
      { prefix: "/prof/", backend: "B", bucket: "delta", keyId: B2.accessKeyId },
    ];
  });

  after(async () => {
    await fwdA?.close();
    await fwdB?.close();
    await Promise.all([s3a?.stop(), s3b?.stop()]);
    if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  });

  /** The environment of every proxy: the process's credentials are B1 (for /two/ and /b/). */
  function baseEnv(extra: Record<string, string> = {}): Record<string, string> {
    return {
      HOME: emptyHome,
      AWS_ACCESS_KEY_ID: B1.accessKeyId,
      AWS_SECRET_ACCESS_KEY: B1.secretAccessKey,
      AWS_SHARED_CREDENTIALS_FILE: credentialsFile,
      AWS_ENDPOINT_SCHEME: "http",
      AWS_REGION: "us-east-1",
      ...extra,
    };
  }

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`under ${runtime}`, () => {
      let proxy: ProxyHandle;

      /** Deno through `deno task start`: --allow-read for the files named, nothing else. */
      async function start(label: string, env: Record<string, string>): Promise<ProxyHandle> {
        const started = await startProxy({ runtime, viaTask: runtime === "deno", env });
        outputs.push({ label: `${runtime} ${label}`, lines: started.lines });
        return started;
      }

      before(async () => {
        proxy = await start("main", baseEnv({ ROUTES_FILE: routesFile }));
      });
      after(() => proxy?.stop());

      test("one credential provider per distinct set of credentials, named with its routes", () => {
        const providers = proxy.jsonLines().filter((l) => l.event === "credentials");
        const byRoutes = Object.fromEntries(
          providers.map((l) => [(l.routes as string[]).join(","), l.source]),
        );
        assert.deepEqual(byRoutes, {
          "/one/": "environment",
          "/two/,/b/": "environment",
          "/keys/": `signing key file ${keysFile}`,
          "/prof/": `shared file ${credentialsFile} (profile ${PROFILE})`,
        });
        const listening = proxy.jsonLines().find((l) => l.event === "listening");
        assert.deepEqual(listening?.routes, ["/one/", "/two/", "/b/", "/keys/", "/prof/"]);
      });

      test("each route: its backend, its bucket, its credentials (proxied, redirect, listing)", async () => {
        for (const r of [...routes, { ...routes[1], prefix: "/b/gamma/", bucket: "gamma" }]) {
          const fwd = forwarderOf(r.backend);
          const other = forwarderOf(r.backend === "A" ? "B" : "A");
          const home = r.bucket === "gamma" ? "<p>gamma home</p>" : `<p>${r.bucket} home</p>`;
          const file = r.bucket === "gamma" ? "gamma file" : `${r.bucket} file`;

          const [page, upA, upB] = await upstreamDuring(() => get(proxy, `${r.prefix}index.html`));
          assert.equal(page.status, 200, `${r.prefix}: ${page.text}`);
          assert.equal(page.text, home);
          const [mine, theirs] = fwd === fwdA ? [upA, upB] : [upB, upA];
          assert.deepEqual(theirs, [], `${r.prefix}: nothing to the other backend`);
          assert.equal(mine.length, 1);
          assert.equal(mine[0].target, `/${r.bucket}/index.html`);
          assert.equal(signer(mine[0]), r.keyId, `${r.prefix}: signed with the route's key`);

          // The redirect, fetched from the backend it points at (s3rver verifies it).
          const redirect = await get(proxy, `${r.prefix}docs/file.txt`);
          assert.equal(redirect.status, 307, redirect.text);
          const location = redirect.headers.get("location")!;
          assert.ok(location.startsWith(`http://${fwd.host}/${r.bucket}/docs/file.txt?`), location);
          const credential = new URL(location).searchParams.get("X-Amz-Credential") ?? "";
          assert.ok(credential.startsWith(`${r.keyId}/`), credential);
          const before = other.seen.length;
          const followed = await fetch(location);
          assert.equal(followed.status, 200, await followed.clone().text());
          assert.equal(await followed.text(), file);
          assert.equal(other.seen.length, before);

          const [list, lA, lB] = await upstreamDuring(() =>
            get(proxy, r.bucket === "gamma" ? "/b/gamma?list-type=2" : `${r.prefix}?list-type=2`)
          );
          assert.equal(list.status, 200, list.text);
          assert.match(list.text, /<Key>docs\/file\.txt<\/Key>/);
          const listed = fwd === fwdA ? lA : lB;
          assert.equal(listed.length, 1);
          assert.match(listed[0].target, new RegExp(`^/${r.bucket}\\?`));
          assert.equal(signer(listed[0]), r.keyId);
        }
      });

      test("the bare prefix, a path under no route, and the route index at /", async () => {
        const [slash, a, b] = await upstreamDuring(() => get(proxy, "/one?x=1", CHROME));
        assert.equal(slash.status, 302);
        assert.equal(slash.headers.get("location"), "/one/?x=1");
        assert.equal(a.length + b.length, 0);
        const [head, ha] = await upstreamDuring(async () => {
          const res = await fetch(proxy.url + "/one", { method: "HEAD", headers: API });
          await res.body?.cancel();
          return res;
        });
        assert.equal(head.status, 200, "HeadBucket for an S3 client");
        assert.deepEqual(ha.map((u) => `${u.method} ${u.target} ${signer(u)}`), [
          `HEAD /alpha ${A1.accessKeyId}`,
        ]);
        for (const path of ["/three/x", "/onex/a.txt", "/ONE/x", "/"]) {
          const [res, na, nb] = await upstreamDuring(() => get(proxy, path, API));
          assert.equal(res.status, 404, path);
          assert.match(res.text, /NoSuchRoute/, path);
          assert.equal(na.length + nb.length, 0, path);
        }
        const index = await get(proxy, "/", { accept: "application/json" });
        assert.equal(index.status, 200);
        assert.deepEqual(
          JSON.parse(index.text).folders.map((f: { href: string }) => f.href),
          ["/one/", "/two/", "/b/", "/keys/", "/prof/"],
        );
      });

      test("escapes from route one: nothing reaches another route's bucket or credentials", async () => {
        /** Stays in route one: only backend A, only bucket alpha, only A1, never beta's bytes. */
        const staysInOne = async (target: string, statuses: number[]) => {
          const [res, ups, other] = await upstreamDuring(() => rawGet(proxy, target, API));
          assert.ok(statuses.includes(res.status), `${target}: ${res.status} ${res.text}`);
          assert.deepEqual(other, [], `${target}: nothing to backend B`);
          for (const up of ups) {
            assert.ok(up.target.startsWith("/alpha/"), `${target} -> ${up.target}`);
            assert.equal(signer(up), A1.accessKeyId, target);
          }
          assert.ok(!res.text.includes("beta"), `${target}: ${res.text}`);
          return { res, ups };
        };
        /** Refused by the proxy: a 400 (or 404 for no route), and nothing goes upstream. */
        const refused = async (target: string, status: number) => {
          const [res, a, b] = await upstreamDuring(() => rawGet(proxy, target, API));
          assert.equal(res.status, status, `${target}: ${res.text}`);
          assert.deepEqual([...a, ...b], [], `${target}: nothing upstream`);
        };

        // A `..` or `/` that appears only after decoding is a 400.
        await refused("/one/..%2Ftwo/x", 400);
        await refused("/one/%2e%2e%2Ftwo/x", 400);
        await refused("/one/a%2F..%2F..%2Ftwo/x", 400);
        await refused("/one/..%2F..%2Fkeys/x", 400);
        // An encoded slash in the prefix segment matches no route.
        await refused("/one%2F..%2Ftwo/x", 404);
        await refused("/one%2Ftwo/x", 404);
        await refused("//two/x", 404);
        // Encoded backslashes and double slashes are characters of route one's key.
        await staysInOne("/one/..%5Ctwo/x", [404]);
        await staysInOne("/one/%5C..%5C..%5Ctwo/x", [404]);
        const dbl = await staysInOne("/one//two/x", [200, 404]);
        assert.deepEqual(dbl.ups.map((u) => u.target), ["/alpha//two/x"]);
        // A raw backslash is a slash (as in browsers, and as Bun reads it): inside route one
        // it names route one's key `two/x`.
        const bs = await staysInOne("/one\\two/x", [200]);
        assert.equal(bs.res.text, "alpha two/x");

        // Dot segments are resolved BEFORE matching, the same on Deno and Bun: the path is
        // route two's own, served by route two with its own credentials, as if asked directly.
        for (
          const target of [
            "/one/%2e%2e/two/x",
            "/one/../two/x",
            "/one/..\\two/x",
            "/one/x/.%2E/%2e%2e/two/x",
          ]
        ) {
          const [res, a, b] = await upstreamDuring(() => rawGet(proxy, target, API));
          assert.equal(res.status, 200, `${target}: ${res.text}`);
          assert.equal(res.text, "beta x", target);
          assert.deepEqual(a, [], `${target}: nothing to backend A`);
          assert.deepEqual(b.map((u) => `${u.target} ${signer(u)}`), [`/beta/x ${B1.accessKeyId}`]);
          // curl gets route two's redirect, which verifies at backend B.
          const redirect = await rawGet(proxy, target, CURL);
          assert.equal(redirect.status, 307, target);
          const location = redirect.headers.get("location")!;
          assert.ok(location.startsWith(`http://${fwdB.host}/beta/x?`), location);
          assert.ok(
            new URL(location).searchParams.get("X-Amz-Credential")!.startsWith(B1.accessKeyId),
          );
          const followed = await fetch(location);
          assert.equal(await followed.text(), "beta x");
        }
        // Dots that climb above the root cannot climb out of the proxy either.
        await refused("/one/%2e%2e", 404);
        await refused("/one/../../../", 404);
      });

      test("aws-cli ls/cp/sync through a prefixed endpoint (--endpoint-url .../b, path mode)", async () => {
        for (const cli of await findAwsClis()) {
          const endpoint = ["--endpoint-url", `${proxy.url}/b`, "--no-sign-request"];
          const [buckets, , bBuckets] = await upstreamDuring(() =>
            run(cli.cmd, ["s3", "ls", ...endpoint])
          );
          assert.equal(buckets.code, 0, `${cli.version} ls: ${buckets.stderr}`);
          for (const name of ["beta", "gamma", "delta"]) {
            assert.match(buckets.stdout, new RegExp(name));
          }
          assert.ok(bBuckets.every((u) => u.target.startsWith("/?") || u.target === "/"));

          const [ls, lsA, lsB] = await upstreamDuring(() =>
            run(cli.cmd, ["s3", "ls", "s3://gamma/", "--recursive", ...endpoint])
          );
          assert.equal(ls.code, 0, `${cli.version} ls gamma: ${ls.stderr}`);
          for (const [key] of GAMMA) assert.ok(ls.stdout.includes(key), `${key} in:\n${ls.stdout}`);
          assert.deepEqual(lsA, []);
          for (const up of lsB) {
            assert.match(up.target, /^\/gamma(\?|$)/, up.target);
            assert.equal(signer(up), B1.accessKeyId);
          }

          const dir = await Deno.makeTempDir({ prefix: "routes-aws-out-" });
          try {
            const cp = await run(cli.cmd, [
              "s3",
              "cp",
              "s3://gamma/a b/c+d.txt",
              `${dir}/one.txt`,
              ...endpoint,
            ]);
            assert.equal(cp.code, 0, `${cli.version} cp: ${cp.stderr}`);
            assert.equal(await Deno.readTextFile(`${dir}/one.txt`), "gamma plus and space");
            const [sync, sA, sB] = await upstreamDuring(() =>
              run(cli.cmd, ["s3", "sync", "s3://gamma", `${dir}/tree`, ...endpoint])
            );
            assert.equal(sync.code, 0, `${cli.version} sync: ${sync.stderr}`);
            assert.deepEqual(await readTree(`${dir}/tree`), new Map(GAMMA));
            assert.deepEqual(sA, []);
            assert.ok(sB.length >= GAMMA.length);
            for (const up of sB) {
              assert.match(up.target, /^\/gamma[/?]?/, up.target);
              assert.equal(signer(up), B1.accessKeyId);
            }
          } finally {
            await Deno.remove(dir, { recursive: true }).catch(() => {});
          }
        }
        // Every request of the CLI was served by route /b/, streamed (not redirected).
        const logged = proxy.jsonLines().filter((l) =>
          l.event === "request" && l.client === "api" && String(l.path).startsWith("/b/")
        );
        assert.ok(logged.length > GAMMA.length, `${logged.length} requests`);
        for (const l of logged) {
          assert.equal(l.route, "/b/", JSON.stringify(l));
          assert.ok((l.status as number) < 300, JSON.stringify(l));
        }
      });

      test("reload under load: SIGHUP and a file change, good and bad; in-flight requests finish", async () => {
        const file = `${scratch}/${runtime}-reload.json`;
        const one = {
          AUTH: "none",
          prefix: "/one/",
          AWS_ENDPOINT_HOST: fwdA.host,
          S3_BUCKET: "alpha",
          AWS_ACCESS_KEY_ID: A1.accessKeyId,
          AWS_SECRET_ACCESS_KEY: A1.secretAccessKey,
        };
        const two = {
          AUTH: "none",
          prefix: "/two/",
          AWS_ENDPOINT_HOST: fwdB.host,
          S3_BUCKET: "beta",
        };
        const three = {
          AUTH: "none",
          prefix: "/three/",
          AWS_ENDPOINT_HOST: fwdB.host,
          S3_BUCKET: "delta",
          AWS_PROFILE: PROFILE,
        };
        await replaceFile(file, JSON.stringify({ routes: [one, two] }));
        await using p = await start("reload", baseEnv({ ROUTES_FILE: file }));

        // Load on route two for the whole test: proxied pages and redirects, 3 at a time.
        let stop = false;
        const counts = { ok: 0, failed: [] as string[] };
        const worker = async (i: number) => {
          while (!stop) {
            const path = i % 2 ? "/two/index.html" : "/two/docs/file.txt";
            try {
              const res = await fetch(p.url + path, { headers: CURL, redirect: "manual" });
              const text = await res.text();
              const want = i % 2 ? 200 : 307;
              if (res.status !== want) {
                counts.failed.push(`${path}: ${res.status} ${text}`);
                continue;
              }
              if (res.status === 307) {
                // Every redirect verifies at the backend it points at.
                const followed = await fetch(res.headers.get("location")!);
                const body = await followed.text();
                if (followed.status !== 200 || body !== "beta file") {
                  counts.failed.push(`${path} -> Location: ${followed.status} ${body}`);
                  continue;
                }
              }
              counts.ok++;
            } catch (e) {
              counts.failed.push(`${path}: ${e}`);
            }
          }
        };
        const load = Promise.all([0, 1, 2].map(worker));
        // The load stops however this ends: a failed step must not leave it spinning forever.
        try {
          // A large download on route one, started and left in flight.
          const big = await fetch(p.url + `/one/${BIG_KEY}`, { headers: API });
          assert.equal(big.status, 200);
          const reader = big.body!.getReader();
          const first = await reader.read();
          assert.ok(!first.done && first.value.length > 0);

          let hups = 0;
          const reloaded = (reason: string, nth: number) => {
            let seen = 0;
            return p.waitForLine(
              (l) =>
                l.includes('"event":"routes_reloaded"') && l.includes(`"reason":"${reason}"`) &&
                ++seen >= nth,
              15_000,
              `routes_reloaded #${nth} (${reason})`,
            );
          };
          const failed = (reason: string, nth: number) => {
            let seen = 0;
            return p.waitForLine(
              (l) =>
                l.includes('"event":"routes_reload_failed"') &&
                l.includes(`"reason":"${reason}"`) &&
                ++seen >= nth,
              15_000,
              `routes_reload_failed #${nth} (${reason})`,
            );
          };

          // 1. SIGHUP, after a good file with a third route (a profile) was written.
          await replaceFile(file, JSON.stringify({ routes: [one, two, three] }));
          Deno.kill(p.pid, "SIGHUP");
          const r1 = JSON.parse(await reloaded("SIGHUP", ++hups));
          assert.deepEqual(r1.routes, ["/one/", "/two/", "/three/"]);
          const got3 = await get(p, "/three/index.html");
          assert.equal(got3.status, 200, got3.text);
          assert.equal(got3.text, "<p>delta home</p>");

          // 2. A change of the file (no signal): route one is gone, its download goes on.
          await replaceFile(file, JSON.stringify({ routes: [two, three] }));
          const r2 = JSON.parse(await reloaded("changed", 1));
          assert.deepEqual(r2.routes, ["/two/", "/three/"]);
          const gone = await get(p, "/one/index.html", API);
          assert.equal(gone.status, 404, gone.text);

          // 3. A bad file (every problem logged; world-readable with a secret): routes stay.
          const secret = generateKeyPair().secretAccessKey;
          secrets.add(secret);
          const bad = {
            routes: [
              two,
              { ...three, S3_BUKET: "x" },
              { AUTH: "none", prefix: "/four", PRESIGN_EXPIRES: 0 },
              { AUTH: "none", prefix: "/two/", REDIRECT: "sometimes" },
              { AUTH: "none", prefix: "/five/", AWS_ACCESS_KEY_ID: "AKIAONLY" },
              {
                AUTH: "none",
                prefix: "/six/",
                AWS_ACCESS_KEY_ID: "AKIASIX",
                AWS_SECRET_ACCESS_KEY: secret,
              },
            ],
          };
          await replaceFile(file, JSON.stringify(bad), 0o644);
          const f1 = JSON.parse(await failed("changed", 1));
          const expected = [
            /route 1 \(\/three\/\): unknown key "S3_BUKET" \(did you mean S3_BUCKET\?\)/,
            /route 2 \(\/four\): "prefix" must start and end with \//,
            /route 2 \(\/four\): PRESIGN_EXPIRES/,
            /route 3 \(\/two\/\): REDIRECT: "sometimes"/,
            /route 3 \(\/two\/\): the prefix is the same as route 0/,
            /route 4 \(\/five\/\): AWS_ACCESS_KEY_ID: needs AWS_SECRET_ACCESS_KEY/,
            /holds a secret \(AWS_SECRET_ACCESS_KEY in route 5 \(\/six\/\)\).*\(mode 0644\)/,
          ];
          for (const re of expected) {
            assert.ok(
              (f1.errors as string[]).some((e) => re.test(e)),
              `${re} in:\n${f1.errors.join("\n")}`,
            );
          }
          const still = await get(p, "/three/docs/file.txt");
          assert.equal(still.status, 307, "the running routes keep serving");
          const followed = await fetch(still.headers.get("location")!);
          assert.equal(await followed.text(), "delta file", "verified at backend B, with B2");
          // SIGHUP with the bad file still there: tried again, refused again.
          Deno.kill(p.pid, "SIGHUP");
          const f2 = JSON.parse(await failed("SIGHUP", 1));
          assert.deepEqual(f2.errors, f1.errors);
          assert.equal((await get(p, "/three/index.html")).status, 200);

          // 4. A good file again.
          await replaceFile(file, JSON.stringify({ routes: [one, two] }));
          const r3 = JSON.parse(await reloaded("changed", 2));
          assert.deepEqual(r3.routes, ["/one/", "/two/"]);
          assert.equal((await get(p, "/three/index.html", API)).status, 404);
          assert.equal((await get(p, "/one/index.html")).text, "<p>alpha home</p>");

          // The download that began before all this ends whole.
          const chunks = [first.value];
          for (let r; !(r = await reader.read()).done;) chunks.push(r.value);
          assert.equal(sha256(concat(chunks)), sha256(BIG_BODY));
        } finally {
          stop = true;
          await load;
        }
        assert.deepEqual(counts.failed, [], "no failed request");
        assert.ok(counts.ok >= 10, `${counts.ok} requests under load`);
        const errors = p.jsonLines().filter((l) => l.event === "request" && l.level === "error");
        assert.deepEqual(errors, []);
      });

      test("every validation error at once: exit code 2, each naming route index+prefix and key", async () => {
        const file = `${scratch}/${runtime}-bad.json`;
        const secret = generateKeyPair().secretAccessKey;
        secrets.add(secret);
        await replaceFile(
          file,
          JSON.stringify({
            routes: [
              { AUTH: "none", prefix: "/a/", S3_BUKET: "x" },
              { AUTH: "none", prefix: "/b/", PORT: 9000 },
              {
                AUTH: "none",
                prefix: "/c/",
                PRESIGN_EXPIRES: 0,
                REDIRECT: "sometimes",
                AWS_ENDPOINT_SCHEME: "ftp",
              },
              { AUTH: "none", prefix: "nolead/" },
              { AUTH: "none", prefix: "/noend" },
              { AUTH: "none", prefix: "/a/" },
              { AUTH: "none", prefix: "/k/", AWS_ACCESS_KEY_ID: "AKIAONLY" },
              { AUTH: "none", prefix: "/f/", AWS_SIGNING_KEY_FILE: keysFile },
              {
                AUTH: "none",
                prefix: "/s/",
                AWS_ACCESS_KEY_ID: "AKIASECRET",
                AWS_SECRET_ACCESS_KEY: secret,
              },
            ],
          }),
          0o644,
        );
        const exit = await startProxyExpectingExit({
          runtime,
          viaTask: runtime === "deno",
          env: baseEnv({ ROUTES_FILE: file }),
        });
        outputs.push({
          label: `${runtime} validation`,
          lines: () => [...exit.stdout.split("\n"), ...exit.stderr.split("\n")],
        });
        assert.equal(exit.code, 2, exit.stderr);
        assert.doesNotMatch(exit.stdout, /"event":"listening"/);
        const where = `ROUTES_FILE \\(${file.replaceAll(".", "\\.")}\\): `;
        for (
          const re of [
            /route 0 \(\/a\/\): unknown key "S3_BUKET" \(did you mean S3_BUCKET\?\)/,
            /route 1 \(\/b\/\): PORT: is a setting of the whole server/,
            /route 2 \(\/c\/\): PRESIGN_EXPIRES/,
            /route 2 \(\/c\/\): REDIRECT: "sometimes"/,
            /route 2 \(\/c\/\): AWS_ENDPOINT_SCHEME/,
            /route 3 \(nolead\/\): "prefix" must start and end with \//,
            /route 4 \(\/noend\): "prefix" must start and end with \//,
            /route 5 \(\/a\/\): the prefix is the same as route 0 \(\/a\/\)'s/,
            /route 6 \(\/k\/\): AWS_ACCESS_KEY_ID: needs AWS_SECRET_ACCESS_KEY/,
            /route 7 \(\/f\/\): AWS_SIGNING_KEY_FILE: needs AWS_ACCESS_KEY_ID/,
            /holds a secret \(AWS_SECRET_ACCESS_KEY in route 8 \(\/s\/\)\) but is readable by group or others \(mode 0644\).*chmod 600/,
          ]
        ) {
          assert.match(exit.stderr, new RegExp(`  - ${where}.*${re.source}`), `${re}`);
        }
        assert.ok(!exit.stderr.includes(secret));

        // The same file made private and fixed: it serves.
        await replaceFile(
          file,
          JSON.stringify({
            routes: [{
              AUTH: "none",
              prefix: "/s/",
              AWS_ENDPOINT_HOST: fwdA.host,
              S3_BUCKET: "alpha",
              AWS_ACCESS_KEY_ID: A1.accessKeyId,
              AWS_SECRET_ACCESS_KEY: A1.secretAccessKey,
            }],
          }),
          0o600,
        );
        await using p = await start("private file", baseEnv({ ROUTES_FILE: file }));
        assert.equal((await get(p, "/s/index.html")).text, "<p>alpha home</p>");
      });

      test("SIGHUP without a routes file, credentials only in the environment, does not stop it", async () => {
        await using p = await start("no routes file", {
          HOME: emptyHome,
          AWS_ACCESS_KEY_ID: B1.accessKeyId,
          AWS_SECRET_ACCESS_KEY: B1.secretAccessKey,
          AWS_ENDPOINT_HOST: fwdB.host,
          AWS_ENDPOINT_SCHEME: "http",
        });
        for (let i = 0; i < 3; i++) {
          Deno.kill(p.pid, "SIGHUP");
          const page = await get(p, "/beta/index.html");
          assert.equal(page.status, 200, page.text);
          assert.equal(page.text, "<p>beta home</p>");
        }
        // Signals arrive in order (and a pending SIGHUP before a SIGTERM): had SIGHUP's default
        // action run, the process would have died of it, without the shutdown line.
        const status = await p.stop("SIGTERM");
        assert.deepEqual(status, { code: 0, signal: null }, p.lines().join("\n"));
        assert.ok(p.jsonLines().some((l) => l.event === "shutdown" && l.signal === "SIGTERM"));
      });
    });
  }

  test("no secret from the routes file, the environment or a key file in any output or response", () => {
    const values = [...secrets].flatMap((s) => [s, encodeURIComponent(s)]);
    assert.ok(outputs.length >= 10, `${outputs.length} outputs`);
    assert.ok(responses.length > 50, `${responses.length} responses`);
    for (const { label, lines } of outputs) {
      assert.ok(lines().length > 0, label);
      for (const line of lines()) {
        for (const s of values) assert.ok(!line.includes(s), `${label}: a secret in: ${line}`);
        assert.doesNotMatch(line, /[0-9a-f]{64}/i, `${label}: a signature or key in: ${line}`);
      }
    }
    for (const text of responses) {
      for (const s of values) assert.ok(!text.includes(s), `a secret in a response: ${text}`);
    }
  });
});
