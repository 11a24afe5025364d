/**
 * End to end in a real browser: Debian's Chromium (`/usr/bin/chromium`, or $CHROMIUM), headless,
 * driven by playwright-core, browsing a private bucket in s3rver through the proxy (src/main.ts
 * under Deno and Bun). A relay (tests/support/s3_shim.ts) sits between the proxy and s3rver so
 * that keys such as `<img src=x onerror=alert(1)>.txt` are listed as real S3 lists them.
 *
 * A person's walk: open the bucket's root listing, click into folders, click a file (the proxy
 * answers 307 to a presigned URL at the S3 server, which serves it) and see its bytes. Names that
 * look like markup show as text and run nothing, with the page's CSP on and, to test the escaping
 * alone, with CSP bypassed. The page is also checked at phone width and in the dark theme.
 * Screenshots of every step go to `.test-output/browser/` on every run; `listing-light.png`
 * there is the README's docs/listing.png.
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
import { type S3Shim, startS3Shim } from "./support/s3_shim.ts";

/** Page-side globals, for the functions that run in Chromium (Deno's types have no DOM). */
declare const document: {
  body: unknown;
  documentElement: { scrollWidth: number; clientWidth: number };
  querySelectorAll(selectors: string): { length: number };
};
declare function getComputedStyle(element: unknown): {
  borderCollapse: string;
  backgroundColor: string;
  color: string;
};

/** `.test-output/browser/`, once created. */
let out = "";

const BUCKET = "acme-datasets";
const ATLAS = "projects/atlas/";
/**
 * The files of projects/atlas/ (besides README.md): size in KiB, the modification time given
 * to the object (s3rver lists its file's mtime), and the size and time the page should show.
 */
const ATLAS_FILES: Record<string, [kib: number, mtime: string, size: string, time: string]> = {
  "CHANGELOG.md": [14.2, "2025-03-14T09:26:53Z", "14 KiB", "2025-03-14 09:26:53 UTC"],
  "LICENSE": [1.1, "2023-01-09T17:02:11Z", "1.1 KiB", "2023-01-09 17:02:11 UTC"],
  "atlas-v2.4.0.tar.gz": [3900, "2025-03-14T10:05:12Z", "3.8 MiB", "2025-03-14 10:05:12 UTC"],
  "cover photo.jpg": [412, "2024-11-02T18:44:05Z", "412 KiB", "2024-11-02 18:44:05 UTC"],
  "metrics-2024-06.csv": [87.5, "2024-07-01T00:15:00Z", "88 KiB", "2024-07-01 00:15:00 UTC"],
  "model-weights.bin": [9800, "2025-02-27T21:38:19Z", "9.6 MiB", "2025-02-27 21:38:19 UTC"],
  "sample.json": [0.3, "2024-09-18T12:00:31Z", "307 B", "2024-09-18 12:00:31 UTC"],
};
const GREETING = "Hello from a private bucket: ünïcödé ✓\n";
const README = "# Atlas\n\nA dataset of everything, with <b>markup</b> that stays text.\n";

/** Keys named like markup; each object's body is `bytes of ` + its key. */
const MARKUP = [
  "<img src=x onerror=alert(1)>.txt",
  '"><svg onload=alert(2)>.txt',
  "' onmouseover='alert(3)' x='.txt",
  "javascript:alert(4)",
  // Stored as the file `script>` in the folder `<script>alert\`5\`<`. (Not `alert(5)`: s3rver
  // would refuse to list that folder, as it signs `(` unencoded in a prefix query value.)
  "<script>alert`5`</script>",
];

/** `n` KiB of bytes. */
function kib(n: number): Uint8Array {
  return new Uint8Array(Math.round(n * 1024)).fill(0x2a);
}

/** What a page did that it should not: dialogs, console errors, uncaught exceptions. */
interface Incidents {
  dialogs: string[];
  errors: string[];
}

