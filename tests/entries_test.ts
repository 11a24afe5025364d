/**
 * One suite, three entries: the same table of cases against the proxy under Deno and under Bun
 * (src/main.ts, via tests/support/proxy.ts) and as a Cloudflare Worker under workerd
 * (src/worker.ts, via tests/support/workerd.ts), each in front of `@20minutes/s3rver`, which
 * verifies every signature. Each server has three routes: `/` for the bucket, `/down/` for a
 * backend port nothing listens on, and `/www/` for the bucket as a website with an error page; Deno and Bun read them from a routes file, the Worker from its
 * `ROUTES` binding. A recording forwarder sits between the servers and s3rver, so a case can show
 * that nothing went upstream.
 *
 * What differs, measured here and asserted per entry: the framing of a streamed body (Deno keeps
 * S3's Content-Length; Bun and workerd send it chunked), and workerd's refused connection, which
 * its fetch reports only as "Network connection lost." (the 502 says "connection refused or
 * lost"). Everything else is the same answer, byte for byte.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, startProxy } from "./support/proxy.ts";
import { startWorker, type WorkerHandle } from "./support/workerd.ts";
import { closedPort, type Forwarder, startForwarder } from "./support/forwarder.ts";
import { rawRequest, type Wire } from "./support/wire.ts";
import { prng } from "./support/random.ts";

type Entry = "deno" | "bun" | "worker";

/** What a case sees of the server under test. */
interface Server {
  entry: Entry;
  port: number;
}

const AWSCLI = { "user-agent": "aws-cli/2.9.19 Python/3.11 Linux botocore/2.0" };
const CURL = { "user-agent": "curl/8.5.0" };

function bytesOf(n: number, seed: number): Uint8Array {
  const rand = prng(seed);
  return Uint8Array.from({ length: n }, () => (rand() * 256) | 0);
}

const FILE = bytesOf(3000, 1);
/** Over 64 KiB: streamed, not read whole (relay.ts). */
const INDEX = new TextEncoder().encode(
  "<!doctype html><title>site</title>\n" + "<p>a paragraph of the site</p>\n".repeat(4000),
);
const SMALL_GZ = new Uint8Array(gzipSync("compressed text, stored gzipped\n".repeat(60)));
/** Random bytes do not compress: the gzip stream is over 64 KiB, so it is streamed. */
const LARGE_GZ = new Uint8Array(gzipSync(bytesOf(150_000, 2)));
assert.ok(LARGE_GZ.length > 64 * 1024);
const ERROR_PAGE_GZ = new Uint8Array(gzipSync("<!doctype html><h1>Not here</h1>\n".repeat(20)));

let s3: S3rverHandle;
let forwarder: Forwarder;
let etag: string;

/** Follows a 307's Location (at the forwarder, then s3rver) with fetch. */
async function follow(res: Wire, method = "GET"): Promise<Response> {
  assert.equal(res.status, 307);
  const location = res.headers.get("location") ?? "";
  assert.ok(location.startsWith(`http://${forwarder.host}/bkt/`), `Location: ${location}`);
  assert.match(location, /X-Amz-Signature=[0-9a-f]{64}/);
  return await fetch(location, { method });
}

/** The framing of a streamed body on each entry. */
function assertStreamedFraming(server: Server, res: Wire, size: number): void {
  if (server.entry === "deno") {
    assert.equal(res.headers.get("content-length"), String(size));
    assert.equal(res.chunked, false);
  } else {
    assert.equal(res.headers.get("content-length"), null);
    assert.equal(res.chunked, true);
  }
}

interface Case {
  name: string;
  method?: string;
  target: string;
  headers?: Record<string, string> | (() => Record<string, string>);
  /** Nothing may reach the backend. */
  local?: boolean;
  check(res: Wire, server: Server): void | Promise<void>;
}

