/**
 * A seeded generator of hostile HTTP/1.1 requests for the proxy (tests/fuzz_test.ts): request
 * targets built from escapes (valid, invalid, overlong UTF-8, surrogates, NUL, `%2F`, `%5C`,
 * `%2e`), raw unicode and raw bytes, dot segments, `//`, long segments and keys, absolute form;
 * every method, unknown ones included; duplicate and conflicting query parameters and
 * sub-resources in odd spellings; headers that are huge, many, duplicated, with CR/LF attempts,
 * a bad `Host` or a bad `Range`, bodies on GET. The same seed gives the same requests.
 *
 * Every request is complete (its body sent whole), so a server never has to wait for more.
 *
 * @module
 */

import { LIST_PARAMS } from "../../src/route.ts";
import { prng } from "./random.ts";

/** One generated request. */
export interface FuzzRequest {
  /** The bytes to send, a whole request. */
  raw: Uint8Array;
  method: string;
  /** What went into it, for the allow-list of runtime differences and for messages. */
  tags: Set<string>;
  /** A short printable summary. */
  label: string;
}

const encoder = new TextEncoder();

type Rand = () => number;

function pickOf<T>(rand: Rand, items: readonly T[]): T {
  return items[Math.floor(rand() * items.length)];
}

function chance(rand: Rand, p: number): boolean {
  return rand() < p;
}

/** Keys stored in the fuzz bucket (tests/fuzz_test.ts), so that some requests find objects. */
export const FUZZ_OBJECTS: readonly [string, string][] = [
  ["a.txt", "A"],
  ["dir/x.txt", "X"],
  ["dir/sub/y.txt", "Y"],
  ["site/index.html", "<h1>site</h1>"],
  ["é.txt", "E"],
  ["a b+c.txt", "SP"],
];

const WORDS = ["a.txt", "dir", "x.txt", "sub", "y.txt", "site", "index.html", "nope", "k"];

/** Segment pieces; each is raw bytes (a string is ASCII, or is encoded as UTF-8). */
const PIECES: (string | number[])[] = [
  "%41",
  "%2F",
  "%2f",
  "%5C",
  "%5c",
  "%2e",
  "%2E",
  "%2e%2e",
  "%00",
  "%C3%A9",
  "%c3%a9",
  "%C0%AF",
  "%C0%AE",
  "%E0%80%AF",
  "%ED%A0%80",
  "%ED%BF%BF",
  "%F4%90%80%80",
  "%EF%BF%BD",
  "%FF",
  "%G1",
  "%",
  "%2",
  "%%",
  "%20",
  "+",
  ";v=1",
  "\\",
  "~",
  "!$&'()*,:=@",
  "é",
  "日本",
  "😀",
  "\u{10FFFF}",
  [0xff],
  [0xc3],
  [0xc0, 0xaf],
  [0xed, 0xa0, 0x80],
  [0x80],
];

const METHODS = [
  "GET",
  "GET",
  "GET",
  "GET",
  "GET",
  "GET",
  "HEAD",
  "HEAD",
  "PUT",
  "POST",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "PROPFIND",
  "MKCOL",
  "get",
  "Get",
  "FOO",
  "M-SEARCH",
  "GET0",
  "QUERY",
];

/** Methods both runtimes parse (Bun refuses the others before the handler runs). */
const KNOWN_METHODS = new Set([
  "GET",
  "HEAD",
  "PUT",
  "POST",
  "DELETE",
  "PATCH",
  "OPTIONS",
  "TRACE",
  "PROPFIND",
  "MKCOL",
  "M-SEARCH",
  "QUERY",
]);

const SUBRESOURCE_SPELLINGS = [
  "acl",
  "ACL",
  "%61cl",
  "acl=",
  "tagging",
  "tagging&tagging",
  "policy=1",
  "uploads",
  "uploadId=1",
  "versions",
  "torrent",
  "select&select-type=2",
  "restore",
  "attributes",
  "Acl",
  "x-id=GetObjectAcl",
  "website",
  "location",
];

/** The listing parameters S3 takes (the same order as src/route.ts), and the listing page. */
const LISTING_NAMES = [...LIST_PARAMS, "page"];

function segment(rand: Rand, tags: Set<string>): (string | number[])[] {
  const r = rand();
  if (r < 0.4) return [pickOf(rand, WORDS)];
  if (r < 0.5) {
    tags.add("dot");
    return [pickOf(rand, [".", "..", "%2e%2e", ".%2E", "%2e", "..."])];
  }
  if (r < 0.55) return [""];
  if (r < 0.6) {
    tags.add("long-segment");
    const n = pickOf(rand, [200, 240, 600, 1020, 1100, 3000, 9000]);
    return ["s".repeat(n)];
  }
  const out: (string | number[])[] = [];
  const n = 1 + Math.floor(rand() * 3);
  for (let i = 0; i < n; i++) {
    const piece = chance(rand, 0.5) ? pickOf(rand, PIECES) : pickOf(rand, WORDS);
    if (typeof piece !== "string") tags.add("raw-bytes");
    out.push(piece);
  }
  return out;
}

