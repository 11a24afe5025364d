/**
 * src/routes.ts (the routes file: validation, matching) and the router in src/handler.ts with a
 * fake fetch that records every upstream request: which backend, which credentials, which path.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createRouter, type LogEntry, type ServedRoute } from "../src/handler.ts";
import { matchMount, parseRoutes, prefixSegments, type RouteSpec } from "../src/routes.ts";
import type { Credentials } from "../src/s3/sigv4.ts";

const FILE = "/etc/s3proxy/routes.json";

/** Routes that say nothing of access control are open here (the file requires AUTH). */
function withAuth(doc: unknown): unknown {
  const routes = (doc as { routes?: unknown })?.routes;
  if (!Array.isArray(routes)) return doc;
  return {
    ...(doc as object),
    routes: routes.map((r) =>
      r && typeof r === "object" && !Array.isArray(r) && !("AUTH" in r) ? { AUTH: "none", ...r } : r
    ),
  };
}

function parse(doc: unknown, env: Record<string, string> = {}, mode?: number) {
  return parseRoutes({ path: FILE, text: JSON.stringify(withAuth(doc)), mode }, env);
}

function errorsOf(doc: unknown, env: Record<string, string> = {}, mode?: number): string[] {
  const result = parse(doc, env, mode);
  assert.equal(result.ok, false, "expected errors");
  return result.ok ? [] : result.errors;
}

function routesOf(doc: unknown, env: Record<string, string> = {}): readonly RouteSpec[] {
  const result = parse(doc, env);
  if (!result.ok) assert.fail(result.errors.join("\n"));
  return result.routes;
}

