/**
 * src/proxy/listing_cache.ts (bounds in entries and characters, expiry, shared misses, failed
 * loads not kept) and LISTING_CACHE_SECONDS through the handler with a fake S3: a listing page and
 * a browser's slash check cost S3 nothing while fresh, keys are the canonical bucket and key (two
 * spellings of one folder share an entry; `a//b` and `a/b` do not), HEAD and JSON and page have
 * their own entries, and the setting is off by default and checked.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createListingCache } from "../src/proxy/listing_cache.ts";
import { parseConfig } from "../src/config.ts";
import { createHandler } from "../src/handler.ts";
import { ROUTE_SETTINGS } from "../src/routes.ts";

describe("createListingCache", () => {
  test("a fresh value is served; it expires ttlMs after it was stored", async () => {
    let clock = 1000;
    const cache = createListingCache({ ttlMs: 100, now: () => clock });
    let loads = 0;
    const load = () => Promise.resolve(`v${++loads}`);
    assert.equal(await cache.get(["r", "b", "k"], load), "v1");
    clock += 99;
    assert.equal(await cache.get(["r", "b", "k"], load), "v1");
    assert.equal(cache.peek(["r", "b", "k"]), "v1");
    clock += 1;
    assert.equal(cache.peek(["r", "b", "k"]), undefined, "expired at ttlMs");
    assert.equal(await cache.get(["r", "b", "k"], load), "v2");
    assert.equal(loads, 2);
  });

  test("concurrent misses share one load; a failed load is shared, not kept", async () => {
    const cache = createListingCache({ ttlMs: 1000 });
    let loads = 0;
    let release!: (v: string) => void;
    const slow = () => {
      loads++;
      return new Promise<string>((resolve) => release = resolve);
    };
    const waiting = [1, 2, 3].map(() => cache.get(["k"], slow));
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(loads, 1);
    release("page");
    assert.deepEqual(await Promise.all(waiting), ["page", "page", "page"]);
    let failures = 0;
    const failing = () => {
      failures++;
      return Promise.reject(new Error("S3 said no"));
    };
    const both = await Promise.allSettled([cache.get(["e"], failing), cache.get(["e"], failing)]);
    assert.deepEqual(both.map((r) => r.status), ["rejected", "rejected"]);
    assert.equal(failures, 1);
    assert.equal(cache.peek(["e"]), undefined);
    assert.equal(await cache.get(["e"], () => Promise.resolve("later")), "later");
  });

  test("a load that throws at once is not left pending", async () => {
    const cache = createListingCache({ ttlMs: 1000 });
    await assert.rejects(cache.get(["k"], () => {
      throw new Error("sync");
    }));
    assert.equal(await cache.get(["k"], () => Promise.resolve("ok")), "ok");
  });

  test("bounded in entries and characters: the oldest go first; too large is not kept", () => {
    const cache = createListingCache({ ttlMs: 1000, maxEntries: 3, maxChars: 100 });
    for (const k of ["a", "b", "c", "d"]) cache.set([k], "x");
    assert.equal(cache.size, 3);
    assert.equal(cache.peek(["a"]), undefined);
    assert.equal(cache.peek(["d"]), "x");
    cache.set(["big"], "y".repeat(80));
    assert.ok(cache.chars <= 100, `${cache.chars} characters`);
    assert.equal(cache.peek(["big"]), "y".repeat(80));
    assert.equal(cache.peek(["b"]), undefined, "pushed out by characters");
    cache.set(["huge"], "z".repeat(200));
    assert.equal(cache.peek(["huge"]), undefined, "larger than the bound: not kept");
    assert.equal(cache.peek(["big"]), "y".repeat(80), "and nothing pushed out for it");
    cache.set(["big"], "w");
    assert.equal(cache.peek(["big"]), "w", "replaced");
  });
});

// ---------------------------------------------------------------------------------------------
// Through the handler.

const CHROME = {
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/120.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
};

function listXml(prefix: string, keys: string[]): string {
  return `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>bucket</Name>` +
    `<Prefix>${prefix}</Prefix><IsTruncated>false</IsTruncated>` +
    keys.map((k) =>
      `<Contents><Key>${k}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
      `<ETag>"1"</ETag><Size>1</Size></Contents>`
    ).join("") + `</ListBucketResult>`;
}

/** A fake S3 with folders `dir/` and `a/b/`, the object `a//b`, and the clock in our hands. */
function setup(env: Record<string, string>) {
  const parsed = parseConfig({
    AWS_ENDPOINT_HOST: "s3.test",
    AWS_REGION: "us-east-1",
    ...env,
  });
  if (!parsed.ok) throw new Error(parsed.errors.join("; "));
  const calls: string[] = [];
  let clock = Date.UTC(2026, 0, 1);
  const fetch = ((input: string, init?: RequestInit) => {
    const url = new URL(input);
    calls.push(`${init?.method ?? "GET"} ${url.pathname}${url.search ? "?" : ""}`);
    const prefix = url.searchParams.get("prefix");
    if (prefix !== null) {
      const keys = prefix === "dir/" ? ["dir/x.txt"] : prefix === "a/b/" ? ["a/b/c"] : [];
      return Promise.resolve(new Response(listXml(prefix, keys), { status: 200 }));
    }
    const exists = url.pathname === "/bucket/a//b";
    return Promise.resolve(new Response(null, { status: exists ? 200 : 404 }));
  }) as typeof globalThis.fetch;
  const handler = createHandler(parsed.config, {
    fetch,
    now: () => clock,
    credentials: {
      get: () => Promise.resolve({ accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }),
    },
  });
  const get = async (path: string, headers: Record<string, string> = CHROME, method = "GET") => {
    const res = await handler(new Request("http://proxy.test" + path, { method, headers }));
    return { status: res.status, body: await res.text(), location: res.headers.get("location") };
  };
  return { get, calls, tick: (ms: number) => clock += ms };
}

