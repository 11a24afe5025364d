/**
 * The headless Chromium the browser tests drive through playwright-core: Debian's
 * (`/usr/bin/chromium`, or $CHROMIUM), the flags it is launched with, the message a test fails
 * with when it is missing (a failure, not a skip: CI installs it), the proxy under Deno and Bun
 * started beside it, a fresh context and page, and the folder under `.test-output/` that
 * screenshots go to.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Browser, chromium, type Page } from "playwright-core";
import { type ProxyHandle, type ProxyOptions, REPO_ROOT, startProxy } from "./proxy.ts";

/** The Chromium binary: $CHROMIUM, or Debian's. */
export const CHROMIUM: string = Deno.env.get("CHROMIUM") ?? "/usr/bin/chromium";

/** Headless, no sandbox (containers), and nothing that reaches the network on its own. */
export const CHROMIUM_ARGS: readonly string[] = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--no-first-run",
];

/**
 * Why Chromium cannot run here (a message to fail with), or undefined when it is installed.
 *
 * @example
 * ```ts
 * const missing = await chromiumMissing();
 * if (missing) throw new Error(missing);
 * ```
 */
export async function chromiumMissing(): Promise<string | undefined> {
  try {
    await Deno.stat(CHROMIUM);
    return undefined;
  } catch {
    return `Chromium is missing at ${CHROMIUM}: install Debian's package with ` +
      "`apt-get install -y --no-install-recommends chromium` (CI installs it), " +
      "or set CHROMIUM to its path";
  }
}

/** Launches {@link CHROMIUM} with {@link CHROMIUM_ARGS}. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS], timeout: 30000 });
}

/** Creates `.test-output/<name>/` at the repository root; returns its path, with the `/`. */
export async function artifactDir(name: string): Promise<string> {
  const dir = `${REPO_ROOT}.test-output/${name}/`;
  await Deno.mkdir(dir, { recursive: true });
  return dir;
}

/**
 * A fresh context (with `options`) and page, 15 s default timeout, for `use`; the context is
 * closed afterwards, even on failure.
 */
export async function withNewPage(
  browser: Browser | undefined,
  options: Parameters<Browser["newContext"]>[0],
  use: (page: Page) => Promise<void>,
): Promise<void> {
  assert.ok(browser, "the browser started");
  const context = await browser.newContext(options);
  try {
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    await use(page);
  } finally {
    await context.close();
  }
}

/** The proxy under each runtime, once started. */
export type Proxies = Partial<Record<"deno" | "bun", ProxyHandle>>;

/**
 * Starts the proxy under Deno and under Bun with `env` (`deno` overrides the Deno one's
 * options) and Chromium, side by side.
 *
 * @example
 * ```ts
 * [proxies.deno, proxies.bun, browser] = await startProxiesAndChromium(env);
 * ```
 */
export function startProxiesAndChromium(
  env: Record<string, string>,
  deno: Partial<Omit<ProxyOptions, "runtime">> = {},
): Promise<[ProxyHandle, ProxyHandle, Browser]> {
  return Promise.all([
    startProxy({ runtime: "deno", env, ...deno }),
    startProxy({ runtime: "bun", env }),
    launchChromium(),
  ]);
}

/** Closes the browser (ignoring a failure to), then stops both proxies. */
export async function stopProxiesAndChromium(
  browser: Browser | undefined,
  proxies: Proxies,
): Promise<void> {
  await browser?.close().catch(() => {});
  await Promise.all([proxies.deno?.stop(), proxies.bun?.stop()]);
}
