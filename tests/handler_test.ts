/**
 * src/handler.ts with an injected fake `fetch` (it records every upstream request) and a fixed
 * clock. Signatures are checked with an independent SigV4 verifier written here on node:crypto
 * (on the primitives of tests/support/sigv4_verify.ts, and cross-checked with aws4fetch): the
 * path sent is the canonical encoding of the key and is exactly the path signed. Also: header
 * hygiene both ways, statuses kept, HEAD, 502/504, redirects, credential failures, expired
 * signing keys, and that no secret reaches a log line or a response.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AwsV4Signer } from "aws4fetch";
import { type Config, parseConfig } from "../src/config.ts";
import { createHandler, type LogEntry } from "../src/handler.ts";
import type { CredentialProvider } from "../src/credentials/provider.ts";
import { encodeKeyPath } from "../src/s3/encode.ts";
import type { Credentials } from "../src/s3/sigv4.ts";
import {
  canonicalQuery,
  deriveKey,
  fold,
  hex,
  hmac,
  rfc3986,
  sha256hex,
} from "./support/sigv4_verify.ts";

// ---------------------------------------------------------------------------------------------
// Fixtures

const H = "http://proxy.test:8080";
const NOW = Date.UTC(2024, 0, 15, 12, 34, 56); // 20240115T123456Z
const AMZ_DATE = "20240115T123456Z";
const ACCESS_KEY = "AKIAHANDLERTEST0001";
const SECRET = "hAnDlErSeCrEt/K7MDENG+bPxRfiCYzzSECRETzz";
const TOKEN = "FwoGZXIvYXdzEJr//////////wEaDH+SESSION/token+with=padding==";
const CREDS: Credentials = { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET };
const CREDS_TOKEN: Credentials = { ...CREDS, sessionToken: TOKEN };

const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };
const CHROME = {
  "user-agent":
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
};
const AWSCLI = { "user-agent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 botocore/2.4.5" };

function cfg(env: Record<string, string> = {}): Config {
  const result = parseConfig(env);
  if (!result.ok) assert.fail(result.errors.join("; "));
  return result.config;
}

/** One upstream request as the fake fetch received it. */
interface Call {
  /** The URL string exactly as passed to fetch. */
  readonly url: string;
  readonly method: string;
  readonly headers: Headers;
  readonly init: RequestInit | undefined;
}

type Respond = (call: Call, index: number) => Response | Promise<Response>;

function ok200(): Response {
  return new Response("hello", {
    status: 200,
    headers: { "content-type": "text/html", "content-length": "5", etag: '"abc"' },
  });
}

/** A bucket listing document (V2, url-encoded keys) with one file under `prefix`. */
function listingXml(prefix: string): string {
  const enc = encodeURIComponent;
  return `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name>` +
    `<Prefix>${enc(prefix)}</Prefix><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>` +
    `<Contents><Key>${enc(prefix + "file.txt")}</Key>` +
    `<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;abc&quot;</ETag>` +
    `<Size>5</Size><StorageClass>STANDARD</StorageClass></Contents></ListBucketResult>`;
}

/**
 * A small S3: listings (a query with list-type) answer a one-file listing, `dir/index.html` and
 * keys under `missing/` are 404, everything else is a 5-byte object.
 */
function s3Like(call: Call): Response {
  const url = new URL(call.url);
  if (url.searchParams.has("list-type")) {
    return new Response(listingXml(url.searchParams.get("prefix") ?? ""), {
      status: 200,
      headers: { "content-type": "application/xml" },
    });
  }
  if (/\/dir\/index\.html$|\/missing\//.test(url.pathname)) {
    return new Response("<Error><Code>NoSuchKey</Code><Message>no</Message></Error>", {
      status: 404,
      headers: { "content-type": "application/xml" },
    });
  }
  return ok200();
}

interface Setup {
  handler: (req: Request) => Promise<Response>;
  calls: Call[];
  logs: LogEntry[];
  config: Config;
  setClock(ms: number): void;
}

function setup(
  env: Record<string, string> = {},
  options: { respond?: Respond; credentials?: Pick<CredentialProvider, "get">; now?: number } = {},
): Setup {
  const config = cfg(env);
  const calls: Call[] = [];
  const logs: LogEntry[] = [];
  let clock = options.now ?? NOW;
  const respond = options.respond ?? (() => ok200());
  const fakeFetch = ((input: RequestInfo | URL, init?: RequestInit) => {
    const url = typeof input === "string"
      ? input
      : input instanceof URL
      ? input.href
      : (input as Request).url;
    const method = init?.method ?? (input instanceof Request ? input.method : "GET");
    const headers = new Headers(init?.headers ?? (input instanceof Request ? input.headers : {}));
    const call: Call = { url, method, headers, init };
    calls.push(call);
    try {
      return Promise.resolve(respond(call, calls.length - 1));
    } catch (e) {
      return Promise.reject(e);
    }
  }) as typeof fetch;
  const handler = createHandler(config, {
    fetch: fakeFetch,
    now: () => clock,
    credentials: options.credentials ?? { get: () => Promise.resolve(CREDS) },
    log: (entry) => logs.push(entry),
  });
  return { handler, calls, logs, config, setClock: (ms) => (clock = ms) };
}

function request(method: string, path: string, headers: Record<string, string> = CURL): Request {
  return new Request(H + path, { method, headers });
}

// ---------------------------------------------------------------------------------------------
// An independent SigV4 verifier (node:crypto), written from the AWS documentation; stricter
// than tests/support/sigv4_verify.ts's (whose primitives it uses) and returning what it saw.

interface RawUrl {
  scheme: string;
  host: string;
  path: string;
  query: string;
}