function watch(page: Page): Incidents {
  const incidents: Incidents = { dialogs: [], errors: [] };
  page.on("dialog", (dialog) => {
    incidents.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    dialog.dismiss().catch(() => {});
  });
  page.on("console", (message) => {
    // Chromium asks every origin for /favicon.ico; S3 answers the unsigned request 403.
    if (message.location().url.endsWith("/favicon.ico")) return;
    if (message.type() === "error" || message.type() === "warning") {
      incidents.errors.push(`console.${message.type()}: ${message.text()}`);
    }
  });
  page.on("pageerror", (error) => incidents.errors.push(`pageerror: ${error.message}`));
  return incidents;
}

async function screenshot(page: Page, name: string): Promise<void> {
  const path = `${out}${name}.png`;
  await page.screenshot({ path });
  const info = await Deno.stat(path);
  assert.ok(info.size > 1000, `screenshot ${path} written`);
}

/** The texts of the name cells, in page order. */
function names(page: Page): Promise<string[]> {
  return page.locator("td.n bdi").allTextContents();
}

describe("browsing a bucket in headless Chromium", () => {
  let missing: string | undefined;
  let s3: S3rverHandle | undefined;
  let shim: S3Shim | undefined;
  const proxies: Proxies = {};
  let browser: Browser | undefined;

  before(async () => {
    missing = await chromiumMissing();
    if (missing) return;
    out = await artifactDir("browser");
    s3 = await startS3rver({ buckets: [BUCKET] });
    shim = await startS3Shim(s3.port);
    const text = { "content-type": "text/plain; charset=utf-8" };
    await s3.putObject(BUCKET, "hello/greeting.txt", GREETING, text);
    await s3.putObject(BUCKET, ATLAS + "README.md", README, text);
    for (const key of MARKUP) await s3.putObject(BUCKET, "xss/" + key, "bytes of " + key, text);
    await s3.putObjects(BUCKET, [
      ["hello/notes/todo.txt", "todo"],
      ["reports/2024/q4.pdf", kib(88)],
      ["reports/summary.csv", "a,b\n"],
      ["index-of-everything.json", "{}"],
      // s3rver lists a folder only if it holds an object directly (real S3 lists it anyway).
      ["projects/overview.txt", "projects"],
      [ATLAS + "assets/logo.svg", "<svg/>"],
      [ATLAS + "data/2024/q1.parquet", kib(1)],
      [ATLAS + "data/readme.txt", "data"],
      [ATLAS + "docs/architecture.md", "# Architecture"],
      [ATLAS + "notebooks/explore.ipynb", "{}"],
      ...Object.entries(ATLAS_FILES).map(([name, [size]]): [string, Uint8Array] => [
        ATLAS + name,
        kib(size),
      ]),
    ]);
    // Realistic, distinct times: s3rver stores an object as <directory>/<bucket>/<key>._S3rver_object
    // and lists the mtime of that file.
    const times = [...Object.entries(ATLAS_FILES), ["README.md", [0, "2025-03-14T09:27:40Z"]]];
    for (const [name, [, mtime]] of times as [string, [number, string]][]) {
      const file = `${s3.directory}/${BUCKET}/${ATLAS}${name}._S3rver_object`;
      await Deno.utime(file, new Date(mtime), new Date(mtime));
    }
    const env = {
      AWS_ENDPOINT_HOST: shim.host,
      AWS_ENDPOINT_SCHEME: "http",
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    };
    [proxies.deno, proxies.bun, browser] = await startProxiesAndChromium(env);
  });

  after(async () => {
    await stopProxiesAndChromium(browser, proxies);
    await shim?.close();
    await s3?.stop();
  });

  /** A fresh context and page; closed after `use`, even on failure. */
  async function withPage(
    options: Parameters<Browser["newContext"]>[0],
    use: (page: Page, incidents: Incidents) => Promise<void>,
  ): Promise<void> {
    if (missing) assert.fail(missing);
    await withNewPage(browser, options, (page) => use(page, watch(page)));
  }

  test("Chromium is installed", () => {
    if (missing) assert.fail(missing);
    assert.ok(browser?.isConnected());
  });

  for (const runtime of ["deno", "bun"] as const) {
    test(`from the root to a file's bytes, by clicking (proxy under ${runtime})`, async () => {
      const proxy = proxies[runtime]!;
      await withPage({ viewport: { width: 1000, height: 700 } }, async (page, incidents) => {
        const root = await page.goto(`${proxy.url}/${BUCKET}/`);
        assert.equal(root?.status(), 200);
        assert.equal(await page.title(), `${BUCKET}/`);
        assert.deepEqual(await names(page), [
          "hello/",
          "projects/",
          "reports/",
          "xss/",
          "index-of-everything.json",
        ]);
        // The page's own stylesheet applies under its CSP (a blocked style would also be a
        // console error, checked at the end).
        assert.equal(
          await page.locator("table").evaluate((t) => getComputedStyle(t).borderCollapse),
          "collapse",
        );
        await screenshot(page, `${runtime}-1-root`);

        await page.getByRole("link", { name: "hello/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/${BUCKET}/hello/`);
        assert.deepEqual(await names(page), ["Parent folder", "notes/", "greeting.txt"]);
        assert.deepEqual(await page.locator("nav.crumbs a").allTextContents(), [BUCKET, "hello"]);
        await screenshot(page, `${runtime}-2-folder`);

        await page.getByRole("link", { name: "greeting.txt" }).click();
        await page.waitForURL((url) => url.searchParams.has("X-Amz-Signature"));
        const file = new URL(page.url());
        assert.equal(file.origin, shim!.endpoint, "the 307 led to the S3 server");
        assert.equal(file.pathname, `/${BUCKET}/hello/greeting.txt`);
        assert.equal(await page.locator("pre").textContent(), GREETING, "the bytes, exactly");
        await screenshot(page, `${runtime}-3-file`);

        // Back, then up through the parent row, then into projects/atlas/ by its breadcrumbs.
        await page.goBack();
        await page.waitForURL(`${proxy.url}/${BUCKET}/hello/`);
        await page.getByRole("link", { name: "Parent folder" }).click();
        await page.waitForURL(`${proxy.url}/${BUCKET}/`);
        await page.getByRole("link", { name: "projects/", exact: true }).click();
        await page.getByRole("link", { name: "atlas/", exact: true }).click();
        await page.waitForURL(`${proxy.url}/${BUCKET}/${ATLAS}`);
        assert.deepEqual(await page.locator("nav.crumbs a").allTextContents(), [
          BUCKET,
          "projects",
          "atlas",
        ]);
        // Folders first, sizes, times.
        const rows = await page.locator("tbody tr").evaluateAll((trs) =>
          trs.map((tr) => [tr.className, ...[...tr.children].map((td) => td.textContent ?? "")])
        );
        assert.deepEqual(rows.map((r) => r[0]).join(""), "uddddffffffff");
        for (const [name, [, , size, time]] of Object.entries(ATLAS_FILES)) {
          assert.deepEqual(rows.find((r) => r[1] === name)?.slice(2), [size, time], name);
        }
        await screenshot(page, runtime === "deno" ? "listing-light" : `${runtime}-4-atlas`);

        // Anywhere on a row opens it: here, a mouse click on its time cell.
        const cell = await page.locator("tr", { hasText: "README.md" }).locator("td.t")
          .boundingBox();
        assert.ok(cell);
        await page.mouse.click(cell.x + cell.width / 2, cell.y + cell.height / 2);
        await page.waitForURL((url) => url.pathname.endsWith("/README.md"));
        assert.equal(await page.locator("pre").textContent(), README);
        await page.goBack();
        await page.locator("nav.crumbs").getByRole("link", { name: "projects" }).click();
        await page.waitForURL(`${proxy.url}/${BUCKET}/projects/`);

        assert.deepEqual(incidents.dialogs, []);
        assert.deepEqual(incidents.errors, []);
      });
    });
  }

  for (const bypassCSP of [false, true]) {
    test(`names that look like markup are text and run nothing (CSP ${bypassCSP ? "bypassed" : "on"})`, async () => {
      const proxy = proxies.deno!;
      await withPage({ bypassCSP }, async (page, incidents) => {
        await page.goto(`${proxy.url}/${BUCKET}/xss/`);
        const shown = await names(page);
        assert.deepEqual(
          shown.slice().sort(),
          [
            "Parent folder",
            "<script>alert`5`</",
            ...MARKUP.filter((k) => !k.startsWith("<script>")),
          ].sort(),
        );
        // Nothing the names spell was made into an element or attribute.
        assert.equal(
          await page.evaluate(() =>
            document.querySelectorAll("img, script, iframe, [onload], [onerror], [onmouseover]")
              .length
          ),
          0,
        );
        for (const link of await page.locator("td.n a").all()) await link.hover();
        await screenshot(page, `xss-${bypassCSP ? "nocsp" : "csp"}`);

        for (const key of MARKUP.filter((k) => !k.startsWith("<script>"))) {
          await page.getByRole("link", { name: key, exact: true }).click();
          await page.waitForURL((url) => url.searchParams.has("X-Amz-Signature"));
          assert.equal(await page.locator("pre").textContent(), "bytes of " + key, key);
          await page.goBack();
          await page.waitForURL(`${proxy.url}/${BUCKET}/xss/`);
        }
        await page.getByRole("link", { name: "<script>alert`5`</", exact: true }).click();
        await page.waitForURL(`${proxy.url}/${BUCKET}/xss/%3Cscript%3Ealert%605%60%3C/`);
        assert.deepEqual(await page.locator("nav.crumbs a").allTextContents(), [
          BUCKET,
          "xss",
          "<script>alert`5`<",
        ]);
        await page.getByRole("link", { name: "script>", exact: true }).click();
        await page.waitForURL((url) => url.searchParams.has("X-Amz-Signature"));
        assert.equal(await page.locator("pre").textContent(), "bytes of <script>alert`5`</script>");

        assert.deepEqual(incidents.dialogs, [], "no script ran");
        assert.deepEqual(incidents.errors, []);
      });
    });
  }

  test("readable on a phone: no sideways scrolling, the time under the name", async () => {
    await withPage(
      { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true },
      async (page, incidents) => {
        await page.goto(`${proxies.deno!.url}/${BUCKET}/${ATLAS}`);
        const overflow = await page.evaluate(() =>
          document.documentElement.scrollWidth - document.documentElement.clientWidth
        );
        assert.equal(overflow, 0, "nothing wider than the screen");
        const row = page.locator("tr", { hasText: "CHANGELOG.md" });
        const name = await row.locator("td.n").boundingBox();
        const time = await row.locator("td.t").boundingBox();
        assert.ok(name && time);
        assert.ok(await row.locator("td.t").isVisible(), "the time is shown");
        assert.ok(time.y >= name.y + name.height - 1, "the time sits below the name");
        const link = await row.locator("td.n a").boundingBox();
        assert.ok(link && link.height >= 20);
        await screenshot(page, "listing-phone");
        assert.deepEqual(incidents.errors, []);
      },
    );
  });

  test("dark theme follows the system setting", async () => {
    await withPage(
      { viewport: { width: 1000, height: 700 }, colorScheme: "dark" },
      async (page, incidents) => {
        await page.goto(`${proxies.deno!.url}/${BUCKET}/${ATLAS}`);
        const [background, color] = await page.evaluate(() => {
          const style = getComputedStyle(document.body);
          return [style.backgroundColor, style.color];
        });
        assert.equal(background, "rgb(13, 17, 23)");
        assert.notEqual(color, "rgb(31, 35, 40)");
        await screenshot(page, "listing-dark");
        assert.deepEqual(incidents.errors, []);
      },
    );
  });
});
