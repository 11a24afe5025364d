/**
 * The `sigv4` method (src/auth/sigv4.ts, sigv4_verify.ts, sigv4_keys.ts): signatures made by
 * aws4fetch (an independent signer) and by our own signer, in both forms, are verified against
 * the raw request target; every refusal S3 would give is tried; the keys file is parsed (errors
 * by line number, never a secret), must be private, and is re-read on change and on reload
 * (a bad re-read keeps the old keys).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AwsV4Signer } from "aws4fetch";
import { parseConfig } from "../src/config.ts";
import { createRouter, type LogEntry } from "../src/handler.ts";
import { type AuthFailure, type AuthIo, type AuthOutcome } from "../src/auth/method.ts";
import { createSigv4Auth } from "../src/auth/sigv4.ts";
import {
  formatKeyLine,
  formatPrefix,
  keysFileModeProblem,
  newKeyPair,
  parseKeysFile,
  parsePrefix,
} from "../src/auth/sigv4_keys.ts";
import { rawPathAndQuery } from "../src/auth/sigv4_verify.ts";
import { allowReadFlag } from "../src/credentials/read_paths.ts";
import { encodeKeyPath, encodeQueryComponent } from "../src/s3/encode.ts";
import { amzDate } from "../src/s3/scope.ts";
import { type Pair, presign, signHeaders, UNSIGNED_PAYLOAD } from "../src/s3/sigv4.ts";

const HOST = "127.0.0.1:8080";
const REGION = "eu-west-1";
const NOW = Date.UTC(2026, 11, 1, 12, 0, 0);
const ID = "AKPXTESTTESTTEST2345";
const SECRET = "s3cr3t/with+odd=chars/0123456789abcdefgh";
const LIMITED = "AKPXLIMITEDLIMITED23";
const LIMITED_SECRET = "an0ther-secret-of-forty-characters-12345";
const KEYS_FILE = [
  "# issued keys",
  "",
  "# ci",
  `${ID} ${SECRET}`,
  `${LIMITED} ${LIMITED_SECRET} artifacts/nightly/ logs/a%20b/`,
  "",
].join("\n");

/** Object keys that bit peer projects, as S3 clients name them. */
const AWKWARD = [
  "plain.txt",
  "with space/two  spaces .txt",
  "plus+sign/a+b.txt",
  "ünïcödé/naïve café.txt",
  "tilde/~home~.txt",
  "percent/100% done %2F %20.txt",
  "marks/!()*'.txt",
  "sub-delims/=@$;,:&.txt",
  "emoji/😀.bin",
];

/** The fake world of one authenticator: files, modes, a clock, a log, manual timers. */
function world(files: Record<string, string>, modes: Record<string, number> = {}) {
  const logs: Record<string, unknown>[] = [];
  const timers: (() => void)[] = [];
  let now = NOW;
  const io: AuthIo = {
    readTextFile: (path) =>
      path in files ? Promise.resolve(files[path]) : Promise.reject(new Error("No such file")),
    fileMode: (path) => Promise.resolve(modes[path] ?? 0o100600),
    fetch: () => Promise.reject(new Error("no network")),
    now: () => now,
    log: (e) => logs.push(e),
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => {},
  };
  return {
    io,
    files,
    modes,
    logs,
    setNow: (t: number) => now = t,
    /** Runs the pending poll and waits for its re-read. */
    async tick() {
      const pending = timers.splice(0);
      assert.ok(pending.length > 0, "a poll is scheduled");
      for (const fn of pending) fn();
      // The poll reads the file (two awaited calls) before it schedules the next one.
      for (let i = 0; i < 20 && timers.length === 0; i++) await Promise.resolve();
      assert.equal(timers.length, 1, "the poll re-scheduled itself");
    },
  };
}

async function auth(text = KEYS_FILE) {
  const w = world({ "/keys": text });
  const a = await createSigv4Auth({ file: "/keys", region: REGION }, w.io);
  return { ...w, auth: a, check: (r: Signed) => a.check(input(r)) };
}

/** A request as the server sees it: URL as received, headers with Host. */
interface Signed {
  readonly method: string;
  readonly url: string;
  readonly headers: Record<string, string>;
}

