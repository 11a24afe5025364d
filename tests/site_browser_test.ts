/**
 * A single-page app from a private bucket, in a real browser: Debian's Chromium
 * (`/usr/bin/chromium`, or $CHROMIUM), headless, driven by playwright-core, through the proxy
 * (src/main.ts) in front of s3rver. The proxy serves the bucket as a website with
 * SPA_FALLBACK=index.html: under Deno the recommended way (REDIRECT=never, LISTING=off,
 * CACHE_CONTROL), under Bun on a redirecting route (REDIRECT=auto: the app's script and image are
 * 307s to S3, and navigations are checked with a HEAD first).
 *
 * The walk: open the app at `/`, follow an in-app link (the app's router calls
 * history.pushState: no request, no reload) to a deep route, then reload the page there. The
 * reload asks the proxy for `/app/settings/profile`, which is no object: it must get the app
 * (200), whose script runs again and renders that route. The app also fetch()es a missing
 * script, which must not come back as the app. Screenshots go to `.test-output/site/`.
 *
 * Chromium missing is a failure, not a skip: CI installs it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  artifactDir,
  chromiumMissing,
  type Proxies,
  startProxiesAndChromium,
  stopProxiesAndChromium,
  withNewPage,
} from "./support/browser.ts";

/** Page-side globals, for the functions that run in Chromium (Deno's types have no DOM). */
declare const window: Record<string, unknown>;
declare const document: {
  querySelector(selectors: string): { naturalWidth: number; complete: boolean } | null;
};

const BUCKET = "spa";

const INDEX = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Atlas app</title>
<style>
  body { font: 16px system-ui, sans-serif; margin: 2rem; }
  nav a { margin-right: 1rem; }
  img { width: 48px; height: 48px; image-rendering: pixelated; vertical-align: middle; }
  #route { font-family: monospace; font-size: 1.4rem; }
</style>
</head>
<body>
<h1><img id="logo" src="/assets/logo.png" alt="logo"> Atlas</h1>
<nav>
  <a href="/" data-link>Home</a>
  <a href="/app/settings/profile" data-link>Profile</a>
