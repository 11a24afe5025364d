/**
 * The operations side of src/handler.ts, in process with a fake `fetch`: CORS headers on every
 * kind of answer (and preflights), `X-Request-Id` (kept or made, on every response, in the log,
 * never upstream), and the metrics it records (counters equal to the requests sent; ten
 * thousand distinct paths add no series). Also src/cors.ts's settings and origin matching, and
 * src/ops/metrics.ts's text.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Config, parseConfig } from "../src/config.ts";
import { createRouter, type LogEntry } from "../src/handler.ts";
import { allowsOrigin, applyCors, parseCors } from "../src/cors.ts";
import { createMetrics, type Metrics } from "../src/ops/metrics.ts";
import { requestId } from "../src/ops/request_id.ts";
import { parseRoutes } from "../src/routes.ts";
import { prng } from "./support/random.ts";
import type { Authenticator } from "../src/auth/method.ts";

const H = "http://proxy.test:8080";
const APP = "https://app.example.com";
const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };
const CHROME = {
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/120.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
};
const CREDS = {
  accessKeyId: "AKIAOPSTEST000000001",
  secretAccessKey: "opsSecret/K7MDENG+bPxRfiCY",
};

function cfg(env: Record<string, string>): Config {
  const result = parseConfig(env);
  if (!result.ok) assert.fail(result.errors.join("; "));
  return result.config;
}

function listingXml(prefix: string, files: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bk</Name>` +
    `<Prefix>${encodeURIComponent(prefix)}</Prefix><KeyCount>${files.length}</KeyCount>` +
    `<MaxKeys>1000</MaxKeys><Delimiter>/</Delimiter><EncodingType>url</EncodingType>` +
    `<IsTruncated>false</IsTruncated>` +
    files.map((f) =>
      `<Contents><Key>${encodeURIComponent(prefix + f)}</Key>` +
      `<LastModified>2024-01-01T00:00:00.000Z</LastModified><ETag>&quot;e&quot;</ETag>` +
      `<Size>5</Size><StorageClass>STANDARD</StorageClass></Contents>`
    ).join("") + `</ListBucketResult>`;
}

function s3Error(status: number, code: string): Response {
  return new Response(`<Error><Code>${code}</Code><Message>m</Message></Error>`, {
    status,
    headers: { "content-type": "application/xml" },
  });
}

/**
 * A small S3 for bucket `bk`: `dir/` (no index.html) holds `f.txt`; `site/index.html`; `gone` is
 * missing; `broken` is a 500; `etag` answers If-None-Match with 304; Range gives 206.
 */
function fakeS3(url: string, init?: RequestInit): Response {
  const u = new URL(url);
  const headers = new Headers(init?.headers);
  const method = init?.method ?? "GET";
  const path = u.pathname;
  if (u.searchParams.has("list-type")) {
    const prefix = u.searchParams.get("prefix") ?? "";
    const files = prefix.startsWith("dir/") || prefix === "" ? ["f.txt"] : [];
    return new Response(listingXml(prefix, files), {
      headers: { "content-type": "application/xml" },
    });
  }
  if (/^\/bk\/(dir\/index\.html|dir|gone.*|nothing\/.*)$/.test(path)) {
    return method === "HEAD" ? new Response(null, { status: 404 }) : s3Error(404, "NoSuchKey");
  }
  if (path === "/bk/broken/index.html") return s3Error(500, "InternalError");
  const meta = { etag: '"e1"', "x-amz-meta-owner": "ops", "content-type": "text/html" };
  if (headers.get("if-none-match") === '"e1"') {
    return new Response(null, { status: 304, headers: meta });
  }
  if (headers.has("range")) {
    return new Response("hel", {
      status: 206,
      headers: { ...meta, "content-range": "bytes 0-2/5", "content-length": "3" },
    });
  }
  return new Response(method === "HEAD" ? null : "hello", {
    headers: { ...meta, "content-length": "5" },
  });
}

interface Rig {
  handle: (path: string, init?: RequestInit) => Promise<Response>;
  calls: { url: string; headers: Headers }[];
  logs: LogEntry[];
  metrics: Metrics;
}