function splitUrl(raw: string): RawUrl {
  const m = /^(https?):\/\/([^/?#]+)([^?#]*)(?:\?([^#]*))?$/.exec(raw);
  assert.ok(m, `not an absolute URL: ${raw}`);
  return { scheme: m[1], host: m[2], path: m[3], query: m[4] ?? "" };
}

function queryPairs(query: string): [string, string][] {
  if (query === "") return [];
  assert.ok(!query.includes("+"), `a raw + in an upstream query is ambiguous: ${query}`);
  return query.split("&").map((part) => {
    const eq = part.indexOf("=");
    assert.ok(eq > 0, `query part without =: ${part}`);
    return [decodeURIComponent(part.slice(0, eq)), decodeURIComponent(part.slice(eq + 1))];
  });
}

interface Verified {
  signedHeaders: string[];
  date: string;
  signature: string;
  canonicalRequest: string;
}

/** Recomputes the Authorization header of an upstream request and compares. */
function verifyHeaderSignature(
  call: Call,
  key: { secret: string } | { signingKey: Uint8Array } = { secret: SECRET },
  region = "us-east-1",
): Verified {
  const url = splitUrl(call.url);
  // What fetch will put on the wire is what must have been signed.
  const wire = new URL(call.url);
  assert.equal(wire.pathname, url.path, "fetch would send another path than the one given");
  assert.equal(wire.host, url.host, "fetch would send another Host");
  const auth = call.headers.get("authorization");
  assert.ok(auth, "no Authorization upstream");
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/
      .exec(auth);
  assert.ok(m, `malformed Authorization: ${auth}`);
  const [, accessKey, date, scopeRegion, signed, signature] = m;
  assert.equal(accessKey, ACCESS_KEY);
  assert.equal(scopeRegion, region);
  const amzDate = call.headers.get("x-amz-date");
  assert.ok(amzDate && amzDate.startsWith(date), `x-amz-date ${amzDate} vs scope ${date}`);
  const names = signed.split(";");
  assert.ok(names.includes("host") && names.includes("x-amz-date"), signed);
  assert.deepEqual([...names].sort(), names, "signed headers are sorted");
  const canonicalHeaders = names
    .map((n) => n + ":" + (n === "host" ? wire.host : fold(call.headers.get(n) ?? "")))
    .join("\n") + "\n";
  const payload = call.headers.get("x-amz-content-sha256");
  assert.ok(payload, "S3 needs x-amz-content-sha256");
  const canonicalRequest = [
    call.method,
    url.path,
    canonicalQuery(queryPairs(url.query)),
    canonicalHeaders,
    signed,
    payload,
  ].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256hex(canonicalRequest)}`;
  const signingKey = "secret" in key ? deriveKey(key.secret, date, region) : key.signingKey;
  assert.equal(signature, hex(hmac(signingKey, sts)), "signature does not match what was sent");
  return { signedHeaders: names, date, signature, canonicalRequest };
}

/** Recomputes the X-Amz-Signature of a presigned URL for `method` and compares. */
function verifyPresigned(
  location: string,
  method: string,
  key: { secret: string } | { signingKey: Uint8Array } = { secret: SECRET },
  region = "us-east-1",
): { pairs: Map<string, string>; signature: string } {
  const url = splitUrl(location);
  assert.equal(new URL(location).pathname, url.path, "a browser would follow another path");
  const pairs = queryPairs(url.query);
  const last = pairs[pairs.length - 1];
  assert.equal(last[0], "X-Amz-Signature", "the signature comes last");
  const signature = last[1];
  const rest = pairs.slice(0, -1);
  const map = new Map(pairs);
  const credential = map.get("X-Amz-Credential")!;
  const [accessKey, date, scopeRegion, service, term] = credential.split("/");
  assert.deepEqual([accessKey, scopeRegion, service, term], [
    ACCESS_KEY,
    region,
    "s3",
    "aws4_request",
  ]);
  assert.equal(map.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
  assert.equal(map.get("X-Amz-SignedHeaders"), "host");
  const canonicalRequest = [
    method,
    url.path,
    canonicalQuery(rest),
    "host:" + new URL(location).host + "\n",
    "host",
    "UNSIGNED-PAYLOAD",
  ].join("\n");
  const scope = `${date}/${region}/s3/aws4_request`;
  const sts = `AWS4-HMAC-SHA256\n${map.get("X-Amz-Date")}\n${scope}\n${
    sha256hex(canonicalRequest)
  }`;
  const signingKey = "secret" in key ? deriveKey(key.secret, date, region) : key.signingKey;
  assert.equal(signature, hex(hmac(signingKey, sts)), `bad presigned signature for ${method}`);
  return { pairs: map, signature };
}

/** Every form a secret value could take in text: raw, URL-encoded, RFC 3986-encoded. */
function forms(value: string): string[] {
  return [...new Set([value, encodeURIComponent(value), rfc3986(value)])];
}

function assertNoneIn(text: string, secrets: string[], label: string) {
  for (const secret of secrets) {
    for (const form of forms(secret)) {
      assert.ok(!text.includes(form), `${label} contains a secret (${form.slice(0, 6)}...)`);
    }
  }
}

/** Headers (Location excepted: the callers check it apart) and body of a response, as text. */
async function responseText(res: Response): Promise<string> {
  const headers = [...res.headers]
    .filter(([n]) => n !== "location")
    .map(([n, v]) => `${n}: ${v}`)
    .join("\n");
  return headers + "\n\n" + (res.body ? await res.text() : "");
}

// ---------------------------------------------------------------------------------------------

describe("upstream path and signature", () => {
  const keys: [string, string][] = [
    ["dir/index.html", "dir/index.html"],
    ["a b.txt", "a%20b.txt"],
    ["a+b.txt", "a%2Bb.txt"],
    ["(1)!'*.txt", "%281%29%21%27%2A.txt"],
    ["=@$&;,:.txt", "%3D%40%24%26%3B%2C%3A.txt"],
    ["100%.txt", "100%25.txt"],
    ["#?.txt", "%23%3F.txt"],
    ["~-_.txt", "~-_.txt"],
    ["été/日本/😀.txt", "%C3%A9t%C3%A9/%E6%97%A5%E6%9C%AC/%F0%9F%98%80.txt"],
    ["trailing ", "trailing%20"],
    ["a//b", "a//b"],
    ["dir/", "dir/"],
    ['[x]{y}|^`\\"<>', "%5Bx%5D%7By%7D%7C%5E%60%5C%22%3C%3E"],
    ["...", "..."],
  ];

  test("the URL path is exactly encodeKeyPath(key), and that path is what was signed", async () => {
    const s = setup({ REDIRECT: "never" });
    for (const [key, encoded] of keys) {
      s.calls.length = 0;
      // The client spells the key canonically here; other spellings are tested below.
      const res = await s.handler(request("GET", "/bucket/" + encodeKeyPath(key), AWSCLI));
      assert.equal(res.status, 200, key);
      await res.body?.cancel();
      assert.equal(s.calls.length, 1, key);
      const call = s.calls[0];
      assert.equal(call.url, "https://s3.us-east-1.amazonaws.com/bucket/" + encoded, key);
      assert.equal(encodeKeyPath(key), encoded, key);
      assert.equal(call.method, "GET");
      const v = verifyHeaderSignature(call);
      assert.equal(v.canonicalRequest.split("\n")[1], "/bucket/" + encoded, key);
      assert.equal(call.headers.get("x-amz-date"), AMZ_DATE);
    }
  });

  test("every spelling of a key gives the same upstream URL and signature", async () => {
    const s = setup({ REDIRECT: "never" });
    const spellings = [
      "/bucket/dir/Abc~%C3%A9+(1).txt",
      "/bucket/dir/%41bc%7e%c3%a9+%281%29.txt",
      "/bucket/dir/%41%62%63~%C3%A9%2B(1)%2Etxt",
      "/%62ucket/dir/Abc~%C3%A9+(1).txt",
      "/bucket/x/../dir/Abc~%C3%A9+(1).txt",
      "/bucket/dir/./Abc~%C3%A9+(1).txt",
    ];
    for (const spelling of spellings) {
      const res = await s.handler(request("GET", spelling, AWSCLI));
      assert.equal(res.status, 200, spelling);
      await res.body?.cancel();
    }
    assert.equal(s.calls.length, spellings.length);
    for (const call of s.calls) {
      assert.equal(
        call.url,
        "https://s3.us-east-1.amazonaws.com/bucket/dir/Abc~%C3%A9%2B%281%29.txt",
      );
      verifyHeaderSignature(call);
    }
    const auths = new Set(s.calls.map((c) => c.headers.get("authorization")));
    assert.equal(auths.size, 1, "same request, same clock, same signature");
  });

  test("aws4fetch, signing the same request, computes the same Authorization", async () => {
    for (const creds of [CREDS, CREDS_TOKEN]) {
      const s = setup({}, { credentials: { get: () => Promise.resolve(creds) } });
      const res = await s.handler(request("GET", "/bucket/a%20dir/index.html?versionId=v%2F1"));
      await res.body?.cancel();
      const call = s.calls[0];
      assert.equal(
        call.url,
        "https://s3.us-east-1.amazonaws.com/bucket/a%20dir/index.html?versionId=v%2F1",
      );
      const signer = new AwsV4Signer({
        url: call.url,
        method: "GET",
        headers: { "x-amz-content-sha256": call.headers.get("x-amz-content-sha256")! },
        accessKeyId: ACCESS_KEY,
        secretAccessKey: SECRET,
        sessionToken: "sessionToken" in creds ? creds.sessionToken : undefined,
        service: "s3",
        region: "us-east-1",
        datetime: AMZ_DATE,
      });
      const signed = await signer.sign();
      assert.equal(call.headers.get("authorization"), signed.headers.get("authorization"));
      if ("sessionToken" in creds) assert.equal(call.headers.get("x-amz-security-token"), TOKEN);
      else assert.equal(call.headers.get("x-amz-security-token"), null);
    }
  });

  test("virtual-hosted style: the bucket is in the host, the key is the whole path", async () => {
    const s = setup({ S3_ADDRESSING_STYLE: "virtual", REDIRECT: "never" });
    const res = await s.handler(request("GET", "/my-bucket/a%20b/c+d", AWSCLI));
    await res.body?.cancel();
    assert.equal(s.calls[0].url, "https://my-bucket.s3.us-east-1.amazonaws.com/a%20b/c%2Bd");
    verifyHeaderSignature(s.calls[0]);
  });

  test("S3_BUCKET mode: /dir/file is key dir/file in the configured bucket", async () => {
    const s = setup({
      S3_BUCKET: "site",
      AWS_ENDPOINT_HOST: "127.0.0.1:9000",
      AWS_ENDPOINT_SCHEME: "http",
    });
    for (const path of ["/other-bucket/index.html", "/x/../other-bucket/index.html"]) {
      const res = await s.handler(request("GET", path));
      await res.body?.cancel();
    }
    assert.deepEqual(s.calls.map((c) => c.url), [
      "http://127.0.0.1:9000/site/other-bucket/index.html",
      "http://127.0.0.1:9000/site/other-bucket/index.html",
    ]);
    for (const call of s.calls) verifyHeaderSignature(call);
    const bad = await s.handler(request("GET", "/%2F..%2Fother/index.html"));
    assert.equal(bad.status, 400);
    assert.equal(s.calls.length, 2, "nothing went upstream for the bad spelling");
  });

  test("listings go to /bucket (never /bucket/), V2 query canonical and signed", async () => {
    const s = setup();
    for (
      const path of [
        "/bucket?list-type=2&prefix=a+b%2F&delimiter=%2F",
        "/bucket/?list-type=2&prefix=a%20b/&delimiter=/&foo=1",
      ]
    ) {
      const res = await s.handler(request("GET", path, AWSCLI));
      assert.equal(res.status, 200);
      await res.body?.cancel();
    }
    for (const call of s.calls) {
      assert.equal(
        call.url,
        "https://s3.us-east-1.amazonaws.com/bucket?delimiter=%2F&list-type=2&prefix=a%20b%2F",
      );
      verifyHeaderSignature(call);
    }
  });

  test("HeadBucket and GetBucketLocation go to /bucket", async () => {
    const s = setup();
    const head = await s.handler(request("HEAD", "/bucket/", AWSCLI));
    assert.equal(head.status, 200);
    const loc = await s.handler(request("GET", "/bucket?location", AWSCLI));
    await loc.body?.cancel();
    assert.equal(s.calls[0].method, "HEAD");
    assert.equal(s.calls[0].url, "https://s3.us-east-1.amazonaws.com/bucket");
    assert.equal(s.calls[1].url, "https://s3.us-east-1.amazonaws.com/bucket?location=");
    for (const call of s.calls) verifyHeaderSignature(call);
  });

  test("object query parameters are signed in; others never go upstream", async () => {
    const s = setup({ REDIRECT: "never" });
    const res = await s.handler(
      request(
        "GET",
        "/bucket/k.bin?versionId=v1&partNumber=2&response-content-type=text%2Fplain&x-id=GetObject&foo=bar",
        AWSCLI,
      ),
    );
    await res.body?.cancel();
    assert.equal(
      s.calls[0].url,
      "https://s3.us-east-1.amazonaws.com/bucket/k.bin?partNumber=2&response-content-type=text%2Fplain&versionId=v1",
    );
    verifyHeaderSignature(s.calls[0]);
  });

  test("each upstream request is timestamped afresh", async () => {
    const s = setup();
    await (await s.handler(request("GET", "/bucket/index.html"))).body?.cancel();
    s.setClock(NOW + 61_000);
    await (await s.handler(request("GET", "/bucket/index.html"))).body?.cancel();
    s.setClock(Date.UTC(2024, 0, 16, 0, 0, 1));
    await (await s.handler(request("GET", "/bucket/index.html"))).body?.cancel();
    assert.deepEqual(s.calls.map((c) => c.headers.get("x-amz-date")), [
      "20240115T123456Z",
      "20240115T123557Z",
      "20240116T000001Z",
    ]);
    for (const call of s.calls) verifyHeaderSignature(call);
    assert.equal(verifyHeaderSignature(s.calls[2]).date, "20240116");
  });

  test("the upstream request does not follow redirects and carries an abort signal", async () => {
    const s = setup();
    await (await s.handler(request("GET", "/bucket/index.html"))).body?.cancel();
    assert.equal(s.calls[0].init?.redirect, "manual");
    assert.ok(s.calls[0].init?.signal instanceof AbortSignal);
    assert.equal(s.calls[0].init?.body ?? null, null);
  });
});

