/**
 * End to end, issue 3's proof: the proxy (src/main.ts) as a child process under Deno and under
 * Bun, in front of `@20minutes/s3rver@5.0.0`, which verifies SigV4 header and query signatures.
 *
 * One s3rver for the file. In front of it, a TCP forwarder that records the request line and
 * headers of every request that reaches the fake (the proxies are pointed at the forwarder), so a
 * test can prove that nothing went upstream, or exactly what did. Hostile request targets are sent
 * with a raw HTTP/1.1 client (fetch would normalise them), and redirects are followed by sending
 * the Location's path and query verbatim.
 *
 * Inputs kept out because of the fake (see the quirks in tests/support/s3rver.ts):
 * - listed buckets hold no key with `& < > '` or a backtick: s3rver escapes those twice in its
 *   listing XML, which the proxy relays as it is (the redirect and spelling tests do use them);
 * - `//` in a key is tested for the signature only: s3rver stores `a//b` as `a/b`;
 * - with a delimiter, s3rver lists a folder only when it holds an object directly (`zz/a/b` alone
 *   is not listed under `zz/`): every folder of a listed key holds a key here;
 * - no suffix Range (`bytes=-n`, read as `0-n`), no If-Match/If-Unmodified-Since (never 412),
 *   and no ETag is expected on a 304 (s3rver sends none; real S3 does).
 *
 * @module
 */
import { rawRequest, type Wire } from "./support/wire.ts";

const encoder = new TextEncoder();
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeXmlText, encodeKey, type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  type ProxyHandle,
  type Runtime,
  startProxy,
  startProxyExpectingExit,
} from "./support/proxy.ts";
import { closedPort, type Forwarder, startForwarder, type Upstream } from "./support/forwarder.ts";
import { concat } from "./support/bytes.ts";
import { deriveSigningKey } from "../src/s3/sigv4.ts";

// ---------------------------------------------------------------------------------------------
// A raw HTTP/1.1 client (tests/support/wire.ts): the request target goes on the wire byte for byte.

/** Sends `method` to a Location exactly as given (its host in `Host`, path and query verbatim). */
function follow(location: string, method = "GET"): Promise<Wire> {
  const m = /^http:\/\/((?:127\.0\.0\.1|localhost):(\d+))(\/[^#\s]*)$/.exec(location);
  assert.ok(m, `unexpected Location: ${location}`);
  return rawRequest(Number(m[2]), method, m[3], {}, m[1]);
}

/** The path of a Location, without its query. */
function locationPath(location: string): string {
  return new URL(location).pathname;
}

// ---------------------------------------------------------------------------------------------
// A server that accepts and never answers (the recording forwarder is in support/forwarder.ts).

/** A TCP server that accepts connections and never writes a byte. */
function startSilentServer(): { port: number; close(): Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) conns.push(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed by the peer */ }
      }
      await accepting;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Test data

const BUCKET = "bkt";
/** Listed buckets: no `& < > '` or backtick in their keys (s3rver escapes those twice). */
const LISTED = "lst";
const OTHER = "other";
const SECRET_TEXT = "TOP-SECRET-other-bucket-" + crypto.randomUUID();
const TOKEN = "FwoGZXIvYXdzEJr//////////wEaDH+session/token+with=padding==" +
  crypto.randomUUID();

/** Redirected keys, each a class of bug in some peer project. */
const TRICKY_KEYS = [
  "ünïcödé/café.txt",
  "with space.txt",
  "a+b.txt",
  "a b.txt",
  "!'()*.txt",
  "=@$&;,:.txt",
  "100%.txt",
  "%41 literal escape.txt",
  "hash#tag.txt",
  "what?.txt",
  "~tilde~.txt",
  "trailing ",
  "emoji 😀.txt",
  "dir//double.txt",
];

const PAGE = "site/index.html";
const PAGE_HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "public, max-age=60",
  "content-disposition": 'inline; filename="index.html"',
};

/** One key reached by several spellings (raw UTF-8, escaped, lower-case hex, %61 for a...). */
const SPELL_KEY = "spell/Ab+ü c.txt";
const SPELL_PAGE = "spell/Ab+ü c/index.html";

function spellings(key: string): string[] {
  const [dir, name] = [key.slice(0, key.indexOf("/")), key.slice(key.indexOf("/") + 1)];
  return [
    "/bkt/" + encodeKey(key),
    "/bkt/" + encodeKey(key).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase()),
    // raw UTF-8 bytes and a raw `+` on the wire; only the space escaped
    "/bkt/" + key.replaceAll(" ", "%20"),
    // every unreserved letter of the directory escaped, plus a mix of cases
    "/bkt/" + [...dir].map((c) => "%" + c.charCodeAt(0).toString(16)).join("") + "/" +
    encodeKey(name).replace("A", "%41").replace("%2B", "%2b").replace(".", "%2E"),
  ];
}