describe("routes file: reading and validation", () => {
  test("the nginx module's three locations", () => {
    const routes = routesOf({
      routes: [
        { prefix: "/myfiles/", S3_BUCKET: "your_s3_bucket_2" },
        {
          prefix: "/s3_beijing/",
          S3_BUCKET: "cn-bucket",
          AWS_REGION: "cn-north-1",
          AWS_ENDPOINT_HOST: "s3.cn-north-1.amazonaws.com.cn",
          AWS_ACCESS_KEY_ID: "AKIDCN",
          AWS_SIGNING_KEY_FILE: "/etc/s3proxy/cn-keys.txt",
        },
        { prefix: "/", S3_BUCKET: "your_s3_bucket" },
      ],
    }, { AWS_REGION: "eu-west-1" });
    assert.deepEqual(routes.map((r) => r.segments), [["myfiles"], ["s3_beijing"], []]);
    assert.equal(routes[0].config.bucket, "your_s3_bucket_2");
    assert.equal(routes[0].config.region, "eu-west-1", "left out: from the environment");
    assert.equal(routes[0].config.endpointHost, "s3.eu-west-1.amazonaws.com");
    assert.equal(routes[1].config.region, "cn-north-1");
    assert.equal(routes[1].config.endpointHost, "s3.cn-north-1.amazonaws.com.cn");
    assert.equal(routes[0].credentialEnv, undefined, "no credentials named: the process's");
    assert.equal(routes[0].credentialKey, routes[2].credentialKey);
    assert.notEqual(routes[1].credentialKey, routes[0].credentialKey);
    const env = routes[1].credentialEnv!;
    assert.equal(env.AWS_ACCESS_KEY_ID, "AKIDCN");
    assert.equal(env.AWS_SIGNING_KEY_FILE, "/etc/s3proxy/cn-keys.txt");
    assert.equal(env.AWS_REGION, "cn-north-1");
    assert.equal(env.AWS_EC2_METADATA_DISABLED, "true");
  });

  test("values are parsed as the environment variable would be: numbers and booleans too", () => {
    const [route] = routesOf({
      routes: [{
        prefix: "/a/",
        PRESIGN_EXPIRES: 60,
        LISTING: false,
        S3_LIST_BUCKETS: true,
        UPSTREAM_TIMEOUT: 2.5,
        REDIRECT: "NEVER",
      }],
    });
    assert.equal(route.config.presignExpires, 60);
    assert.equal(route.config.listing, false);
    assert.equal(route.config.listBuckets, true);
    assert.equal(route.config.upstreamTimeoutMs, 2500);
    assert.equal(route.config.redirect, "never");
  });

  test("a route's region replaces both region variables of the environment", () => {
    const [route] = routesOf(
      { routes: [{ prefix: "/", AWS_DEFAULT_REGION: "ap-south-1" }] },
      { AWS_REGION: "eu-west-1" },
    );
    assert.equal(route.config.region, "ap-south-1");
  });

  test("routes naming the same credentials share a key; the process's credentials are cleared", () => {
    const creds = { AWS_ACCESS_KEY_ID: "AKID1", AWS_SECRET_ACCESS_KEY: "S1" };
    const routes = routesOf({
      routes: [
        { prefix: "/a/", ...creds },
        { prefix: "/b/", ...creds, S3_BUCKET: "bb" },
        { prefix: "/c/", AWS_PROFILE: "dev" },
      ],
    }, { AWS_ACCESS_KEY_ID: "ENVKEY", AWS_SESSION_TOKEN: "ENVTOKEN", HOME: "/home/me" });
    assert.equal(routes[0].credentialKey, routes[1].credentialKey);
    assert.notEqual(routes[0].credentialKey, routes[2].credentialKey);
    const profileEnv = routes[2].credentialEnv!;
    assert.equal(profileEnv.AWS_PROFILE, "dev");
    assert.equal(profileEnv.AWS_ACCESS_KEY_ID, undefined);
    assert.equal(profileEnv.AWS_SESSION_TOKEN, undefined);
    assert.equal(profileEnv.HOME, "/home/me", "the shared files are found from HOME");
  });

  test("every problem at once, each naming the route (index and prefix) and the key", () => {
    const errors = errorsOf({
      routes: [
        { prefix: "/a/", S3_BUKET: "x" },
        { prefix: "/b/", PORT: 9000, HOST: "0.0.0.0" },
        { prefix: "nolead/", PRESIGN_EXPIRES: 0 },
        { prefix: "/c", REDIRECT: "sometimes" },
        { prefix: "/a/", LISTING: "maybe" },
        { S3_BUCKET: "x" },
        "not an object",
        { prefix: "/d/", PROXY_PATTERN: "(" },
        { prefix: "/e/", S3_BUCKET: { name: "x" } },
      ],
      extra: 1,
    });
    const has = (re: RegExp) =>
      assert.ok(errors.some((e) => re.test(e)), `no error matching ${re}:\n${errors.join("\n")}`);
    has(/route 0 \(\/a\/\): unknown key "S3_BUKET" \(did you mean S3_BUCKET\?\)/);
    has(/route 1 \(\/b\/\): PORT: is a setting of the whole server/);
    has(/route 1 \(\/b\/\): HOST: is a setting of the whole server/);
    has(/route 2 \(nolead\/\): "prefix" must start and end with \//);
    has(/route 2 \(nolead\/\): PRESIGN_EXPIRES/);
    has(/route 3 \(\/c\): "prefix" must start and end with \//);
    has(/route 3 \(\/c\): REDIRECT: "sometimes"/);
    has(/route 4 \(\/a\/\): LISTING: "maybe"/);
    has(/route 5: "prefix" is required/);
    has(/route 6: must be a JSON object/);
    has(/route 7 \(\/d\/\): PROXY_PATTERN/);
    has(/route 8 \(\/e\/\): S3_BUCKET: must be a JSON string, number or boolean/);
    has(/unknown key "extra"/);
    for (const e of errors) assert.ok(e.startsWith(`ROUTES_FILE (${FILE}): `), e);
  });

  test("duplicate prefixes, however spelled", () => {
    const errors = errorsOf({
      routes: [{ prefix: "/my files/" }, { prefix: "/my%20files/" }],
    });
    assert.ok(
      errors.some((e) => /route 1 \(\/my%20files\/\): the prefix is the same as route 0/.test(e)),
    );
  });

  test("a duplicate of a route with other problems, and a secret in a bad route, are reported too", () => {
    const errors = errorsOf(
      {
        routes: [
          { prefix: "/a/", S3_BUKET: "x" },
          { prefix: "/a/" },
          { prefix: "/s/", AWS_SECRET_ACCESS_KEY: "topsecretvalue" },
        ],
      },
      {},
      0o100644,
    );
    const has = (re: RegExp) =>
      assert.ok(errors.some((e) => re.test(e)), `no error matching ${re}:\n${errors.join("\n")}`);
    has(/route 0 \(\/a\/\): unknown key "S3_BUKET"/);
    has(/route 1 \(\/a\/\): the prefix is the same as route 0 \(\/a\/\)'s/);
    has(/route 2 \(\/s\/\): AWS_SECRET_ACCESS_KEY: needs AWS_ACCESS_KEY_ID/);
    has(/holds a secret \(AWS_SECRET_ACCESS_KEY in route 2 \(\/s\/\)\).*\(mode 0644\)/);
    for (const e of errors) assert.ok(!e.includes("topsecretvalue"), e);
  });

  test("a credential setting without its pair, or two forms mixed", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ AWS_ACCESS_KEY_ID: "K" }, /AWS_ACCESS_KEY_ID: needs AWS_SECRET_ACCESS_KEY/],
      [{ AWS_SECRET_ACCESS_KEY: "S" }, /AWS_SECRET_ACCESS_KEY: needs AWS_ACCESS_KEY_ID/],
      [{ AWS_ACCESS_KEY_ID: "K", AWS_SIGNING_KEY: "x" }, /AWS_SIGNING_KEY: needs AWS_KEY_SCOPE/],
      [
        { AWS_KEY_SCOPE: "20240101/us-east-1/s3/aws4_request" },
        /AWS_KEY_SCOPE: needs AWS_SIGNING_KEY/,
      ],
      [{ AWS_SIGNING_KEY_FILE: "/k" }, /AWS_SIGNING_KEY_FILE: needs AWS_ACCESS_KEY_ID/],
      [
        { AWS_ACCESS_KEY_ID: "K", AWS_SESSION_TOKEN: "T", AWS_SIGNING_KEY_FILE: "/k" },
        /AWS_SESSION_TOKEN: needs/,
      ],
      [
        { AWS_ROLE_ARN: "arn:aws:iam::1:role/r" },
        /AWS_ROLE_ARN: needs AWS_WEB_IDENTITY_TOKEN_FILE/,
      ],
      [{ AWS_WEB_IDENTITY_TOKEN_FILE: "/t" }, /AWS_WEB_IDENTITY_TOKEN_FILE: needs AWS_ROLE_ARN/],
      [{ AWS_PROFILE: "p", AWS_ACCESS_KEY_ID: "K", AWS_SECRET_ACCESS_KEY: "S" }, /name one form/],
      [
        { AWS_ACCESS_KEY_ID: "K", AWS_SECRET_ACCESS_KEY: "S", AWS_SIGNING_KEY_FILE: "/k" },
        /name one of/,
      ],
    ];
    for (const [creds, re] of cases) {
      const errors = errorsOf({ routes: [{ prefix: "/x/", ...creds }] });
      assert.ok(errors.some((e) => re.test(e)), `${JSON.stringify(creds)}: ${errors.join("; ")}`);
    }
  });

  test("a file holding a secret must not be readable by group or others", () => {
    const doc = {
      routes: [{ prefix: "/", AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "topsecretvalue" }],
    };
    const errors = errorsOf(doc, {}, 0o100644);
    assert.ok(
      errors.some((e) =>
        /holds a secret \(AWS_SECRET_ACCESS_KEY in route 0 \(\/\)\).*readable by group or others \(mode 0644\).*chmod 600/
          .test(e)
      ),
      errors.join("\n"),
    );
    assert.equal(parse(doc, {}, 0o100600).ok, true);
    assert.equal(parse(doc, {}, 0o100400).ok, true);
    // A file without secrets (a signing-key file path is not a secret) may be world-readable.
    assert.equal(
      parse(
        { routes: [{ prefix: "/", AWS_ACCESS_KEY_ID: "A", AWS_SIGNING_KEY_FILE: "/k" }] },
        {},
        0o100644,
      )
        .ok,
      true,
    );
  });

  test("no message ever holds a secret value, whatever is wrong", () => {
    const secret = "wJalrXUtnFEMI/K7MDENG+SECRETVALUE";
    const errors = errorsOf(
      {
        routes: [
          { prefix: "/a/", AWS_SECRET_ACCESS_KEY: secret, AWS_SESSION_TOKEN: secret + "T" },
          { prefix: "/b/", AWS_ACCESS_KEY_ID: "K", AWS_SIGNING_KEY: secret },
          { prefix: "/c/", AWS_SECRET_ACCESS_KEY: [secret] },
        ],
      },
      {},
      0o100666,
    );
    for (const e of errors) assert.ok(!e.includes("SECRETVALUE"), e);
    // Broken JSON: the parser's message may quote the text; ours gives only the position.
    const broken = parseRoutes({
      path: FILE,
      text: `{"routes":[{"prefix":"/","AWS_SECRET_ACCESS_KEY":"${secret}" "x"}]}`,
    }, {});
    assert.equal(broken.ok, false);
    if (!broken.ok) {
      assert.match(broken.errors[0], /not valid JSON/);
      assert.ok(!broken.errors[0].includes("SECRETVALUE"), broken.errors[0]);
    }
  });

  test("every route must say AUTH; a method without its file or issuer is an error", () => {
    const missing = parseRoutes({
      path: FILE,
      text: JSON.stringify({ routes: [{ prefix: "/a/" }, { prefix: "/b/", AUTH: "none" }] }),
    }, {});
    assert.equal(missing.ok, false);
    if (!missing.ok) {
      assert.equal(missing.errors.length, 1, missing.errors.join("\n"));
      assert.match(missing.errors[0], /route 0 \(\/a\/\): AUTH: required on every route/);
    }
    const errors = errorsOf({
      routes: [
        { prefix: "/a/", AUTH: "basic" },
        { prefix: "/b/", AUTH: "jwt" },
        { prefix: "/c/", AUTH: "sigv4" },
        { prefix: "/d/", AUTH: "none,basic", AUTH_BASIC_FILE: "/h" },
        { prefix: "/e/", AUTH: "password" },
        { prefix: "/f/", AUTH: "jwt", AUTH_JWT_ISSUER: "not a url", AUTH_JWT_AUDIENCE: "x" },
      ],
    });
    const has = (re: RegExp) =>
      assert.ok(errors.some((e) => re.test(e)), `no error matching ${re}:\n${errors.join("\n")}`);
    has(/route 0 \(\/a\/\): AUTH=basic needs AUTH_BASIC_FILE/);
    has(/route 1 \(\/b\/\): AUTH=jwt needs AUTH_JWT_ISSUER .* or AUTH_JWT_JWKS_URL/);
    has(/route 1 \(\/b\/\): AUTH=jwt needs AUTH_JWT_AUDIENCE/);
    has(/route 2 \(\/c\/\): AUTH=sigv4 needs AUTH_SIGV4_KEYS_FILE/);
    has(/route 3 \(\/d\/\): AUTH: "none" admits everyone/);
    has(/route 4 \(\/e\/\): AUTH: "password" is not one of none, basic, jwt, sigv4/);
    has(/route 5 \(\/f\/\): AUTH_JWT_ISSUER: "not a url" is not an http\(s\) URL/);
  });

  test("the file's shape", () => {
    assert.match(errorsOf([])[0], /must be a JSON object \{"routes"/);
    assert.match(errorsOf({ routes: {} })[0], /must be a JSON object/);
    assert.match(errorsOf({ routes: [] })[0], /"routes" is empty/);
  });

  test("prefixes: decoded, segment by segment; no empty, dot or encoded-slash segment", () => {
    assert.deepEqual(prefixSegments("/"), []);
    assert.deepEqual(prefixSegments("/a/b c/"), ["a", "b c"]);
    assert.deepEqual(prefixSegments("/a/b%20c/"), ["a", "b c"]);
    for (const bad of ["a/", "/a", "//", "/a//b/", "/./", "/../", "/a%2Fb/", "/%ZZ/", "/a?b/"]) {
      assert.equal(typeof prefixSegments(bad), "string", bad);
    }
  });
});