describe("request headers upstream", () => {
  const hostile = {
    "user-agent": "aws-cli/2.15.30",
    authorization: "AWS4-HMAC-SHA256 Credential=EVIL/20240115/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host, Signature=" + "f".repeat(64),
    cookie: "session=abc",
    "x-amz-security-token": "client-token",
    "x-amz-date": "19990101T000000Z",
    "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "x-amz-meta-evil": "1",
    "x-amz-server-side-encryption-customer-key": "a2V5",
    "x-amz-request-payer": "requester",
    "x-amz-expected-bucket-owner": "123",
    "x-forwarded-for": "10.0.0.1",
    referer: "http://evil.example/",
    origin: "http://evil.example",
    "content-type": "text/plain",
    range: "bytes=0-99",
    "if-match": '"abc"',
    "if-none-match": '"def"',
    "if-modified-since": "Mon, 01 Jan 2024 00:00:00 GMT",
    "if-unmodified-since": "Tue, 02 Jan 2024 00:00:00 GMT",
  };

  for (const creds of [CREDS, CREDS_TOKEN]) {
    test(`only the allow-list and our own signature headers go upstream${creds === CREDS_TOKEN ? " (session token)" : ""}`, async () => {
      const s = setup({}, { credentials: { get: () => Promise.resolve(creds) } });
      for (const path of ["/bucket/index.html", "/bucket/big.iso"]) {
        const res = await s.handler(request("GET", path, hostile));
        await res.body?.cancel();
      }
      assert.equal(s.calls.length, 2);
      for (const call of s.calls) {
        const names = [...call.headers.keys()].sort();
        const expected = [
          "accept-encoding",
          "authorization",
          "if-match",
          "if-modified-since",
          "if-none-match",
          "if-unmodified-since",
          "range",
          "x-amz-content-sha256",
          "x-amz-date",
          ...(creds === CREDS_TOKEN ? ["x-amz-security-token"] : []),
        ].sort();
        assert.deepEqual(names, expected);
        assert.equal(call.headers.get("cookie"), null);
        assert.equal(call.headers.get("x-amz-date"), AMZ_DATE);
        assert.equal(call.headers.get("x-amz-content-sha256"), "UNSIGNED-PAYLOAD");
        assert.equal(
          call.headers.get("x-amz-security-token"),
          creds === CREDS_TOKEN ? TOKEN : null,
        );
        assert.ok(!call.headers.get("authorization")!.includes("EVIL"));
        for (
          const name of [
            "range",
            "if-match",
            "if-none-match",
            "if-modified-since",
            "if-unmodified-since",
          ] as const
        ) {
          assert.equal(call.headers.get(name), hostile[name], name);
        }
        const v = verifyHeaderSignature(call);
        for (
          const name of [
            "range",
            "if-match",
            "if-none-match",
            "if-modified-since",
            "if-unmodified-since",
            "x-amz-content-sha256",
          ]
        ) {
          assert.ok(v.signedHeaders.includes(name), `${name} is signed`);
        }
      }
    });
  }

  test("listings forward no client header at all", async () => {
    const s = setup();
    const res = await s.handler(request("GET", "/bucket?list-type=2", hostile));
    await res.body?.cancel();
    const names = [...s.calls[0].headers.keys()].sort();
    assert.deepEqual(names, [
      "accept-encoding",
      "authorization",
      "x-amz-content-sha256",
      "x-amz-date",
    ]);
    verifyHeaderSignature(s.calls[0]);
  });
});

