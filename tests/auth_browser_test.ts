/**
 * `AUTH=basic` in a real browser: Debian's Chromium (`/usr/bin/chromium`, or $CHROMIUM), headless,
 * driven by playwright-core, in front of s3rver through the proxy (src/main.ts under Deno and
 * Bun) with an `htpasswd -B` file. Without credentials the browser gets the `401` and its Basic
 * challenge (what makes a person's browser prompt); with the prompt answered (the context's
 * `httpCredentials`, sent only once challenged) a person clicks from the bucket's listing into a
 * folder and through the presigned redirect to the file's bytes; wrong credentials stay `401`.
 *
 * Chromium missing is a failure, not a skip: CI installs it.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import {
  chromiumMissing,
  type Proxies,
  startProxiesAndChromium,
  stopProxiesAndChromium,
  withNewPage,
} from "./support/browser.ts";

const BUCKET = "vault";
const SECRET_TEXT = "only for readers ✓\n";
const USER = "reader";
const PASSWORD = "open sesame ü";

describe("basic auth in headless Chromium", () => {
  let missing: string | undefined;
  let s3: S3rverHandle | undefined;
  let dir: string | undefined;
  let browser: Browser | undefined;
  const proxies: Proxies = {};

  before(async () => {
    missing = await chromiumMissing();
    if (missing) return;
    s3 = await startS3rver({ buckets: [BUCKET] });
    const text = { "content-type": "text/plain; charset=utf-8" };
    await s3.putObject(BUCKET, "plans/secret.txt", SECRET_TEXT, text);
    await s3.putObject(BUCKET, "readme.txt", "hello\n", text);
    dir = await Deno.makeTempDir({ prefix: "auth-browser-" });
    const out = await new Deno.Command("htpasswd", {
      args: ["-cbB", "-C", "4", `${dir}/htpasswd`, USER, PASSWORD],
      stdout: "null",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const env = {
      AWS_ENDPOINT_HOST: s3.host,
      AWS_ENDPOINT_SCHEME: "http",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      AUTH: "basic",
      AUTH_BASIC_FILE: `${dir}/htpasswd`,
      AUTH_REALM: "The vault",
    };
    [proxies.deno, proxies.bun, browser] = await startProxiesAndChromium(env);
  });

  after(async () => {
    await stopProxiesAndChromium(browser, proxies);
    await s3?.stop();
    if (dir) await Deno.remove(dir, { recursive: true });
    for (const proxy of Object.values(proxies)) {
      assert.ok(!proxy.lines().join("\n").includes(PASSWORD), "the password in the output");
    }
  });

  async function withPage(
    httpCredentials: { username: string; password: string } | undefined,
    use: (page: Page) => Promise<void>,
  ): Promise<void> {
    if (missing) assert.fail(missing);
    await withNewPage(browser, { httpCredentials }, use);
  }

  for (const runtime of ["deno", "bun"] as const) {
    test(`no credentials: 401 with the Basic challenge that makes a browser prompt (${runtime})`, async () => {
      await withPage(undefined, async (page) => {
        // Chromium's own prompt, seen through the DevTools protocol: its auth challenge (scheme
        // and realm), answered as a person who dismisses the prompt, which shows the 401 page.
        const cdp = await page.context().newCDPSession(page);
        cdp.on("Fetch.requestPaused", (e) => {
          cdp.send("Fetch.continueRequest", { requestId: e.requestId }).catch(() => {});
        });
        const prompted = new Promise<{ scheme: string; realm: string }>((resolve) => {
          cdp.on("Fetch.authRequired", (e) => {
            resolve(e.authChallenge);
            cdp.send("Fetch.continueWithAuth", {
              requestId: e.requestId,
              authChallengeResponse: { response: "CancelAuth" },
            }).catch(() => {});
          });
        });
        await cdp.send("Fetch.enable", {
          handleAuthRequests: true,
          patterns: [{ urlPattern: "*" }],
        });
        const res = await page.goto(`${proxies[runtime]!.url}/${BUCKET}/`);
        const challenge = await prompted;
        assert.equal(challenge.scheme.toLowerCase(), "basic");
        assert.equal(challenge.realm, "The vault");
        assert.equal(res?.status(), 401);
        assert.equal(
          await res?.headerValue("www-authenticate"),
          'Basic realm="The vault", charset="UTF-8"',
        );
        assert.match(await page.locator("body").textContent() ?? "", /401 Unauthorized/);
        assert.ok(!(await page.content()).includes(SECRET_TEXT));
      });
    });

    test(`the prompt answered: listing, folder, file by clicking (${runtime})`, async () => {
      const proxy = proxies[runtime]!;
      await withPage({ username: USER, password: PASSWORD }, async (page) => {
        const root = await page.goto(`${proxy.url}/${BUCKET}/`);
        assert.equal(root?.status(), 200);
        // Generated listings are no-store; everything else an admitted request gets is private.
        assert.match(await root!.headerValue("cache-control") ?? "", /^(private|no-store)/);
        await page.getByRole("link", { name: "plans/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/${BUCKET}/plans/`);
        await page.getByRole("link", { name: "secret.txt" }).click();
        await page.waitForURL((url) => url.searchParams.has("X-Amz-Signature"));
        assert.equal(new URL(page.url()).origin, s3!.endpoint, "the 307 led to the S3 server");
        assert.equal(await page.locator("pre").textContent(), SECRET_TEXT);
      });
      const requests = proxy.jsonLines().filter((l) => l.event === "request" && l.status !== 401);
      const paths = requests.filter((l) => l.principal === USER).map((l) => l.path);
      for (const path of [`/${BUCKET}/`, `/${BUCKET}/plans/`, `/${BUCKET}/plans/secret.txt`]) {
        assert.ok(paths.includes(path), `${path} as ${USER}: ${JSON.stringify(paths)}`);
      }
    });

    test(`a wrong password stays 401 (${runtime})`, async () => {
      await withPage({ username: USER, password: "guess" }, async (page) => {
        const res = await page.goto(`${proxies[runtime]!.url}/${BUCKET}/`);
        assert.equal(res?.status(), 401);
      });
    });
  }
});