function input(r: Signed) {
  const req = new Request(r.url, { method: r.method, headers: { host: HOST, ...r.headers } });
  return { req, method: r.method, url: r.url };
}

/** Signed by aws4fetch (header or query); `path` and `query` are raw, as sent. */
async function aws4fetch(
  path: string,
  query = "",
  options: {
    method?: string;
    headers?: Record<string, string>;
    signQuery?: boolean;
    datetime?: string;
    region?: string;
    service?: string;
    id?: string;
    secret?: string;
  } = {},
): Promise<Signed> {
  const method = options.method ?? "GET";
  const signer = new AwsV4Signer({
    url: `http://${HOST}${path}${query ? "?" + query : ""}`,
    method,
    headers: options.headers ?? {},
    accessKeyId: options.id ?? ID,
    secretAccessKey: options.secret ?? SECRET,
    service: options.service ?? "s3",
    region: options.region ?? REGION,
    datetime: options.datetime ?? amzDate(NOW),
    signQuery: options.signQuery,
    // aws4fetch leaves range (and a few others) unsigned unless told to sign every header.
    allHeaders: options.headers !== undefined,
  });
  const signed = await signer.sign();
  return { method, url: signed.url.toString(), headers: Object.fromEntries(signed.headers) };
}

/** Signed by our signer; `path` exactly as sent, `query` decoded pairs. */
function ours(
  path: string,
  query: Pair[] = [],
  options: {
    method?: string;
    headers?: Pair[];
    presigned?: boolean;
    expires?: number;
    datetime?: string;
    id?: string;
    secret?: string;
  } = {},
): Signed {
  const method = options.method ?? "GET";
  const parts = {
    method,
    path,
    query,
    headers: [["host", HOST] as Pair, ...(options.headers ?? [])],
    payloadHash: UNSIGNED_PAYLOAD,
  };
  const ctx = {
    credentials: { accessKeyId: options.id ?? ID, secretAccessKey: options.secret ?? SECRET },
    region: REGION,
    service: "s3",
    datetime: options.datetime ?? amzDate(NOW),
  };
  const extra = Object.fromEntries((options.headers ?? []).filter(([n]) => n !== "host"));
  if (options.presigned) {
    const p = presign(parts, ctx, { expires: options.expires ?? 3600 });
    return { method, url: `http://${HOST}${path}?${p.query}`, headers: extra };
  }
  const s = signHeaders(parts, ctx);
  return {
    method,
    url: `http://${HOST}${path}${s.query ? "?" + s.query : ""}`,
    headers: { ...extra, ...Object.fromEntries(s.headers) },
  };
}

function assertOk(outcome: AuthOutcome, what = "", principal = ID) {
  assert.equal(outcome.kind, "ok", what + " " + JSON.stringify(outcome));
  if (outcome.kind === "ok") assert.equal(outcome.principal, principal);
}

function assertFail(outcome: AuthOutcome, status: number, code: string, message?: RegExp) {
  assert.equal(outcome.kind, "fail", JSON.stringify(outcome));
  const f = outcome as AuthFailure;
  assert.equal(f.status, status, JSON.stringify(f));
  assert.equal(f.code, code, JSON.stringify(f));
  if (message) assert.match(f.message, message);
  for (const secret of [SECRET, LIMITED_SECRET]) {
    assert.ok(!JSON.stringify(f).includes(secret), "no secret in a refusal");
  }
}

/** Replaces one `Name=value` component of an Authorization header. */
function withAuth(r: Signed, edit: (authorization: string) => string): Signed {
  const headers = { ...r.headers };
  const name = Object.keys(headers).find((h) => h.toLowerCase() === "authorization")!;
  headers[name] = edit(headers[name]);
  return { ...r, headers };
}

function withQuery(r: Signed, edit: (params: URLSearchParams) => void): Signed {
  const url = new URL(r.url);
  const params = new URLSearchParams(url.search);
  edit(params);
  return { ...r, url: `http://${HOST}${url.pathname}?${params.toString().replaceAll("+", "%20")}` };
}