describe("responses relayed", () => {
  test("allow-listed headers and x-amz-meta-* pass; Set-Cookie and internals do not", async () => {
    const s = setup({}, {
      respond: () =>
        new Response("<html>hi</html>", {
          status: 200,
          headers: [
            ["content-type", "text/html; charset=utf-8"],
            ["content-length", "15"],
            ["etag", '"0123"'],
            ["last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"],
            ["accept-ranges", "bytes"],
            ["cache-control", "max-age=60"],
            ["content-disposition", 'inline; filename="index.html"'],
            ["content-language", "fr"],
            ["expires", "Tue, 02 Jan 2024 00:00:00 GMT"],
            ["x-amz-meta-owner", "alice"],
            ["x-amz-meta-Colour", "blue"],
            ["x-amz-version-id", "v1"],
            ["set-cookie", "AWSALB=abc; Path=/"],
            ["set-cookie", "other=1"],
            ["server", "AmazonS3"],
            ["x-amz-id-2", "internal-id"],
            ["x-amz-server-side-encryption-customer-key-md5", "md5"],
            ["strict-transport-security", "max-age=1"],
            ["location", "https://elsewhere.example/"],
            ["www-authenticate", "x"],
          ],
        }),
    });
    const res = await s.handler(request("GET", "/bucket/index.html"));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "<html>hi</html>");
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(res.headers.get("etag"), '"0123"');
    assert.equal(res.headers.get("last-modified"), "Mon, 01 Jan 2024 00:00:00 GMT");
    assert.equal(res.headers.get("accept-ranges"), "bytes");
    assert.equal(res.headers.get("cache-control"), "max-age=60");
    assert.equal(res.headers.get("content-disposition"), 'inline; filename="index.html"');
    assert.equal(res.headers.get("content-language"), "fr");
    assert.equal(res.headers.get("expires"), "Tue, 02 Jan 2024 00:00:00 GMT");
    assert.equal(res.headers.get("x-amz-meta-owner"), "alice");
    assert.equal(res.headers.get("x-amz-meta-colour"), "blue");
    assert.equal(res.headers.get("x-amz-version-id"), "v1");
    for (
      const name of [
        "set-cookie",
        "server",
        "x-amz-id-2",
        "x-amz-server-side-encryption-customer-key-md5",
        "strict-transport-security",
        "location",
        "www-authenticate",
      ]
    ) {
      assert.equal(res.headers.get(name), null, name);
    }
    assert.equal(res.headers.getSetCookie().length, 0);
  });

  test("206, 304, 412, 416, 403, 404, 500 and 503 keep their status", async () => {
    const cases: [number, string | null, Record<string, string>][] = [
      [206, "0123456789", { "content-range": "bytes 0-9/100", "content-length": "10" }],
      [304, null, { etag: '"abc"' }],
      [412, "<Error><Code>PreconditionFailed</Code></Error>", {}],
      [416, "<Error><Code>InvalidRange</Code></Error>", { "content-range": "bytes */100" }],
      [403, "<Error><Code>AccessDenied</Code></Error>", { "content-type": "application/xml" }],
      [404, "<Error><Code>NoSuchKey</Code></Error>", { "content-type": "application/xml" }],
      [500, "<Error><Code>InternalError</Code></Error>", {}],
      [503, "<Error><Code>SlowDown</Code></Error>", {}],
    ];
    for (const [status, body, headers] of cases) {
      for (const path of ["/bucket/index.html", "/bucket/big.bin"]) {
        const s = setup({}, { respond: () => new Response(body, { status, headers }) });
        const res = await s.handler(request("GET", path, { ...AWSCLI, range: "bytes=0-9" }));
        assert.equal(res.status, status, `${status} ${path}`);
        const text = await res.text();
        if (status < 400) {
          assert.equal(text, body ?? "", `${status} body`);
        } else {
          // Error bodies are rebuilt from S3's Code (see the next test), as S3 XML for aws-cli.
          const code = /<Code>(\w+)<\/Code>/.exec(body!)![1];
          assert.match(
            text,
            new RegExp(`^<\\?xml[^]*<Error><Code>${code}</Code>`),
            `${status} body`,
          );
        }
        for (const [name, value] of Object.entries(headers)) {
          assert.equal(res.headers.get(name), value, `${status} ${name}`);
        }
        assert.equal(s.calls[0].headers.get("range"), "bytes=0-9");
      }
    }
  });

  test("S3's error echo (canonical request, string to sign) never reaches the client", async () => {
    const echo = `<?xml version="1.0" encoding="UTF-8"?>
<Error><Code>SignatureDoesNotMatch</Code><Message>The request signature we calculated does not match the signature you provided.</Message>
<AWSAccessKeyId>${ACCESS_KEY}</AWSAccessKeyId><StringToSign>AWS4-HMAC-SHA256
${AMZ_DATE}</StringToSign><SignatureProvided>0123abcd</SignatureProvided>
<CanonicalRequest>GET
/bucket/index.html

host:s3.us-east-1.amazonaws.com
x-amz-security-token:${TOKEN}
</CanonicalRequest><RequestId>R1</RequestId></Error>`;
    for (const headers of [AWSCLI, CURL, CHROME]) {
      for (const path of ["/bucket/index.html", "/bucket/big.bin"]) {
        const s = setup({}, {
          credentials: { get: () => Promise.resolve(CREDS_TOKEN) },
          respond: () =>
            new Response(echo, {
              status: 403,
              headers: { "content-type": "application/xml", "x-amz-request-id": "R1" },
            }),
        });
        const res = await s.handler(request("GET", path, headers));
        if (res.status === 307) continue; // browsers and curl are redirected: S3 answers them
        assert.equal(res.status, 403);
        const text = await res.text();
        assert.match(text, /SignatureDoesNotMatch/);
        assert.match(text, /does not match the signature/);
        for (const leak of [TOKEN, "CanonicalRequest", "StringToSign", "0123abcd", ACCESS_KEY]) {
          assert.ok(!text.includes(leak), `${leak} leaked to ${headers["user-agent"]} on ${path}`);
        }
        assert.equal(res.headers.get("x-amz-request-id"), "R1");
      }
    }
  });

  test("an error body that is not S3 XML, or too large, becomes a short generic one", async () => {
    for (const body of ["<html>gateway error</html>", "x".repeat(200_000)]) {
      const s = setup({}, { respond: () => new Response(body, { status: 502 }) });
      const res = await s.handler(request("GET", "/bucket/index.html", AWSCLI));
      assert.equal(res.status, 502);
      const text = await res.text();
      assert.match(text, /UpstreamError/);
      assert.match(text, /the backend answered 502/);
      assert.ok(text.length < 500);
    }
  });

  test("HEAD gives no body, with the upstream length and type", async () => {
    const s = setup({}, {
      respond: () =>
        new Response("this body must not be relayed", {
          status: 200,
          headers: { "content-length": "1234", "content-type": "application/octet-stream" },
        }),
    });
    for (const path of ["/bucket/index.html", "/bucket/big.bin"]) {
      const res = await s.handler(request("HEAD", path, AWSCLI));
      assert.equal(res.status, 200);
      assert.equal(res.body, null, path);
      assert.equal(res.headers.get("content-length"), "1234");
      assert.equal(res.headers.get("content-type"), "application/octet-stream");
    }
    for (const call of s.calls) {
      assert.equal(call.method, "HEAD");
      verifyHeaderSignature(call);
    }
  });

  test("HEAD errors have no body either", async () => {
    const s = setup();
    for (const path of ["/bucket/%C3", "/bucket/k?acl", "/"]) {
      const res = await s.handler(request("HEAD", path));
      assert.ok(res.status >= 400, path);
      assert.equal(res.body, null, path);
    }
    assert.equal(s.calls.length, 0);
  });
});

