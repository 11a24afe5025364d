/**
 * From S3 listing XML to the model to HTML and JSON (src/listing/render.ts). Links are checked
 * the way a browser follows them: resolved with the WHATWG URL parser against the page's URL,
 * then the path below rootPath is decoded once and must equal the key. The random round trip
 * uses a seeded PRNG (the seed is in the test name).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { parseListing } from "../src/listing/xml.ts";
import type { Listing } from "../src/listing/model.ts";
import { escapeMarkup } from "../src/text.ts";
import {
  formatTime,
  humanSize,
  keyHref,
  LISTING_CSP,
  listingView,
  renderListingHtml,
  renderListingJson,
} from "../src/listing/render.ts";
import { decodeStrict, encodeKeyPath } from "../src/s3/encode.ts";
import { prng } from "./support/random.ts";

const ORIGIN = "http://proxy.test";

/** Escapes text for XML content; control characters as references, as S3 writes them. */
function xmlText(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[&<>"'\u0001-\u001F]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function unescapeHtml(text: string): string {
  return text.replace(
    /&(amp|lt|gt|quot|#39);/g,
    (_, e: string) => ({ amp: "&", lt: "<", gt: ">", quot: '"', "#39": "'" })[e]!,
  );
}

interface Doc {
  prefix?: string;
  keys?: string[];
  folders?: string[];
  truncated?: boolean;
  token?: string;
  continuation?: string;
  urlEncoded?: boolean;
}

/** A ListObjectsV2 response with a "/" delimiter, as S3 writes it. */
function v2Doc(d: Doc): string {
  const enc = (s: string) => d.urlEncoded ? encodeKeyPath(s).replaceAll("%20", "+") : xmlText(s);
  const keys = d.keys ?? [];
  return `<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <Name>mybucket</Name><Prefix>${enc(d.prefix ?? "")}</Prefix>
  ${d.continuation ? `<ContinuationToken>${xmlText(d.continuation)}</ContinuationToken>` : ""}
  ${d.token ? `<NextContinuationToken>${xmlText(d.token)}</NextContinuationToken>` : ""}
  <KeyCount>${keys.length + (d.folders?.length ?? 0)}</KeyCount><MaxKeys>1000</MaxKeys>
  <Delimiter>/</Delimiter>${d.urlEncoded ? "<EncodingType>url</EncodingType>" : ""}
  <IsTruncated>${d.truncated ? "true" : "false"}</IsTruncated>
${
    keys.map((k, i) =>
      `  <Contents><Key>${enc(k)}</Key><LastModified>2024-03-0${1 + i % 9}T10:20:30.000Z` +
      `</LastModified><ETag>&quot;9b2cf535f27731c974343645a3985328&quot;</ETag>` +
      `<Size>${1536 * i}</Size><StorageClass>STANDARD</StorageClass></Contents>`
    ).join("\n")
  }
${
    (d.folders ?? []).map((p) => `  <CommonPrefixes><Prefix>${enc(p)}</Prefix></CommonPrefixes>`)
      .join("\n")
  }
</ListBucketResult>`;
}

/** The hrefs of all `<a>` elements, HTML-unescaped, with their (unescaped) bdi label. */
function anchors(html: string): { href: string; label: string; attrs: string }[] {
  const out = [];
  for (const m of html.matchAll(/<a ([^>]*)>(.*?)<\/a>/gs)) {
    const href = /href="([^"]*)"/.exec(m[1]);
    assert.ok(href, `anchor without href: ${m[0]}`);
    const label = /<bdi>(.*?)<\/bdi>/s.exec(m[2]);
    out.push({
      href: unescapeHtml(href[1]),
      label: unescapeHtml(label ? label[1] : m[2]),
      attrs: m[1],
    });
  }
  return out;
}

/** Resolves an href as a browser would on `pageUrl`; returns the key it requests under root. */
function keyOf(href: string, pagePath: string, rootPath: string): string | undefined {
  const url = new URL(href, ORIGIN + pagePath);
  assert.equal(url.origin, ORIGIN, `href ${href} leaves the origin`);
  if (!url.pathname.startsWith(rootPath)) return undefined;
  return decodeStrict(url.pathname.slice(rootPath.length));
}