describe("sigv4: signatures that hold", () => {
  test("aws4fetch, header and presigned, for awkward keys under a route prefix", async () => {
    const a = await auth();
    for (const key of AWKWARD) {
      const path = "/b/bkt/" + encodeKeyPath(key);
      assertOk(await a.check(await aws4fetch(path)), `header: ${key}`);
      assertOk(await a.check(await aws4fetch(path, "", { signQuery: true })));
      assertOk(await a.check(await aws4fetch(path, "", { method: "HEAD" })));
      assertOk(
        await a.check(await aws4fetch(path, "", { headers: { range: "bytes=0-99" } })),
        `range: ${key}`,
      );
    }
  });

  test("our signer, header and presigned, the path signed exactly as sent (%2F, lower-case hex kept)", async () => {
    const a = await auth();
    for (const key of AWKWARD) {
      const path = "/bkt/" + encodeKeyPath(key);
      assertOk(await a.check(ours(path)), key);
      assertOk(await a.check(ours(path, [], { presigned: true })), key);
    }
    // S3 style: no normalisation, no second encoding. A client that sends `%2F` (or lower-case
    // hex, or `//`) and signs it so is admitted; the same bytes with another spelling are not.
    for (const path of ["/bkt/a%2Fb", "/bkt/a%2fb", "/bkt//double//", "/b/bkt/x%7E"]) {
      const r = ours(path);
      assertOk(await a.check(r), path);
      const other = path.replace(/%2F|%2f/, "/").replace("//", "/").replace("%7E", "~");
      const moved = { ...r, url: r.url.replace(path, other) };
      assertFail(await a.check(moved), 403, "SignatureDoesNotMatch");
    }
  });

  test("listing queries: continuation tokens with = + /, prefixes with spaces, both signers", async () => {
    const a = await auth();
    const token = "1/abc+def==/g+";
    const pairs: Pair[] = [
      ["list-type", "2"],
      ["prefix", "with space/ü+"],
      ["continuation-token", token],
      ["delimiter", "/"],
      ["encoding-type", "url"],
    ];
    const raw = pairs.map(([n, v]) => `${n}=${encodeQueryComponent(v)}`).join("&");
    assertOk(await a.check(await aws4fetch("/b/bkt", raw)));
    assertOk(await a.check(await aws4fetch("/b/bkt", raw, { signQuery: true })));
    assertOk(await a.check(ours("/bkt", pairs)));
    assertOk(await a.check(ours("/bkt", pairs, { presigned: true })));
    // Sent in another order, with `+` for a space: the same decoded pairs, the same signature.
    const r = ours("/bkt", pairs);
    const reordered = "prefix=with+space%2F%C3%BC%2B&encoding-type=url&list-type=2&delimiter=%2F" +
      "&continuation-token=" + encodeQueryComponent(token);
    assertOk(await a.check({ ...r, url: `http://${HOST}/bkt?${reordered}` }));
    // A bare sub-resource name is `name=`.
    assertOk(await a.check(await aws4fetch("/bkt", "location")));
  });

  test("a key's prefixes come with it; a key without any reads the whole route", async () => {
    const a = await auth();
    const limited = await a.check(ours("/bkt/x", [], { id: LIMITED, secret: LIMITED_SECRET }));
    assert.deepEqual(limited, {
      kind: "ok",
      principal: LIMITED,
      prefixes: ["artifacts/nightly/", "logs/a b/"],
    });
    assert.deepEqual(await a.check(ours("/bkt/x")), { kind: "ok", principal: ID });
  });

  test("x-amz-date up to 15 minutes either side of the clock", async () => {
    const a = await auth();
    for (const offset of [-15 * 60_000, 15 * 60_000]) {
      assertOk(await a.check(ours("/bkt/k", [], { datetime: amzDate(NOW + offset) })));
    }
  });
});