describe("refusals are answered here and nothing goes upstream", () => {
  test("PUT, POST, DELETE, PATCH: 405 with Allow on every route", async () => {
    const s = setup();
    for (const method of ["PUT", "POST", "DELETE", "PATCH"]) {
      for (const path of ["/bucket/index.html", "/bucket/a.bin", "/bucket", "/bucket/dir/", "/"]) {
        const res = await s.handler(
          new Request(H + path, {
            method,
            headers: AWSCLI,
            body: method === "DELETE" ? null : "x",
          }),
        );
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get("allow"), "GET, HEAD");
        const body = await res.text();
        assert.match(body, /MethodNotAllowed/);
      }
    }
    assert.equal(s.calls.length, 0);
  });

  test("bad keys are 400, sub-resources 403, ListBuckets 403", async () => {
    const s = setup();
    const cases: [string, number][] = [
      ["/bucket/%C3", 400],
      ["/bucket/foo%C3", 400],
      ["/bucket/a%00", 400],
      ["/bucket/%2F..%2Fx", 400],
      ["/bucket/k?prefix=%ZZ", 400],
      ["/bucket/k?acl", 403],
      ["/bucket?policy", 403],
      ["/bucket/k?tagging", 403],
      ["/", 403],
    ];
    for (const [path, status] of cases) {
      const res = await s.handler(request("GET", path));
      assert.equal(res.status, status, path);
      assert.equal(res.headers.get("cache-control"), "no-store");
      assert.ok((await res.text()).length > 10, `${path}: a body says why`);
    }
    assert.equal(s.calls.length, 0);
  });

  test("API clients get S3-style XML errors, others plain text", async () => {
    const s = setup();
    const api = await s.handler(request("GET", "/bucket/k?acl", AWSCLI));
    assert.match(api.headers.get("content-type")!, /xml/);
    assert.match(await api.text(), /<Error><Code>AccessDenied<\/Code><Message>[^<]*acl/);
    const curl = await s.handler(request("GET", "/bucket/k?acl"));
    assert.match(curl.headers.get("content-type")!, /text\/plain/);
    assert.match(await curl.text(), /403/);
  });
});

