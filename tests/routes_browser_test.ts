/**
 * Issue 10 ("Routes") in a real browser: headless Chromium (Debian's, or $CHROMIUM) driven by
 * playwright-core, through the proxy (src/main.ts under Deno and Bun) with a routes file and no
 * route at `/`, in front of two `@20minutes/s3rver@5.0.0` backends with different key pairs.
 *
 * A person's walk: open `/` (the route index), click a route, a folder, a file; the proxy answers
 * 307 to a presigned URL at that route's backend, which verifies it and serves the bytes. Then back
 * to `/` and the same through the other route, to the other backend. Screenshots go to
 * `.test-output/browser/`. Chromium missing is a failure, not a skip.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import type { ProxyHandle } from "./support/proxy.ts";
import {
  artifactDir,
  chromiumMissing,
  startProxiesAndChromium,
  withNewPage,
} from "./support/browser.ts";

const TEXT = { "content-type": "text/plain; charset=utf-8" };

/** The texts of the name cells of a listing, in page order. */
function names(page: Page): Promise<string[]> {
  return page.locator("td.n bdi").allTextContents();
}

describe("routes in headless Chromium: from the route index at / to a file's bytes", () => {
  let s3a: S3rverHandle;
  let s3b: S3rverHandle;
  let scratch: string;
  let out: string;
  let browser: Browser | undefined;
  const proxies: ProxyHandle[] = [];

  before(async () => {
    const missing = await chromiumMissing();
    if (missing) throw new Error(missing);
    out = await artifactDir("browser");
    [s3a, s3b] = await Promise.all([
      startS3rver({ buckets: ["alpha"] }),
      startS3rver({ buckets: ["beta"] }),
    ]);
    assert.notEqual(s3a.accessKeyId, s3b.accessKeyId);
    await Promise.all([
      s3a.putObject("alpha", "docs/guide.txt", "alpha's guide: ünïcödé ✓\n", TEXT),
      s3a.putObject("alpha", "top.txt", "alpha top\n", TEXT),
      s3b.putObject("beta", "reports/2024/q4 summary.txt", "beta's q4 summary\n", TEXT),
      // s3rver lists a folder only if it holds an object directly (real S3 lists it anyway).
      s3b.putObject("beta", "reports/notes.txt", "notes\n", TEXT),
    ]);
    scratch = await Deno.makeTempDir({ prefix: "routes-browser-" });
    const routesFile = `${scratch}/routes.json`;
    await Deno.writeTextFile(
      routesFile,
      JSON.stringify({
        routes: [
          {
            AUTH: "none",
            prefix: "/files/alpha/",
            AWS_ENDPOINT_HOST: s3a.host,
            S3_BUCKET: "alpha",
            AWS_ACCESS_KEY_ID: s3a.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3a.secretAccessKey,
          },
          { AUTH: "none", prefix: "/beta/", AWS_ENDPOINT_HOST: s3b.host, S3_BUCKET: "beta" },
        ],
      }),
      { mode: 0o600 },
    );
    const env = {
      ROUTES_FILE: routesFile,
      AWS_ENDPOINT_SCHEME: "http",
      AWS_ACCESS_KEY_ID: s3b.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3b.secretAccessKey,
    };
    const [deno, bun, launched] = await startProxiesAndChromium(env, { viaTask: true });
    proxies.push(deno, bun);
    browser = launched;
  });

  after(async () => {
    await browser?.close().catch(() => {});
    await Promise.all(proxies.map((p) => p.stop()));
    await Promise.all([s3a?.stop(), s3b?.stop()]);
    if (scratch) await Deno.remove(scratch, { recursive: true }).catch(() => {});
  });

  for (const runtime of ["deno", "bun"] as const) {
    test(`clicking from / through each route to a file at its own backend (${runtime})`, async () => {
      const proxy = proxies.find((p) => p.runtime === runtime)!;
      await withNewPage(browser, { viewport: { width: 1000, height: 700 } }, async (page) => {
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(e.message));

        const index = await page.goto(`${proxy.url}/`);
        assert.equal(index?.status(), 200);
        assert.deepEqual(await names(page), ["files/alpha/", "beta/"]);
        await page.screenshot({ path: `${out}routes-${runtime}-1-index.png` });

        // Route one: a two-segment prefix onto backend A.
        await page.getByRole("link", { name: "files/alpha/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/files/alpha/`);
        assert.deepEqual(await names(page), ["docs/", "top.txt"]);
        await page.getByRole("link", { name: "docs/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/files/alpha/docs/`);
        assert.deepEqual(await names(page), ["Parent folder", "guide.txt"]);
        await page.getByRole("link", { name: "guide.txt" }).click();
        await page.waitForURL((url) => url.searchParams.has("X-Amz-Signature"));
        const a = new URL(page.url());
        assert.equal(a.origin, s3a.endpoint, "the 307 led to backend A");
        assert.equal(a.pathname, "/alpha/docs/guide.txt");
        assert.ok(a.searchParams.get("X-Amz-Credential")!.startsWith(`${s3a.accessKeyId}/`));
        assert.equal(await page.locator("pre").textContent(), "alpha's guide: ünïcödé ✓\n");
        await page.screenshot({ path: `${out}routes-${runtime}-2-alpha-file.png` });

        // Back to the index, then route two onto backend B with the process's credentials.
        await page.goto(`${proxy.url}/`);
        await page.getByRole("link", { name: "beta/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/beta/`);
        await page.getByRole("link", { name: "reports/", exact: true }).click();
        await page.getByRole("link", { name: "2024/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/beta/reports/2024/`);
        await page.getByRole("link", { name: "q4 summary.txt" }).click();
        await page.waitForURL((url) => url.searchParams.has("X-Amz-Signature"));
        const b = new URL(page.url());
        assert.equal(b.origin, s3b.endpoint, "the 307 led to backend B");
        assert.equal(b.pathname, "/beta/reports/2024/q4%20summary.txt");
        assert.ok(b.searchParams.get("X-Amz-Credential")!.startsWith(`${s3b.accessKeyId}/`));
        assert.equal(await page.locator("pre").textContent(), "beta's q4 summary\n");
        await page.screenshot({ path: `${out}routes-${runtime}-3-beta-file.png` });
        assert.deepEqual(errors, []);
      });
      const clicks = proxy.jsonLines().filter((l) => l.event === "request");
      assert.ok(clicks.some((l) => l.decision === "routes" && l.path === "/"));
      assert.ok(clicks.some((l) => l.route === "/files/alpha/" && l.status === 307));
      assert.ok(clicks.some((l) => l.route === "/beta/" && l.status === 307));
    });
  }
});
