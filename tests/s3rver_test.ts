// The fake S3 server really verifies signatures, so it can prove ours; and its quirks, as
// documented at the top of tests/support/s3rver.ts, hold.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { AwsClient } from "aws4fetch";
import {
  decodeXmlText,
  encodeKey,
  generateKeyPair,
  type S3rverHandle,
  startS3rver,
} from "./support/s3rver.ts";

const BUCKET = "test-bucket";
const BODY = "0123456789abcdefghij";

/** `YYYYMMDDTHHMMSSZ` for a moment `offsetMs` from now. */
function amzDate(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString().replace(/[:-]|\.\d{3}/g, "");
}

/** The `<Code>` of an S3 XML error body. */
function errorCode(xml: string): string | undefined {
  return /<Code>([^<]*)<\/Code>/.exec(xml)?.[1];
}

/** Replace the last character of a hex signature with a different hex digit. */
function flipLast(sig: string): string {
  return sig.slice(0, -1) + (sig.endsWith("0") ? "1" : "0");
}

describe("support helpers", () => {
  test("encodeKey keeps only unreserved bytes and '/'", () => {
    assert.equal(encodeKey("a b/c+d€"), "a%20b/c%2Bd%E2%82%AC");
    assert.equal(encodeKey("~-_.AZaz09"), "~-_.AZaz09");
    assert.equal(encodeKey("!'()*=@$&;,:%#?"), "%21%27%28%29%2A%3D%40%24%26%3B%2C%3A%25%23%3F");
    assert.equal(encodeKey("😀"), "%F0%9F%98%80");
  });

  test("generateKeyPair looks real and its secret contains / + =", () => {
    const seen = new Set<string>();
    for (let i = 0; i < 50; i++) {
      const { accessKeyId, secretAccessKey } = generateKeyPair();
      assert.match(accessKeyId, /^AKIA[A-Z0-9]{16}$/);
      assert.match(secretAccessKey, /^[A-Za-z0-9+/=]{40}$/);
      for (const ch of ["/", "+", "="]) assert.ok(secretAccessKey.includes(ch), secretAccessKey);
      seen.add(accessKeyId);
    }
    assert.equal(seen.size, 50);
  });

  test("decodeXmlText decodes entities and character references", () => {
    assert.equal(decodeXmlText("a&amp;b&lt;&gt;&quot;&apos;&#x27;&#96;&#x1F600;"), "a&b<>\"''`😀");
    assert.equal(decodeXmlText("&amp;amp;"), "&amp;");
  });
});