describe("backend failures", () => {
  test("fetch rejecting: 502 with a body naming the cause", async () => {
    const s = setup({}, {
      respond: () => {
        throw new TypeError("error sending request for url", {
          cause: new Error("Connection refused (os error 111)"),
        });
      },
    });
    const res = await s.handler(request("GET", "/bucket/index.html"));
    assert.equal(res.status, 502);
    const body = await res.text();
    assert.match(body, /unreachable \(connection refused\)/i);
    // The runtime's own words (addresses, ports) go to the log only.
    assert.ok(!body.includes("os error"), body);
    assert.equal(s.logs.at(-1)?.status, 502);
    assert.match(String(s.logs.at(-1)?.error), /Connection refused \(os error 111\)/);
  });

  test("fetch rejecting without a cause: 502 with its message", async () => {
    const s = setup({}, {
      respond: () => Promise.reject(new Error("getaddrinfo ENOTFOUND s3.invalid")),
    });
    const res = await s.handler(request("GET", "/bucket?list-type=2", AWSCLI));
    assert.equal(res.status, 502);
    const body = await res.text();
    assert.match(body, /unreachable \(host name not resolved\)/);
    assert.ok(!body.includes("s3.invalid"), body);
    assert.match(String(s.logs.at(-1)?.error), /ENOTFOUND s3\.invalid/);
  });

  test("a backend status outside 200-599 (a 101, say) is a 502", async () => {
    for (const status of [101, 199]) {
      const s = setup({}, {
        respond: () => {
          const res = new Response(null, { status: 200 });
          Object.defineProperty(res, "status", { value: status });
          return res;
        },
      });
      const res = await s.handler(request("GET", "/bucket/index.html", AWSCLI));
      assert.equal(res.status, 502, String(status));
      assert.match(await res.text(), new RegExp(`status ${status}`));
    }
  });

  test("fetch never answering: 504 after UPSTREAM_TIMEOUT, promptly", async () => {
    let aborted = 0;
    const s = setup({ UPSTREAM_TIMEOUT: "0.05" }, {
      respond: (call) =>
        new Promise<Response>((_, reject) => {
          const signal = call.init?.signal;
          assert.ok(signal, "the handler passes an abort signal");
          signal.addEventListener("abort", () => {
            aborted++;
            reject(signal.reason ?? new DOMException("aborted", "AbortError"));
          });
        }),
    });
    const started = performance.now();
    const [a, b] = await Promise.all([
      s.handler(request("GET", "/bucket/index.html")),
      s.handler(request("HEAD", "/bucket/index.html")),
    ]);
    const elapsed = performance.now() - started;
    assert.equal(a.status, 504);
    assert.equal(b.status, 504);
    assert.match(await a.text(), /no response within 0\.05 s|timed? ?out|within/i);
    assert.equal(b.body, null);
    assert.equal(aborted, 2);
    assert.ok(elapsed >= 40, `answered after ${elapsed} ms, before the timeout`);
    assert.ok(elapsed < 1000, `answered after ${elapsed} ms`);
    assert.deepEqual(s.logs.map((e) => e.status), [504, 504]);
  });

  test("a listing body that stalls: 504 after UPSTREAM_TIMEOUT; one too large: 502", async () => {
    let cancelled = 0;
    const stalling = () =>
      new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("<?xml version='1.0'?><ListBucketResult>"));
        },
        cancel() {
          cancelled++;
        },
      });
    const folderOf = (listing: () => Response) => (call: Call) =>
      new URL(call.url).searchParams.has("list-type")
        ? listing()
        : new Response(null, { status: 404 });
    const stalled = setup({ UPSTREAM_TIMEOUT: "0.05" }, {
      respond: folderOf(() => new Response(stalling(), { status: 200 })),
    });
    const started = performance.now();
    const res = await stalled.handler(request("GET", "/bucket/dir/", CHROME));
    const elapsed = performance.now() - started;
    assert.equal(res.status, 504);
    assert.match(await res.text(), /stalled/);
    assert.equal(cancelled, 1, "the stalled upstream body is cancelled");
    assert.ok(elapsed >= 40 && elapsed < 1000, `answered after ${elapsed} ms`);

    const huge = setup({}, {
      respond: folderOf(() =>
        new Response("x", { status: 200, headers: { "content-length": String(64 << 20) } })
      ),
    });
    const big = await huge.handler(request("GET", "/bucket/dir/", CHROME));
    assert.equal(big.status, 502);
    assert.match(await big.text(), /cannot read/);
  });
});

describe("redirects", () => {
  const env = {
    AWS_ENDPOINT_SCHEME: "http",
    AWS_ENDPOINT_HOST: "127.0.0.1:9000",
    AWS_ENDPOINT_HOST_EXTERNAL: "Files.Example.com:9000",
    PRESIGN_EXPIRES: "120",
  };

  test("307 to the external host, X-Amz-Expires from config, signed for GET, params carried", async () => {
    const s = setup(env);
    const res = await s.handler(
      request(
        "GET",
        "/bucket/dir/a%20b+c.bin?versionId=v%2F1&response-content-type=text%2Fplain&foo=bar",
        CURL,
      ),
    );
    assert.equal(res.status, 307);
    assert.equal(s.calls.length, 0, "a redirect makes no upstream request");
    const location = res.headers.get("location")!;
    const url = splitUrl(location);
    assert.equal(url.scheme, "http");
    assert.equal(url.host, "files.example.com:9000");
    assert.equal(url.path, "/bucket/dir/a%20b%2Bc.bin");
    const { pairs } = verifyPresigned(location, "GET");
    assert.equal(pairs.get("X-Amz-Expires"), "120");
    assert.equal(pairs.get("X-Amz-Date"), AMZ_DATE);
    assert.equal(pairs.get("versionId"), "v/1");
    assert.equal(pairs.get("response-content-type"), "text/plain");
    assert.equal(pairs.has("foo"), false);
    assert.equal(pairs.has("X-Amz-Security-Token"), false);
    assert.throws(() => verifyPresigned(location, "HEAD"), "a GET URL does not work for HEAD");
    const cc = res.headers.get("cache-control")!;
    const maxAge = Number(/max-age=(\d+)/.exec(cc)?.[1]);
    assert.ok(maxAge >= 0 && maxAge < 120, cc);
    assert.match(cc, /private|no-store/);
  });

  test("a browser gets the same 307; anything it asks upstream first is a signed HEAD", async () => {
    const s = setup(env);
    const res = await s.handler(request("GET", "/bucket/dir/a%20b.bin?versionId=2", CHROME));
    assert.equal(res.status, 307);
    const location = res.headers.get("location")!;
    assert.equal(splitUrl(location).host, "files.example.com:9000");
    assert.equal(verifyPresigned(location, "GET").pairs.get("versionId"), "2");
    for (const call of s.calls) {
      assert.equal(call.method, "HEAD", "no object body is fetched for a redirect");
      verifyHeaderSignature(call);
    }
  });

  test("a click in our own listing (Sec-Fetch-Site: same-origin) asks nothing upstream", async () => {
    const typed = setup(env);
    await typed.handler(
      request("GET", "/bucket/dir/a.bin", { ...CHROME, "sec-fetch-site": "none" }),
    );
    assert.deepEqual(typed.calls.map((c) => c.method), ["HEAD"], "a typed URL is checked");
    const clicked = setup(env);
    const res = await clicked.handler(
      request("GET", "/bucket/dir/a.bin", { ...CHROME, "sec-fetch-site": "same-origin" }),
    );
    assert.equal(res.status, 307);
    assert.equal(clicked.calls.length, 0);
  });

  test("aws4fetch presigns the same URL", async () => {
    const s = setup(env);
    const res = await s.handler(request("GET", "/bucket/dir/a%20b.bin?versionId=7", CURL));
    const location = res.headers.get("location")!;
    const signer = new AwsV4Signer({
      url: "http://files.example.com:9000/bucket/dir/a%20b.bin?versionId=7&X-Amz-Expires=120",
      method: "GET",
      accessKeyId: ACCESS_KEY,
      secretAccessKey: SECRET,
      service: "s3",
      region: "us-east-1",
      datetime: AMZ_DATE,
      signQuery: true,
    });
    const signed = await signer.sign();
    assert.equal(
      new URL(location).searchParams.get("X-Amz-Signature"),
      signed.url.searchParams.get("X-Amz-Signature"),
    );
  });

  test("HEAD gets a HEAD-signed URL", async () => {
    const s = setup(env);
    const res = await s.handler(request("HEAD", "/bucket/big.iso", CURL));
    assert.equal(res.status, 307);
    assert.equal(res.body, null);
    const location = res.headers.get("location")!;
    verifyPresigned(location, "HEAD");
    assert.throws(() => verifyPresigned(location, "GET"));
  });

  test("virtual-hosted style redirects put the bucket in the external host", async () => {
    const s = setup({ ...env, S3_ADDRESSING_STYLE: "virtual" });
    const res = await s.handler(request("GET", "/my-bucket/k%C3%A9y", CURL));
    const location = res.headers.get("location")!;
    assert.equal(splitUrl(location).host, "my-bucket.files.example.com:9000");
    assert.equal(splitUrl(location).path, "/k%C3%A9y");
    verifyPresigned(location, "GET");
  });

  test("a short expiry still has a Cache-Control below it", async () => {
    for (const expires of ["1", "30", "31", "604800"]) {
      const s = setup({ ...env, PRESIGN_EXPIRES: expires });
      const res = await s.handler(request("GET", "/bucket/a.bin", CURL));
      const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get("cache-control")!)?.[1]);
      assert.ok(maxAge < Number(expires), `${expires}: max-age=${maxAge}`);
      assert.equal(
        verifyPresigned(res.headers.get("location")!, "GET").pairs.get("X-Amz-Expires"),
        expires,
      );
    }
  });

  test("temporary credentials expiring sooner than PRESIGN_EXPIRES cap X-Amz-Expires", async () => {
    for (const [left, expected] of [[120, "120"], [3600, "300"], [0.5, "1"]] as const) {
      const s = setup({}, {
        credentials: {
          get: () => Promise.resolve({ ...CREDS_TOKEN, expiration: NOW + left * 1000 }),
        },
      });
      const res = await s.handler(request("GET", "/bucket/big.bin"));
      assert.equal(res.status, 307);
      const location = new URL(res.headers.get("location")!);
      assert.equal(location.searchParams.get("X-Amz-Expires"), expected, `${left} s left`);
      const maxAge = Number(/max-age=(\d+)/.exec(res.headers.get("cache-control")!)![1]);
      assert.ok(maxAge < Number(expected) || maxAge === 0, `max-age ${maxAge} < ${expected}`);
    }
  });

  test("with a session token, the token is in the URL and signed", async () => {
    const s = setup(env, { credentials: { get: () => Promise.resolve(CREDS_TOKEN) } });
    const res = await s.handler(request("GET", "/bucket/a.bin", CURL));
    const { pairs } = verifyPresigned(res.headers.get("location")!, "GET");
    assert.equal(pairs.get("X-Amz-Security-Token"), TOKEN);
  });
});