describe("LISTING_CACHE_SECONDS through the handler", () => {
  test("off by default: every listing asks S3 again", async () => {
    const s = setup({});
    await s.get("/bucket/dir/");
    const first = s.calls.length;
    await s.get("/bucket/dir/");
    assert.equal(first, 2, "index.html, then the listing");
    assert.equal(s.calls.length, 4);
  });

  test("a listing page: served from the cache while fresh, asked again after", async () => {
    const s = setup({ LISTING_CACHE_SECONDS: "10" });
    const a = await s.get("/bucket/dir/");
    assert.equal(a.status, 200);
    assert.match(a.body, /x\.txt/);
    assert.equal(s.calls.length, 2);
    const b = await s.get("/bucket/dir/");
    assert.equal(b.body, a.body);
    assert.equal(s.calls.length, 2, "no S3 request while fresh");
    s.tick(10_000);
    await s.get("/bucket/dir/");
    assert.equal(s.calls.length, 4, "expired: index.html and listing again");
  });

  test("keys are canonical: another spelling of the folder hits, a//b and a/b do not", async () => {
    const s = setup({ LISTING_CACHE_SECONDS: "10" });
    await s.get("/bucket/dir/");
    const before = s.calls.length;
    assert.equal((await s.get("/bucket/%64ir/")).status, 200);
    assert.equal((await s.get("/bucket/x/../dir/")).status, 200);
    assert.equal(s.calls.length, before, "the same folder, spelt otherwise: cached");
    // The slash check: `a/b` is a folder (redirect), `a//b` an object (presigned 307).
    const folder = await s.get("/bucket/a/b");
    assert.equal(folder.status, 302);
    assert.equal(folder.location, "/bucket/a/b/");
    const object = await s.get("/bucket/a//b");
    assert.equal(object.status, 307, "a//b is its own key, not a/b's entry");
    const calls = s.calls.length;
    assert.equal((await s.get("/bucket/a/b")).status, 302);
    assert.equal((await s.get("/bucket/a//b")).status, 307);
    assert.equal((await s.get("/bucket/a/%62")).location, "/bucket/a/%62/", "Location as asked");
    assert.equal(s.calls.length, calls, "slash checks cached, each under its own key");
  });

  test("a missing key is cached as missing, briefly; JSON, HEAD and pages have their own", async () => {
    const s = setup({ LISTING_CACHE_SECONDS: "5" });
    assert.equal((await s.get("/bucket/nothing")).status, 404);
    const calls = s.calls.length;
    assert.equal((await s.get("/bucket/nothing")).status, 404);
    assert.equal(s.calls.length, calls);
    await s.get("/bucket/dir/");
    const html = s.calls.length;
    const json = await s.get("/bucket/dir/", { ...CHROME, accept: "application/json" });
    assert.match(json.body, /^\{/);
    assert.equal(s.calls.length, html + 1, "the JSON page is its own entry (index.html known)");
    assert.equal((await s.get("/bucket/dir/", CHROME, "HEAD")).body, "");
    assert.equal(s.calls.length, html + 1, "HEAD is answered from the page");
    await s.get("/bucket/dir/?page=abc");
    assert.equal(s.calls.length, html + 2, "another page is another entry");
  });

  test("concurrent requests for one uncached listing share one ListObjects request", async () => {
    const s = setup({ LISTING_CACHE_SECONDS: "10" });
    await s.get("/bucket/dir/"); // learns that dir/ has no index.html
    s.tick(10_000);
    s.calls.length = 0;
    const pages = await Promise.all([1, 2, 3, 4].map(() => s.get("/bucket/dir/")));
    assert.ok(pages.every((p) => p.status === 200));
    assert.equal(s.calls.filter((c) => c.includes("?")).length, 1, s.calls.join(", "));
  });

  test("the setting: a whole number of seconds from 0 to 3600, and a route setting", () => {
    for (const bad of ["-1", "3601", "1.5", "soon"]) {
      const r = parseConfig({ LISTING_CACHE_SECONDS: bad });
      assert.equal(r.ok, false, bad);
      if (!r.ok) assert.match(r.errors.join(), /LISTING_CACHE_SECONDS/);
    }
    const r = parseConfig({});
    assert.ok(r.ok && r.config.listingCacheSeconds === 0);
    assert.ok(ROUTE_SETTINGS.includes("LISTING_CACHE_SECONDS"));
  });
});