function rig(
  env: Record<string, string>,
  options: { failCredentials?: boolean; auth?: Authenticator[] } = {},
): Rig {
  const calls: { url: string; headers: Headers }[] = [];
  const logs: LogEntry[] = [];
  const metrics = createMetrics();
  const fakeFetch = ((url: string, init?: RequestInit) => {
    calls.push({ url, headers: new Headers(init?.headers) });
    if (new URL(url).pathname.startsWith("/bk/down")) {
      return Promise.reject(new TypeError("error sending request: Connection refused"));
    }
    return Promise.resolve(fakeS3(url, init));
  }) as typeof fetch;
  const credentials = {
    get: () =>
      options.failCredentials ? Promise.reject(new Error("no keys here")) : Promise.resolve(CREDS),
  };
  const config = cfg({ AWS_ENDPOINT_HOST: "s3.test", ...env });
  const handler = createRouter([
    { prefix: "/", segments: [], config, credentials, auth: options.auth },
  ], { fetch: fakeFetch, now: Date.now, log: (e) => logs.push(e), metrics });
  return {
    handle: (path, init) => handler(new Request(H + path, init), { remoteAddr: "127.0.0.1" }),
    calls,
    logs,
    metrics,
  };
}

const CORS_ENV = { CORS_ALLOW_ORIGINS: `${APP} https://*.example.org` };

function assertCors(res: Response, origin: string, label: string) {
  assert.equal(res.headers.get("access-control-allow-origin"), origin, `${label}: allow-origin`);
  assert.match(res.headers.get("vary") ?? "", /\bOrigin\b/, `${label}: Vary`);
}