describe("credentials failures", () => {
  test("credentials.get() rejecting: 503 with a reason, nothing upstream", async () => {
    const s = setup({}, {
      credentials: {
        get: () => Promise.reject(new Error("temporary credentials expired; refresh failed")),
      },
    });
    for (const path of ["/bucket/index.html", "/bucket/big.bin", "/bucket?list-type=2"]) {
      const res = await s.handler(request("GET", path));
      assert.equal(res.status, 503, path);
      assert.match(await res.text(), /credentials/);
    }
    assert.equal(s.calls.length, 0);
  });

  test("a credentials error that quotes a secret does not reach the client or the log", async () => {
    // The provider contract asks for safe messages; the handler must not rely on it for secrets.
    const s = setup({}, {
      credentials: {
        get: () =>
          Promise.reject(
            new SyntaxError(
              `Unexpected token in JSON at position 80: {"SecretAccessKey":"${SECRET}","Token":"${TOKEN}"`,
            ),
          ),
      },
    });
    const res = await s.handler(request("GET", "/bucket/index.html"));
    assert.equal(res.status, 503);
    assertNoneIn(await responseText(res), [SECRET, TOKEN], "the 503 response");
    assertNoneIn(JSON.stringify(s.logs), [SECRET, TOKEN], "the log");
  });

  test("a signing key scoped to yesterday: 503 that says it expired, for proxy and redirect", async () => {
    const signingKey = deriveKey(SECRET, "20240114");
    const s = setup({}, {
      credentials: {
        get: () =>
          Promise.resolve({
            accessKeyId: ACCESS_KEY,
            signingKey,
            scope: "20240114/us-east-1/s3/aws4_request",
          }),
      },
    });
    for (const path of ["/bucket/index.html", "/bucket/big.bin", "/bucket?list-type=2"]) {
      const res = await s.handler(request("GET", path));
      assert.equal(res.status, 503, path);
      const text = await responseText(res);
      assert.match(text, /expired/i, path);
      assertNoneIn(text, [hex(signingKey), btoa(String.fromCharCode(...signingKey))], path);
    }
    assert.equal(s.calls.length, 0);
  });

  test("a signing key for today signs; the same key the next day is refused", async () => {
    const signingKey = deriveKey(SECRET, "20240115");
    const s = setup({}, {
      credentials: {
        get: () =>
          Promise.resolve({
            accessKeyId: ACCESS_KEY,
            signingKey,
            scope: "20240115/us-east-1/s3/aws4_request",
          }),
      },
    });
    const first = await s.handler(request("GET", "/bucket/index.html"));
    assert.equal(first.status, 200);
    await first.body?.cancel();
    verifyHeaderSignature(s.calls[0], { signingKey });
    const redirect = await s.handler(request("GET", "/bucket/a.bin"));
    assert.equal(redirect.status, 307);
    verifyPresigned(redirect.headers.get("location")!, "GET", { signingKey });

    s.setClock(Date.UTC(2024, 0, 16, 0, 0, 5));
    for (const path of ["/bucket/index.html", "/bucket/a.bin"]) {
      const res = await s.handler(request("GET", path));
      assert.equal(res.status, 503, `next day ${path}`);
      assert.match(await res.text(), /expired/i);
    }
    assert.equal(s.calls.length, 1, "nothing went upstream the next day");
  });
});