describe("matching: the longest prefix, aligned on segments", () => {
  const mounts = [
    { segments: [], value: "root" },
    { segments: ["myfiles"], value: "myfiles" },
    { segments: ["myfiles", "deep"], value: "deep" },
    { segments: ["my files"], value: "spaced" },
  ];
  const cases: [string, string | undefined, string, boolean][] = [
    ["/myfiles/a.txt", "myfiles", "/a.txt", false],
    ["/myfiles/", "myfiles", "/", false],
    ["/myfiles", "myfiles", "/", true],
    ["/myfilesX/a", "root", "/myfilesX/a", false],
    ["/myfiles/deep/x", "deep", "/x", false],
    ["/myfiles/deeper/x", "myfiles", "/deeper/x", false],
    ["/myfiles%2Fdeep/x", "root", "/myfiles%2Fdeep/x", false],
    ["/my%20files/x", "spaced", "/x", false],
    ["/my files/x", "spaced", "/x", false],
    ["/%6Dyfiles/x", "myfiles", "/x", false],
    ["//myfiles/x", "root", "//myfiles/x", false],
    ["/myfiles//x", "myfiles", "//x", false],
    ["/", "root", "/", false],
  ];
  for (const [path, value, rest, bare] of cases) {
    test(`${path} -> ${value} ${rest}`, () => {
      const m = matchMount(mounts, path);
      assert.equal(m?.mount.value, value);
      assert.equal(m?.rest, rest);
      assert.equal(m?.bare, bare);
    });
  }
  test("no route at / and no prefix matches: undefined", () => {
    assert.equal(matchMount(mounts.slice(1), "/other/x"), undefined);
    assert.equal(matchMount(mounts.slice(1), "/"), undefined);
  });
});