describe("CORS on every answer to an allowed origin", () => {
  const { handle } = rig(CORS_ENV);
  const cases: [label: string, path: string, headers: Record<string, string>, status: number][] = [
    ["200 streamed index.html", "/bk/site/index.html", CURL, 200],
    ["206 range", "/bk/site/index.html", { ...CURL, range: "bytes=0-2" }, 206],
    ["304 not modified", "/bk/site/index.html", { ...CURL, "if-none-match": '"e1"' }, 304],
    ["307 presigned redirect", "/bk/photo.jpg", CURL, 307],
    ["302 slash redirect (browser)", "/bk/dir", CHROME, 302],
    ["200 generated listing", "/bk/dir/", CHROME, 200],
    ["200 JSON listing", "/bk/dir/", { ...CURL, accept: "application/json" }, 200],
    ["404 no such key (proxied)", "/bk/gone/index.html", CURL, 404],
    ["404 no such folder", "/bk/nothing/", CHROME, 404],
    ["403 sub-resource", "/bk/x?acl", CURL, 403],
    ["405 PUT", "/bk/x", CURL, 405],
    ["500 from S3", "/bk/broken/index.html", CURL, 500],
    ["502 unreachable", "/bk/down/index.html", CURL, 502],
  ];
  for (const [label, path, headers, status] of cases) {
    test(label, async () => {
      const method = label.includes("PUT") ? "PUT" : "GET";
      const res = await handle(path, { method, headers: { ...headers, origin: APP } });
      await res.body?.cancel();
      assert.equal(res.status, status, label);
      assertCors(res, APP, label);
      assert.equal(res.headers.get("x-request-id")?.length, 36, `${label}: request id`);
    });
  }

  test("503 when credentials fail, wildcard origins, and exposed headers", async () => {
    const failing = rig(CORS_ENV, { failCredentials: true });
    const origin = "https://deep.sub.example.org";
    const res = await failing.handle("/bk/photo.jpg", { headers: { ...CURL, origin } });
    await res.body?.cancel();
    assert.equal(res.status, 503);
    assertCors(res, origin, "503");
    const ok = await handle("/bk/site/index.html", { headers: { ...CURL, origin: APP } });
    await ok.body?.cancel();
    const exposed = ok.headers.get("access-control-expose-headers")!.split(", ");
    assert.ok(exposed.includes("content-range") && exposed.includes("etag"), exposed.join());
    assert.ok(exposed.includes("x-amz-meta-owner"), "x-amz-meta-* expanded to the names sent");
    assert.ok(!exposed.some((e) => e.includes("*")), "no wildcard is sent: browsers ignore it");
  });

  test("other origins get no CORS headers, but Vary: Origin", async () => {
    for (const origin of ["https://evil.example.com", "https://example.org", "null"]) {
      const res = await handle("/bk/site/index.html", { headers: { ...CURL, origin } });
      await res.body?.cancel();
      assert.equal(res.status, 200);
      assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
      assert.match(res.headers.get("vary") ?? "", /Origin/);
    }
  });

  test("a route without CORS settings sends no CORS headers", async () => {
    const plain = rig({});
    const res = await plain.handle("/bk/site/index.html", { headers: { ...CURL, origin: APP } });
    await res.body?.cancel();
    assert.equal(res.headers.get("access-control-allow-origin"), null);
    assert.equal(res.headers.get("vary"), null);
  });

  test("preflight: 204 for GET/HEAD from an allowed origin, else 405", async () => {
    const pre = (origin: string, method: string | undefined) =>
      handle("/bk/site/index.html", {
        method: "OPTIONS",
        headers: {
          origin,
          ...(method ? { "access-control-request-method": method } : {}),
          "access-control-request-headers": "range",
        },
      });
    const ok = await pre(APP, "GET");
    assert.equal(ok.status, 204);
    assertCors(ok, APP, "preflight");
    assert.equal(ok.headers.get("access-control-allow-methods"), "GET, HEAD");
    assert.match(ok.headers.get("access-control-allow-headers")!, /^Range, If-Match, /);
    assert.doesNotMatch(ok.headers.get("access-control-allow-headers")!, /Authorization/);
    assert.equal(ok.headers.get("access-control-max-age"), "600");
    assert.equal((await pre(APP, "HEAD")).status, 204);
    for (
      const [origin, method] of [[APP, "PUT"], ["https://evil.test", "GET"], [APP, undefined]]
    ) {
      const res = await pre(origin!, method);
      await res.body?.cancel();
      assert.equal(res.status, 405, `${origin} ${method}`);
    }
  });

  test("credentials: the origin is echoed and Allow-Credentials is sent", async () => {
    const creds = rig({ CORS_ALLOW_ORIGINS: APP, CORS_ALLOW_CREDENTIALS: "true" });
    const res = await creds.handle("/bk/gone/index.html", { headers: { ...CURL, origin: APP } });
    await res.body?.cancel();
    assert.equal(res.status, 404);
    assertCors(res, APP, "404 with credentials");
    assert.equal(res.headers.get("access-control-allow-credentials"), "true");
  });

  test('"*" answers "*", even to Origin: null', async () => {
    const any = rig({ CORS_ALLOW_ORIGINS: "*", CORS_MAX_AGE: "60" });
    const res = await any.handle("/bk/photo.jpg", { headers: { ...CURL, origin: "null" } });
    assert.equal(res.status, 307);
    assertCors(res, "*", "307 to null");
    const pre = await any.handle("/bk/x", {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "GET" },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get("access-control-max-age"), "60");
  });
});

