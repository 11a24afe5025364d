/**
 * CORS in a real browser: a page on one loopback origin (a server in this test) `fetch()`es
 * through the proxy on another (src/main.ts under Deno and Bun, `CORS_ALLOW_ORIGINS` naming the
 * page's origin), in front of an s3rver bucket that has a CORS configuration (for the presigned
 * redirect: after a cross-origin redirect the browser sends `Origin: null`, so the bucket's rule
 * allows `*`). The page reads a streamed `index.html`, a `Range` of it, a 404, and an object
 * whose `307` it follows to S3. Chromium missing is a failure, not a skip: CI installs it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser } from "playwright-core";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  chromiumMissing,
  type Proxies,
  startProxiesAndChromium,
  stopProxiesAndChromium,
} from "./support/browser.ts";

const BUCKET = "cors-site";
const INDEX = "<!doctype html><title>app</title><h1>streamed through the proxy</h1>\n" +
  "x".repeat(100_000) + "\n";
const DATA = "object bytes from S3 itself\n";

/** The bucket CORS configuration the README gives (the redirected fetch arrives with Origin: null). */
const BUCKET_CORS = `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <CORSRule>
    <AllowedOrigin>*</AllowedOrigin>
    <AllowedMethod>GET</AllowedMethod>
    <AllowedMethod>HEAD</AllowedMethod>
    <AllowedHeader>*</AllowedHeader>
    <ExposeHeader>ETag</ExposeHeader>
    <ExposeHeader>Content-Length</ExposeHeader>
    <ExposeHeader>Content-Range</ExposeHeader>
    <MaxAgeSeconds>600</MaxAgeSeconds>
  </CORSRule>
</CORSConfiguration>`;

/** What the page's fetches saw. */
interface Seen {
  status: number;
  text: string;
  redirected: boolean;
  url: string;
  contentRange: string | null;
  etag: string | null;
  requestId: string | null;
}

describe("cross-origin fetch() through the proxy in headless Chromium", () => {
  let s3: S3rverHandle | undefined;
  let page: Deno.HttpServer<Deno.NetAddr> | undefined;
  let pageOrigin = "";
  const proxies: Proxies = {};
  let browser: Browser | undefined;

  before(async () => {
    const missing = await chromiumMissing();
    if (missing) throw new Error(missing);
    s3 = await startS3rver({ buckets: [{ name: BUCKET, configs: [BUCKET_CORS] }] });
    await s3.putObject(BUCKET, "index.html", INDEX, { "content-type": "text/html" });
    await s3.putObject(BUCKET, "data/file.txt", DATA, { "content-type": "text/plain" });
    page = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        new Response("<!doctype html><title>app</title><p>app page</p>", {
          headers: { "content-type": "text/html" },
        }),
    );
    pageOrigin = `http://127.0.0.1:${page.addr.port}`;
    const env = {
      AWS_ENDPOINT_HOST: s3.host,
      AWS_ENDPOINT_SCHEME: "http",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_BUCKET: BUCKET,
      CORS_ALLOW_ORIGINS: pageOrigin,
    };
    [proxies.deno, proxies.bun, browser] = await startProxiesAndChromium(env);
  });

  after(async () => {
    await stopProxiesAndChromium(browser, proxies);
    await page?.shutdown();
    await s3?.stop();
  });

  for (const runtime of ["deno", "bun"] as const) {
    test(`under ${runtime}: index.html, a Range, a 404, a redirected object`, async () => {
      const proxy = proxies[runtime]!;
      const context = await browser!.newContext();
      try {
        const tab = await context.newPage();
        await tab.goto(pageOrigin + "/");
        const run = (path: string, headers: Record<string, string> = {}) =>
          tab.evaluate(async ([url, headers]): Promise<Seen> => {
            const res = await fetch(url, { headers, mode: "cors" });
            return {
              status: res.status,
              text: await res.text(),
              redirected: res.redirected,
              url: res.url,
              contentRange: res.headers.get("content-range"),
              etag: res.headers.get("etag"),
              requestId: res.headers.get("x-request-id"),
            };
          }, [proxy.url + path, headers] as const);

        const index = await run("/index.html");
        assert.equal(index.status, 200);
        assert.equal(index.text, INDEX);
        assert.match(index.etag ?? "", /^"[0-9a-f]+"$/, "ETag is exposed");

        const range = await run("/index.html", { range: "bytes=0-14" });
        assert.equal(range.status, 206);
        assert.equal(range.text, INDEX.slice(0, 15));
        assert.equal(range.contentRange, `bytes 0-14/${INDEX.length}`);

        const missing = await run("/no/such/index.html");
        assert.equal(missing.status, 404, "a 404 is readable cross-origin");

        const redirected = await run("/data/file.txt");
        assert.equal(redirected.status, 200);
        assert.equal(redirected.text, DATA);
        assert.equal(redirected.redirected, true);
        assert.ok(redirected.url.startsWith(s3!.endpoint + `/${BUCKET}/data/file.txt?`));
        assert.ok(redirected.url.includes("X-Amz-Signature="));

        // The proxy saw the page's origin on each request; the preflight of the Range request
        // (if Chromium sent one) was answered 204.
        const logged = proxy.jsonLines().filter((l) => l.event === "request");
        for (const l of logged) assert.notEqual(l.status, 405, JSON.stringify(l));
      } finally {
        await context.close();
      }
    });
  }
});