const LISTED_KEYS = [
  "top.txt",
  "ünï.txt",
  "a b.txt",
  "a+b.txt",
  "100%.txt",
  "!()*.txt",
  "=@$;,:.txt",
  "~t.txt",
  "😀.txt",
  "ls/a.txt",
  "ls/b c.txt",
  "ls/ü.txt",
  "ls/+plus.txt",
  "ls/sub/x.txt",
  "ls/sub/y.txt",
  "ls/sub2/z.txt",
  "zz/k.txt",
  "zz/deep/k.txt",
];

function randomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  crypto.getRandomValues(out);
  return out;
}

/** Bodies by key: some text naming the key, then random bytes of a varying length. */
const BODIES = new Map<string, Uint8Array>();
function bodyFor(key: string): Uint8Array {
  let body = BODIES.get(key);
  if (!body) {
    body = concat([encoder.encode(`body of ${key}\n`), randomBytes(100 + BODIES.size * 37)]);
    BODIES.set(key, body);
  }
  return body;
}

function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll("-", "");
}

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function hex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** `<Key>`s and `<CommonPrefixes><Prefix>`es of a ListBucketResult, decoded. */
function parseListing(xml: string): { name: string; keys: string[]; prefixes: string[] } {
  assert.match(xml, /<ListBucketResult[\s>]/, xml.slice(0, 300));
  const name = decodeXmlText(/<Name>([^<]*)<\/Name>/.exec(xml)?.[1] ?? "");
  const keys = [...xml.matchAll(/<Contents>[\s\S]*?<Key>([^<]*)<\/Key>/g)].map((m) =>
    decodeXmlText(m[1])
  );
  const prefixes = [...xml.matchAll(/<CommonPrefixes>\s*<Prefix>([^<]*)<\/Prefix>/g)].map((m) =>
    decodeXmlText(m[1])
  );
  return { name, keys, prefixes };
}

/** What S3 lists for `prefix` and `delimiter` `/`, from the seeded keys. */
function expectedListing(keys: string[], prefix: string): { keys: string[]; prefixes: string[] } {
  const direct: string[] = [];
  const prefixes = new Set<string>();
  for (const key of keys.filter((k) => k.startsWith(prefix))) {
    const slash = key.indexOf("/", prefix.length);
    if (slash < 0) direct.push(key);
    else prefixes.add(key.slice(0, slash + 1));
  }
  return { keys: direct.sort(), prefixes: [...prefixes].sort() };
}

const sorted = (xs: string[]) => [...xs].sort();

/** Every line the proxy printed must be free of these; signatures are 64 hex digits. */
function assertNoSecrets(lines: string[], secrets: string[], what: string): void {
  for (const line of lines) {
    for (const secret of secrets) {
      assert.ok(!line.includes(secret), `${what}: a secret in: ${line}`);
    }
    assert.doesNotMatch(line, /[0-9a-f]{64}/i, `${what}: a signature or key in: ${line}`);
  }
}

// ---------------------------------------------------------------------------------------------