describe("CORS settings", () => {
  const parse = (env: Record<string, string>) => {
    const errors: string[] = [];
    const policy = parseCors((n) => env[n], errors);
    return { policy, errors };
  };

  test("unset: no policy; the other settings need CORS_ALLOW_ORIGINS", () => {
    assert.deepEqual(parse({}), { policy: undefined, errors: [] });
    assert.match(parse({ CORS_MAX_AGE: "5" }).errors[0], /CORS_MAX_AGE: needs CORS_ALLOW_ORIGINS/);
  });

  test("bad values are named, every one", () => {
    const { errors } = parse({
      CORS_ALLOW_ORIGINS: "https://ok.test, ftp://x.test, https://a.test/path, https://a.*.test",
      CORS_MAX_AGE: "-1",
      CORS_ALLOW_CREDENTIALS: "maybe",
      CORS_EXPOSE_HEADERS: "ETag, bad header:",
    });
    assert.equal(errors.length, 6, errors.join("\n"));
    for (const name of ["ftp://x.test", "/path", "a.*.test", "CORS_MAX_AGE", "maybe", "header:"]) {
      assert.ok(errors.some((e) => e.includes(name)), name);
    }
  });

  test('credentials with "*" is a configuration error', () => {
    const { errors } = parse({ CORS_ALLOW_ORIGINS: "*", CORS_ALLOW_CREDENTIALS: "true" });
    assert.match(errors.join(), /CORS_ALLOW_CREDENTIALS: cannot be true with/);
    assert.ok(!parseConfig({ CORS_ALLOW_ORIGINS: "*", CORS_ALLOW_CREDENTIALS: "on" }).ok);
  });

  test("wildcards match subdomains of any depth, with the scheme and port given", () => {
    const { policy } = parse({ CORS_ALLOW_ORIGINS: "https://*.example.com,http://localhost:3000" });
    const yes = ["https://a.example.com", "https://A.B.example.com", "http://localhost:3000"];
    const no = [
      "https://example.com",
      "http://a.example.com",
      "https://a.example.com:8443",
      "https://a.example.com.evil.test",
      "https://evil.test/.example.com",
      "https://.example.com",
      "http://localhost:3001",
      "null",
    ];
    for (const o of yes) assert.ok(allowsOrigin(policy!, o), o);
    for (const o of no) assert.ok(!allowsOrigin(policy!, o), o);
  });

  test("per route in a routes file, and refused at server level", () => {
    const text = JSON.stringify({
      routes: [
        { prefix: "/", AUTH: "none", CORS_ALLOW_ORIGINS: APP },
        { prefix: "/x/", AUTH: "none", ADMIN_PORT: "9" },
      ],
    });
    const result = parseRoutes({ path: "r.json", text }, {});
    assert.ok(!result.ok);
    assert.match(result.errors.join(), /ADMIN_PORT: is a setting of the whole server/);
    assert.ok(result.routes[0].config.cors?.origins.has(APP));
  });

  test("Vary is appended to, not replaced", () => {
    const { policy } = parse({ CORS_ALLOW_ORIGINS: APP });
    const headers = new Headers({ vary: "Accept" });
    applyCors(headers, APP, policy!);
    assert.equal(headers.get("vary"), "Accept, Origin");
  });
});

describe("X-Request-Id", () => {
  test("kept when a short safe token, else made; in the log; never upstream", async () => {
    const { handle, calls, logs } = rig({});
    const given = await handle("/bk/site/index.html", { headers: { "x-request-id": "lb-42.a:b" } });
    await given.body?.cancel();
    assert.equal(given.headers.get("x-request-id"), "lb-42.a:b");
    assert.equal(logs.at(-1)!.requestId, "lb-42.a:b");
    for (const bad of ["has space", "x".repeat(65), "<script>", "a\tb"]) {
      const res = await handle("/bk/photo.jpg", { headers: { "x-request-id": bad } });
      const id = res.headers.get("x-request-id")!;
      assert.match(id, /^[0-9a-f-]{36}$/, bad);
      assert.equal(logs.at(-1)!.requestId, id);
    }
    assert.ok(calls.length > 0);
    for (const call of calls) assert.equal(call.headers.get("x-request-id"), null);
  });

  test("on every response: errors, 404 under no route, and generated ids differ", async () => {
    const { handle } = rig({});
    const ids = new Set<string>();
    for (
      const [path, method] of [["/bk/x", "DELETE"], ["/%ZZ", "GET"], ["/bk/gone/index.html", "GET"]]
    ) {
      const res = await handle(path, { method });
      await res.body?.cancel();
      ids.add(res.headers.get("x-request-id")!);
    }
    assert.equal(ids.size, 3);
    assert.equal(requestId(null).length, 36);
  });
});