describe("s3rver verifies SigV4", () => {
  let s3: S3rverHandle;
  let client: AwsClient;
  const extra = generateKeyPair();

  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET], extraKeyPairs: [extra] });
    client = new AwsClient({
      accessKeyId: s3.accessKeyId,
      secretAccessKey: s3.secretAccessKey,
      service: "s3",
      region: s3.region,
      retries: 0,
    });
    await s3.putObject(BUCKET, "obj.txt", BODY, { "content-type": "text/plain" });
  });
  after(() => s3?.stop());

  test("the handle describes where the server is", () => {
    assert.equal(s3.host, `127.0.0.1:${s3.port}`);
    assert.equal(s3.endpoint, `http://127.0.0.1:${s3.port}`);
    assert.ok(s3.port > 0);
    assert.equal(s3.objectUrl(BUCKET, "a b"), `${s3.endpoint}/${BUCKET}/a%20b`);
  });

  test("a correctly signed header-auth GET succeeds", async () => {
    const res = await client.fetch(s3.objectUrl(BUCKET, "obj.txt"));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), BODY);
    assert.equal(res.headers.get("content-type"), "text/plain");
  });

  test("one wrong signature character is 403 SignatureDoesNotMatch", async () => {
    const signed = await client.sign(s3.objectUrl(BUCKET, "obj.txt"));
    const auth = signed.headers.get("authorization")!;
    assert.match(auth, /Signature=[0-9a-f]{64}$/);
    const headers = new Headers(signed.headers);
    headers.set("authorization", flipLast(auth));
    const bad = await fetch(signed.url, { headers });
    assert.equal(bad.status, 403);
    assert.equal(errorCode(await bad.text()), "SignatureDoesNotMatch");
    // The untouched request passes, so the flip alone made the difference.
    const good = await fetch(signed.url, { headers: signed.headers });
    assert.equal(good.status, 200);
    await good.body?.cancel();
  });

  test("a wrong secret is 403 SignatureDoesNotMatch", async () => {
    const res = await s3.signedFetch(`/${BUCKET}/obj.txt`, {
      aws: { secretAccessKey: s3.secretAccessKey.slice(0, -1) + "x" },
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(await res.text()), "SignatureDoesNotMatch");
  });

  test("an unknown access key is 403 InvalidAccessKeyId", async () => {
    const other = generateKeyPair();
    const res = await s3.signedFetch(`/${BUCKET}/obj.txt`, { aws: { ...other } });
    assert.equal(res.status, 403);
    assert.equal(errorCode(await res.text()), "InvalidAccessKeyId");
  });

  test("the built-in S3RVER/S3RVER key pair is revoked", async () => {
    const res = await s3.signedFetch(`/${BUCKET}/obj.txt`, {
      aws: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(await res.text()), "InvalidAccessKeyId");
  });

  test("an extra key pair is accepted alongside the default one", async () => {
    const res = await s3.signedFetch(`/${BUCKET}/obj.txt`, { aws: { ...extra } });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), BODY);
  });

  test("an unsigned request is 403 AccessDenied", async () => {
    const res = await fetch(s3.objectUrl(BUCKET, "obj.txt"));
    assert.equal(res.status, 403);
    assert.equal(errorCode(await res.text()), "AccessDenied");
  });

  test("quirk: header auth has no clock-skew check (x-amz-date is never parsed)", async () => {
    // Real S3 answers 403 RequestTimeTooSkewed beyond 15 minutes; s3rver's parseDate cannot
    // read the basic ISO 8601 form and the comparison with NaN never fails.
    const res = await s3.signedFetch(`/${BUCKET}/obj.txt`, {
      aws: { datetime: amzDate(-3 * 86400_000) },
    });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), BODY);
  });

  test("header auth requires x-amz-content-sha256", async () => {
    const signed = await client.sign(s3.objectUrl(BUCKET, "obj.txt"));
    const headers = new Headers(signed.headers);
    headers.delete("x-amz-content-sha256");
    const res = await fetch(signed.url, { headers });
    assert.equal(res.status, 400);
    assert.equal(errorCode(await res.text()), "InvalidRequest");
  });

  test("a presigned URL works; tampered or expired ones fail", async () => {
    const presign = async (key: string, expires: number, datetime?: string) =>
      (await client.sign(`${s3.objectUrl(BUCKET, key)}?X-Amz-Expires=${expires}`, {
        aws: { signQuery: true, datetime },
      })).url;

    const url = new URL(await presign("obj.txt", 300));
    assert.equal(url.searchParams.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256");
    const ok = await fetch(url);
    assert.equal(ok.status, 200);
    assert.equal(await ok.text(), BODY);

    const badSig = new URL(url);
    badSig.searchParams.set("X-Amz-Signature", flipLast(url.searchParams.get("X-Amz-Signature")!));
    const r1 = await fetch(badSig);
    assert.equal(r1.status, 403);
    assert.equal(errorCode(await r1.text()), "SignatureDoesNotMatch");

    await s3.putObject(BUCKET, "other.txt", "other");
    const otherPath = new URL(url);
    otherPath.pathname = `/${BUCKET}/other.txt`;
    const r2 = await fetch(otherPath);
    assert.equal(r2.status, 403);
    assert.equal(errorCode(await r2.text()), "SignatureDoesNotMatch");

    const longer = new URL(url);
    longer.searchParams.set("X-Amz-Expires", "301");
    const r3 = await fetch(longer);
    assert.equal(r3.status, 403);
    assert.equal(errorCode(await r3.text()), "SignatureDoesNotMatch");

    // Signed two hours ago, valid for one minute: expired.
    const expired = await fetch(await presign("obj.txt", 60, amzDate(-2 * 3600_000)));
    assert.equal(expired.status, 403);
    const expiredXml = await expired.text();
    assert.equal(errorCode(expiredXml), "AccessDenied");
    assert.match(expiredXml, /Request has expired/);

    // Signed two hours ago, valid for a day: presigned URLs have no skew check.
    const old = await fetch(await presign("obj.txt", 86400, amzDate(-2 * 3600_000)));
    assert.equal(old.status, 200);
    assert.equal(await old.text(), BODY);

    const tooLong = await fetch(await presign("obj.txt", 604801));
    assert.equal(tooLong.status, 400);
    assert.equal(errorCode(await tooLong.text()), "AuthorizationQueryParametersError");
  });

  test("a presigned HEAD URL is method-specific", async () => {
    const url = (await client.sign(`${s3.objectUrl(BUCKET, "obj.txt")}?X-Amz-Expires=60`, {
      method: "HEAD",
      aws: { signQuery: true },
    })).url;
    const head = await fetch(url, { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get("content-length"), String(BODY.length));
    const get = await fetch(url);
    assert.equal(get.status, 403);
    assert.equal(errorCode(await get.text()), "SignatureDoesNotMatch");
  });

  test("the canonical URI must use the strict RFC 3986 encoding", async () => {
    const key = "strict (a b)!.txt";
    await s3.putObject(BUCKET, key, "strict");
    const ok = await s3.getObject(BUCKET, key);
    assert.equal(ok.status, 200);
    assert.equal(ok.text, "strict");
    // singleEncode makes aws4fetch sign the decoded path, i.e. a non-canonical encoding.
    const res = await s3.signedFetch(`/${BUCKET}/${encodeKey(key)}`, {
      aws: { singleEncode: true },
    });
    assert.equal(res.status, 403);
    assert.equal(errorCode(await res.text()), "SignatureDoesNotMatch");
  });

  test("not checked: the scope's region and an x-amz-security-token", async () => {
    const region = await s3.signedFetch(`/${BUCKET}/obj.txt`, { aws: { region: "mars-east-9" } });
    assert.equal(region.status, 200);
    await region.body?.cancel();
    const token = await s3.signedFetch(`/${BUCKET}/obj.txt`, {
      aws: { sessionToken: "FwoGZXIvYXdzE/+=token" },
    });
    assert.equal(token.status, 200);
    await token.body?.cancel();
    // The token is covered by the signature when it is signed: changing it breaks the request.
    const signed = await client.sign(s3.objectUrl(BUCKET, "obj.txt"), {
      aws: { sessionToken: "one" },
    });
    const headers = new Headers(signed.headers);
    headers.set("x-amz-security-token", "two");
    const changed = await fetch(signed.url, { headers });
    assert.equal(changed.status, 403);
    assert.equal(errorCode(await changed.text()), "SignatureDoesNotMatch");
  });

  test("Range gives 206 with the right bytes; its quirks", async () => {
    const mid = await s3.getObject(BUCKET, "obj.txt", { range: "bytes=2-5" });
    assert.equal(mid.status, 206);
    assert.equal(mid.text, BODY.slice(2, 6));
    assert.equal(mid.headers.get("content-range"), `bytes 2-5/${BODY.length}`);
    assert.equal(mid.headers.get("content-length"), "4");

    const open = await s3.getObject(BUCKET, "obj.txt", { range: "bytes=15-" });
    assert.equal(open.status, 206);
    assert.equal(open.text, BODY.slice(15));

    const beyond = await s3.getObject(BUCKET, "obj.txt", { range: "bytes=100-" });
    assert.equal(beyond.status, 416);
    assert.equal(errorCode(beyond.text), "InvalidRange");

    // Quirk: a suffix range is read as `0-n`, not as the last n bytes.
    const suffix = await s3.getObject(BUCKET, "obj.txt", { range: "bytes=-3" });
    assert.equal(suffix.status, 206);
    assert.equal(suffix.text, BODY.slice(0, 4));
  });

  test("conditional GET: If-None-Match is honoured, If-Match is ignored", async () => {
    const full = await s3.getObject(BUCKET, "obj.txt");
    const etag = full.headers.get("etag")!;
    assert.match(etag, /^"[0-9a-f]{32}"$/);
    const notModified = await s3.getObject(BUCKET, "obj.txt", { "if-none-match": etag });
    assert.equal(notModified.status, 304);
    const otherTag = await s3.getObject(BUCKET, "obj.txt", { "if-none-match": '"x"' });
    assert.equal(otherTag.status, 200);
    // Quirk: real S3 answers 412 here.
    const ifMatch = await s3.getObject(BUCKET, "obj.txt", { "if-match": '"x"' });
    assert.equal(ifMatch.status, 200);
  });

  test("a bucket request must be /bucket, not /bucket/", async () => {
    const good = await s3.signedFetch(`/${BUCKET}?list-type=2`);
    assert.equal(good.status, 200);
    assert.match(await good.text(), /<ListBucketResult/);
    const slash = await s3.signedFetch(`/${BUCKET}/?list-type=2`);
    assert.equal(slash.status, 403);
    assert.equal(errorCode(await slash.text()), "SignatureDoesNotMatch");
  });

  test("missing key and missing bucket are 404 with S3's codes", async () => {
    const key = await s3.getObject(BUCKET, "no/such/key");
    assert.equal(key.status, 404);
    assert.equal(errorCode(key.text), "NoSuchKey");
    const bucket = await s3.getObject("no-such-bucket", "k");
    assert.equal(bucket.status, 404);
    assert.equal(errorCode(bucket.text), "NoSuchBucket");
  });
});

