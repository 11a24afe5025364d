/**
 * Behaviour of the signing core beyond the vectors: signing-key mode and its scope checks, the
 * bounded key cache, presign expiry bounds, session tokens, extra query parameters, the query we
 * return, and the presigned-URL helper.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeStrict, encodeKeyPath } from "../src/s3/encode.ts";
import {
  canonicalHeaders,
  canonicalQuery,
  checkScope,
  createSigningKeyCache,
  type Credentials,
  deriveSigningKey,
  EMPTY_SHA256,
  type Pair,
  presign,
  type RequestParts,
  signCanonical,
  signHeaders,
  SigningError,
  UNSIGNED_PAYLOAD,
} from "../src/s3/sigv4.ts";
import { presignObjectUrl } from "../src/s3/presign_url.ts";

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const SECRETS: Credentials = { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: SECRET };
const TOKEN = "FwoGZXIvYXdzEJr//////////wEaDH+token/with+slash=and=";

const GET: RequestParts = {
  method: "GET",
  path: "/bucket/" + encodeKeyPath("dir/a b+c.txt"),
  headers: [["host", "s3.us-east-1.amazonaws.com"]],
  payloadHash: UNSIGNED_PAYLOAD,
};

function at(datetime: string, credentials: Credentials = SECRETS, region = "us-east-1") {
  return { credentials, region, service: "s3", datetime };
}

function keyCredentials(date: string, region = "us-east-1", service = "s3"): Credentials {
  return {
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    signingKey: deriveSigningKey(SECRET, date, region, service),
    scope: `${date}/${region}/${service}/aws4_request`,
  };
}

/** Parses a query string back into decoded pairs, strictly. */
function parseQuery(query: string): Pair[] {
  return query.split("&").map((part) => {
    const eq = part.indexOf("=");
    assert.ok(eq > 0, part);
    const name = decodeStrict(part.slice(0, eq));
    const value = decodeStrict(part.slice(eq + 1));
    assert.ok(name !== undefined && value !== undefined, part);
    return [name, value] as const;
  });
}

describe("signing-key mode (pre-derived key and scope, no secret)", () => {
  test("signs like the secret on the scope's day, in its region and service", () => {
    const byKey = signHeaders(GET, at("20240229T235959Z", keyCredentials("20240229")));
    const bySecret = signHeaders(GET, at("20240229T235959Z"));
    assert.equal(byKey.signature, bySecret.signature);
    assert.equal(byKey.authorization, bySecret.authorization);
    const p = presign(GET, at("20240229T000000Z", keyCredentials("20240229")), { expires: 60 });
    assert.equal(p.signature, presign(GET, at("20240229T000000Z"), { expires: 60 }).signature);
  });

  test("a date mismatch is a SigningError naming both dates, not a bad signature", () => {
    const credentials = keyCredentials("20240229");
    for (
      const sign of [
        () => signHeaders(GET, at("20240301T000000Z", credentials)),
        () => presign(GET, at("20240301T000000Z", credentials), { expires: 60 }),
        () => signCanonical(GET, at("20240228T235959Z", credentials)),
      ]
    ) {
      assert.throws(sign, (e: unknown) => {
        assert.ok(e instanceof SigningError);
        assert.match(e.message, /20240229/);
        assert.match(e.message, /20240301|20240228/);
        assert.match(e.message, /one UTC day/);
        return true;
      });
    }
  });

  test("a date mismatch is caught with a cache too, even after the key was cached", () => {
    const cache = createSigningKeyCache(8);
    const credentials = keyCredentials("20240229");
    const ok = signHeaders(GET, { ...at("20240229T120000Z", credentials), cache });
    assert.equal(ok.signature, signHeaders(GET, at("20240229T120000Z")).signature);
    assert.throws(
      () => signHeaders(GET, { ...at("20240301T000000Z", credentials), cache }),
      (e: unknown) => e instanceof SigningError && /20240229/.test(e.message),
    );
    assert.throws(
      () => signHeaders(GET, { ...at("20240229T120000Z", credentials, "eu-west-1"), cache }),
      (e: unknown) => e instanceof SigningError && /eu-west-1/.test(e.message),
    );
  });

  test("a region or service mismatch is a SigningError naming both", () => {
    assert.throws(
      () => signHeaders(GET, at("20240229T000000Z", keyCredentials("20240229"), "eu-west-1")),
      (e: unknown) =>
        e instanceof SigningError && /us-east-1/.test(e.message) && /eu-west-1/.test(e.message),
    );
    assert.throws(
      () =>
        signHeaders(GET, at("20240229T000000Z", keyCredentials("20240229", "us-east-1", "iam"))),
      (e: unknown) => e instanceof SigningError && /iam/.test(e.message) && /s3/.test(e.message),
    );
  });

  test("checkScope refuses malformed scopes", () => {
    for (
      const scope of [
        "",
        "20240229/us-east-1/s3",
        "2024-02-29/us-east-1/s3/aws4_request",
        "20240229/us-east-1/s3/aws4",
      ]
    ) {
      assert.throws(() => checkScope(scope, "20240229", "us-east-1", "s3"), SigningError, scope);
    }
    checkScope("20240229/us-east-1/s3/aws4_request", "20240229", "us-east-1", "s3");
  });

  test("a malformed x-amz-date is refused", () => {
    for (const datetime of ["20240229", "20240229T000000", "2024-02-29T00:00:00Z", ""]) {
      assert.throws(() => signHeaders(GET, at(datetime)), SigningError, datetime);
      assert.throws(() => presign(GET, at(datetime), { expires: 1 }), SigningError, datetime);
    }
  });
});