const CASES: Case[] = [
  {
    name: "GET from curl: a 307 to a presigned URL that s3rver accepts",
    target: "/bkt/files/report.bin",
    headers: CURL,
    async check(res) {
      const followed = await follow(res);
      assert.equal(followed.status, 200);
      assert.deepEqual(new Uint8Array(await followed.arrayBuffer()), FILE);
    },
  },
  {
    name: "HEAD from curl: a HEAD-signed 307",
    method: "HEAD",
    target: "/bkt/files/report.bin",
    headers: CURL,
    async check(res) {
      const followed = await follow(res, "HEAD");
      await followed.body?.cancel();
      assert.equal(followed.status, 200);
      assert.equal(followed.headers.get("content-length"), String(FILE.length));
    },
  },
  {
    name: "index.html: streamed through, bytes and type as stored",
    target: "/bkt/site/index.html",
    headers: CURL,
    check(res, server) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-type"), "text/html");
      assert.deepEqual(res.body, INDEX);
      assertStreamedFraming(server, res, INDEX.length);
    },
  },
  {
    name: "a small gzip-stored object: its bytes as stored, labelled gzip",
    target: "/bkt/gz/small.txt",
    headers: { ...AWSCLI, "accept-encoding": "gzip" },
    check(res) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.equal(res.headers.get("content-length"), String(SMALL_GZ.length));
      assert.deepEqual(res.body, SMALL_GZ);
    },
  },
  {
    name: "a large gzip-stored object: streamed as stored, never gzipped twice",
    target: "/bkt/gz/large.bin",
    headers: { ...AWSCLI, "accept-encoding": "gzip" },
    check(res, server) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.deepEqual(res.body, LARGE_GZ);
      assertStreamedFraming(server, res, LARGE_GZ.length);
    },
  },
  {
    name: "Accept-Encoding: identity: still the stored gzip bytes (nothing decodes them)",
    target: "/bkt/gz/small.txt",
    headers: { ...AWSCLI, "accept-encoding": "identity" },
    check(res) {
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.deepEqual(res.body, SMALL_GZ);
    },
  },
  {
    name: "a gzip-stored ERROR_DOCUMENT: a 404 with its bytes as stored, labelled gzip",
    target: "/www/no/such/page",
    headers: {
      "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0",
      accept: "text/html",
      "sec-fetch-mode": "navigate",
      "accept-encoding": "gzip",
    },
    check(res) {
      assert.equal(res.status, 404);
      assert.equal(res.headers.get("content-encoding"), "gzip");
      assert.deepEqual(res.body, ERROR_PAGE_GZ);
    },
  },
  {
    name: "Range: 206 with S3's Content-Range",
    target: "/bkt/files/report.bin",
    headers: { ...AWSCLI, range: "bytes=100-199" },
    check(res) {
      assert.equal(res.status, 206);
      assert.equal(res.headers.get("content-range"), `bytes 100-199/${FILE.length}`);
      assert.deepEqual(res.body, FILE.subarray(100, 200));
    },
  },
  {
    name: "If-None-Match with the ETag: 304, no body",
    target: "/bkt/files/report.bin",
    headers: () => ({ ...AWSCLI, "if-none-match": etag }),
    check(res) {
      assert.equal(res.status, 304);
      assert.equal(res.body.length, 0);
    },
  },
  {
    name: "PUT: 405 with Allow, nothing upstream",
    method: "PUT",
    target: "/bkt/files/report.bin",
    headers: { ...AWSCLI, "content-length": "0" },
    local: true,
    check(res) {
      assert.equal(res.status, 405);
      assert.equal(res.headers.get("allow"), "GET, HEAD");
    },
  },
  {
    name: "?acl: 403 for a sub-resource, nothing upstream",
    target: "/bkt/files/report.bin?acl",
    headers: AWSCLI,
    local: true,
    check(res) {
      assert.equal(res.status, 403);
      assert.match(res.text, /acl/);
    },
  },
  {
    name: "a bad escape: 400, nothing upstream",
    target: "/bkt/files/a%zzb",
    headers: CURL,
    local: true,
    check(res) {
      assert.equal(res.status, 400);
    },
  },
  {
    name: "bytes that are not UTF-8: 400, nothing upstream",
    target: "/bkt/files/%C3",
    headers: CURL,
    local: true,
    check(res) {
      assert.equal(res.status, 400);
    },
  },
  {
    name: "a refused backend: 502 naming the failure",
    target: "/down/bkt/site/index.html",
    headers: CURL,
    check(res, server) {
      assert.equal(res.status, 502);
      const kind = server.entry === "worker" ? "connection refused or lost" : "connection refused";
      assert.match(res.text, new RegExp(`the backend is unreachable \\(${kind}\\)`));
      assert.doesNotMatch(res.text, /127\.0\.0\.1/);
    },
  },
];