describe("s3rver storage and listing", () => {
  let s3: S3rverHandle;
  before(async () => {
    s3 = await startS3rver({ buckets: ["keys", "many"] });
  });
  after(() => s3?.stop());

  test("awkward keys round-trip through put, get and list", async () => {
    const keys = [
      "plain.txt",
      "ünïcödé/文件.txt",
      "with space.txt",
      "a+b.txt",
      "bang!quote'paren(s)star*.txt",
      "eq=at@dollar$amp&semi;comma,colon:.txt",
      "100%.txt",
      "%41%2F%zz",
      "hash#frag.txt",
      "question?mark.txt",
      "tilde~.txt",
      "trailing space ",
      "emoji😀/🚀.txt",
      "lt<gt>quot\"apos'.txt",
      "back`tick&amp;.txt",
      "dir/",
      "deep/a/b/c/d.txt",
    ];
    await s3.putObjects("keys", keys.map((k) => [k, `body of ${k}`]));
    const listed = await s3.listKeys("keys");
    assert.deepEqual(listed.toSorted(), keys.toSorted());
    for (const k of keys) {
      const got = await s3.getObject("keys", k);
      assert.equal(got.status, 200, k);
      assert.equal(got.text, `body of ${k}`, k);
    }
    assert.deepEqual((await s3.listKeys("keys", "deep/")).toSorted(), ["deep/a/b/c/d.txt"]);
  });

  test("quirk: listing XML escapes & < > ' twice, \" once", async () => {
    await s3.putObject("keys", "x&y", "1");
    const res = await s3.signedFetch("/keys?list-type=2&prefix=x%26");
    const xml = await res.text();
    assert.equal(res.status, 200);
    assert.match(xml, /<Key>x&amp;amp;y<\/Key>/);
  });

  test("quirk: '//' in a key is collapsed to '/' in storage", async () => {
    await s3.putObject("keys", "dbl//slash", "dbl");
    const listed = await s3.listKeys("keys", "dbl");
    assert.deepEqual(listed, ["dbl/slash"]);
    const got = await s3.getObject("keys", "dbl/slash");
    assert.equal(got.text, "dbl");
  });

  test("quirk: a key segment longer than the file-name limit is a 500", async () => {
    await s3.putObject("keys", "k".repeat(200), "fits");
    assert.equal((await s3.getObject("keys", "k".repeat(200))).text, "fits");
    const res = await s3.signedFetch(`/keys/${"k".repeat(250)}`, { method: "PUT", body: "x" });
    assert.equal(res.status, 500);
    assert.equal(errorCode(await res.text()), "InternalError");
  });

  test("binary bodies and deletes", async () => {
    const bytes = new Uint8Array(256).map((_, i) => i);
    await s3.putObject("keys", "bin", bytes);
    const got = await s3.getObject("keys", "bin");
    assert.deepEqual(got.bytes, bytes);
    await s3.deleteObject("keys", "bin");
    assert.equal((await s3.getObject("keys", "bin")).status, 404);
  });

  test("ListObjectsV2 pages over more than 1000 keys with a continuation token", async () => {
    const keys = Array.from({ length: 1050 }, (_, i) => `k/${String(i).padStart(5, "0")}`);
    await s3.putObjects("many", keys.map((k) => [k, "x"]), 32);

    const first = await s3.signedFetch("/many?list-type=2");
    const xml1 = await first.text();
    assert.equal(first.status, 200);
    assert.match(xml1, /<IsTruncated>true<\/IsTruncated>/);
    assert.equal([...xml1.matchAll(/<Key>/g)].length, 1000);
    const token = /<NextContinuationToken>([^<]+)<\/NextContinuationToken>/.exec(xml1)?.[1];
    assert.ok(token, "a continuation token");

    const q = new URLSearchParams({ "list-type": "2", "continuation-token": token });
    const second = await s3.signedFetch(`/many?${q}`);
    const xml2 = await second.text();
    assert.equal(second.status, 200);
    assert.match(xml2, /<IsTruncated>false<\/IsTruncated>/);
    assert.equal([...xml2.matchAll(/<Key>/g)].length, 50);
    assert.match(xml2, /<Key>k\/01049<\/Key>/);

    assert.deepEqual(await s3.listKeys("many"), keys);
  });

  test("a bucket can be created after start", async () => {
    await s3.createBucket("later");
    await s3.putObject("later", "a", "b");
    assert.deepEqual(await s3.listKeys("later"), ["a"]);
  });
});