// ---------------------------------------------------------------------------------------------
// The router, with a recording fake fetch

interface Call {
  url: string;
  method: string;
  headers: Headers;
}

const NOW = Date.UTC(2024, 0, 15, 12, 0, 0);
const CHROME = {
  "user-agent": "Mozilla/5.0 Chrome/120.0",
  accept: "text/html,application/xhtml+xml,*/*;q=0.8",
};
const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };
const AWSCLI = { "user-agent": "aws-cli/2.15.30 botocore/2.4.5" };

function listing(prefix: string, names: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name>` +
    `<Prefix>${prefix}</Prefix><KeyCount>${names.length}</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<Delimiter>/</Delimiter><IsTruncated>false</IsTruncated>` +
    names.map((n) =>
      `<Contents><Key>${prefix}${n}</Key><LastModified>2024-01-01T00:00:00.000Z</LastModified>` +
      `<ETag>"e"</ETag><Size>1</Size></Contents>`
    ).join("") + `</ListBucketResult>`;
}

function setup(docs: Record<string, unknown>[], env: Record<string, string> = {}) {
  const result = parse({ routes: docs }, env);
  if (!result.ok) assert.fail(result.errors.join("\n"));
  const calls: Call[] = [];
  const logs: LogEntry[] = [];
  const creds = (id: string): Credentials => ({ accessKeyId: id, secretAccessKey: "s-" + id });
  const routes: ServedRoute[] = result.routes.map((spec) => ({
    prefix: spec.prefix,
    segments: spec.segments,
    config: spec.config,
    credentials: {
      get: () => Promise.resolve(creds(spec.credentialEnv?.AWS_ACCESS_KEY_ID ?? "PROCESS")),
    },
  }));
  const fetch = ((input: string, init?: RequestInit) => {
    const call = { url: input, method: init?.method ?? "GET", headers: new Headers(init?.headers) };
    calls.push(call);
    const url = new URL(input);
    if (url.searchParams.has("list-type")) {
      return Promise.resolve(
        new Response(listing(url.searchParams.get("prefix") ?? "", ["f.txt"]), { status: 200 }),
      );
    }
    if (url.pathname.endsWith("/index.html") || url.pathname.includes("missing")) {
      return Promise.resolve(
        new Response("<Error><Code>NoSuchKey</Code></Error>", { status: 404 }),
      );
    }
    return Promise.resolve(new Response("x", { status: 200, headers: { "content-length": "1" } }));
  }) as typeof globalThis.fetch;
  const handler = createRouter(routes, { fetch, now: () => NOW, log: (e) => logs.push(e) });
  const get = (
    path: string,
    headers: Record<string, string> = CURL,
    method = "GET",
    remoteAddr = "127.0.0.1",
  ) => handler(new Request("http://proxy.test" + path, { method, headers }), { remoteAddr });
  return { calls, logs, get };
}

const TWO = [
  {
    prefix: "/one/",
    AWS_ENDPOINT_HOST: "s3-one.test:9001",
    AWS_ENDPOINT_SCHEME: "http",
    S3_BUCKET: "bucket-one",
    AWS_ACCESS_KEY_ID: "AKIDONE",
    AWS_SECRET_ACCESS_KEY: "secret-one",
  },
  {
    prefix: "/two/",
    AWS_ENDPOINT_HOST: "s3-two.test:9002",
    AWS_ENDPOINT_SCHEME: "http",
    AWS_REGION: "eu-west-1",
  },
];

describe("the router", () => {
  test("each route signs for its own backend, region and credentials", async () => {
    const s = setup(TWO);
    const one = await s.get("/one/site/index.htm", AWSCLI);
    assert.equal(one.status, 200);
    assert.equal(s.calls[0].url, "http://s3-one.test:9001/bucket-one/site/index.htm");
    assert.match(
      s.calls[0].headers.get("authorization")!,
      /Credential=AKIDONE\/20240115\/us-east-1\/s3\//,
    );
    const two = await s.get("/two/b2/k.txt", AWSCLI);
    assert.equal(two.status, 200);
    assert.equal(s.calls[1].url, "http://s3-two.test:9002/b2/k.txt");
    assert.match(
      s.calls[1].headers.get("authorization")!,
      /Credential=PROCESS\/20240115\/eu-west-1\/s3\//,
    );
    const redirect = await s.get("/one/report.pdf");
    assert.equal(redirect.status, 307);
    const location = new URL(redirect.headers.get("location")!);
    assert.equal(location.host, "s3-one.test:9001");
    assert.equal(location.pathname, "/bucket-one/report.pdf");
    assert.match(location.searchParams.get("X-Amz-Credential")!, /^AKIDONE\//);
  });

  test("no route: 404 and nothing goes upstream; methods other than GET/HEAD are 405 anywhere", async () => {
    const s = setup(TWO);
    for (const path of ["/three/x", "/onex/a", "/", "/ONE/x"]) {
      const res = await s.get(path, AWSCLI);
      assert.equal(res.status, 404, path);
      assert.match(await res.text(), /NoSuchRoute/);
    }
    const put = await s.get("/three/x", CURL, "PUT");
    assert.equal(put.status, 405);
    assert.equal(put.headers.get("allow"), "GET, HEAD");
    assert.equal((await s.get("/one/x", CURL, "DELETE")).status, 405);
    assert.equal(s.calls.length, 0);
  });

  test("no spelling reaches another route's bucket or credentials", async () => {
    const s = setup(TWO);
    // Encoded slashes, backslashes and dots that only appear after decoding stay inside route
    // one (its bucket, its credentials), or are a 400: never route two's backend.
    const tries = [
      "/one/..%2F..%2Ftwo/b2/k",
      "/one%2F../two/b2/k",
      "/one/a%2F..%2Fb",
      "/one/%2e%2e%2Ftwo/b2/k",
      "/one/..%5Ctwo/b2/k",
      "/one//two/b2/k",
    ];
    for (const path of tries) {
      const res = await s.get(path, AWSCLI);
      await res.body?.cancel();
      assert.ok(res.status === 400 || res.status === 404 || res.status === 200, path);
      for (const call of s.calls) {
        assert.ok(
          call.url.startsWith("http://s3-one.test:9001/bucket-one/"),
          `${path}: ${call.url}`,
        );
        assert.match(call.headers.get("authorization")!, /Credential=AKIDONE\//, path);
      }
      s.calls.length = 0;
    }
    // Dot segments (raw, `%2e`, after `\`) are resolved before matching, as Deno and Bun both
    // can (Bun resolves them before the handler sees the URL): the result is route two's own
    // path, served by route two with its own credentials, exactly as if asked directly.
    for (const path of ["/one/%2e%2e/two/b2/k.txt", "/one/x/.%2E/../two/b2/k.txt"]) {
      const res = await s.get(path, AWSCLI);
      assert.equal(res.status, 200, path);
      assert.equal(s.calls.at(-1)!.url, "http://s3-two.test:9002/b2/k.txt");
      assert.match(s.calls.at(-1)!.headers.get("authorization")!, /Credential=PROCESS\//);
      await res.body?.cancel();
    }
  });

  test("the bare prefix: browsers and curl get the slash redirect, S3 clients the bucket level", async () => {
    const s = setup(TWO);
    const browser = await s.get("/one?x=1", CHROME);
    assert.equal(browser.status, 302);
    assert.equal(browser.headers.get("location"), "/one/?x=1");
    assert.equal(s.calls.length, 0);
    const api = await s.get("/one?list-type=2", AWSCLI);
    assert.equal(api.status, 200);
    assert.equal(s.calls[0].url, "http://s3-one.test:9001/bucket-one?list-type=2");
    const head = await s.get("/one", AWSCLI, "HEAD");
    assert.equal(head.status, 200);
    assert.equal(new URL(s.calls[1].url).pathname, "/bucket-one");
  });

  test("listings, breadcrumbs and page links carry the route's prefix", async () => {
    const s = setup([
      { prefix: "/one/", S3_BUCKET: "bucket-one" },
      { prefix: "/deep/er/", AWS_REGION: "eu-west-1" },
    ]);
    const one = await s.get("/one/dir/", CHROME);
    assert.equal(one.status, 200);
    const html = await one.text();
    assert.match(html, /href="\/one\/dir\/f\.txt"/);
    assert.match(html, /href="\/one\/"/);
    const json = await (await s.get("/deep/er/bkt/dir/", { accept: "application/json" })).json();
    assert.equal(json.files[0].href, "/deep/er/bkt/dir/f.txt");
  });

  test("a browser at / with no route there gets the list of routes whose listings are on", async () => {
    const s = setup([
      { prefix: "/one/", S3_BUCKET: "bucket-one" },
      { prefix: "/hidden/", S3_BUCKET: "hid", LISTING: "off" },
      { prefix: "/a b/c/", S3_BUCKET: "ccc" },
    ]);
    const page = await s.get("/", CHROME);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'/);
    const html = await page.text();
    assert.match(html, /href="\/one\/"/);
    assert.match(html, /href="\/a%20b\/c\/"/);
    assert.ok(!html.includes("/hidden/"), "LISTING=off routes are not shown");
    const json = await (await s.get("/", { accept: "application/json" })).json();
    assert.deepEqual(json.folders.map((f: { href: string }) => f.href), ["/one/", "/a%20b/c/"]);
    assert.equal((await s.get("/", AWSCLI)).status, 404);
    assert.equal(s.calls.length, 0);
  });

  test("every access-log line names the route (its prefix)", async () => {
    const s = setup(TWO);
    await s.get("/one/x.txt");
    await s.get("/two/bkt/x.txt");
    await s.get("/nowhere");
    await s.get("/one/%ZZ");
    assert.deepEqual(s.logs.map((l) => l.route), ["/one/", "/two/", null, "/one/"]);
    assert.deepEqual(s.logs.map((l) => l.status), [307, 307, 404, 400]);
  });

  test("ALLOW_CIDRS: other addresses get 403 before anything else; X-Forwarded-For from TRUSTED_PROXIES only", async () => {
    const s = setup([
      { prefix: "/lan/", S3_BUCKET: "lan-bucket", ALLOW_CIDRS: "192.168.0.0/16, fd00::/8" },
      {
        prefix: "/lb/",
        S3_BUCKET: "lb-bucket",
        ALLOW_CIDRS: "203.0.113.0/24",
        TRUSTED_PROXIES: "10.0.0.0/8",
      },
      { prefix: "/open/", S3_BUCKET: "open-bucket" },
    ]);
    const status = async (path: string, addr: string, xff?: string) => {
      const headers: Record<string, string> = {
        ...CURL,
        ...(xff ? { "x-forwarded-for": xff } : {}),
      };
      const res = await s.get(path, headers, "GET", addr);
      await res.body?.cancel();
      return res.status;
    };
    assert.equal(await status("/lan/a.txt", "192.168.4.4"), 307);
    assert.equal(await status("/lan/a.txt", "fd00::4"), 307);
    assert.equal(await status("/lan/a.txt", "10.1.1.1"), 403);
    assert.equal(await status("/lan/dir/", "10.1.1.1"), 403, "folders too");
    assert.equal(await status("/lan/a.txt", "10.1.1.1", "192.168.4.4"), 403, "XFF not trusted");
    assert.equal(await status("/lb/a.txt", "10.0.0.2", "203.0.113.5"), 307);
    assert.equal(await status("/lb/a.txt", "10.0.0.2", "203.0.113.5, 198.51.100.1"), 403);
    assert.equal(await status("/lb/a.txt", "198.51.100.1", "203.0.113.5"), 403, "not via a proxy");
    assert.equal(await status("/open/a.txt", "198.51.100.1"), 307);
    const denied = s.logs.filter((l) => l.status === 403);
    assert.ok(denied.every((l) => typeof l.remote === "string"), "the log names the address");
    assert.equal(s.calls.length, 0, "a refused folder asks S3 nothing (and 307s need no call)");
  });
});