describe("sigv4: refusals, as S3 answers them", () => {
  test("unknown key: 403 InvalidAccessKeyId; wrong secret: 403 SignatureDoesNotMatch", async () => {
    const a = await auth();
    assertFail(
      await a.check(await aws4fetch("/bkt/k", "", { id: "AKPXNOSUCHKEYNOSUCH2" })),
      403,
      "InvalidAccessKeyId",
    );
    for (const signQuery of [false, true]) {
      const wrong = await aws4fetch("/bkt/k", "", { secret: SECRET + "x", signQuery });
      assertFail(await a.check(wrong), 403, "SignatureDoesNotMatch", /does not match/);
    }
  });

  test("a tampered path, query or signed header: 403 SignatureDoesNotMatch", async () => {
    const a = await auth();
    const r = await aws4fetch("/bkt/a.txt", "prefix=x", { headers: { range: "bytes=0-9" } });
    const tampered: Signed[] = [
      { ...r, url: r.url.replace("/a.txt", "/b.txt") },
      { ...r, url: r.url.replace("prefix=x", "prefix=y") },
      { ...r, url: r.url + "&versionId=1" },
      { ...r, method: "HEAD" },
      { ...r, headers: { ...r.headers, range: "bytes=0-99" } },
    ];
    for (const t of tampered) assertFail(await a.check(t), 403, "SignatureDoesNotMatch");
    const p = await aws4fetch("/bkt/a.txt", "", { signQuery: true });
    assertFail(
      await a.check({ ...p, url: p.url.replace("/a.txt", "/b.txt") }),
      403,
      "SignatureDoesNotMatch",
    );
    assertFail(
      await a.check(withQuery(p, (q) => q.set("response-content-type", "text/html"))),
      403,
      "SignatureDoesNotMatch",
    );
  });

  test("a signed header missing from the request; an x-amz-* header not signed", async () => {
    const a = await auth();
    const r = await aws4fetch("/bkt/a.txt", "", { headers: { range: "bytes=0-9" } });
    const { range: _, ...without } = r.headers;
    assertFail(await a.check({ ...r, headers: without }), 403, "SignatureDoesNotMatch");
    assertFail(
      await a.check({ ...r, headers: { ...r.headers, "x-amz-meta-extra": "1" } }),
      403,
      "AccessDenied",
      /not signed: x-amz-meta-extra/,
    );
    const noHost = withAuth(r, (h) => h.replace("SignedHeaders=host;", "SignedHeaders="));
    assertFail(await a.check(noHost), 400, "AuthorizationHeaderMalformed", /host/);
  });

  test("stale or future x-amz-date: 403 RequestTimeTooSkewed", async () => {
    const a = await auth();
    for (const offset of [-16 * 60_000, 16 * 60_000, -7 * 86400_000]) {
      const r = await aws4fetch("/bkt/k", "", { datetime: amzDate(NOW + offset) });
      assertFail(await a.check(r), 403, "RequestTimeTooSkewed");
    }
    const { "x-amz-date": _, ...undated } = ours("/bkt/k").headers;
    assertFail(await a.check({ ...ours("/bkt/k"), headers: undated }), 403, "AccessDenied");
  });

  test("wrong region, service, terminal or scope date: 400 AuthorizationHeaderMalformed", async () => {
    const a = await auth();
    assertFail(
      await a.check(await aws4fetch("/bkt/k", "", { region: "us-east-1" })),
      400,
      "AuthorizationHeaderMalformed",
      /region 'us-east-1' is wrong; expecting 'eu-west-1'/,
    );
    assertFail(
      await a.check(
        await aws4fetch("/bkt/k", "", {
          service: "iam",
          headers: { "x-amz-content-sha256": UNSIGNED_PAYLOAD },
        }),
      ),
      400,
      "AuthorizationHeaderMalformed",
      /incorrect service "iam"/,
    );
    const r = ours("/bkt/k");
    assertFail(
      await a.check(withAuth(r, (h) => h.replace("/aws4_request", "/aws5_request"))),
      400,
      "AuthorizationHeaderMalformed",
      /terminal/,
    );
    // Signed with a key of the previous day (as a client caching a day's key would).
    const dayBefore = withAuth(r, (h) => h.replace("/20261201/", "/20261130/"));
    assertFail(
      await a.check(dayBefore),
      400,
      "AuthorizationHeaderMalformed",
      /credential date "20261130". This date is not the same as X-Amz-Date: "20261201"/,
    );
    const p = await aws4fetch("/bkt/k", "", { signQuery: true, region: "us-east-1" });
    assertFail(await a.check(p), 400, "AuthorizationQueryParametersError", /region/);
    const pd = withQuery(
      await aws4fetch("/bkt/k", "", { signQuery: true }),
      (q) => q.set("X-Amz-Credential", q.get("X-Amz-Credential")!.replace("20261201", "20261130")),
    );
    assertFail(await a.check(pd), 400, "AuthorizationQueryParametersError", /credential date/);
  });

  test("presigned: expired, not yet valid, over a week, missing a parameter", async () => {
    const a = await auth();
    const url = ours("/bkt/k", [], { presigned: true, expires: 60 });
    assertOk(await a.check(url));
    a.setNow(NOW + 60_000);
    assertOk(await a.check(url), "valid through its last second");
    a.setNow(NOW + 61_000);
    assertFail(await a.check(url), 403, "AccessDenied", /Request has expired/);
    a.setNow(NOW);
    const future = ours("/bkt/k", [], { presigned: true, datetime: amzDate(NOW + 16 * 60_000) });
    assertFail(await a.check(future), 403, "AccessDenied", /not valid yet/);
    const long = await aws4fetch("/bkt/k", "X-Amz-Expires=604801", { signQuery: true });
    assertFail(await a.check(long), 400, "AuthorizationQueryParametersError", /604800/);
    const week = await aws4fetch("/bkt/k", "X-Amz-Expires=604800", { signQuery: true });
    assertOk(await a.check(week));
    for (const name of ["X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature"]) {
      const partial = withQuery(week, (q) => q.delete(name));
      assertFail(await a.check(partial), 400, "AuthorizationQueryParametersError", /requires/);
    }
    const sha512 = withQuery(week, (q) => q.set("X-Amz-Algorithm", "AWS4-HMAC-SHA512"));
    assertFail(await a.check(sha512), 400, "AuthorizationQueryParametersError", /only supports/);
    const badDate = withQuery(week, (q) => q.set("X-Amz-Date", "20261201"));
    assertFail(await a.check(badDate), 400, "AuthorizationQueryParametersError", /ISO8601/);
  });

  test("malformed Authorization: 400 AuthorizationHeaderMalformed", async () => {
    const a = await auth();
    const r = ours("/bkt/k");
    const edits: ((h: string) => string)[] = [
      (h) => h.replace(/, Signature=\w+/, ""),
      (h) => h + ", Signature=abc",
      (h) => h.replace("Credential=", "Credentials="),
      (h) => h.replace(/Credential=[^,]+/, "Credential=" + ID + "/20261201/eu-west-1"),
      (h) => h.replace(/Credential=[^,]+/, "Credential="),
      () => "AWS4-HMAC-SHA256",
      (h) => h.replace("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"),
      (h) => h.replace("SignedHeaders=host", "SignedHeaders=Host"),
    ];
    for (const edit of edits) {
      assertFail(
        await a.check(withAuth(r, edit)),
        400,
        "AuthorizationHeaderMalformed",
        /^The authorization header is malformed; /,
      );
    }
    const { "x-amz-content-sha256": _, ...unhashed } = r.headers;
    assertFail(await a.check({ ...r, headers: unhashed }), 400, "InvalidRequest", /sha256/);
    const badHash = { ...r, headers: { ...r.headers, "x-amz-content-sha256": "abc" } };
    assertFail(await a.check(badHash), 400, "InvalidArgument");
    const both = withQuery(r, (q) => q.set("X-Amz-Algorithm", "AWS4-HMAC-SHA256"));
    assertFail(await a.check(both), 400, "InvalidArgument", /Only one auth mechanism/);
    const token = { ...r, headers: { ...r.headers, "x-amz-security-token": "t" } };
    assertFail(await a.check(token), 400, "InvalidToken", /AWS_SESSION_TOKEN/);
    const bad = withAuth(r, (h) => h.replace(/Signature=\w+/, "Signature=" + "0".repeat(64)));
    assertFail(await a.check(bad), 403, "SignatureDoesNotMatch");
  });

  test("SigV2 is refused, saying SigV4 is required; other schemes and no credentials are absent", async () => {
    const a = await auth();
    const v2 = {
      method: "GET",
      url: `http://${HOST}/bkt/k`,
      headers: { authorization: `AWS ${ID}:c2lnbmF0dXJl` },
    };
    assertFail(await a.check(v2), 403, "AccessDenied", /Signature Version 4/);
    const v2q = {
      method: "GET",
      url: `http://${HOST}/bkt/k?AWSAccessKeyId=${ID}&Expires=1893456000&Signature=abc%3D`,
      headers: {},
    };
    assertFail(await a.check(v2q), 403, "AccessDenied", /AWS4-HMAC-SHA256/);
    for (
      const headers of [
        {} as Record<string, string>,
        { authorization: "Basic YWxpY2U6c2VjcmV0" },
        { authorization: "Bearer eyJhbGciOiJSUzI1NiJ9.e30.sig" },
      ]
    ) {
      const outcome = await a.check({
        method: "GET",
        url: `http://${HOST}/bkt/k?x-id=GetObject`,
        headers,
      });
      assert.deepEqual(outcome, { kind: "absent" });
    }
  });
});