describe("browser folders without a slash", () => {
  /** HEAD of any object is 404; a listing of any prefix has one file. */
  const noObject: Respond = (call) =>
    call.method === "HEAD" ? new Response(null, { status: 404 }) : s3Like(call);

  test("GET /bucket/dir, where dir/ has keys, redirects to /bucket/dir/ keeping the query", async () => {
    const s = setup({}, { respond: noObject });
    const res = await s.handler(request("GET", "/bucket/a%20dir?page=2", CHROME));
    assert.equal(res.status, 302);
    assert.equal(res.headers.get("location"), "/bucket/a%20dir/?page=2");
    for (const call of s.calls) verifyHeaderSignature(call);
  });

  test("a slash redirect never leaves the proxy's origin", async () => {
    for (const env of [{ S3_BUCKET: "site" }, {}] as Record<string, string>[]) {
      const s = setup(env, { respond: noObject });
      for (const path of ["//evil.example", "//evil.example/x", "/bucket//evil.example"]) {
        const res = await s.handler(request("GET", path, CHROME));
        await res.body?.cancel();
        const location = res.headers.get("location");
        if (res.status < 300 || res.status >= 400 || location === null) continue;
        const target = new URL(location, H + "/");
        assert.ok(
          target.origin === H || target.host === s.config.externalHost ||
            target.host.endsWith("." + s.config.externalHost),
          `${JSON.stringify(env)} GET ${path} -> ${res.status} Location: ${location}`,
        );
      }
    }
  });
});

describe("access log", () => {
  test("one entry per request with method, path, status, decision and ms", async () => {
    const s = setup({}, { respond: s3Like });
    const cases: [string, string, Record<string, string>, number, string][] = [
      ["GET", "/bucket/index.html", CURL, 200, "proxy"],
      ["GET", "/bucket/a.bin", CURL, 307, "redirect"],
      ["GET", "/bucket/a.bin", AWSCLI, 200, "proxy"],
      ["HEAD", "/bucket", AWSCLI, 200, "bucket"],
      ["GET", "/bucket?list-type=2", AWSCLI, 200, "bucket"],
      ["GET", "/bucket/dir/", CHROME, 200, "folder"],
      ["PUT", "/bucket/a.bin", CURL, 405, "reject"],
      ["GET", "/bucket/%C3", CURL, 400, "reject"],
      ["GET", "/bucket/k?acl", CURL, 403, "reject"],
    ];
    for (const [method, path, headers, status, decision] of cases) {
      s.logs.length = 0;
      const res = await s.handler(
        new Request(H + path, { method, headers, body: method === "PUT" ? "x" : null }),
      );
      await res.body?.cancel();
      assert.equal(res.status, status, `${method} ${path}`);
      assert.equal(s.logs.length, 1, `${method} ${path}: one entry`);
      const entry = s.logs[0];
      assert.equal(entry.method, method);
      assert.equal(entry.path, path);
      assert.equal(entry.status, status);
      assert.equal(entry.decision, decision, `${method} ${path}`);
      assert.equal(typeof entry.ms, "number");
      assert.ok((entry.ms as number) >= 0);
      assert.ok(typeof entry.client === "string");
    }
  });

  test("the folder route looks for index.html, then lists the prefix", async () => {
    const s = setup({}, {
      respond: (call, i) => i === 0 ? new Response("no", { status: 404 }) : s3Like(call),
    });
    const res = await s.handler(request("GET", "/bucket/a%20dir/", CHROME));
    await res.body?.cancel();
    assert.equal(res.status, 200);
    assert.equal(s.calls.length, 2);
    assert.equal(s.calls[0].url, "https://s3.us-east-1.amazonaws.com/bucket/a%20dir/index.html");
    const listing = splitUrl(s.calls[1].url);
    assert.equal(listing.path, "/bucket");
    const pairs = new Map(queryPairs(listing.query));
    assert.equal(pairs.get("prefix"), "a dir/");
    assert.equal(pairs.get("delimiter"), "/");
    for (const call of s.calls) verifyHeaderSignature(call);
  });

  test("no secret, session token, signature or signing key in any log entry or response", async () => {
    const outputs: string[] = [];
    const s = setup({ S3_LIST_BUCKETS: "true" }, {
      credentials: { get: () => Promise.resolve(CREDS_TOKEN) },
      respond: (call, i) => i % 3 === 2 ? Promise.reject(new Error("refused")) : s3Like(call),
    });
    const requests: [string, string, Record<string, string>][] = [
      ["GET", "/bucket/index.html", CURL],
      ["GET", "/bucket/a.bin", CURL],
      ["HEAD", "/bucket/a.bin", CHROME],
      ["GET", "/bucket/a.bin?versionId=1&response-content-type=x", CURL],
      ["GET", "/bucket/a.bin", AWSCLI],
      ["GET", "/bucket?list-type=2", AWSCLI],
      ["GET", "/", AWSCLI],
      ["GET", "/bucket/dir/", CHROME],
      ["PUT", "/bucket/a.bin", CURL],
      ["GET", "/bucket/%C3", CURL],
    ];
    for (const [method, path, headers] of requests) {
      const res = await s.handler(
        new Request(H + path, { method, headers, body: method === "PUT" ? "x" : null }),
      );
      const location = res.headers.get("location");
      if (location) outputs.push(location);
      outputs.push(await responseText(res));
    }
    // The values that must never be logged, and must not appear in responses except where a
    // presigned Location needs them (the token and that URL's own signature).
    const signatures = s.calls.map((c) =>
      /Signature=([0-9a-f]{64})/.exec(c.headers.get("authorization")!)![1]
    );
    const presignedSignatures = outputs
      .filter((o) => o.startsWith("http://") || o.startsWith("https://"))
      .map((l) => new URL(l).searchParams.get("X-Amz-Signature")!);
    assert.ok(
      signatures.length >= 4 && presignedSignatures.length >= 3,
      "the requests were signed",
    );
    assert.ok(outputs.some((o) => o.includes(rfc3986(TOKEN))), "the Location carries the token");
    const signingKey = deriveKey(SECRET, "20240115");
    const neverAnywhere = [SECRET, hex(signingKey), btoa(String.fromCharCode(...signingKey))];
    const log = JSON.stringify(s.logs);
    assert.equal(s.logs.length, requests.length);
    assertNoneIn(log, [...neverAnywhere, TOKEN, ...signatures, ...presignedSignatures], "the log");
    for (const output of outputs) {
      assertNoneIn(output, [...neverAnywhere, ...signatures], "a response");
    }
    // Upstream responses never echo our request headers back to the client.
    for (const output of outputs.filter((o) => !o.startsWith("http"))) {
      assertNoneIn(output, [TOKEN], "a response body or header besides Location");
    }
  });

  test("a client's own credentials in the query are redacted from the log", async () => {
    const s = setup();
    const res = await s.handler(
      request(
        "GET",
        "/bucket/a.bin?X-Amz-Credential=AKIA%2Fx&X-Amz-Signature=deadbeefcafe&X-Amz-Security-Token=clienttoken",
        CURL,
      ),
    );
    await res.body?.cancel();
    const log = JSON.stringify(s.logs);
    assert.ok(!log.includes("deadbeefcafe"));
    assert.ok(!log.includes("clienttoken"));
  });
});
