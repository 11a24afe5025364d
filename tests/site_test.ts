/**
 * Static websites from a private bucket (INDEX_DOCUMENT, ERROR_DOCUMENT, SPA_FALLBACK,
 * CACHE_CONTROL): the settings' parsing and the pure decisions of src/proxy/site.ts, then the
 * proxy (src/main.ts, under Deno and under Bun) in front of a real S3 server that checks every
 * signature (@20minutes/s3rver@5.0.0).
 *
 * Two proxies per runtime. One serves the site as its default route, from the environment, on a
 * redirecting route (REDIRECT=auto): navigations are checked with a HEAD, so a missing deep path
 * gets the app and an existing asset still gets its 307. The other reads a ROUTES_FILE: a site
 * route the recommended way (REDIRECT=never, LISTING=off, CACHE_CONTROL) beside a plain route on
 * the same bucket, and routes for the error document, INDEX_DOCUMENT=default.htm and missing
 * documents. The 403s are real: s3rver is started with a Deny on GET/HEAD under `private/` (as a
 * bucket policy denying s3:GetObject; see `denyGet` in tests/support/s3rver.ts).
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type Config, DEFAULT_PROXY_PATTERN, indexPattern, parseConfig } from "../src/config.ts";
import { parseRoutes } from "../src/routes.ts";
import { createRouter } from "../src/handler.ts";
import type { Authenticator } from "../src/auth/method.ts";
import { isNavigation, isSite, siteDocuments } from "../src/proxy/site.ts";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, startProxy } from "./support/proxy.ts";

const BUCKET = "site";

const CHROME_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/141.0.0.0 Safari/537.36";
/** A browser's page navigation (typed URL, link, reload). */
const NAVIGATE = {
  "user-agent": CHROME_UA,
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "sec-fetch-mode": "navigate",
  "sec-fetch-dest": "document",
  "sec-fetch-site": "none",
};
/** A navigation from a browser (or crawler) that sends no Fetch Metadata. */
const NAVIGATE_OLD = { "user-agent": "Mozilla/5.0 (old)", accept: "text/html,*/*;q=0.8" };
/** A page's fetch(). */
const FETCH = {
  "user-agent": CHROME_UA,
  accept: "*/*",
  "sec-fetch-mode": "cors",
  "sec-fetch-dest": "empty",
  "sec-fetch-site": "same-origin",
};
/** A page's <img>. */
const IMG = {
  "user-agent": CHROME_UA,
  accept: "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
  "sec-fetch-mode": "no-cors",
  "sec-fetch-dest": "image",
  "sec-fetch-site": "same-origin",
};
/** An S3 tool, even one that says it takes HTML. */
const AWSCLI = {
  "user-agent": "aws-cli/2.15.30 Python/3.11.8 Linux/6.1.0 exe/x86_64.debian.12 botocore/2.4.5",
  accept: "text/html",
};
const CURL = { "user-agent": "curl/8.5.0", accept: "*/*" };

const INDEX = "<!doctype html><title>app</title><div id=app>the single-page app</div>\n";
const ERROR_PAGE = "<!doctype html><title>oops</title><h1>this page is not here</h1>\n";
const APP_JS = "document.getElementById('app').textContent = 'app.js ran';\n";
const LOGO = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7 + 3) % 256);
const DEFAULT_HTM = "<!doctype html><title>docs</title>docs/default.htm\n";
const GUIDE = "<!doctype html><title>guide</title>guide/index.html\n";
const ABOUT = "<!doctype html><title>about</title>about/index.html\n";

const SITE_CACHE = "public, max-age=60";

function ok(env: Record<string, string>): Config {
  const result = parseConfig(env);
  if (!result.ok) assert.fail("expected a config, got: " + result.errors.join("; "));
  return result.config;
}

function oneError(env: Record<string, string>, variable: string): string {
  const result = parseConfig(env);
  if (result.ok) assert.fail(`expected an error for ${JSON.stringify(env)}`);
  assert.equal(result.errors.length, 1, result.errors.join("; "));
  assert.ok(result.errors[0].startsWith(`${variable}: `), result.errors[0]);
  return result.errors[0];
}