describe("sigv4 keys file", () => {
  test("lines, comments, labels, prefixes (escapes decoded)", () => {
    const parsed = parseKeysFile(
      KEYS_FILE + "\r\n  \t\n# 2\n# label two\nAKPXTHIRDTHIRDTHIRD2 " +
        "0123456789abcdef\tbk/\n",
    );
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.keys, [
      { id: ID, secret: SECRET, line: 4, label: "ci" },
      {
        id: LIMITED,
        secret: LIMITED_SECRET,
        line: 5,
        prefixes: ["artifacts/nightly/", "logs/a b/"],
      },
      {
        id: "AKPXTHIRDTHIRDTHIRD2",
        secret: "0123456789abcdef",
        line: 10,
        label: "label two",
        prefixes: ["bk/"],
      },
    ]);
  });

  test("every bad line named by its number; no secret in any message", () => {
    const secret = "do-not-print-this-secret-0123456789";
    const text = [
      `${ID} ${secret}`,
      secret,
      `short ${secret}`,
      `${LIMITED} tooshort`,
      `AKPXFOURFOURFOURFOU4 ${secret} nobucketslash`,
      `AKPXFIVEFIVEFIVEFIV5 ${secret} b/%zz`,
      `AKPXSIXSIXSIXSIXSIX6 ${secret} -bad/x`,
      `${ID} ${secret}`,
    ].join("\n");
    const { keys, errors } = parseKeysFile(text);
    assert.deepEqual(keys.map((k) => k.line), [1]);
    assert.equal(errors.length, 7);
    errors.forEach((e, i) => assert.match(e, new RegExp(`^line ${i + 2}: `)));
    assert.match(errors[0], /expected ACCESS_KEY_ID SECRET_ACCESS_KEY/);
    assert.match(errors[3], /"nobucketslash" is not BUCKET\/KEY-PREFIX/);
    assert.match(errors[6], /already on line 1/);
    for (const e of errors) assert.ok(!e.includes(secret) && !e.includes("tooshort"), e);
  });

  test("prefix format round trip, key pairs, mode check", () => {
    for (const p of ["ab/", "docs/100% done/", "bk/a+b\u00a0%c", "bk/ünï cödé"]) {
      assert.deepEqual(parsePrefix(formatPrefix(p)), { prefix: p });
      assert.ok(!/\s/.test(formatPrefix(p)));
    }
    assert.match(
      (parsePrefix(formatPrefix("bk/new\nline")) as { error: string }).error,
      /control character/,
    );
    let n = 0;
    const pair = newKeyPair((len) => Uint8Array.from({ length: len }, () => n++));
    assert.match(pair.id, /^AKPX[A-Z2-7]{16}$/);
    assert.match(pair.secret, /^[A-Za-z0-9+/]{40}$/);
    const real = newKeyPair((len) => crypto.getRandomValues(new Uint8Array(len)));
    assert.notEqual(
      real.secret,
      newKeyPair((len) => crypto.getRandomValues(new Uint8Array(len))).secret,
    );
    const line = formatKeyLine(real.id, real.secret, ["ab/c d/"]);
    assert.deepEqual(parseKeysFile(line).keys[0].prefixes, ["ab/c d/"]);
    assert.equal(keysFileModeProblem("/k", 0o100600), undefined);
    assert.equal(keysFileModeProblem("/k", 0o100400), undefined);
    assert.equal(keysFileModeProblem("/k", undefined), undefined);
    assert.match(keysFileModeProblem("/k", 0o100640)!, /mode 0640\).*chmod 600 \/k/);
    assert.match(keysFileModeProblem("/k", 0o100602)!, /group or others/);
  });

  test("startup refuses an unreadable, group/other-readable or bad file", async () => {
    const start = (files: Record<string, string>, modes: Record<string, number> = {}) =>
      createSigv4Auth({ file: "/keys", region: REGION }, world(files, modes).io);
    await assert.rejects(start({}), /AUTH_SIGV4_KEYS_FILE: cannot read \/keys: No such file/);
    await assert.rejects(
      start({ "/keys": KEYS_FILE }, { "/keys": 0o100644 }),
      /accessible by group or others \(mode 0644\).*chmod 600/,
    );
    await assert.rejects(start({ "/keys": `${ID}\n` }), (e: Error) => {
      assert.equal(e.name, "AuthConfigError");
      assert.match(e.message, /\/keys: line 1: expected/);
      return true;
    });
    await assert.rejects(start({ "/keys": `${ID} ${SECRET} nope` }), (e: Error) => {
      assert.ok(!e.message.includes(SECRET), e.message);
      return /line 1/.test(e.message);
    });
  });

  test("polled: a changed file replaces the keys; a bad or exposed one keeps them and says why", async () => {
    const a = await auth();
    const NEW = "AKPXNEWNEWNEWNEWNEW2";
    const newKey = () => ours("/bkt/k", [], { id: NEW, secret: SECRET });
    assertFail(await a.check(newKey()), 403, "InvalidAccessKeyId");
    a.files["/keys"] = `${NEW} ${SECRET}\n`;
    await a.tick();
    assertOk(await a.check(newKey()), "new key", NEW);
    assertFail(await a.check(ours("/bkt/k")), 403, "InvalidAccessKeyId", /does not exist/);
    assert.equal(a.logs.at(-1)?.event, "auth_keys_loaded");
    assert.equal(a.logs.at(-1)?.keys, 1);

    a.files["/keys"] = `${NEW} ${SECRET}\n${ID}\n`;
    await a.tick();
    assertOk(await a.check(newKey()), "new key", NEW);
    assert.equal(a.logs.at(-1)?.event, "auth_keys_reload_failed");
    assert.match(String(a.logs.at(-1)?.message), /line 2: .*the keys read before stay in use/);
    const count = a.logs.length;
    await a.tick();
    assert.equal(a.logs.length, count, "a lasting problem is logged once");

    a.files["/keys"] = `${ID} ${SECRET}\n`;
    a.modes["/keys"] = 0o100644;
    await a.tick();
    assertOk(await a.check(newKey()), "new key", NEW);
    assertFail(await a.check(ours("/bkt/k")), 403, "InvalidAccessKeyId");
    assert.match(String(a.logs.at(-1)?.message), /accessible by group or others/);

    a.modes["/keys"] = 0o100600;
    await a.tick();
    assertOk(await a.check(ours("/bkt/k")));
    for (const entry of a.logs) assert.ok(!JSON.stringify(entry).includes(SECRET));
  });

  test("reload() (SIGHUP) re-reads now and logs the outcome; close() stops polling", async () => {
    const a = await auth();
    await a.auth.reload!();
    assert.deepEqual(
      [a.logs.at(-1)?.event, a.logs.at(-1)?.changed],
      ["auth_keys_checked", false],
    );
    a.files["/keys"] = "";
    await a.auth.reload!();
    assert.equal(a.logs.at(-1)?.event, "auth_keys_loaded");
    assert.equal(a.logs.at(-1)?.level, "warn");
    assertFail(await a.check(ours("/bkt/k")), 403, "InvalidAccessKeyId");
    delete a.files["/keys"];
    await a.auth.reload!();
    assert.match(String(a.logs.at(-1)?.message), /cannot read \/keys/);
    a.auth.close!();
    const w = world({ "/keys": KEYS_FILE });
    const closed = await createSigv4Auth({ file: "/keys", region: REGION }, w.io);
    closed.close!();
    await w.tick().then(
      () => assert.fail("no poll after close"),
      () => {},
    );
  });
});