describe("the signing-key cache", () => {
  test("is bounded: filling it past its limit keeps it at the limit", () => {
    const cache = createSigningKeyCache(4);
    for (let day = 1; day <= 20; day++) {
      const date = `202401${String(day).padStart(2, "0")}`;
      signHeaders(GET, { ...at(date + "T000000Z"), cache });
      assert.equal(cache.size, Math.min(day, 4));
    }
    assert.throws(() => createSigningKeyCache(0), RangeError);
  });

  test("gives the same signatures as no cache, also after evictions", () => {
    const cache = createSigningKeyCache(2);
    const dates = ["20240101", "20240102", "20240103", "20240101", "20240103", "20240102"];
    for (const date of dates) {
      for (const region of ["us-east-1", "eu-west-1"]) {
        const ctx = at(date + "T101010Z", SECRETS, region);
        assert.equal(
          signHeaders(GET, { ...ctx, cache }).signature,
          signHeaders(GET, ctx).signature,
          `${date} ${region}`,
        );
      }
    }
    assert.equal(cache.size, 2);
  });

  test("is keyed by the credentials: two secrets on the same date sign differently", () => {
    const cache = createSigningKeyCache(8);
    const other: Credentials = {
      accessKeyId: "AKIAIOSFODNN7EXAMPLE",
      secretAccessKey: SECRET + "x",
    };
    const a = signHeaders(GET, { ...at("20240101T000000Z"), cache });
    const b = signHeaders(GET, { ...at("20240101T000000Z", other), cache });
    assert.notEqual(a.signature, b.signature);
    assert.equal(b.signature, signHeaders(GET, at("20240101T000000Z", other)).signature);
    assert.equal(
      signHeaders(GET, { ...at("20240101T000000Z"), cache }).signature,
      a.signature,
    );
    assert.equal(cache.size, 2);
    // Two pre-derived keys for the same scope string are two entries as well.
    const k1 = keyCredentials("20240101");
    const k2: Credentials = {
      ...k1,
      signingKey: deriveSigningKey(SECRET + "x", "20240101", "us-east-1", "s3"),
    };
    const s1 = signHeaders(GET, { ...at("20240101T000000Z", k1), cache });
    const s2 = signHeaders(GET, { ...at("20240101T000000Z", k2), cache });
    assert.equal(s1.signature, a.signature);
    assert.equal(s2.signature, b.signature);
  });
});