function valueOf(rand: Rand, tags: Set<string>): string {
  const r = rand();
  if (r < 0.3) return pickOf(rand, ["", "1", "2", "a", "dir/", "/", "0", "-1", "99999999999"]);
  if (r < 0.45) return pickOf(rand, ["%0D%0ASet-Cookie:%20a=1", "%0a", "%0d", "a%00b"]);
  if (r < 0.55) {
    tags.add("long-value");
    return "v".repeat(pickOf(rand, [1000, 1025, 1600, 4097, 7000, 20000]));
  }
  if (r < 0.7) return pickOf(rand, ["%C3%A9", "%FF", "%", "%G0", "+a+b", "%2B", "%E2%82%AC"]);
  return pickOf(rand, WORDS);
}

function query(rand: Rand, tags: Set<string>): string {
  if (chance(rand, 0.45)) return "";
  const parts: string[] = [];
  const n = 1 + Math.floor(rand() * 4);
  for (let i = 0; i < n; i++) {
    const r = rand();
    if (r < 0.15) {
      tags.add("subresource");
      parts.push(pickOf(rand, SUBRESOURCE_SPELLINGS));
    } else if (r < 0.45) {
      const name = pickOf(rand, LISTING_NAMES);
      parts.push(
        `${name}=${name === "list-type" ? pickOf(rand, ["1", "2", "3", ""]) : valueOf(rand, tags)}`,
      );
    } else if (r < 0.7) {
      const name = pickOf(rand, [
        "versionId",
        "partNumber",
        "response-content-type",
        "response-content-disposition",
        "response-cache-control",
        "response-expires",
        "response-content-language",
        "response-content-encoding",
      ]);
      parts.push(`${name}=${valueOf(rand, tags)}`);
    } else if (r < 0.8) {
      parts.push(
        pickOf(rand, ["", "=", "&", "==", "x", "X-Amz-Signature=00", "X-Amz-Credential=A%2F"]),
      );
    } else if (r < 0.9) {
      // the same name twice, maybe in conflict
      const name = pickOf(rand, ["list-type", "prefix", "versionId", "response-content-type"]);
      parts.push(`${name}=${valueOf(rand, tags)}&${name}=${valueOf(rand, tags)}`);
    } else {
      parts.push(`${pickOf(rand, ["q", "%71", "x%2Fy", "a+b"])}=${valueOf(rand, tags)}`);
    }
  }
  return parts.join("&");
}

function target(rand: Rand, tags: Set<string>): Uint8Array {
  const parts: (string | number[])[] = [];
  const r = rand();
  if (r < 0.05) {
    tags.add("absolute");
    parts.push(pickOf(rand, ["http://evil.example", "http://127.0.0.1", "https://h:443"]));
  }
  if (r > 0.97) {
    tags.add("asterisk");
    return encoder.encode("*");
  }
  const bucket = rand();
  parts.push("/");
  if (bucket < 0.82) parts.push("bkt");
  else if (bucket < 0.86) parts.push(pickOf(rand, ["%62kt", "BKT", "b", "-x", "..", "other"]));
  else if (bucket < 0.9) parts.push("");
  else parts.push(...segment(rand, tags));
  const depth = Math.floor(rand() * 4);
  for (let i = 0; i < depth; i++) {
    parts.push("/");
    parts.push(...segment(rand, tags));
  }
  if (chance(rand, 0.15)) parts.push("/");
  if (chance(rand, 0.03)) {
    tags.add("long-key");
    parts.push("/" + "k".repeat(pickOf(rand, [1000, 1024, 1025, 2000, 8200, 20000])));
  }
  const q = query(rand, tags);
  if (q !== "" || chance(rand, 0.05)) parts.push("?" + q);
  if (chance(rand, 0.01)) {
    tags.add("fragment");
    parts.push("#f");
  }
  const bytes = parts.map((p) => typeof p === "string" ? encoder.encode(p) : new Uint8Array(p));
  const out = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let at = 0;
  for (const b of bytes) {
    out.set(b, at);
    at += b.length;
  }
  // A dot segment however it came (a word, an escape, raw): the runtimes resolve it differently.
  const path = new TextDecoder("latin1").decode(out).split("?")[0];
  if (/(^|[/\\])(\.|%2e)+(?=[/\\]|$)/i.test(path)) tags.add("dot");
  return out;
}

const AGENTS = [
  "curl/8.5.0",
  "Mozilla/5.0 (X11; Linux x86_64) Chrome/120",
  "aws-cli/2.15.0 Python/3.11",
  "rclone/v1.65",
  "",
];