/** The routes of every entry: the bucket at `/`, a dead backend at `/down/`. */
function routesDocument(downPort: number) {
  return {
    routes: [
      { prefix: "/", AUTH: "none" },
      { prefix: "/down/", AUTH: "none", AWS_ENDPOINT_HOST: `127.0.0.1:${downPort}` },
      { prefix: "/www/", AUTH: "none", S3_BUCKET: "bkt", ERROR_DOCUMENT: "gz/404.html" },
    ],
  };
}

describe("the Deno, Bun and Worker entries answer alike", () => {
  let routesFile: string;
  let env: Record<string, string>;
  let routes: ReturnType<typeof routesDocument>;
  before(async () => {
    s3 = await startS3rver({ buckets: ["bkt"] });
    await s3.putObject("bkt", "files/report.bin", FILE);
    await s3.putObject("bkt", "site/index.html", INDEX, { "content-type": "text/html" });
    // PutObject with Content-Encoding, through the handle's signed fetch.
    const gzipped = [
      ["gz/small.txt", SMALL_GZ],
      ["gz/large.bin", LARGE_GZ],
      ["gz/404.html", ERROR_PAGE_GZ],
    ] as const;
    for (const [key, body] of gzipped) {
      const put = await s3.signedFetch(`/bkt/${key}`, {
        method: "PUT",
        body,
        headers: { "content-encoding": "gzip", "content-type": "application/octet-stream" },
      });
      await put.body?.cancel();
      assert.equal(put.status, 200);
    }
    etag = (await s3.getObject("bkt", "files/report.bin")).headers.get("etag")!;
    assert.ok(etag);
    forwarder = startForwarder(s3.port);
    routes = routesDocument(closedPort());
    routesFile = await Deno.makeTempFile({ suffix: ".json" });
    await Deno.writeTextFile(routesFile, JSON.stringify(routes));
    env = {
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AWS_ENDPOINT_HOST: forwarder.host,
      AWS_ENDPOINT_SCHEME: "http",
    };
  });
  after(async () => {
    await forwarder?.close();
    await s3?.stop();
    if (routesFile) await Deno.remove(routesFile).catch(() => {});
  });

  for (const entry of ["deno", "bun", "worker"] as const) {
    describe(`as ${entry === "worker" ? "a Worker under workerd" : `${entry} src/main.ts`}`, () => {
      let handle: ProxyHandle | WorkerHandle;
      before(async () => {
        handle = entry === "worker"
          ? await startWorker({ bindings: { ...env, ROUTES: routes } })
          : await startProxy({ runtime: entry, env: { ...env, ROUTES_FILE: routesFile } });
      });
      after(() => handle?.stop());

      for (const c of CASES) {
        test(c.name, async () => {
          const server = { entry, port: handle.port };
          const headers = typeof c.headers === "function" ? c.headers() : c.headers;
          const seen = forwarder.seen.length;
          const res = await rawRequest(handle.port, c.method ?? "GET", c.target, headers);
          if (c.local) assert.equal(forwarder.seen.length, seen, "nothing went upstream");
          await c.check(res, server);
        });
      }
    });
  }
});