describe("s3rver lifecycle", () => {
  test("stop() ends the process, frees the port and removes the directory", async () => {
    const s3 = await startS3rver({ buckets: ["b"] });
    const { directory, endpoint } = s3;
    assert.ok((await Deno.stat(directory)).isDirectory);
    await s3.stop();
    await s3.stop(); // idempotent
    await assert.rejects(Deno.stat(directory), Deno.errors.NotFound);
    await assert.rejects(fetch(endpoint));
  });

  test("allowAnonymous lets unsigned requests through, as stock s3rver does", async () => {
    await using s3 = await startS3rver({ buckets: ["pub"], allowAnonymous: true });
    await s3.putObject("pub", "k", "v");
    const res = await fetch(s3.objectUrl("pub", "k"));
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "v");
  });

  test("two servers run side by side with their own key pairs", async () => {
    await using a = await startS3rver({ buckets: ["b"] });
    await using b = await startS3rver({ buckets: ["b"] });
    assert.notEqual(a.port, b.port);
    assert.notEqual(a.accessKeyId, b.accessKeyId);
    await a.putObject("b", "k", "from a");
    const cross = await b.signedFetch("/b/k", {
      aws: { accessKeyId: a.accessKeyId, secretAccessKey: a.secretAccessKey },
    });
    assert.equal(cross.status, 403);
    assert.equal(errorCode(await cross.text()), "InvalidAccessKeyId");
  });
});