</nav>
<p>Route: <span id="route">(app.js did not run)</span></p>
<p>Probe: <span id="probe">pending</span></p>
<script src="/app.js"></script>
</body>
</html>
`;

/** The app: a router over location.pathname, and a fetch() of a script that is not there. */
const APP_JS = `"use strict";
function render() {
  document.getElementById("route").textContent = location.pathname;
}
document.addEventListener("click", (event) => {
  const link = event.target.closest("a[data-link]");
  if (!link) return;
  event.preventDefault();
  history.pushState({}, "", link.getAttribute("href"));
  render();
});
window.addEventListener("popstate", render);
render();
fetch("/app/missing.js", { redirect: "manual" }).then(
  (res) => {
    document.getElementById("probe").textContent = res.type === "opaqueredirect"
      ? "redirect"
      : res.status + " " + res.headers.get("content-type");
  },
  (err) => { document.getElementById("probe").textContent = "failed: " + err; },
);
`;

/** A 2x2 PNG (red, green, blue, white). */
const LOGO = Uint8Array.from(
  atob(
    "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEklEQVR42mP4z8DAAMIM/4EAAB/uBfvxq7p3AAAAAElFTkSuQmCC",
  ),
  (c) => c.charCodeAt(0),
);

function watch(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    // Chromium asks every origin for /favicon.ico, and the app probes /app/missing.js: plain
    // 404s, as they should be, which Chromium logs.
    const url = message.location().url;
    if (url.endsWith("/favicon.ico") || url.endsWith("/app/missing.js")) return;
    if (message.type() === "error") errors.push(`console.error: ${message.text()}`);
  });
  page.on("pageerror", (error) => errors.push(`pageerror: ${error.message}`));
  return errors;
}

describe("a single-page app in headless Chromium", () => {
  let missing: string | undefined;
  let out = "";
  let s3: S3rverHandle | undefined;
  const proxies: Proxies = {};
  let browser: Browser | undefined;

  before(async () => {
    missing = await chromiumMissing();
    if (missing) return;
    out = await artifactDir("site");
    s3 = await startS3rver({ buckets: [BUCKET] });
    await s3.putObject(BUCKET, "index.html", INDEX, {
      "content-type": "text/html; charset=utf-8",
    });
    await s3.putObject(BUCKET, "app.js", APP_JS, { "content-type": "text/javascript" });
    await s3.putObject(BUCKET, "assets/logo.png", LOGO, { "content-type": "image/png" });
    const env = {
      AWS_ENDPOINT_HOST: s3.host,
      AWS_ENDPOINT_SCHEME: "http",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_BUCKET: BUCKET,
      SPA_FALLBACK: "index.html",
    };
    [proxies.deno, proxies.bun, browser] = await startProxiesAndChromium(env, {
      env: { ...env, REDIRECT: "never", LISTING: "off", CACHE_CONTROL: "no-cache" },
    });
  });

  after(async () => {
    await stopProxiesAndChromium(browser, proxies);
    await s3?.stop();
  });

  test("Chromium is installed", () => {
    if (missing) assert.fail(missing);
    assert.ok(browser?.isConnected());
  });

  for (const runtime of ["deno", "bun"] as const) {
    test(`pushState to a deep route, then reload there (proxy under ${runtime})`, async () => {
      if (missing) assert.fail(missing);
      const proxy = proxies[runtime]!;
      await withNewPage(browser, { viewport: { width: 800, height: 500 } }, async (page) => {
        const errors = watch(page);
        const logoLoaded = () =>
          page.waitForFunction(() => {
            const img = document.querySelector("#logo");
            return img !== null && img.complete && img.naturalWidth === 2;
          });

        const home = await page.goto(`${proxy.url}/`);
        assert.equal(home?.status(), 200);
        assert.equal(await page.title(), "Atlas app");
        assert.equal(await page.locator("#route").textContent(), "/");
        await logoLoaded();
        // Under Deno the page's fetch() gets the plain 404; under Bun the proxy redirects it
        // (REDIRECT=auto), as it would without the site settings. Never the app.
        const probe = runtime === "deno" ? "404 text/plain; charset=utf-8" : "redirect";
        await page.locator("#probe", { hasText: probe }).waitFor();

        // An in-app link: the router pushes the state, the page stays loaded.
        await page.evaluate(() => (window.marker = "still the first load"));
        await page.getByRole("link", { name: "Profile" }).click();
        await page.waitForURL(`${proxy.url}/app/settings/profile`);
        assert.equal(await page.locator("#route").textContent(), "/app/settings/profile");
        assert.equal(await page.evaluate(() => window.marker), "still the first load");
        await page.screenshot({ path: `${out}${runtime}-1-pushstate.png` });

        // Reload at the deep route: a real request for a key that does not exist.
        const reloaded = await page.reload();
        assert.equal(reloaded?.status(), 200);
        assert.equal(reloaded?.headers()["content-type"], "text/html; charset=utf-8");
        if (runtime === "deno") assert.equal(reloaded?.headers()["cache-control"], "no-cache");
        assert.equal(await page.evaluate(() => window.marker), undefined, "a fresh page");
        assert.equal(page.url(), `${proxy.url}/app/settings/profile`);
        assert.equal(await page.locator("#route").textContent(), "/app/settings/profile");
        await logoLoaded();
        await page.locator("#probe", { hasText: probe }).waitFor();
        const path = `${out}${runtime}-2-reloaded-deep-route.png`;
        await page.screenshot({ path });
        assert.ok((await Deno.stat(path)).size > 1000, `screenshot ${path} written`);

        // Back in history: the router renders the first route again.
        await page.goBack();
        await page.waitForURL(`${proxy.url}/`);
        assert.equal(await page.locator("#route").textContent(), "/");
        assert.deepEqual(errors, []);
      });
    });
  }
});