describe("site settings (parseConfig)", () => {
  test("without them: index.html, no documents, no Cache-Control, today's pattern", () => {
    const config = ok({});
    assert.equal(config.indexDocument, "index.html");
    assert.equal(config.errorDocument, undefined);
    assert.equal(config.spaFallback, undefined);
    assert.equal(config.cacheControl, undefined);
    assert.equal(config.proxyPattern.source, new RegExp(DEFAULT_PROXY_PATTERN).source);
    assert.equal(indexPattern("index.html"), DEFAULT_PROXY_PATTERN);
    assert.equal(isSite(config), false);
  });

  test("all four are read, and PROXY_PATTERN's default follows INDEX_DOCUMENT, escaped", () => {
    const config = ok({
      INDEX_DOCUMENT: "default.htm",
      ERROR_DOCUMENT: "errors/404.html",
      SPA_FALLBACK: "app/index.html",
      CACHE_CONTROL: "public, max-age=300",
    });
    assert.equal(config.indexDocument, "default.htm");
    assert.equal(config.errorDocument, "errors/404.html");
    assert.equal(config.spaFallback, "app/index.html");
    assert.equal(config.cacheControl, "public, max-age=300");
    assert.equal(isSite(config), true);
    for (const key of ["default.htm", "docs/default.htm", "a/b/default.htm"]) {
      assert.ok(config.proxyPattern.test(key), key);
    }
    for (const key of ["index.html", "xdefault.htm", "default.htm.bak", "defaultXhtm"]) {
      assert.ok(!config.proxyPattern.test(key), key);
    }
    const odd = ok({ INDEX_DOCUMENT: "home(1)+[x].htm" }).proxyPattern;
    assert.ok(odd.test("d/home(1)+[x].htm"));
    assert.ok(!odd.test("d/home1+x.htm") && !odd.test("d/homeX1)+[x].htm"));
  });

  test("an explicit PROXY_PATTERN still wins", () => {
    const config = ok({ INDEX_DOCUMENT: "default.htm", PROXY_PATTERN: "\\.html?$" });
    assert.equal(config.proxyPattern.source, "\\.html?$");
  });

  test("a bad document key is an error naming its variable", () => {
    for (const name of ["INDEX_DOCUMENT", "ERROR_DOCUMENT", "SPA_FALLBACK"]) {
      assert.match(oneError({ [name]: "/index.html" }, name), /must not start with \//);
      assert.match(oneError({ [name]: "a".repeat(1025) }, name), /1025 bytes/);
      assert.match(oneError({ [name]: "é".repeat(513) }, name), /1026 bytes/);
      assert.match(oneError({ [name]: "x\ud800.html" }, name), /not valid UTF-8/);
      assert.match(oneError({ [name]: "a\0b" }, name), /NUL/);
      ok({ [name]: "a".repeat(1024) });
      ok({ [name]: "é".repeat(512) });
    }
    for (const name of ["ERROR_DOCUMENT", "SPA_FALLBACK"]) {
      assert.match(oneError({ [name]: "a/../404.html" }, name), /'\.' or '\.\.' segment/);
      assert.equal(
        ok({
          [name]: "errors/404 page.html",
        })[name === "SPA_FALLBACK" ? "spaFallback" : "errorDocument"],
        "errors/404 page.html",
      );
    }
    assert.match(
      oneError({ INDEX_DOCUMENT: "sub/index.html" }, "INDEX_DOCUMENT"),
      /must not hold a \//,
    );
  });

  test("CACHE_CONTROL must be a header value", () => {
    assert.match(
      oneError({ CACHE_CONTROL: "max-age=1\r\nset-cookie: a=b" }, "CACHE_CONTROL"),
      /header value/,
    );
    oneError({ CACHE_CONTROL: "max-age=1\u00e9" }, "CACHE_CONTROL");
    assert.equal(ok({ CACHE_CONTROL: " no-cache " }).cacheControl, "no-cache");
  });

  test("every problem at once", () => {
    const result = parseConfig({
      INDEX_DOCUMENT: "/x",
      ERROR_DOCUMENT: "/y",
      CACHE_CONTROL: "\t" + "a\nb",
    });
    assert.equal(result.ok, false);
    if (!result.ok) {
      assert.deepEqual(result.errors.map((e) => e.split(":")[0]).sort(), [
        "CACHE_CONTROL",
        "ERROR_DOCUMENT",
        "INDEX_DOCUMENT",
      ]);
    }
  });

  test("they are route settings in a ROUTES_FILE, checked there too", () => {
    const text = JSON.stringify({
      routes: [
        {
          prefix: "/site/",
          AUTH: "none",
          SPA_FALLBACK: "index.html",
          CACHE_CONTROL: "no-cache",
          INDEX_DOCUMENT: "i.htm",
        },
        { prefix: "/plain/", AUTH: "none" },
      ],
    });
    const result = parseRoutes({ path: "routes.json", text }, { SPA_FALLBACK: "" });
    assert.ok(result.ok, result.ok ? "" : result.errors.join("; "));
    const [site, plain] = result.routes;
    assert.equal(site.config.spaFallback, "index.html");
    assert.equal(site.config.cacheControl, "no-cache");
    assert.ok(site.config.proxyPattern.test("a/i.htm"));
    assert.equal(plain.config.spaFallback, undefined);
    assert.equal(plain.config.indexDocument, "index.html");
    const bad = parseRoutes({
      path: "routes.json",
      text: JSON.stringify({
        routes: [{ prefix: "/s/", AUTH: "none", ERROR_DOCUMENT: "/404.html" }],
      }),
    }, {});
    assert.equal(bad.ok, false);
    if (!bad.ok) {
      assert.match(bad.errors.join("\n"), /route 0 \(\/s\/\): ERROR_DOCUMENT: "\/404.html"/);
    }
  });
});

describe("navigations and documents (src/proxy/site.ts)", () => {
  const h = (init: Record<string, string>) => new Headers(init);

  test("a navigation is GET/HEAD with Sec-Fetch-Mode: navigate, or Accept text/html without it", () => {
    assert.equal(isNavigation("GET", h(NAVIGATE), "browser"), true);
    assert.equal(isNavigation("HEAD", h(NAVIGATE), "browser"), true);
    assert.equal(isNavigation("GET", h(NAVIGATE_OLD), "browser"), true);
    // Fetch Metadata says what it is, whatever Accept says.
    assert.equal(isNavigation("GET", h({ ...FETCH, accept: "text/html" }), "browser"), false);
    assert.equal(isNavigation("GET", h({ "sec-fetch-mode": "navigate" }), "http"), true);
    assert.equal(isNavigation("GET", h(FETCH), "http"), false);
    assert.equal(isNavigation("GET", h(IMG), "browser"), false);
    assert.equal(isNavigation("GET", h(CURL), "http"), false);
    assert.equal(isNavigation("GET", h(AWSCLI), "api"), false);
    assert.equal(isNavigation("POST", h(NAVIGATE), "browser"), false);
  });

  test("a 404 tries the fallback, then the error document; a 403 only the error document", () => {
    const both = ok({ SPA_FALLBACK: "index.html", ERROR_DOCUMENT: "404.html" });
    assert.deepEqual(siteDocuments(both, 404, "a/b"), [
      ["index.html", 200, "fallback"],
      ["404.html", 404, "error-document"],
    ]);
    assert.deepEqual(siteDocuments(both, 403, "a/b"), [["404.html", 403, "error-document"]]);
    assert.deepEqual(siteDocuments(both, 500, "a/b"), []);
    // The key that was just missing is not asked for again.
    assert.deepEqual(siteDocuments(both, 404, "index.html"), [["404.html", 404, "error-document"]]);
    assert.deepEqual(siteDocuments(ok({ SPA_FALLBACK: "index.html" }), 403, "x"), []);
  });
});

describe("upstream requests of a site route (createRouter, fake S3)", () => {
  /** A handler over a fake S3 where only `index.html` and `assets/logo.png` exist. */
  function site(env: Record<string, string>, fail: string[] = [], prefixes?: string[]) {
    const calls: { method: string; path: string; headers: Headers }[] = [];
    // A principal limited to `prefixes`, when given (as an access-control method admits one).
    const auth: Authenticator[] = prefixes === undefined ? [] : [{
      name: "basic",
      check: () => Promise.resolve({ kind: "ok", principal: "team", prefixes }),
    }];
    const config = ok({ S3_BUCKET: "bk", AWS_ENDPOINT_SCHEME: "http", ...env });
    const credentials = {
      get: () => Promise.resolve({ accessKeyId: "AKIDSITE", secretAccessKey: "s" }),
    };
    const handler = createRouter([{ prefix: "/", segments: [], config, credentials, auth }], {
      now: () => Date.UTC(2024, 0, 15),
      fetch: (input: string | URL | Request, init?: RequestInit) => {
        const url = new URL(String(input));
        const headers = new Headers(init?.headers);
        calls.push({ method: init?.method ?? "GET", path: url.pathname, headers });
        if (fail.includes(url.pathname)) return Promise.reject(new TypeError("connection reset"));
        if (url.searchParams.has("list-type")) {
          const xml = "<ListBucketResult><Name>bk</Name><KeyCount>0</KeyCount>" +
            "<IsTruncated>false</IsTruncated></ListBucketResult>";
          return Promise.resolve(
            new Response(xml, { headers: { "content-type": "application/xml" } }),
          );
        }
        if (
          ["/bk/index.html", "/bk/team/index.html", "/bk/assets/logo.png"].includes(url.pathname)
        ) {
          const body = init?.method === "HEAD" ? null : "<p>app</p>";
          return Promise.resolve(
            new Response(body, {
              headers: { "content-type": "text/html", "content-length": "10" },
            }),
          );
        }
        const error = "<Error><Code>NoSuchKey</Code><Message>no</Message></Error>";
        return Promise.resolve(new Response(error, { status: 404 }));
      },
    });
    const get = (path: string, headers: Record<string, string>) =>
      handler(new Request(`http://proxy.test${path}`, { headers }));
    return { calls, get };
  }

  test("a page's image load is a 307 asking S3 nothing, site route or not", async () => {
    const envs: Record<string, string>[] = [{}, { SPA_FALLBACK: "index.html" }];
    for (const env of envs) {
      const { calls, get } = site(env);
      const res = await get("/assets/logo.png", IMG);
      assert.equal(res.status, 307);
      assert.deepEqual(calls, [], "a page's load is redirected unasked");
    }
  });

  test("a navigation on a redirecting site route: one HEAD, then the 307 or the app", async () => {
    const { calls, get } = site({ SPA_FALLBACK: "index.html", LISTING: "off" });
    const found = await get("/assets/logo.png", NAVIGATE);
    assert.equal(found.status, 307);
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), ["HEAD /bk/assets/logo.png"]);
    calls.length = 0;
    const app = await get("/app/settings/profile", { ...NAVIGATE, range: "bytes=2-3" });
    assert.equal(app.status, 200);
    assert.equal(await app.text(), "<p>app</p>");
    assert.deepEqual(calls.map((c) => `${c.method} ${c.path}`), [
      "HEAD /bk/app/settings/profile",
      "HEAD /bk/app/settings/profile/index.html",
      "GET /bk/index.html",
    ]);
    for (const name of ["range", "if-none-match", "if-match", "if-modified-since"]) {
      assert.equal(calls[2].headers.get(name), null, `${name} not sent for the fallback`);
    }
  });

  test("a principal limited to prefixes gets only the documents under them", async () => {
    const env = { SPA_FALLBACK: "index.html", REDIRECT: "never", LISTING: "off" };
    const outside = site(env, [], ["bk/team/"]);
    const plain = await outside.get("/team/missing", NAVIGATE);
    assert.equal(plain.status, 404);
    assert.match(await plain.text(), /^404 NoSuchKey/);
    assert.deepEqual(outside.calls.map((c) => c.path), [
      "/bk/team/missing",
      "/bk/team/missing/index.html",
    ]);
    const inside = site({ ...env, SPA_FALLBACK: "team/index.html" }, [], ["bk/team/"]);
    const app = await inside.get("/team/missing", NAVIGATE);
    assert.equal(app.status, 200);
    assert.match(app.headers.get("cache-control") ?? "", /private/);
    assert.equal(await app.text(), "<p>app</p>");
  });

  test("a fallback that cannot be fetched gives the plain 404, not a 5xx", async () => {
    const { calls, get } = site({ SPA_FALLBACK: "index.html", REDIRECT: "never" }, [
      "/bk/index.html",
    ]);
    const res = await get("/app/x", NAVIGATE);
    assert.equal(res.status, 404);
    assert.match(await res.text(), /^404 NoSuchKey/);
    assert.ok(calls.some((c) => c.path === "/bk/index.html"), "the fallback was tried");
  });
});