const TRICKY = [
  "<img src=x onerror=alert(1)>.txt",
  "a&b",
  `"quotes'`,
  "日本語.txt",
  "100%.csv",
  "%2F not a slash",
  "what?.txt",
  "#hash",
  "emoji 😀.png",
  "a+b c.txt",
  "...",
  ".hidden",
  "C:\\x",
  "tab\there",
];

describe("renderListingHtml", () => {
  const prefix = "dir/<b>sub/";
  const listing = parseListing(v2Doc({
    prefix,
    keys: [prefix, ...TRICKY.map((k) => prefix + k)],
    folders: [prefix + "<script>alert(1)</script>/", prefix + "ünï cødé/", prefix + "a?b#c/"],
  }));
  const rootPath = "/mybucket/";
  const pagePath = rootPath + encodeKeyPath(prefix);
  const html = renderListingHtml(listing, { rootPath });

  test("is a complete, script-free document", () => {
    assert.ok(html.startsWith("<!doctype html>\n"));
    assert.match(html, /<html lang="en">/);
    assert.match(html, /<meta charset="utf-8">/);
    assert.match(html, /<meta name="viewport" content="width=device-width, initial-scale=1">/);
    assert.match(html, /prefers-color-scheme:dark/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /<img/i);
    assert.doesNotMatch(html, /<b>/);
    assert.doesNotMatch(html, /<[^>]*\son[a-z]+\s*=[^>]*>/i, "no event handler attributes");
    assert.doesNotMatch(html, /<[^>]*\sstyle\s*=/i, "no style attributes (the CSP allows none)");
    assert.doesNotMatch(html, /<[^>]*\s(?:src|srcset|action|background)\s*=/i, "nothing loads");
    const css = /<style>(.*?)<\/style>/s.exec(html);
    assert.ok(css);
    assert.doesNotMatch(css[1], /url\(|@import/i, "the style loads nothing");
    assert.ok(html.endsWith("</html>\n"));
  });

  test("names that look like markup are escaped in text", () => {
    assert.ok(html.includes("&lt;img src=x onerror=alert(1)&gt;.txt"));
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;/"));
    assert.ok(html.includes("&quot;quotes&#39;"));
    assert.ok(html.includes("a&amp;b"));
    assert.ok(html.includes("dir/&lt;b&gt;sub/"), "title");
    assert.ok(html.includes("tab\u2409here"), "control characters shown as control pictures");
  });

  test("folders first, then files, each link resolving to exactly its key", () => {
    const rows = anchors(html).filter((a) => a.attrs.includes("href") && !a.attrs.includes("aria"));
    const expected = [
      { label: "Parent folder", key: "dir/" },
      { label: "<script>alert(1)</script>/", key: prefix + "<script>alert(1)</script>/" },
      { label: "ünï cødé/", key: prefix + "ünï cødé/" },
      { label: "a?b#c/", key: prefix + "a?b#c/" },
      ...TRICKY.map((k) => ({ label: k.replace("\t", "\u2409"), key: prefix + k })),
    ];
    const crumbCount = 3 - 1; // the crumbs without aria-current
    const got = rows.slice(crumbCount);
    assert.equal(got.length, expected.length);
    for (let i = 0; i < expected.length; i++) {
      assert.equal(got[i].label, expected[i].label);
      assert.equal(keyOf(got[i].href, pagePath, rootPath), expected[i].key, got[i].href);
      // The literal check too: strip rootPath, decode once.
      assert.equal(decodeStrict(got[i].href.slice(rootPath.length)), expected[i].key);
      if (expected[i].key.endsWith("/")) assert.ok(got[i].href.endsWith("/"));
    }
  });

  test("the folder marker object (key equal to the prefix) is not listed", () => {
    const hrefs = anchors(html).map((a) => a.href);
    assert.equal(hrefs.filter((h) => h === pagePath).length, 1, "only the current crumb");
  });

  test("breadcrumbs: each crumb a link to its folder, the last one current", () => {
    const nav = /<nav class="crumbs"[^>]*>(.*?)<\/nav>/s.exec(html);
    assert.ok(nav);
    const crumbs = anchors(nav[1]);
    assert.deepEqual(crumbs.map((c) => c.label), ["mybucket", "dir", "<b>sub"]);
    assert.deepEqual(
      crumbs.map((c) => keyOf(c.href, pagePath, rootPath)),
      ["", "dir/", "dir/<b>sub/"],
    );
    assert.deepEqual(crumbs.map((c) => c.attrs.includes('aria-current="page"')), [
      false,
      false,
      true,
    ]);
  });

  test("sizes are human-readable and right-aligned cells; times are UTC", () => {
    assert.match(html, /<td class="s" title="1,536 bytes">1\.5 KiB<\/td>/);
    assert.match(
      html,
      /<time datetime="2024-03-02T10:20:30\.000Z">2024-03-02 10:20:30 UTC<\/time>/,
    );
  });

  test("no pagination links on a complete first page", () => {
    assert.doesNotMatch(html, /Next page|First page/);
  });
});

describe("renderListingHtml: root and one level", () => {
  test("at the root: one crumb, no parent row", () => {
    const listing = parseListing(v2Doc({ keys: ["a.txt"], folders: ["docs/"] }));
    const html = renderListingHtml(listing, { rootPath: "/mybucket/", title: "My files" });
    assert.doesNotMatch(html, /Parent folder/);
    const links = anchors(html);
    assert.deepEqual(links.map((a) => [a.label, a.href]), [
      ["My files", "/mybucket/"],
      ["docs/", "/mybucket/docs/"],
      ["a.txt", "/mybucket/a.txt"],
    ]);
    assert.match(html, /<title>My files\/<\/title>/);
  });

  test("one level down: the parent is the root", () => {
    const listing = parseListing(v2Doc({ prefix: "docs/", keys: ["docs/x"] }));
    const html = renderListingHtml(listing, { rootPath: "/mybucket/" });
    const parent = anchors(html).find((a) => a.label === "Parent folder");
    assert.equal(parent?.href, "/mybucket/");
  });

  test("empty folder names in a prefix (a//b/) get their own crumb and parent", () => {
    const listing = parseListing(v2Doc({ prefix: "a//b/", keys: ["a//b/x"] }));
    const view = listingView(listing, { rootPath: "/" });
    assert.deepEqual(view.breadcrumbs.map((c) => [c.name, c.href]), [
      ["mybucket", "/"],
      ["a", "/a/"],
      ["", "/a//"],
      ["b", "/a//b/"],
    ]);
    assert.equal(view.parent, "/a//");
    assert.equal(keyOf(view.files[0].href!, "/a//b/", "/"), "a//b/x");
  });

  test("empty listing says so", () => {
    const html = renderListingHtml(parseListing(v2Doc({})), { rootPath: "/" });
    assert.match(html, /This folder is empty\./);
    assert.match(html, /0 folders · 0 files/);
  });
});

describe("links that a URL path cannot carry naively", () => {
  test("a key starting with / under root path / stays on the origin", () => {
    const listing = parseListing(v2Doc({ keys: ["/etc/passwd", "//host/x"] }));
    const view = listingView(listing, { rootPath: "/" });
    for (const file of view.files) {
      assert.ok(file.href!.startsWith("/./"), file.href!);
      assert.equal(keyOf(file.href!, "/", "/"), file.key);
    }
  });

  test("dot segments are not linked", () => {
    const keys = ["../escape", "a/./b", "a/..", "..."];
    const listing = parseListing(v2Doc({ keys }));
    const view = listingView(listing, { rootPath: "/b/" });
    assert.deepEqual(view.files.map((f) => f.href), [null, null, null, "/b/..."]);
    const html = renderListingHtml(listing, { rootPath: "/b/" });
    assert.match(html, /<span title="This name cannot be addressed by a URL">.*?<bdi>\.\.\/escape/);
    assert.equal(keyHref("/b/", "a/.."), undefined);
  });

  test("rootPath must start and end with /", () => {
    const listing = parseListing(v2Doc({}));
    for (const rootPath of ["", "b/", "/b", "//b/"]) {
      assert.throws(() => renderListingHtml(listing, { rootPath }), TypeError);
    }
  });

  test("bidi controls are shown, not obeyed", () => {
    const listing = parseListing(v2Doc({ keys: ["invoice\u202Efdp.exe"] }));
    const html = renderListingHtml(listing, { rootPath: "/" });
    assert.ok(html.includes("invoice[U+202E]fdp.exe"));
    assert.ok(!html.includes("\u202E"));
  });
});

describe("pagination", () => {
  const token = "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4v+bOwM=";

  test("Next page only when truncated, carrying the token in ?page=", () => {
    const listing = parseListing(
      v2Doc({ prefix: "a b/", keys: ["a b/1"], truncated: true, token }),
    );
    const html = renderListingHtml(listing, { rootPath: "/mybucket/" });
    const next = anchors(html).find((a) => a.label === "Next page");
    assert.ok(next);
    assert.match(next.attrs, /rel="next"/);
    const url = new URL(next.href, ORIGIN + "/mybucket/a%20b/");
    assert.equal(url.pathname, "/mybucket/a%20b/");
    assert.equal(url.searchParams.get("page"), token);
    assert.doesNotMatch(html, /First page/);
    assert.match(html, /more on the next/);
  });

  test("the token is encoded; a First page link on later pages", () => {
    const listing = parseListing(
      v2Doc({ keys: ["x"], truncated: true, token: "t&2", continuation: "t1" }),
    );
    const view = listingView(listing, { rootPath: "/" });
    assert.equal(view.next, "/?page=t%262");
    assert.equal(view.first, "/");
    const html = renderListingHtml(listing, { rootPath: "/" });
    assert.ok(html.includes('href="/?page=t%262"'));
    assert.ok(html.includes('<a href="/">First page</a>'));
  });

  test("V1: no page links (?page= is a V2 continuation token; a marker there would be wrong)", () => {
    const xml = `<ListBucketResult><Name>b</Name><Prefix></Prefix><Marker></Marker>
      <IsTruncated>true</IsTruncated><Contents><Key>k 1</Key><Size>1</Size></Contents>
      <Contents><Key>k?2</Key><Size>1</Size></Contents></ListBucketResult>`;
    const view = listingView(parseListing(xml), { rootPath: "/b/" });
    assert.equal(view.next, null);
    assert.equal(view.nextPageToken, null);
  });

  test("no Next page on the last page", () => {
    const listing = parseListing(v2Doc({ keys: ["x"], continuation: "t1" }));
    const html = renderListingHtml(listing, { rootPath: "/" });
    assert.doesNotMatch(html, /Next page/);
    assert.match(html, /First page/);
  });
});

describe("renderListingJson", () => {
  test("shape, names relative to the prefix, hrefs", () => {
    const listing = parseListing(v2Doc({
      prefix: "p/",
      keys: ["p/", "p/<img src=x onerror=alert(1)>.txt", "p/a&b"],
      folders: ["p/q r/"],
      truncated: true,
      token: "tok+/=",
    }));
    const json = JSON.parse(renderListingJson(listing, { rootPath: "/mybucket/" }));
    assert.deepEqual(json, {
      bucket: "mybucket",
      prefix: "p/",
      parent: "/mybucket/",
      folders: [{ name: "q r/", prefix: "p/q r/", href: "/mybucket/p/q%20r/" }],
      files: [
        {
          name: "<img src=x onerror=alert(1)>.txt",
          key: "p/<img src=x onerror=alert(1)>.txt",
          size: 1536,
          lastModified: "2024-03-02T10:20:30.000Z",
          etag: '"9b2cf535f27731c974343645a3985328"',
          storageClass: "STANDARD",
          href: "/mybucket/p/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt",
        },
        {
          name: "a&b",
          key: "p/a&b",
          size: 3072,
          lastModified: "2024-03-03T10:20:30.000Z",
          etag: '"9b2cf535f27731c974343645a3985328"',
          storageClass: "STANDARD",
          href: "/mybucket/p/a%26b",
        },
      ],
      isTruncated: true,
      nextPageToken: "tok+/=",
      next: "/mybucket/p/?page=tok%2B%2F%3D",
    });
  });

  test("last page: nextPageToken and next are null; root has no parent", () => {
    const json = JSON.parse(renderListingJson(parseListing(v2Doc({})), { rootPath: "/" }));
    assert.equal(json.nextPageToken, null);
    assert.equal(json.next, null);
    assert.equal(json.parent, null);
    assert.equal(json.isTruncated, false);
  });
});

describe("helpers", () => {
  test("humanSize", () => {
    const cases: [number, string][] = [
      [0, "0 B"],
      [1, "1 B"],
      [1023, "1023 B"],
      [1024, "1.0 KiB"],
      [1536, "1.5 KiB"],
      [10188, "9.9 KiB"],
      [10239, "10 KiB"],
      [123456789, "118 MiB"],
      [1048575, "1.0 MiB"],
      [5 * 1024 ** 4, "5.0 TiB"],
      [Number.MAX_SAFE_INTEGER, "8.0 PiB"],
      [2 ** 70, "1024 EiB"],
    ];
    for (const [bytes, text] of cases) assert.equal(humanSize(bytes), text, String(bytes));
    for (const bad of [-1, NaN, Infinity]) assert.throws(() => humanSize(bad), RangeError);
  });

  test("formatTime", () => {
    assert.equal(formatTime("2009-10-12T17:50:30.000Z"), "2009-10-12 17:50:30 UTC");
    assert.equal(formatTime("2009-10-12T19:50:30+02:00"), "2009-10-12 17:50:30 UTC");
    assert.equal(formatTime("not a date"), "not a date");
    assert.equal(formatTime(""), "");
  });

  test("escapeMarkup", () => {
    assert.equal(
      escapeMarkup(`<a href='x' title="y">&</a>`),
      [
        "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;",
      ][0],
    );
  });

  test("LISTING_CSP allows exactly the page's style, by its SHA-256", async () => {
    const html = renderListingHtml(parseListing(v2Doc({ keys: ["x"] })), { rootPath: "/" });
    const styles = [...html.matchAll(/<style>(.*?)<\/style>/gs)].map((m) => m[1]);
    assert.equal(styles.length, 1);
    const digest = new Uint8Array(
      await crypto.subtle.digest("SHA-256", new TextEncoder().encode(styles[0])),
    );
    const hash = btoa(String.fromCharCode(...digest));
    assert.ok(LISTING_CSP.includes(`style-src 'sha256-${hash}'`), LISTING_CSP);
    assert.match(LISTING_CSP, /default-src 'none'/);
    assert.doesNotMatch(LISTING_CSP, /script-src|unsafe/);
  });
});

const ALPHABET = [
  ..."abcXYZ019-_.~ !\"#$%&'()*+,/:;<=>?@[\\]^`{|}",
  "é",
  "ß",
  "ü",
  "日",
  "本",
  "한",
  "\u0301",
  "\u00A0",
  "\u2028",
  "\uFEFF",
  "\uFFFD",
  "\uE000",
  "😀",
  "👍🏽",
  "\u{10FFFF}",
  "\u0001",
  "\u001F",
  "\u007F",
  "\t",
  "/",
  "//",
  "%2F",
  "%",
  "%zz",
  "..",
  "+",
];

function randomKey(next: () => number): string {
  const length = 1 + Math.floor(next() * 12);
  let key = "";
  for (let i = 0; i < length; i++) key += ALPHABET[Math.floor(next() * ALPHABET.length)];
  return key;
}

function hasDotSegment(key: string): boolean {
  return key.split("/").some((s) => s === "." || s === "..");
}

describe("random keys round-trip from XML to href", () => {
  const seed = 20240611;
  test(`seed ${seed}: 400 keys, escaped and url-encoded XML, two root paths`, () => {
    const next = prng(seed);
    const keys = Array.from({ length: 400 }, () => randomKey(next));
    for (const urlEncoded of [false, true]) {
      const listing: Listing = parseListing(v2Doc({ keys, urlEncoded }));
      assert.deepEqual(listing.files.map((f) => f.key), keys);
      for (const rootPath of ["/bucket-1/", "/"]) {
        const view = JSON.parse(renderListingJson(listing, { rootPath }));
        const html = renderListingHtml(listing, { rootPath });
        const htmlLinks = new Set(anchors(html).map((a) => a.href));
        let linked = 0;
        for (let i = 0; i < keys.length; i++) {
          const file = view.files[i];
          assert.equal(file.key, keys[i]);
          if (hasDotSegment(keys[i])) {
            assert.equal(file.href, null, JSON.stringify(keys[i]));
            continue;
          }
          linked++;
          assert.equal(keyOf(file.href, rootPath, rootPath), keys[i], JSON.stringify(keys[i]));
          assert.ok(htmlLinks.has(file.href), `HTML links ${file.href}`);
          assert.match(file.href, /^[A-Za-z0-9\-_.~/%]*$/);
        }
        assert.ok(linked > 300, `most keys are linkable (${linked})`);
        assert.doesNotMatch(
          html,
          /<(?!\/?(?:a|td|tr|th|bdi|span|svg|use|time|symbol|path|table|thead|tbody|div|nav|ol|li|main|body|html|head|meta|title|style|p|i|!doctype)\b)/,
        );
      }
    }
  });
});