describe("presign", () => {
  test("refuses X-Amz-Expires outside 1..604800 and non-integers", () => {
    for (const expires of [0, -1, 604801, 1.5, NaN, Infinity, -Infinity]) {
      assert.throws(
        () => presign(GET, at("20240101T000000Z"), { expires }),
        (e: unknown) => e instanceof SigningError && /X-Amz-Expires/.test(e.message),
        String(expires),
      );
    }
  });

  test("accepts 1 and 604800 and signs them in", () => {
    for (const expires of [1, 604800]) {
      const p = presign(GET, at("20240101T000000Z"), { expires });
      assert.ok(
        parseQuery(p.query).some(([n, v]) => n === "X-Amz-Expires" && v === String(expires)),
      );
      assert.match(p.canonicalRequest, new RegExp(`&X-Amz-Expires=${expires}&`));
    }
  });

  test("includes and signs the session token", () => {
    const credentials = { ...SECRETS, sessionToken: TOKEN } as Credentials;
    const p = presign(GET, at("20240101T000000Z", credentials), { expires: 60 });
    const pairs = parseQuery(p.query);
    assert.ok(pairs.some(([n, v]) => n === "X-Amz-Security-Token" && v === TOKEN));
    const canonicalQueryLine = p.canonicalRequest.split("\n")[2];
    assert.ok(canonicalQueryLine.includes("X-Amz-Security-Token=" + encodeURIComponent(TOKEN)));
    assert.notEqual(p.signature, presign(GET, at("20240101T000000Z"), { expires: 60 }).signature);
  });

  test("signs extra query parameters, unicode, quotes and spaces included", () => {
    const extra: Pair[] = [
      ["versionId", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"],
      ["response-content-disposition", 'attachment; filename="a b ü 😀.txt"'],
      ["response-content-type", "text/plain; charset=utf-8"],
    ];
    const p = presign({ ...GET, query: extra }, at("20240101T000000Z"), { expires: 300 });
    const canonicalQueryLine = p.canonicalRequest.split("\n")[2];
    assert.ok(canonicalQueryLine.startsWith("X-Amz-Algorithm="));
    assert.ok(
      canonicalQueryLine.includes(
        "response-content-disposition=attachment%3B%20filename%3D%22a%20b%20%C3%BC%20%F0%9F%98%80.txt%22",
      ),
    );
    assert.ok(
      canonicalQueryLine.includes(
        "versionId=3%2FL4kqtJlcpXroDTDmJ%2BrmSpXd3dIbrHY%2BMTRCxf3vjVBH40Nr8X8gdRQBpUMLUo",
      ),
    );
    const back = parseQuery(p.query);
    for (const [n, v] of extra) assert.ok(back.some(([bn, bv]) => bn === n && bv === v), n);
    // Without the extra parameters, the signature differs.
    assert.notEqual(p.signature, presign(GET, at("20240101T000000Z"), { expires: 300 }).signature);
  });

  test("the returned query is exactly the canonical query plus the signature", () => {
    const credentials = { ...SECRETS, sessionToken: TOKEN } as Credentials;
    const extra: Pair[] = [
      ["versionId", "v 1"],
      ["response-cache-control", "no-cache, max-age=0"],
      ["a", ""],
    ];
    const p = presign(
      { ...GET, method: "HEAD", query: extra },
      at("20240101T000000Z", credentials),
      { expires: 900 },
    );
    const canonicalQueryLine = p.canonicalRequest.split("\n")[2];
    assert.equal(p.query, canonicalQueryLine + "&X-Amz-Signature=" + p.signature);
    // Parsed back and re-signed from the parsed pairs, it yields the same signature.
    const pairs = parseQuery(p.query);
    const [last] = pairs.splice(pairs.length - 1, 1);
    assert.deepEqual(last, ["X-Amz-Signature", p.signature]);
    assert.equal(canonicalQuery(pairs), canonicalQueryLine);
    const resigned = signCanonical(
      { ...GET, method: "HEAD", query: pairs },
      at("20240101T000000Z", credentials),
    );
    assert.equal(resigned.signature, p.signature);
    assert.equal(resigned.canonicalRequest, p.canonicalRequest);
    const names = pairs.map(([n]) => n);
    for (
      const n of [
        "X-Amz-Algorithm",
        "X-Amz-Credential",
        "X-Amz-Date",
        "X-Amz-Expires",
        "X-Amz-Security-Token",
        "X-Amz-SignedHeaders",
      ]
    ) {
      assert.ok(names.includes(n), n);
    }
  });

  test("caller parameters sorting before, between and after X-Amz-* land in canonical order", () => {
    const extra: Pair[] = [
      ["zeta", "1"],
      ["X-Amz", "no dash"],
      ["X-Amz.", "dot"],
      ["Apple", "2"],
      ["%", "percent"],
      ["0", ""],
      ["Y", "after X"],
      ["X-Am", "3"],
      ["x-am", "4"],
      ["Apple", "1"],
    ];
    const credentials = { ...SECRETS, sessionToken: TOKEN } as Credentials;
    const p = presign({ ...GET, query: extra }, at("20240101T000000Z", credentials), {
      expires: 60,
    });
    const pairs = parseQuery(p.query).slice(0, -1);
    assert.equal(p.canonicalRequest.split("\n")[2], canonicalQuery(pairs));
    // And the same set of pairs, sorted from scratch, gives the same string.
    assert.equal(canonicalQuery([...pairs].reverse()), canonicalQuery(pairs));
    const names = pairs.map(([n]) => n);
    assert.deepEqual(names, [
      "%",
      "0",
      "Apple",
      "Apple",
      "X-Am",
      "X-Amz",
      "X-Amz-Algorithm",
      "X-Amz-Credential",
      "X-Amz-Date",
      "X-Amz-Expires",
      "X-Amz-Security-Token",
      "X-Amz-SignedHeaders",
      "X-Amz.",
      "Y",
      "x-am",
      "zeta",
    ]);
    assert.deepEqual(pairs[2], ["Apple", "1"]);
  });

  test("a presigned URL is method-specific", () => {
    const get = presign(GET, at("20240101T000000Z"), { expires: 60 });
    const head = presign({ ...GET, method: "HEAD" }, at("20240101T000000Z"), { expires: 60 });
    assert.notEqual(get.signature, head.signature);
    assert.ok(head.canonicalRequest.startsWith("HEAD\n"));
  });

  test("refuses caller query parameters named X-Amz-*", () => {
    for (const name of ["X-Amz-Signature", "x-amz-expires", "X-AMZ-Date"]) {
      assert.throws(
        () => presign({ ...GET, query: [[name, "1"]] }, at("20240101T000000Z"), { expires: 60 }),
        SigningError,
      );
    }
  });
});

describe("header signing", () => {
  test("adds and signs x-amz-date, x-amz-content-sha256 and the session token", () => {
    const credentials = { ...SECRETS, sessionToken: TOKEN } as Credentials;
    const s = signHeaders(GET, at("20240101T000000Z", credentials));
    assert.equal(s.signedHeaders, "host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    const sent = new Map(s.headers);
    assert.equal(sent.get("x-amz-date"), "20240101T000000Z");
    assert.equal(sent.get("x-amz-content-sha256"), UNSIGNED_PAYLOAD);
    assert.equal(sent.get("x-amz-security-token"), TOKEN);
    assert.equal(sent.get("authorization"), s.authorization);
    assert.ok(s.canonicalRequest.includes("\nx-amz-security-token:" + TOKEN + "\n"));
    assert.equal(
      s.authorization,
      "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20240101/us-east-1/s3/aws4_request, " +
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token, Signature=" +
        s.signature,
    );
    assert.notEqual(s.signature, signHeaders(GET, at("20240101T000000Z")).signature);
  });

  test("without a token no token header; contentSha256: false drops that header", () => {
    const s = signHeaders({ ...GET, payloadHash: EMPTY_SHA256 }, at("20240101T000000Z"), {
      contentSha256: false,
    });
    assert.equal(s.signedHeaders, "host;x-amz-date");
    assert.deepEqual(s.headers.map(([n]) => n), ["x-amz-date", "authorization"]);
    assert.ok(s.canonicalRequest.endsWith("\n" + EMPTY_SHA256));
  });

  test("forwarded headers are signed; values trimmed and folded, repeats joined in order", () => {
    const s = signHeaders(
      {
        ...GET,
        headers: [
          ["Host", "s3.us-east-1.amazonaws.com"],
          ["Range", "  bytes=0-9 "],
          ["If-None-Match", '"a"'],
          ["if-none-match", '"b   c"'],
        ],
      },
      at("20240101T000000Z"),
    );
    assert.equal(s.signedHeaders, "host;if-none-match;range;x-amz-content-sha256;x-amz-date");
    assert.ok(s.canonicalRequest.includes('\nif-none-match:"a","b c"\nrange:bytes=0-9\n'));
  });

  test("returns the canonical query it signed, the one to send", () => {
    const parts = { ...GET, query: [["prefix", "a b/ü"], ["list-type", "2"], ["x", ""]] as Pair[] };
    const signed = signHeaders(parts, at("20240229T000000Z"));
    assert.equal(signed.query, "list-type=2&prefix=a%20b%2F%C3%BC&x=");
    assert.equal(signed.canonicalRequest.split("\n")[2], signed.query);
    assert.equal(signHeaders(GET, at("20240229T000000Z")).query, "");
  });

  test("canonicalHeaders folds tabs and line breaks too", () => {
    const { canonical } = canonicalHeaders([["X-A", "\t a \t b\r\n c "]]);
    assert.equal(canonical, "x-a:a b c\n");
  });
});

describe("presignObjectUrl", () => {
  const base = {
    scheme: "https" as const,
    host: "s3.eu-west-1.amazonaws.com",
    bucket: "my-bucket",
    method: "GET",
    expires: 3600,
    datetime: "20240101T000000Z",
    credentials: SECRETS,
    region: "eu-west-1",
  };

  test("path style: host/bucket/key, the key literal and encoded once", () => {
    const key = "dir/a b#c?d%20+é😀.txt";
    const url = presignObjectUrl({ ...base, key, style: "path" });
    const u = new URL(url);
    assert.equal(u.host, "s3.eu-west-1.amazonaws.com");
    assert.equal(
      u.pathname,
      "/my-bucket/dir/a%20b%23c%3Fd%2520%2B%C3%A9%F0%9F%98%80.txt",
    );
    assert.equal(decodeStrict(u.pathname), "/my-bucket/" + key);
    const query = url.slice(url.indexOf("?") + 1);
    const p = presign(
      {
        method: "GET",
        path: u.pathname,
        headers: [["host", "s3.eu-west-1.amazonaws.com"]],
        payloadHash: UNSIGNED_PAYLOAD,
      },
      { credentials: SECRETS, region: "eu-west-1", service: "s3", datetime: base.datetime },
      { expires: 3600 },
    );
    assert.equal(query, p.query);
  });

  test("virtual style: bucket.host/key, and the host is signed", () => {
    const url = presignObjectUrl({ ...base, key: "k", style: "virtual" });
    assert.ok(url.startsWith("https://my-bucket.s3.eu-west-1.amazonaws.com/k?"), url);
    const path = presignObjectUrl({ ...base, key: "k", style: "path" });
    assert.notEqual(url.slice(url.lastIndexOf("=")), path.slice(path.lastIndexOf("=")));
  });

  test("a port is kept and signed; the scheme's default port is dropped", () => {
    const withPort = presignObjectUrl({
      ...base,
      scheme: "http",
      host: "127.0.0.1:9000",
      key: "k",
      style: "path",
    });
    assert.ok(withPort.startsWith("http://127.0.0.1:9000/my-bucket/k?"), withPort);
    assert.equal(
      presignObjectUrl({
        ...base,
        host: "s3.eu-west-1.amazonaws.com:443",
        key: "k",
        style: "path",
      }),
      presignObjectUrl({ ...base, key: "k", style: "path" }),
    );
    assert.equal(
      presignObjectUrl({ ...base, scheme: "http", host: "minio:80", key: "k", style: "path" }),
      presignObjectUrl({ ...base, scheme: "http", host: "minio", key: "k", style: "path" }),
    );
    assert.notEqual(
      presignObjectUrl({ ...base, scheme: "http", host: "minio:443", key: "k", style: "path" }),
      presignObjectUrl({ ...base, scheme: "http", host: "minio", key: "k", style: "path" }),
    );
  });

  test("extra query parameters and the session token are carried and signed", () => {
    const url = presignObjectUrl({
      ...base,
      key: "k",
      style: "path",
      method: "HEAD",
      credentials: { ...SECRETS, sessionToken: TOKEN },
      query: [["versionId", "v+1"]],
    });
    const pairs = parseQuery(url.slice(url.indexOf("?") + 1));
    assert.ok(pairs.some(([n, v]) => n === "versionId" && v === "v+1"));
    assert.ok(pairs.some(([n, v]) => n === "X-Amz-Security-Token" && v === TOKEN));
  });

  test("refuses a bad scheme, bucket or style", () => {
    assert.throws(
      () => presignObjectUrl({ ...base, key: "k", style: "path", bucket: "" }),
      SigningError,
    );
    assert.throws(
      () => presignObjectUrl({ ...base, key: "k", style: "path", bucket: "a/b" }),
      SigningError,
    );
    assert.throws(
      () => presignObjectUrl({ ...base, key: "k", style: "sideways" as "path" }),
      SigningError,
    );
    assert.throws(
      () => presignObjectUrl({ ...base, key: "k", style: "path", scheme: "ftp" as "http" }),
      SigningError,
    );
  });
});