function headers(rand: Rand, tags: Set<string>, method: string): [string[], Uint8Array] {
  const lines: string[] = [];
  const host = rand();
  if (host < 0.8) lines.push("Host: proxy.test");
  else if (host < 0.84) {
    tags.add("bad-host");
    lines.push(`Host: ${pickOf(rand, ["a/b", "h?x", "user@h", "h\\x", "h#y", "[::1", "h h"])}`);
  } else if (host < 0.88) {
    tags.add("two-hosts");
    lines.push("Host: proxy.test", "Host: other.test");
  } else if (host < 0.92) {
    tags.add("no-host");
  } else lines.push(`Host: ${pickOf(rand, ["", "[::1]:1", "127.0.0.1:80", "EVIL.example"])}`);
  const agent = pickOf(rand, AGENTS);
  if (agent !== "") lines.push(`User-Agent: ${agent}`);
  if (chance(rand, 0.4)) {
    lines.push(`Accept: ${pickOf(rand, ["text/html", "application/json", "*/*", "x/y"])}`);
  }
  if (chance(rand, 0.2)) {
    tags.add("range");
    lines.push(
      `Range: ${
        pickOf(rand, [
          "bytes=0-0",
          "bytes=0-",
          "bytes=-1",
          "bytes=5-1",
          "bytes=a-b",
          "bytes=0-1,2-3",
          "bytes=99999999999999999999-",
          "items=0-1",
          "",
          "bytes=0-" + "9".repeat(400),
        ])
      }`,
    );
  }
  if (chance(rand, 0.08)) {
    lines.push(
      pickOf(rand, [
        'If-None-Match: "x"',
        "If-None-Match: *",
        "If-Modified-Since: yesterday",
        "If-Match: ,,,",
        "X-Amz-Date: 20000101T000000Z",
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIACLIENT/x",
        "Cookie: a=1",
        "X-Forwarded-For: 10.0.0.1, ::1, junk",
        "Sec-Fetch-Site: same-origin",
        "Accept-Encoding: gzip, br",
        "Expect: 100-continue",
      ]),
    );
  }
  if (chance(rand, 0.05)) {
    tags.add("duplicate-header");
    const name = pickOf(rand, ["Range", "User-Agent", "Accept", "X-Dup"]);
    lines.push(`${name}: bytes=0-1`, `${name}: bytes=2-3`);
  }
  if (chance(rand, 0.03)) {
    tags.add("huge-header");
    const n = pickOf(rand, [4000, 9000, 13000, 17000, 70000]);
    if (n > 60000) tags.add("head-over-64k");
    else if (n > 16000) tags.add("head-over-16k");
    lines.push(`X-Big: ${"b".repeat(n)}`);
  }
  if (chance(rand, 0.02)) {
    tags.add("many-headers");
    const n = pickOf(rand, [90, 105, 140, 250]);
    if (n > 125) tags.add("headers-over-127");
    for (let i = 0; i < n; i++) lines.push(`X-H${i}: v`);
  }
  if (chance(rand, 0.03)) {
    tags.add("crlf");
    const line = pickOf(rand, [
      "X-A: a\rb",
      "X-A: a\nHost: evil.example",
      "X-A: a\r\n b",
      "X-A : b",
      "X A: b",
      "X-A:\u0000b",
      ": empty",
      "X-A: \u007f",
      "X-A: \u00e9",
    ]);
    if (line.includes("\u007f")) tags.add("del-in-header");
    lines.push(line);
  }
  let body = new Uint8Array(0);
  if (method !== "GET" && method !== "HEAD" && chance(rand, 0.5) || chance(rand, 0.03)) {
    tags.add("body");
    body = encoder.encode(
      pickOf(rand, ["hello", "GET /other/x HTTP/1.1\r\nHost: h\r\n\r\n", "x".repeat(3000)]),
    );
    if (chance(rand, 0.3)) {
      tags.add("chunked");
      lines.push("Transfer-Encoding: chunked");
      body = encoder.encode(
        `${body.length.toString(16)}\r\n${new TextDecoder().decode(body)}\r\n0\r\n\r\n`,
      );
    } else lines.push(`Content-Length: ${body.length}`);
  }
  return [lines, body];
}

/**
 * `count` hostile requests from `seed`, each with a `Connection: keep-alive` head (the server
 * may close anyway).
 *
 * @example
 * ```ts
 * for (const r of hostileRequests(42, 10_000)) await client.request(r.raw, r.method);
 * ```
 */
export function hostileRequests(seed: number, count: number): FuzzRequest[] {
  const rand = prng(seed);
  const out: FuzzRequest[] = [];
  for (let i = 0; i < count; i++) {
    const tags = new Set<string>();
    const method = pickOf(rand, METHODS);
    if (method !== "GET" && method !== "HEAD") tags.add("method");
    if (!KNOWN_METHODS.has(method)) tags.add("unknown-method");
    const t = target(rand, tags);
    const [lines, body] = headers(rand, tags, method);
    const head = encoder.encode(
      ` HTTP/1.1\r\n${lines.join("\r\n")}${
        lines.length ? "\r\n" : ""
      }Connection: keep-alive\r\n\r\n`,
    );
    const m = encoder.encode(method + " ");
    const raw = new Uint8Array(m.length + t.length + head.length + body.length);
    raw.set(m, 0);
    raw.set(t, m.length);
    raw.set(head, m.length + t.length);
    raw.set(body, m.length + t.length + head.length);
    const printable = new TextDecoder().decode(t);
    const label =
      `#${i} ${method} ${printable.length > 80 ? printable.slice(0, 77) + "..." : printable}` +
      (tags.size ? ` [${[...tags].join(",")}]` : "");
    out.push({ raw, method, tags, label });
  }
  return out;
}