describe("sigv4 in the router", () => {
  test("admitted requests go upstream signed with the route's credentials; prefixes limit reads", async () => {
    const w = world({ "/keys": KEYS_FILE });
    const sigv4 = await createSigv4Auth({ file: "/keys", region: REGION }, w.io);
    const parsed = parseConfig({ AWS_REGION: REGION, AWS_ENDPOINT_HOST: "s3.test" });
    assert.ok(parsed.ok);
    const upstream: Request[] = [];
    const fetch = ((url: string, init: RequestInit) => {
      upstream.push(new Request(url, init));
      return Promise.resolve(new Response("x", { status: 200 }));
    }) as typeof globalThis.fetch;
    const logs: LogEntry[] = [];
    const handler = createRouter([{
      prefix: "/b/",
      segments: ["b"],
      config: parsed.config,
      credentials: {
        get: () => Promise.resolve({ accessKeyId: "AKIAUPSTREAM", secretAccessKey: "UPSTREAM" }),
      },
      auth: [sigv4],
    }], { fetch, now: () => NOW, log: (e) => logs.push(e) });
    const send = async (r: Signed) => {
      const res = await handler(
        new Request(r.url, {
          method: r.method,
          headers: { host: HOST, "user-agent": "aws-cli/2", ...r.headers },
        }),
      );
      return { status: res.status, body: await res.text() };
    };
    const ok = await send(await aws4fetch("/b/bkt/dir/a%20b.txt"));
    assert.equal(ok.status, 200, ok.body);
    assert.equal(upstream.length, 1);
    const auth = upstream[0].headers.get("authorization")!;
    assert.match(auth, /Credential=AKIAUPSTREAM\//);
    assert.ok(!auth.includes(ID));
    assert.equal(logs.at(-1)?.principal, ID);

    const limited = { id: LIMITED, secret: LIMITED_SECRET };
    assert.equal(
      (await send(await aws4fetch("/b/artifacts/nightly/x.tgz", "", limited))).status,
      200,
    );
    const elsewhere = await send(await aws4fetch("/b/artifacts/release/x.tgz", "", limited));
    assert.equal(elsewhere.status, 403);
    assert.match(elsewhere.body, /<Code>AccessDenied<\/Code>/);
    const listing = await send(
      await aws4fetch("/b/artifacts", "list-type=2&prefix=nightly%2F", limited),
    );
    assert.equal(listing.status, 200);

    const wrong = await send(await aws4fetch("/b/bkt/k", "", { secret: SECRET + "x" }));
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    const none = await send({ method: "GET", url: `http://${HOST}/b/bkt/k`, headers: {} });
    assert.equal(none.status, 403);
    assert.match(none.body, /<Code>AccessDenied<\/Code>/);
    const malformed = await send(withAuth(await aws4fetch("/b/bkt/k"), (h) => h + ",x"));
    assert.equal(malformed.status, 400);
    assert.match(malformed.body, /<Code>AuthorizationHeaderMalformed<\/Code>/);
    assert.equal(upstream.length, 3, "refused requests never go upstream");
    for (const e of logs) assert.ok(!JSON.stringify(e).includes(SECRET));
    sigv4.close!();
  });

  test("deno task start may read the keys file, named by the environment or a route", () => {
    assert.equal(allowReadFlag({ AUTH_SIGV4_KEYS_FILE: "/etc/k,eys" }, undefined), "/etc/k,,eys");
    const routes = JSON.stringify({
      routes: [{ prefix: "/a/", AUTH: "sigv4", AUTH_SIGV4_KEYS_FILE: "/etc/route-keys" }],
    });
    assert.equal(
      allowReadFlag({ ROUTES_FILE: "/etc/routes.json" }, undefined, routes),
      "/etc/routes.json,/etc/route-keys",
    );
  });

  test("rawPathAndQuery keeps the target as sent", () => {
    assert.deepEqual(rawPathAndQuery("http://h:1/a%2f//b?x=%2B&y"), {
      path: "/a%2f//b",
      query: "x=%2B&y",
    });
    assert.deepEqual(rawPathAndQuery("http://h?a=/b"), { path: "/", query: "a=/b" });
  });
});