/** Parses exposition text into `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    out.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return out;
}

describe("metrics from the handler", () => {
  test("counters equal the requests sent, by route, decision and status", async () => {
    const { handle, metrics } = rig({});
    const sent: [string, RequestInit, string][] = [
      ["/bk/photo.jpg", { headers: CURL }, 'route="/",decision="redirect",status="307"'],
      ["/bk/site/index.html", { headers: CURL }, 'route="/",decision="proxy",status="200"'],
      ["/bk/gone/index.html", { headers: CURL }, 'route="/",decision="proxy",status="404"'],
      ["/bk/x", { method: "PUT" }, 'route="/",decision="reject",status="405"'],
      ["/bk/down/index.html", { headers: CURL }, 'route="/",decision="proxy",status="502"'],
    ];
    for (let round = 0; round < 3; round++) {
      for (const [path, init] of sent) await (await handle(path, init)).body?.cancel();
    }
    const s = samples(metrics.render());
    for (const [, , labels] of sent) assert.equal(s.get(`s3proxy_requests_total{${labels}}`), 3);
    let total = 0;
    for (const [k, v] of s) if (k.startsWith("s3proxy_requests_total{")) total += v;
    assert.equal(total, 15);
    assert.equal(s.get('s3proxy_request_duration_seconds_count{route="/",decision="proxy"}'), 9);
    assert.equal(s.get('s3proxy_upstream_requests_total{route="/",outcome="2xx"}'), 3);
    assert.equal(s.get('s3proxy_upstream_requests_total{route="/",outcome="4xx"}'), 3);
    assert.equal(s.get('s3proxy_upstream_requests_total{route="/",outcome="unreachable"}'), 3);
    assert.equal(s.get('s3proxy_upstream_duration_seconds_count{route="/"}'), 9);
    // 3 x "hello" (5 bytes, by Content-Length); the rest are error texts (counted too).
    assert.ok(s.get('s3proxy_response_bytes_total{route="/"}')! >= 15);
  });

  test("ten thousand distinct random paths add no series", async () => {
    const { handle, metrics } = rig({});
    const random = prng(13);
    const path = () =>
      "/bk/" + Array.from({ length: 3 }, () => Math.floor(random() * 1e9).toString(36)).join("/");
    const series = () => metrics.render().split("\n").filter((l) => l && !l.startsWith("#")).length;
    const warm = async (p: string) => {
      await (await handle(p, { headers: CURL })).body?.cancel();
      await (await handle(p + "/index.html", { headers: CURL })).body?.cancel();
      await (await handle(p, { method: "PUT" })).body?.cancel();
    };
    await warm(path());
    const before = series();
    for (let i = 0; i < 10_000; i++) {
      const p = path();
      await (await handle(i % 3 === 2 ? p + "/index.html" : p, {
        method: i % 3 === 1 ? "PUT" : "GET",
        headers: { ...CURL, "x-request-id": `id-${i}` },
      })).body?.cancel();
    }
    assert.equal(series(), before);
    const text = metrics.render();
    assert.ok(!text.includes("id-9999") && !/\/b\/[0-9a-z]+\//.test(text), "no path or id");
    let total = 0;
    for (const [k, v] of samples(text)) if (k.startsWith("s3proxy_requests_total{")) total += v;
    assert.equal(total, 10_003);
  });
});

describe("metrics text", () => {
  test("labels from bounded sets, escaped; histograms cumulative", () => {
    const m = createMetrics();
    m.request('/a"b\\\n/', "redirect", 307, 0.003);
    m.request(null, "/some/path/as/decision", 999, 100);
    m.authFailure("/a/", "PROPFIND");
    m.authFailure("/a/", "basic");
    const text = m.render({
      build: { version: "1.2.3", runtime: "deno", runtimeVersion: "2.9.6" },
      process: { residentBytes: 1000, openFds: 7 },
      routes: [{ route: "/", source: "signing key file k", ready: false, lastDay: "20240116" }],
      refreshFailures: [{ source: "container", count: 2 }],
    });
    const s = samples(text);
    assert.equal(
      s.get('s3proxy_requests_total{route="/a\\"b\\\\\\n/",decision="redirect",status="307"}'),
      1,
    );
    assert.equal(s.get('s3proxy_requests_total{route="none",decision="other",status="other"}'), 1);
    assert.equal(s.get('s3proxy_auth_failures_total{route="/a/",method="other"}'), 1);
    assert.equal(s.get('s3proxy_auth_failures_total{route="/a/",method="basic"}'), 1);
    const le = (b: string) =>
      s.get(`s3proxy_request_duration_seconds_bucket{route="none",decision="other",le="${b}"}`);
    assert.equal(le("30"), 0);
    assert.equal(le("+Inf"), 1);
    assert.equal(
      s.get('s3proxy_build_info{version="1.2.3",runtime="deno",runtime_version="2.9.6"}'),
      1,
    );
    assert.equal(s.get('s3proxy_route_ready{route="/"}'), 0);
    assert.equal(
      s.get(
        's3proxy_signing_key_last_day_timestamp_seconds{route="/",source="signing key file k"}',
      ),
      Date.UTC(2024, 0, 16) / 1000,
    );
    assert.equal(s.get('s3proxy_credential_refresh_failures_total{source="container"}'), 2);
    assert.equal(s.get("process_open_fds"), 7);
    assert.ok(!text.includes("process_heap_bytes"), "absent values are not exposed");
  });
});

describe("with access control", () => {
  /** A basic-auth stand-in: `Basic good` is admitted, any other `Authorization` refused. */
  const basic: Authenticator = {
    name: "basic",
    check({ req }) {
      const given = req.headers.get("authorization");
      if (given === null) return Promise.resolve({ kind: "absent" });
      if (given === "Basic good") return Promise.resolve({ kind: "ok", principal: "ann" });
      return Promise.resolve({
        kind: "fail",
        status: 401,
        code: "AccessDenied",
        message: "wrong password",
        reason: "bad password for ann",
      });
    },
    challenge: () => 'Basic realm="files"',
  };
  const env = { ...CORS_ENV, AUTH: "basic", AUTH_BASIC_FILE: "/not/read/here" };

  test("refusals are counted by route and method; CORS is on the 401 too", async () => {
    const { handle, metrics } = rig(env, { auth: [basic] });
    const tries: Record<string, string>[] = [{}, { authorization: "Basic bad" }, {
      authorization: "Basic good",
    }];
    for (const headers of tries) {
      const res = await handle("/bk/photo.jpg", { headers: { ...CURL, ...headers, origin: APP } });
      await res.body?.cancel();
      assertCors(res, APP, `status ${res.status}`);
    }
    const s = samples(metrics.render());
    assert.equal(s.get('s3proxy_auth_failures_total{route="/",method="none"}'), 1);
    assert.equal(s.get('s3proxy_auth_failures_total{route="/",method="basic"}'), 1);
    assert.equal(s.get('s3proxy_requests_total{route="/",decision="redirect",status="307"}'), 1);
  });

  test("a preflight is answered before access control, and allows Authorization", async () => {
    const { handle } = rig(env, { auth: [basic] });
    const res = await handle("/bk/photo.jpg", {
      method: "OPTIONS",
      headers: { origin: APP, "access-control-request-method": "GET" },
    });
    assert.equal(res.status, 204);
    assert.match(res.headers.get("access-control-allow-headers")!, /, Authorization$/);
  });
});

describe("behind a TLS terminator", () => {
  test("the proxy builds no absolute URL of its own: Locations and hrefs are paths", async () => {
    const { handle } = rig({ TRUSTED_PROXIES: "127.0.0.1/32" });
    const forwarded = { "x-forwarded-proto": "https", "x-forwarded-host": "files.example.com" };
    const slash = await handle("/bk/dir", { headers: { ...CHROME, ...forwarded } });
    assert.equal(slash.status, 302);
    assert.equal(slash.headers.get("location"), "/bk/dir/");
    const json = await handle("/bk/dir/", {
      headers: { ...CURL, ...forwarded, accept: "application/json" },
    });
    const listing = JSON.parse(await json.text());
    const hrefs = [listing.parent, ...listing.files.map((f: { href: string }) => f.href)];
    for (const href of hrefs) assert.match(href, /^\/bk\//, href);
    const redirect = await handle("/bk/photo.jpg", { headers: { ...CURL, ...forwarded } });
    assert.match(redirect.headers.get("location")!, /^https:\/\/s3\.test\/bk\/photo\.jpg\?/);
  });
});