describe("static websites through the proxy, against s3rver", () => {
  let s3: S3rverHandle;
  let dir: string;
  let indexEtag: string;

  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET], denyGet: [`/${BUCKET}/private/`] });
    dir = await Deno.makeTempDir({ prefix: "site-test-" });
    const html = { "content-type": "text/html; charset=utf-8" };
    await s3.putObject(BUCKET, "index.html", INDEX, html);
    await s3.putObject(BUCKET, "error.html", ERROR_PAGE, html);
    await s3.putObject(BUCKET, "app.js", APP_JS, { "content-type": "text/javascript" });
    await s3.putObject(BUCKET, "assets/logo.png", LOGO, { "content-type": "image/png" });
    await s3.putObject(BUCKET, "assets/hashed.1234.png", LOGO, {
      "content-type": "image/png",
      "cache-control": "public, max-age=31536000, immutable",
    });
    await s3.putObject(BUCKET, "docs/default.htm", DEFAULT_HTM, html);
    await s3.putObject(BUCKET, "guide/index.html", GUIDE, html);
    await s3.putObject(BUCKET, "about/index.html", ABOUT, {
      ...html,
      "cache-control": "max-age=7",
    });
    // Under the Deny: stored, and still a 403 for anyone reading it.
    await s3.putObject(BUCKET, "private/secret.html", "<h1>secret</h1>", html);
    const stored = await s3.getObject(BUCKET, "index.html");
    assert.equal(stored.status, 200);
    indexEtag = stored.headers.get("etag")!;
    assert.ok(indexEtag);
    assert.equal((await s3.getObject(BUCKET, "private/secret.html")).status, 403);
  });

  after(async () => {
    await s3?.stop();
    if (dir) await Deno.remove(dir, { recursive: true });
  });

  for (const runtime of ["deno", "bun"] as const) {
    describe(`under ${runtime}`, () => {
      let site: ProxyHandle;
      let routes: ProxyHandle;
      const get = (p: ProxyHandle, path: string, headers: HeadersInit, method = "GET") =>
        fetch(p.url + path, { method, headers, redirect: "manual" });

      before(async () => {
        const base = {
          AWS_ENDPOINT_HOST: s3.host,
          AWS_ENDPOINT_SCHEME: "http",
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
        };
        const file = `${dir}/routes-${runtime}.json`;
        const bucket = { S3_BUCKET: BUCKET, AUTH: "none" };
        await Deno.writeTextFile(
          file,
          JSON.stringify({
            routes: [
              {
                prefix: "/site/",
                ...bucket,
                REDIRECT: "never",
                LISTING: "off",
                SPA_FALLBACK: "index.html",
                CACHE_CONTROL: "no-cache",
              },
              { prefix: "/plain/", ...bucket },
              { prefix: "/errors/", ...bucket, REDIRECT: "never", ERROR_DOCUMENT: "error.html" },
              { prefix: "/auto-errors/", ...bucket, ERROR_DOCUMENT: "error.html" },
              { prefix: "/htm/", ...bucket, INDEX_DOCUMENT: "default.htm", LISTING: "off" },
              { prefix: "/nofallback/", ...bucket, REDIRECT: "never", SPA_FALLBACK: "gone.html" },
              {
                prefix: "/chain/",
                ...bucket,
                REDIRECT: "never",
                SPA_FALLBACK: "gone.html",
                ERROR_DOCUMENT: "error.html",
              },
            ],
          }),
        );
        [site, routes] = await Promise.all([
          startProxy({
            runtime,
            env: {
              ...base,
              ...bucket,
              SPA_FALLBACK: "index.html",
              ERROR_DOCUMENT: "error.html",
              CACHE_CONTROL: SITE_CACHE,
            },
          }),
          startProxy({ runtime, env: { ...base, ROUTES_FILE: file } }),
        ]);
      });

      after(async () => {
        await Promise.all([site?.stop(), routes?.stop()]);
      });

      /** The access-log line of the last request for `path`. */
      const logOf = async (p: ProxyHandle, path: string) => {
        const line = await p.waitForLine((l) => l.includes(`"path":${JSON.stringify(path)}`));
        assert.ok(line);
        return p.jsonLines().filter((l) => l.event === "request" && l.path === path).at(-1)!;
      };

      const assertApp = async (res: Response, cacheControl: string | null) => {
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
        assert.equal(res.headers.get("cache-control"), cacheControl);
        assert.match(res.headers.get("vary") ?? "", /Sec-Fetch-Mode, Accept/);
        assert.equal(res.headers.get("content-range"), null);
        assert.equal(await res.text(), INDEX);
      };

      const assertPlain404 = async (res: Response) => {
        assert.equal(res.status, 404);
        assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
        assert.equal(res.headers.get("cache-control"), "no-store");
        const body = await res.text();
        assert.match(body, /^404 NoSuchKey/);
        assert.ok(!body.includes("<"), body);
      };

      describe("default route from the environment, redirecting (REDIRECT=auto)", () => {
        test("a navigation to a deep path of the app gets index.html with 200", async () => {
          await assertApp(await get(site, "/app/settings/profile", NAVIGATE), SITE_CACHE);
          const log = await logOf(site, "/app/settings/profile");
          assert.equal(log.status, 200);
          assert.equal(log.decision, "fallback");
          await assertApp(await get(site, "/app/settings/profile", NAVIGATE_OLD), SITE_CACHE);
        });

        test("HEAD of a deep path gets the app's headers and no body", async () => {
          const res = await get(site, "/app/settings/profile", NAVIGATE, "HEAD");
          assert.equal(res.status, 200);
          assert.equal(res.headers.get("content-length"), String(INDEX.length));
          assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
          assert.equal(await res.text(), "");
        });

        test("the site's root and existing pages are served as today", async () => {
          const root = await get(site, "/", NAVIGATE);
          assert.equal(root.status, 200);
          assert.equal(root.headers.get("cache-control"), SITE_CACHE);
          assert.equal(await root.text(), INDEX);
          // S3 sent a Cache-Control: it is kept.
          const about = await get(site, "/about/", NAVIGATE);
          assert.equal(about.headers.get("cache-control"), "max-age=7");
          assert.equal(await about.text(), ABOUT);
        });

        test("an existing asset is still a 307 to S3, navigated to or loaded by the page", async () => {
          for (const headers of [NAVIGATE, IMG]) {
            const res = await get(site, "/assets/logo.png", headers);
            assert.equal(res.status, 307);
            const location = res.headers.get("location")!;
            assert.ok(location.startsWith(`${s3.endpoint}/${BUCKET}/assets/logo.png?`), location);
            const direct = await fetch(location);
            assert.deepEqual(new Uint8Array(await direct.arrayBuffer()), LOGO);
          }
        });

        test("a page's fetch() of a missing script gets a 404, never the app", async () => {
          const res = await get(site, "/app/missing.js", FETCH);
          assert.equal(res.status, 307, "redirected as without the settings");
          const followed = await fetch(res.headers.get("location")!);
          assert.equal(followed.status, 404);
          assert.ok(!(await followed.text()).includes("single-page app"));
        });

        test("a forbidden page gets the error document with 403", async () => {
          const res = await get(site, "/private/secret.html", NAVIGATE);
          assert.equal(res.status, 403);
          assert.equal(res.headers.get("cache-control"), "no-store");
          assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
          assert.equal(await res.text(), ERROR_PAGE);
        });

        test("S3 tools and curl are unaffected", async () => {
          const api = await get(site, "/app/settings/profile", AWSCLI);
          assert.equal(api.status, 404);
          assert.equal(api.headers.get("content-type"), "application/xml");
          assert.match(await api.text(), /<Code>NoSuchKey<\/Code>/);
          const curl = await get(site, "/app/settings/profile", CURL);
          assert.equal(curl.status, 307);
          await curl.body?.cancel();
        });
      });

      describe("ROUTES_FILE: a site route (REDIRECT=never) beside a plain route", () => {
        test("the site route serves the app for deep paths; the plain route a plain 404", async () => {
          await assertApp(await get(routes, "/site/app/settings/profile", NAVIGATE), "no-cache");
          await assertPlain404(await get(routes, "/plain/app/settings/profile", NAVIGATE));
          const plainRoot = await get(routes, "/plain/", NAVIGATE);
          assert.equal(plainRoot.status, 200);
          assert.equal(plainRoot.headers.get("cache-control"), null, "no CACHE_CONTROL there");
          assert.equal(plainRoot.headers.get("vary"), null);
          assert.equal(await plainRoot.text(), INDEX);
        });

        test("assets are streamed with CACHE_CONTROL only when S3 sent none", async () => {
          const js = await get(routes, "/site/app.js", FETCH);
          assert.equal(js.status, 200);
          assert.equal(js.headers.get("cache-control"), "no-cache");
          assert.equal(js.headers.get("vary"), null);
          assert.equal(await js.text(), APP_JS);
          const logo = await get(routes, "/site/assets/logo.png", IMG);
          assert.equal(logo.headers.get("cache-control"), "no-cache");
          assert.deepEqual(new Uint8Array(await logo.arrayBuffer()), LOGO);
          const hashed = await get(routes, "/site/assets/hashed.1234.png", IMG);
          assert.equal(hashed.headers.get("cache-control"), "public, max-age=31536000, immutable");
          await hashed.body?.cancel();
          const plain = await get(routes, "/plain/app.js", FETCH);
          assert.equal(plain.status, 307, "the plain route redirects, as today");
        });

        test("a missing script asked for by fetch() or a script tag is a plain 404", async () => {
          await assertPlain404(await get(routes, "/site/app/missing.js", FETCH));
          const script = { ...IMG, accept: "*/*", "sec-fetch-dest": "script" };
          await assertPlain404(await get(routes, "/site/app/missing.js", script));
          // A navigation to it (a typed URL) is the app's to answer.
          await assertApp(await get(routes, "/site/app/missing.js", NAVIGATE), "no-cache");
        });

        test("Range and conditionals are not applied to the fallback", async () => {
          const ranged = await get(routes, "/site/app/deep", { ...NAVIGATE, range: "bytes=0-3" });
          await assertApp(ranged, "no-cache");
          const cond = await get(routes, "/site/app/deep", {
            ...NAVIGATE,
            "if-none-match": indexEtag,
            "if-modified-since": new Date(Date.now() + 86400_000).toUTCString(),
          });
          await assertApp(cond, "no-cache");
          // ...and still are to objects that exist.
          const part = await get(routes, "/site/app.js", { ...FETCH, range: "bytes=0-7" });
          assert.equal(part.status, 206);
          assert.equal(await part.text(), APP_JS.slice(0, 8));
          const same = await get(routes, "/site/", { ...NAVIGATE, "if-none-match": indexEtag });
          assert.equal(same.status, 304);
        });

        test("a folder without its index gets the app when listings are off", async () => {
          await assertApp(await get(routes, "/site/assets/", NAVIGATE), "no-cache");
          await assertPlain404(await get(routes, "/site/assets/", CURL));
        });

        test("a folder named without its slash is redirected to it", async () => {
          const res = await get(routes, "/site/guide?x=1", NAVIGATE);
          assert.equal(res.status, 302);
          assert.equal(res.headers.get("location"), "/site/guide/?x=1");
          const page = await get(routes, "/site/guide/", NAVIGATE);
          assert.equal(await page.text(), GUIDE);
        });

        test("S3 tools and curl get the plain 404", async () => {
          const api = await get(routes, "/site/app/settings/profile", AWSCLI);
          assert.equal(api.status, 404);
          assert.match(await api.text(), /<Code>NoSuchKey<\/Code>/);
          await assertPlain404(await get(routes, "/site/app/settings/profile", CURL));
          const head = await get(routes, "/site/app/settings/profile", AWSCLI, "HEAD");
          assert.equal(head.status, 404);
          await head.body?.cancel();
        });
      });

      describe("ERROR_DOCUMENT", () => {
        test("a missing page gets it with 404; a forbidden one with 403", async () => {
          for (const prefix of ["/errors", "/auto-errors"]) {
            for (const [path, status] of [["/nope/page", 404], ["/private/secret.html", 403]]) {
              const res = await get(routes, prefix + path, NAVIGATE);
              assert.equal(res.status, status, prefix + path);
              assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
              assert.equal(res.headers.get("cache-control"), "no-store");
              assert.equal(res.headers.get("etag"), null);
              assert.equal(await res.text(), ERROR_PAGE);
            }
          }
          const log = await logOf(routes, "/errors/private/secret.html");
          assert.equal(log.decision, "error-document");
          assert.equal(log.status, 403);
        });

        test("HEAD gets its status and headers, no body", async () => {
          const res = await get(routes, "/errors/nope/page", NAVIGATE, "HEAD");
          assert.equal(res.status, 404);
          assert.equal(res.headers.get("content-length"), String(ERROR_PAGE.length));
          assert.equal(await res.text(), "");
        });

        test("anyone else gets the plain answer", async () => {
          await assertPlain404(await get(routes, "/errors/nope/page", FETCH));
          const denied = await get(routes, "/errors/private/secret.html", CURL);
          assert.equal(denied.status, 403);
          assert.match(await denied.text(), /^403 AccessDenied/);
          const api = await get(routes, "/errors/private/secret.html", AWSCLI);
          assert.equal(api.status, 403);
          assert.match(await api.text(), /<Code>AccessDenied<\/Code>/);
        });
      });

      describe("INDEX_DOCUMENT=default.htm", () => {
        test("a folder serves its default.htm, which is streamed like index.html was", async () => {
          const docs = await get(routes, "/htm/docs/", NAVIGATE);
          assert.equal(docs.status, 200);
          assert.equal(await docs.text(), DEFAULT_HTM);
          const direct = await get(routes, "/htm/docs/default.htm", NAVIGATE);
          assert.equal(direct.status, 200, "PROXY_PATTERN follows INDEX_DOCUMENT");
          assert.equal(await direct.text(), DEFAULT_HTM);
          // index.html is an ordinary key there: not a folder's page, redirected.
          await assertPlain404(await get(routes, "/htm/guide/", NAVIGATE));
          const other = await get(routes, "/htm/guide/index.html", NAVIGATE);
          assert.equal(other.status, 307);
        });
      });

      describe("missing documents", () => {
        test("a missing fallback gives the plain 404, or the error document when set", async () => {
          await assertPlain404(await get(routes, "/nofallback/app/settings/profile", NAVIGATE));
          await assertPlain404(await get(routes, "/nofallback/gone.html", NAVIGATE));
          const chained = await get(routes, "/chain/app/settings/profile", NAVIGATE);
          assert.equal(chained.status, 404);
          assert.equal(await chained.text(), ERROR_PAGE);
        });
      });
    });
  }
});