describe("the proxy against s3rver (issue 3)", () => {
  let s3: S3rverHandle;
  let forwarder: Forwarder;
  let silent: { port: number; close(): Promise<void> };
  let wrongSecret: string;

  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET, LISTED, OTHER] });
    forwarder = startForwarder(s3.port);
    silent = startSilentServer();
    wrongSecret = s3.secretAccessKey.slice(0, -4) + "WXYZ";
    const objects: [string, Uint8Array][] = [...TRICKY_KEYS, SPELL_KEY, SPELL_PAGE].map((k) => [
      k,
      bodyFor(k),
    ]);
    await s3.putObjects(BUCKET, objects);
    await s3.putObject(BUCKET, PAGE, bodyFor(PAGE), PAGE_HEADERS);
    await s3.putObjects(LISTED, LISTED_KEYS.map((k) => [k, bodyFor("lst:" + k)]));
    await s3.putObject(OTHER, "x", SECRET_TEXT);
    await s3.putObject(OTHER, "index.html", SECRET_TEXT);
  });

  after(async () => {
    await forwarder?.close();
    await silent?.close();
    await s3?.stop();
  });

  test("the fake holds the seed (listing of a bucket, a tricky key by its own client)", async () => {
    assert.deepEqual(sorted(await s3.listKeys(LISTED)), sorted(LISTED_KEYS));
    const got = await s3.getObject(BUCKET, "=@$&;,:.txt");
    assert.equal(got.status, 200);
    assert.deepEqual(got.bytes, bodyFor("=@$&;,:.txt"));
  });

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`under ${runtime}`, () => {
      // Taken when the proxies start: a run that crosses midnight UTC would see the key expire.
      let today = "";
      let yesterday = "";
      let main: ProxyHandle;
      let badCredentials: ProxyHandle;
      let dead: ProxyHandle;
      let hanging: ProxyHandle;
      let signingKey: ProxyHandle;
      let expiredKey: ProxyHandle;
      let oneBucket: ProxyHandle;
      let external: ProxyHandle;
      let all: ProxyHandle[] = [];
      let secrets: string[] = [];
      /** Texts of answers the proxy wrote itself (errors), scanned for secrets at the end. */
      const ownAnswers: string[] = [];
      const exitOutputs: string[] = [];

      before(async () => {
        today = utcDate(Date.now());
        yesterday = utcDate(Date.now() - 86_400_000);
        const keyToday = deriveSigningKey(s3.secretAccessKey, today, "us-east-1", "s3");
        const keyYesterday = deriveSigningKey(s3.secretAccessKey, yesterday, "us-east-1", "s3");
        secrets = [
          s3.secretAccessKey,
          wrongSecret,
          TOKEN,
          encodeURIComponent(TOKEN),
          base64(keyToday),
          base64(keyYesterday),
          hex(keyToday),
          hex(keyYesterday),
        ];
        const via = {
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_ENDPOINT_HOST: forwarder.host,
          AWS_ENDPOINT_SCHEME: "http",
        };
        const withSecret = { ...via, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey };
        const start = (env: Record<string, string>) => startProxy({ runtime, env });
        const started = await Promise.allSettled([
          start({ ...withSecret, AWS_SESSION_TOKEN: TOKEN }),
          start({ ...via, AWS_SECRET_ACCESS_KEY: wrongSecret }),
          start({ ...withSecret, AWS_ENDPOINT_HOST: `127.0.0.1:${closedPort()}` }),
          start({
            ...withSecret,
            AWS_ENDPOINT_HOST: `127.0.0.1:${silent.port}`,
            UPSTREAM_TIMEOUT: "0.5",
          }),
          start({
            ...via,
            AWS_SIGNING_KEY: base64(keyToday),
            AWS_KEY_SCOPE: `${today}/us-east-1/s3/aws4_request`,
          }),
          start({
            ...via,
            AWS_SIGNING_KEY: base64(keyYesterday),
            AWS_KEY_SCOPE: `${yesterday}/us-east-1/s3/aws4_request`,
          }),
          start({ ...withSecret, S3_BUCKET: BUCKET }),
          start({
            ...withSecret,
            AWS_ENDPOINT_HOST: s3.host,
            AWS_ENDPOINT_HOST_EXTERNAL: `localhost:${s3.port}`,
          }),
        ]);
        all = started.flatMap((r) => r.status === "fulfilled" ? [r.value] : []);
        const failed = started.find((r) => r.status === "rejected");
        if (failed) throw (failed as PromiseRejectedResult).reason;
        [main, badCredentials, dead, hanging, signingKey, expiredKey, oneBucket, external] = all;
      });

      after(async () => {
        await Promise.all(all.map((p) => p.stop()));
      });

      /** The forwarder's requests during `fn`. */
      async function upstreamDuring(fn: () => Promise<void>): Promise<Upstream[]> {
        const before = forwarder.seen.length;
        await fn();
        return forwarder.seen.slice(before);
      }

      // --- keys -----------------------------------------------------------------------------

      test("tricky keys: GET 307 to a GET-signed URL that serves the object's bytes", async () => {
        for (const key of TRICKY_KEYS) {
          const res = await rawRequest(main.port, "GET", "/bkt/" + encodeKey(key));
          assert.equal(res.status, 307, key);
          const location = res.headers.get("location")!;
          assert.ok(location.startsWith(`http://${forwarder.host}/bkt/`), location);
          assert.equal(locationPath(location), "/bkt/" + encodeKey(key), key);
          assert.match(location, /[?&]X-Amz-Expires=300(&|$)/);
          const got = await follow(location);
          assert.equal(got.status, 200, `${key}: ${got.text}`);
          assert.deepEqual(got.body, bodyFor(key), key);
        }
      });

      test("tricky keys: HEAD 307 to a HEAD-signed URL (HEAD works there, GET does not)", async () => {
        for (const key of TRICKY_KEYS) {
          const res = await rawRequest(main.port, "HEAD", "/bkt/" + encodeKey(key));
          assert.equal(res.status, 307, key);
          const location = res.headers.get("location")!;
          const head = await follow(location, "HEAD");
          assert.equal(head.status, 200, key);
          assert.equal(head.headers.get("content-length"), String(bodyFor(key).length), key);
          const get = await follow(location, "GET");
          assert.equal(get.status, 403, `${key}: a HEAD-signed URL must not serve a GET`);
          assert.match(get.text, /SignatureDoesNotMatch/);
        }
      });

      test("a raw + is a plus, %20 a space: two different objects", async () => {
        const plus = await follow(
          (await rawRequest(main.port, "GET", "/bkt/a+b.txt")).headers.get(
            "location",
          )!,
        );
        const space = await follow(
          (await rawRequest(main.port, "GET", "/bkt/a%20b.txt")).headers.get(
            "location",
          )!,
        );
        assert.deepEqual(plus.body, bodyFor("a+b.txt"));
        assert.deepEqual(space.body, bodyFor("a b.txt"));
      });

      test("every spelling of a redirected key reaches the same object", async () => {
        const paths = new Set<string>();
        for (const spelling of spellings(SPELL_KEY)) {
          const res = await rawRequest(main.port, "GET", spelling);
          assert.equal(res.status, 307, spelling);
          const location = res.headers.get("location")!;
          paths.add(locationPath(location));
          const got = await follow(location);
          assert.equal(got.status, 200, `${spelling}: ${got.text}`);
          assert.deepEqual(got.body, bodyFor(SPELL_KEY), spelling);
        }
        assert.deepEqual([...paths], ["/bkt/" + encodeKey(SPELL_KEY)]);
      });

      test("every spelling of a proxied key (index.html) reaches the same object", async () => {
        for (const spelling of spellings(SPELL_PAGE)) {
          const res = await rawRequest(main.port, "GET", spelling);
          assert.equal(res.status, 200, `${spelling}: ${res.text}`);
          assert.deepEqual(res.body, bodyFor(SPELL_PAGE), spelling);
        }
        const upstream = await upstreamDuring(async () => {
          await rawRequest(main.port, "GET", spellings(SPELL_PAGE)[3]);
        });
        assert.deepEqual(upstream.map((u) => u.target), ["/bkt/" + encodeKey(SPELL_PAGE)]);
      });

      // --- proxied objects --------------------------------------------------------------------

      test("index.html is streamed with the headers a client needs", async () => {
        const direct = await s3.getObject(BUCKET, PAGE);
        const res = await fetch(`${main.url}/bkt/${PAGE}`);
        const body = new Uint8Array(await res.arrayBuffer());
        assert.equal(res.status, 200);
        assert.deepEqual(body, bodyFor(PAGE));
        assert.equal(res.headers.get("content-type"), PAGE_HEADERS["content-type"]);
        assert.equal(res.headers.get("content-length"), String(bodyFor(PAGE).length));
        assert.equal(res.headers.get("etag"), direct.headers.get("etag"));
        assert.equal(res.headers.get("last-modified"), direct.headers.get("last-modified"));
        assert.equal(res.headers.get("accept-ranges"), "bytes");
        assert.equal(res.headers.get("cache-control"), PAGE_HEADERS["cache-control"]);
        assert.equal(res.headers.get("content-disposition"), PAGE_HEADERS["content-disposition"]);
        const head = await rawRequest(main.port, "HEAD", `/bkt/${PAGE}`);
        assert.equal(head.status, 200);
        assert.equal(head.headers.get("content-length"), String(bodyFor(PAGE).length));
        assert.equal(head.headers.get("etag"), direct.headers.get("etag"));
      });

      test("Range gives 206 with the right bytes and Content-Range", async () => {
        const size = bodyFor(PAGE).length;
        for (const [range, from, to] of [["bytes=10-19", 10, 19], ["bytes=5-", 5, size - 1]]) {
          const res = await fetch(`${main.url}/bkt/${PAGE}`, { headers: { range: String(range) } });
          assert.equal(res.status, 206, String(range));
          assert.equal(res.headers.get("content-range"), `bytes ${from}-${to}/${size}`);
          assert.deepEqual(
            new Uint8Array(await res.arrayBuffer()),
            bodyFor(PAGE).slice(Number(from), Number(to) + 1),
          );
        }
      });

      test("If-None-Match with the ETag gives 304; a Range past the end gives 416", async () => {
        const etag = (await s3.getObject(BUCKET, PAGE)).headers.get("etag")!;
        const notModified = await rawRequest(main.port, "GET", `/bkt/${PAGE}`, {
          "if-none-match": etag,
        });
        assert.equal(notModified.status, 304);
        assert.equal(notModified.body.length, 0);
        const other = await rawRequest(main.port, "GET", `/bkt/${PAGE}`, {
          "if-none-match": '"0123456789abcdef0123456789abcdef"',
        });
        assert.equal(other.status, 200);
        const size = bodyFor(PAGE).length;
        const past = await rawRequest(main.port, "GET", `/bkt/${PAGE}`, {
          range: `bytes=${size + 10}-`,
        });
        assert.equal(past.status, 416);
        assert.match(past.text, /InvalidRange/);
      });

      test("a missing key keeps S3's 404; a wrong secret keeps S3's 403", async () => {
        const missing = await rawRequest(main.port, "GET", "/bkt/nowhere/index.html");
        assert.equal(missing.status, 404);
        assert.match(missing.text, /NoSuchKey/);
        for (const path of [`/bkt/${PAGE}`, "/lst?list-type=2"]) {
          const denied = await rawRequest(badCredentials.port, "GET", path);
          assert.equal(denied.status, 403, `${path}: ${denied.text}`);
          assert.match(denied.text, /SignatureDoesNotMatch/);
        }
        const head = await rawRequest(badCredentials.port, "HEAD", `/bkt/${PAGE}`);
        assert.equal(head.status, 403);
      });

      test("client Authorization, Cookie and x-amz-* headers never go upstream", async () => {
        let res: Wire | undefined;
        const upstream = await upstreamDuring(async () => {
          res = await rawRequest(main.port, "GET", `/bkt/${PAGE}`, {
            authorization:
              "AWS4-HMAC-SHA256 Credential=AKIAEVIL/20200101/us-east-1/s3/aws4_request",
            cookie: "session=evil",
            "x-amz-security-token": "evil-token",
            "x-amz-meta-evil": "1",
            range: "bytes=0-4",
          });
        });
        assert.equal(res!.status, 206);
        assert.equal(upstream.length, 1);
        const headers = upstream[0].headers;
        assert.ok(headers.get("authorization")!.includes(`Credential=${s3.accessKeyId}/`));
        assert.equal(headers.get("cookie"), undefined);
        assert.equal(headers.get("x-amz-meta-evil"), undefined);
        assert.equal(headers.get("x-amz-security-token"), TOKEN);
        assert.equal(headers.get("range"), "bytes=0-4");
      });

      // --- listings ---------------------------------------------------------------------------

      test("ListObjectsV2 with prefix and delimiter: keys and common prefixes", async () => {
        for (const prefix of ["ls/", ""]) {
          const q = `list-type=2&prefix=${encodeURIComponent(prefix)}&delimiter=/`;
          const res = await fetch(`${main.url}/lst?${q}`);
          assert.equal(res.status, 200);
          assert.match(res.headers.get("content-type") ?? "", /xml/);
          const xml = await res.text();
          const listing = parseListing(xml);
          assert.equal(listing.name, LISTED);
          const expected = expectedListing(LISTED_KEYS, prefix);
          assert.deepEqual(sorted(listing.keys), expected.keys, prefix);
          assert.deepEqual(sorted(listing.prefixes), expected.prefixes, prefix);
          const direct = await s3.signedFetch(`/lst?${q}`);
          assert.equal(xml, await direct.text(), "relayed as S3 sent it");
        }
      });

      test("/bucket/?delimiter=/ lists the top level (upstream as /bucket)", async () => {
        let xml = "";
        const upstream = await upstreamDuring(async () => {
          const res = await rawRequest(main.port, "GET", "/lst/?delimiter=/");
          assert.equal(res.status, 200);
          xml = res.text;
        });
        const listing = parseListing(xml);
        const expected = expectedListing(LISTED_KEYS, "");
        assert.deepEqual(sorted(listing.keys), expected.keys);
        assert.deepEqual(sorted(listing.prefixes), expected.prefixes);
        assert.equal(upstream.length, 1);
        assert.match(upstream[0].target, /^\/lst\?/);
      });

      test("ListObjects V1 with marker and prefix", async () => {
        const res = await fetch(`${main.url}/lst?prefix=ls/&marker=ls/b`);
        assert.equal(res.status, 200);
        const listing = parseListing(await res.text());
        const expected = LISTED_KEYS.filter((k) => k.startsWith("ls/") && k > "ls/b");
        assert.deepEqual(sorted(listing.keys), sorted(expected));
        assert.ok(expected.length >= 3 && expected.length < 7);
      });

      test("ListObjectsV2 pages with max-keys and continuation-token", async () => {
        const keys: string[] = [];
        let token: string | undefined;
        let pages = 0;
        do {
          const q = "list-type=2&max-keys=4" +
            (token ? "&continuation-token=" + encodeURIComponent(token) : "");
          const res = await fetch(`${main.url}/lst?${q}`);
          const xml = await res.text();
          assert.equal(res.status, 200, xml);
          keys.push(...parseListing(xml).keys);
          const next = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml)?.[1];
          token = next === undefined ? undefined : decodeXmlText(next);
          pages++;
        } while (token !== undefined && pages < 20);
        assert.equal(pages, Math.ceil(LISTED_KEYS.length / 4));
        assert.deepEqual(sorted(keys), sorted(LISTED_KEYS));
      });

      test("aws s3api list-objects-v2 --no-sign-request through the proxy", async () => {
        const home = await Deno.makeTempDir({ prefix: "aws-home-" });
        try {
          const env: Record<string, string> = {
            HOME: home,
            PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
            AWS_EC2_METADATA_DISABLED: "true",
            AWS_DEFAULT_REGION: "us-east-1",
          };
          // pyenv's shim finds its Python through PYENV_ROOT (or $HOME/.pyenv)
          const pyenv = Deno.env.get("PYENV_ROOT") ??
            (Deno.env.get("HOME") ? Deno.env.get("HOME") + "/.pyenv" : undefined);
          if (pyenv) env.PYENV_ROOT = pyenv;
          const out = await new Deno.Command("aws", {
            args: [
              "s3api",
              "list-objects-v2",
              "--no-sign-request",
              "--endpoint-url",
              main.url,
              "--bucket",
              LISTED,
              "--output",
              "json",
            ],
            clearEnv: true,
            env,
            stdin: "null",
            signal: AbortSignal.timeout(30_000),
          }).output();
          const stderr = new TextDecoder().decode(out.stderr);
          assert.equal(out.code, 0, stderr);
          const parsed = JSON.parse(new TextDecoder().decode(out.stdout));
          const keys = (parsed.Contents as { Key: string }[]).map((c) => c.Key);
          assert.deepEqual(sorted(keys), sorted(LISTED_KEYS));
        } finally {
          await Deno.remove(home, { recursive: true });
        }
      });

      // --- refused ----------------------------------------------------------------------------

      test("PUT, POST, DELETE, PATCH: 405 with Allow on every route; nothing changes", async () => {
        const key = "with space.txt";
        const keysBefore = sorted(await s3.listKeys(BUCKET));
        const upstream = await upstreamDuring(async () => {
          for (const path of [`/bkt/${encodeKey(key)}`, `/bkt/${PAGE}`, "/bkt", "/bkt/"]) {
            for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
              const res = await fetch(main.url + path, {
                method,
                body: method === "DELETE" ? undefined : "overwritten",
              });
              const text = await res.text();
              assert.equal(res.status, 405, `${method} ${path}`);
              assert.equal(res.headers.get("allow"), "GET, HEAD", `${method} ${path}`);
              ownAnswers.push(text);
            }
          }
        });
        assert.deepEqual(upstream, []);
        assert.deepEqual((await s3.getObject(BUCKET, key)).bytes, bodyFor(key));
        assert.deepEqual((await s3.getObject(BUCKET, PAGE)).bytes, bodyFor(PAGE));
        assert.deepEqual(sorted(await s3.listKeys(BUCKET)), keysBefore);
      });

      test("sub-resources (?acl, ?policy, ?tagging) get a 403 that says why", async () => {
        const upstream = await upstreamDuring(async () => {
          for (
            const [path, sub] of [
              ["/bkt/with%20space.txt?acl", "acl"],
              ["/bkt?policy", "policy"],
              [`/bkt/${PAGE}?tagging`, "tagging"],
            ]
          ) {
            const res = await rawRequest(main.port, "GET", path);
            assert.equal(res.status, 403, path);
            assert.ok(res.text.includes(sub), res.text);
            assert.match(res.text, /sub-resource/);
            ownAnswers.push(res.text);
          }
        });
        assert.deepEqual(upstream, []);
      });

      test("bad input is a 400 and nothing reaches the backend", async () => {
        const targets = [
          "/bkt/%C3",
          "/bkt/a%ZZ",
          "/bkt/a%00b",
          "/bkt/%C3/index.html",
          "/bkt/a%ZZ/index.html",
          "/bkt/a%00b/index.html",
          "/bkt/%FF%FE/index.html",
          "/lst?list-type=2&prefix=%C3",
        ];
        const upstream = await upstreamDuring(async () => {
          for (const target of targets) {
            const res = await rawRequest(main.port, "GET", target);
            assert.equal(res.status, 400, target);
            assert.equal(res.headers.get("location"), null);
            ownAnswers.push(res.text);
          }
        });
        assert.deepEqual(upstream, []);
        for (const target of targets) {
          const line = await main.waitForLine(
            (l) => l.includes('"event":"request"') && l.includes(JSON.stringify(target)),
            5000,
            `the access-log line of ${target}`,
          );
          const entry = JSON.parse(line);
          assert.equal(entry.status, 400);
          assert.equal(entry.decision, "reject");
        }
        // the same route with a good key does go upstream: the counter counts
        const good = await upstreamDuring(async () => {
          assert.equal((await rawRequest(main.port, "GET", `/bkt/${PAGE}`)).status, 200);
        });
        assert.equal(good.length, 1);
      });

      // --- backend failures -------------------------------------------------------------------

      test("a dead backend: 502 promptly, naming the cause; the proxy stays up", async () => {
        for (const path of [`/bkt/${PAGE}`, "/lst?list-type=2"]) {
          const started = performance.now();
          const res = await rawRequest(dead.port, "GET", path);
          const ms = performance.now() - started;
          assert.equal(res.status, 502, path);
          assert.match(res.text, /unreachable/i);
          assert.match(res.text, /refused/i, "names the cause");
          assert.ok(ms < 3000, `took ${ms} ms`);
          ownAnswers.push(res.text);
        }
        const redirect = await rawRequest(dead.port, "GET", "/bkt/a.txt");
        assert.equal(redirect.status, 307);
      });

      test("a backend that never answers: 504 after UPSTREAM_TIMEOUT; the proxy stays up", async () => {
        for (let i = 0; i < 2; i++) {
          const started = performance.now();
          const res = await rawRequest(hanging.port, "GET", `/bkt/${PAGE}`);
          const ms = performance.now() - started;
          assert.equal(res.status, 504);
          assert.match(res.text, /no response within 0\.5 s/);
          assert.ok(ms >= 450 && ms < 4000, `took ${ms} ms`);
          ownAnswers.push(res.text);
        }
        assert.equal((await rawRequest(hanging.port, "GET", "/bkt/a.txt")).status, 307);
      });

      // --- signing-key mode -------------------------------------------------------------------

      test("signing-key mode serves proxied and redirected objects and listings", async () => {
        const page = await rawRequest(signingKey.port, "GET", `/bkt/${PAGE}`);
        assert.equal(page.status, 200, page.text);
        assert.deepEqual(page.body, bodyFor(PAGE));
        for (const method of ["GET", "HEAD"]) {
          const res = await rawRequest(signingKey.port, method, "/bkt/" + encodeKey(SPELL_KEY));
          assert.equal(res.status, 307);
          const got = await follow(res.headers.get("location")!, method);
          assert.equal(got.status, 200);
          if (method === "GET") assert.deepEqual(got.body, bodyFor(SPELL_KEY));
        }
        const list = await rawRequest(signingKey.port, "GET", "/lst?list-type=2&prefix=ls/sub/");
        assert.equal(list.status, 200);
        assert.deepEqual(sorted(parseListing(list.text).keys), ["ls/sub/x.txt", "ls/sub/y.txt"]);
      });

      test("a signing key scoped to yesterday: a loud line at start, then 503 'expired'", async () => {
        const loud = expiredKey.jsonLines().find((l) =>
          l.level === "error" && JSON.stringify(l).includes(yesterday) &&
          /signing.key/i.test(JSON.stringify(l))
        );
        assert.ok(loud, expiredKey.lines().join("\n"));
        const upstream = await upstreamDuring(async () => {
          for (const path of [`/bkt/${PAGE}`, "/bkt/" + encodeKey(SPELL_KEY), "/lst?list-type=2"]) {
            const res = await rawRequest(expiredKey.port, "GET", path);
            assert.equal(res.status, 503, path);
            assert.match(res.text, /signing key expired/i);
            ownAnswers.push(res.text);
          }
        });
        assert.deepEqual(upstream, []);
      });

      test("a signing key whose scope region is not the configured region: no start", async () => {
        const keyToday = deriveSigningKey(s3.secretAccessKey, today, "us-east-1", "s3");
        const out = await startProxyExpectingExit({
          runtime,
          env: {
            AWS_ACCESS_KEY_ID: s3.accessKeyId,
            AWS_SIGNING_KEY: base64(keyToday),
            AWS_KEY_SCOPE: `${today}/us-east-1/s3/aws4_request`,
            AWS_REGION: "eu-west-3",
            AWS_ENDPOINT_HOST: forwarder.host,
            AWS_ENDPOINT_SCHEME: "http",
          },
        });
        exitOutputs.push(out.stdout, out.stderr);
        assert.notEqual(out.code, 0);
        assert.match(out.stderr, /AWS_KEY_SCOPE/);
        assert.match(out.stderr, /eu-west-3/);
      });

      // --- S3_BUCKET mode ---------------------------------------------------------------------

      test("S3_BUCKET mode: /dir/file is key dir/file", async () => {
        const page = await rawRequest(oneBucket.port, "GET", `/${PAGE}`);
        assert.equal(page.status, 200);
        assert.deepEqual(page.body, bodyFor(PAGE));
        const res = await rawRequest(oneBucket.port, "GET", "/" + encodeKey(SPELL_KEY));
        assert.equal(res.status, 307);
        assert.equal(locationPath(res.headers.get("location")!), "/bkt/" + encodeKey(SPELL_KEY));
        assert.deepEqual((await follow(res.headers.get("location")!)).body, bodyFor(SPELL_KEY));
        const list = await rawRequest(oneBucket.port, "GET", "/?list-type=2&prefix=site/");
        assert.equal(list.status, 200);
        const listing = parseListing(list.text);
        assert.equal(listing.name, BUCKET);
        assert.deepEqual(listing.keys, [PAGE]);
      });

      test("S3_BUCKET mode: no spelling reaches another bucket", async () => {
        assert.equal((await s3.getObject(BUCKET, "other/x")).status, 404);
        const targets = [
          "/../other/x",
          "/%2e%2e/other/x",
          "/%2E%2E/other/index.html",
          "/%2F..%2Fother/x",
          "/..%2Fother/x",
          "/%2e%2e%2fother%2fx",
          "/./../other/index.html",
          "/a/../../other/x",
          "//other/x",
          "/../other",
          "/..",
          "/../other?list-type=2",
        ];
        const upstream = await upstreamDuring(async () => {
          for (const target of targets) {
            const res = await rawRequest(oneBucket.port, "GET", target);
            assert.ok(!res.text.includes(SECRET_TEXT), target);
            assert.ok([307, 400, 404, 200].includes(res.status), `${target}: ${res.status}`);
            const location = res.headers.get("location");
            if (location) {
              assert.ok(locationPath(location).startsWith("/bkt/"), `${target}: ${location}`);
              const got = await follow(location);
              assert.ok(!got.text.includes(SECRET_TEXT), target);
            }
          }
        });
        for (const u of upstream) assert.ok(u.target.startsWith("/bkt"), u.target);
        // the secret is there, for whoever may read the other bucket
        assert.equal((await s3.getObject(OTHER, "x")).text, SECRET_TEXT);
      });

      // --- AWS_ENDPOINT_HOST_EXTERNAL ---------------------------------------------------------

      test("AWS_ENDPOINT_HOST_EXTERNAL: the Location points at it and works", async () => {
        const res = await rawRequest(external.port, "GET", "/bkt/" + encodeKey(SPELL_KEY));
        assert.equal(res.status, 307);
        const location = res.headers.get("location")!;
        assert.ok(location.startsWith(`http://localhost:${s3.port}/bkt/`), location);
        const got = await fetch(location);
        assert.equal(got.status, 200);
        assert.deepEqual(new Uint8Array(await got.arrayBuffer()), bodyFor(SPELL_KEY));
        // signed for that name: the same URL sent with the internal Host is refused
        const path = location.slice(`http://localhost:${s3.port}`.length);
        assert.equal((await rawRequest(s3.port, "GET", path)).status, 403);
        const page = await rawRequest(external.port, "GET", `/bkt/${PAGE}`);
        assert.equal(page.status, 200);
        assert.deepEqual(page.body, bodyFor(PAGE));
      });

      // --- configuration, log, signals --------------------------------------------------------

      test("several bad variables: non-zero exit, every variable named on stderr", async () => {
        const out = await startProxyExpectingExit({
          runtime,
          env: {
            PORT: "eighty",
            AWS_ENDPOINT_SCHEME: "ftp",
            PRESIGN_EXPIRES: "0",
            UPSTREAM_TIMEOUT: "soon",
            S3_BUCKET: "no/slash",
            AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
          },
        });
        exitOutputs.push(out.stdout, out.stderr);
        assert.notEqual(out.code, 0);
        for (
          const name of [
            "PORT",
            "AWS_ENDPOINT_SCHEME",
            "PRESIGN_EXPIRES",
            "UPSTREAM_TIMEOUT",
            "S3_BUCKET",
            "AWS_ACCESS_KEY_ID",
          ]
        ) {
          assert.match(out.stderr, new RegExp(`\\b${name}\\b`), out.stderr);
        }
      });

      test("access log: one JSON line per request with method, path, status, decision", async () => {
        const mark = crypto.randomUUID();
        const requests: [string, string, number, string][] = [
          ["GET", `/bkt/${mark}/index.html`, 404, "proxy"],
          ["HEAD", `/bkt/${mark}.txt`, 307, "redirect"],
          ["GET", `/lst?list-type=2&prefix=${mark}`, 200, "bucket"],
          ["PUT", `/bkt/${mark}.txt`, 405, "reject"],
          ["GET", `/bkt/${mark}%ZZ`, 400, "reject"],
        ];
        for (const [method, path, status] of requests) {
          assert.equal(
            (await rawRequest(main.port, method, path)).status,
            status,
            `${method} ${path}`,
          );
        }
        await main.waitForLine((l) => l.includes(`${mark}%ZZ`), 5000, "the last log line");
        const lines = main.jsonLines().filter((l) => String(l.path).includes(mark));
        assert.equal(lines.length, requests.length, JSON.stringify(lines));
        lines.forEach((line, i) => {
          const [method, path, status, decision] = requests[i];
          assert.equal(line.event, "request");
          assert.equal(line.method, method);
          assert.equal(line.path, path);
          assert.equal(line.status, status);
          assert.equal(line.decision, decision);
        });
      });

      test("SIGTERM or SIGINT stops every proxy with exit code 0", async () => {
        for (const [i, proxy] of all.entries()) {
          const signal = i % 2 === 0 ? "SIGTERM" : "SIGINT";
          const status = await proxy.stop(signal);
          assert.deepEqual(status, { code: 0, signal: null }, proxy.lines().join("\n"));
          assert.ok(
            proxy.jsonLines().some((l) => l.event === "shutdown" && l.signal === signal),
            `${signal}: a shutdown line`,
          );
        }
      });

      test("no secret, signing key, session token or signature in any output", () => {
        assert.ok(all.length === 8 && all.every((p) => p.lines().length > 0));
        for (const proxy of all) assertNoSecrets(proxy.lines(), secrets, `${runtime} output`);
        assertNoSecrets(exitOutputs, secrets, `${runtime} exit output`);
        assertNoSecrets(ownAnswers, secrets, `${runtime} error answers`);
        assert.ok(ownAnswers.length > 20);
      });
    });
  }
});
