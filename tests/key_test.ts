/**
 * src/s3/key.ts: raw request target -> raw path and query (dot segments resolved once, the same
 * on every runtime), strict query parsing, strict key decoding, bucket-name checks.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BadTargetError,
  decodeKey,
  isBucketName,
  isDnsBucketName,
  parseQuery,
  rawTarget,
} from "../src/s3/key.ts";
import { encodeKeyPath } from "../src/s3/encode.ts";

const H = "http://proxy.test:8080";

describe("rawTarget", () => {
  test("splits path and query without decoding either", () => {
    assert.deepEqual(rawTarget(`${H}/b/a%20b+c?prefix=a+b&x=%2F`), {
      path: "/b/a%20b+c",
      query: "prefix=a+b&x=%2F",
    });
    assert.deepEqual(rawTarget(`${H}/b/k`), { path: "/b/k", query: "" });
    assert.deepEqual(rawTarget(`${H}/b/k?`), { path: "/b/k", query: "" });
    assert.deepEqual(rawTarget(`${H}/`), { path: "/", query: "" });
    assert.deepEqual(rawTarget(`${H}`), { path: "/", query: "" });
    assert.deepEqual(rawTarget(`${H}/?list-type=2`), { path: "/", query: "list-type=2" });
  });

  test("a ? inside the query stays in the query", () => {
    assert.deepEqual(rawTarget(`${H}/b/k?a=1?2`), { path: "/b/k", query: "a=1?2" });
  });

  test("resolves raw dot segments as RFC 3986 does", () => {
    const cases: [string, string][] = [
      ["/a/../b", "/b"],
      ["/a/./b", "/a/b"],
      ["/a/b/..", "/a/"],
      ["/a/b/.", "/a/b/"],
      ["/a/b/../", "/a/"],
      ["/..", "/"],
      ["/.", "/"],
      ["/../../x", "/x"],
      ["/a/b/c/../../d", "/a/d"],
      ["/a/.../b", "/a/.../b"],
      ["/a/..b/c", "/a/..b/c"],
      ["/a/b../c", "/a/b../c"],
      ["/.a/b.", "/.a/b."],
    ];
    for (const [input, expected] of cases) {
      assert.equal(rawTarget(H + input).path, expected, input);
    }
  });

  test("resolves %2E dot segments in any case and mix", () => {
    const cases: [string, string][] = [
      ["/a/%2e%2E/b", "/b"],
      ["/a/%2E%2E/b", "/b"],
      ["/a/%2e%2e/b", "/b"],
      ["/a/.%2e/b", "/b"],
      ["/a/%2E./b", "/b"],
      ["/a/%2E/b", "/a/b"],
      ["/a/%2e/b", "/a/b"],
      ["/a/b/%2e%2e", "/a/"],
      ["/%2e%2e/x", "/x"],
    ];
    for (const [input, expected] of cases) {
      assert.equal(rawTarget(H + input).path, expected, input);
    }
  });

  test("keeps // (empty segments are part of S3 keys)", () => {
    assert.equal(rawTarget(`${H}/b//c`).path, "/b//c");
    assert.equal(rawTarget(`${H}//`).path, "//");
    assert.equal(rawTarget(`${H}/b/a//../c`).path, "/b/a/c");
    assert.equal(rawTarget(`${H}/a/%2e%2E/b//c?x=1`).path, "/b//c");
    assert.equal(rawTarget(`${H}/b/x//`).path, "/b/x//");
  });

  test("%2F..%2F is not a dot segment at this stage (decodeKey refuses it later)", () => {
    assert.equal(rawTarget(`${H}/a%2F..%2Fb`).path, "/a%2F..%2Fb");
    assert.equal(rawTarget(`${H}/%2F..%2Fother/x`).path, "/%2F..%2Fother/x");
    assert.equal(rawTarget(`${H}/a/..%2Fb`).path, "/a/..%2Fb");
    assert.equal(rawTarget(`${H}/a/%2e%2e%2fb`).path, "/a/%2e%2e%2fb");
  });

  test("dot segments in the query are left alone", () => {
    assert.deepEqual(rawTarget(`${H}/b/k?prefix=../x`), { path: "/b/k", query: "prefix=../x" });
  });

  test("a raw # in path or query is a BadTargetError", () => {
    for (const url of [`${H}/b/a#b`, `${H}/b/k?x=1#frag`, `${H}/b/k#`]) {
      assert.throws(() => rawTarget(url), BadTargetError, url);
    }
    // An escaped # is fine.
    assert.equal(rawTarget(`${H}/b/a%23b`).path, "/b/a%23b");
  });

  test("Deno's unresolved URL and Bun's resolved URL give the same target", () => {
    // Deno keeps `/a/../b` in req.url; Bun resolves it first. Both must reach the same key.
    for (const [denoUrl, bunUrl] of [[`${H}/b/x/../k`, `${H}/b/k`], [`${H}/b/./k`, `${H}/b/k`]]) {
      assert.deepEqual(rawTarget(denoUrl), rawTarget(bunUrl));
    }
  });
});

describe("parseQuery", () => {
  test("empty query and empty parts give no pairs", () => {
    assert.deepEqual(parseQuery(""), []);
    assert.deepEqual(parseQuery("&&"), []);
  });

  test("+ is a space, %2B a plus, %20 a space", () => {
    assert.deepEqual(parseQuery("prefix=a+b"), [["prefix", "a b"]]);
    assert.deepEqual(parseQuery("prefix=a%2Bb"), [["prefix", "a+b"]]);
    assert.deepEqual(parseQuery("prefix=a%2bb"), [["prefix", "a+b"]]);
    assert.deepEqual(parseQuery("prefix=a%20b"), [["prefix", "a b"]]);
  });

  test("a name without = gets an empty value; = with nothing after is empty too", () => {
    assert.deepEqual(parseQuery("acl"), [["acl", ""]]);
    assert.deepEqual(parseQuery("acl="), [["acl", ""]]);
    assert.deepEqual(parseQuery("list-type=2&prefix=a+b&acl"), [
      ["list-type", "2"],
      ["prefix", "a b"],
      ["acl", ""],
    ]);
  });

  test("only the first = splits; names are decoded too; order and repeats are kept", () => {
    assert.deepEqual(parseQuery("a=b=c"), [["a", "b=c"]]);
    assert.deepEqual(parseQuery("response%2Dcontent%2Dtype=text%2Fhtml"), [[
      "response-content-type",
      "text/html",
    ]]);
    assert.deepEqual(parseQuery("z=1&a=2&z=3"), [["z", "1"], ["a", "2"], ["z", "3"]]);
  });

  test("decodes UTF-8 values", () => {
    assert.deepEqual(parseQuery("prefix=%C3%A9t%C3%A9%2F"), [["prefix", "été/"]]);
    assert.deepEqual(parseQuery("prefix=%e2%82%ac"), [["prefix", "€"]]);
  });

  test("bad escapes and invalid UTF-8 are a BadTargetError, in names or values", () => {
    for (
      const q of ["a=%", "a=%G0", "a=%2", "%zz=1", "a=%C3", "a=%C0%AF", "a=%ED%A0%80", "x&a=%FF"]
    ) {
      assert.throws(() => parseQuery(q), BadTargetError, q);
    }
  });

  test("a NUL in a name or value is a BadTargetError", () => {
    for (const q of ["a=%00", "a%00=1", "prefix=x%00y"]) {
      assert.throws(() => parseQuery(q), BadTargetError, q);
    }
  });

  test("the error message quotes a long part only in part", () => {
    const long = "a=" + "x".repeat(500) + "%";
    assert.throws(
      () => parseQuery(long),
      (e: unknown) => e instanceof BadTargetError && e.message.length < 200,
    );
  });
});

describe("decodeKey", () => {
  test("every spelling of a key decodes to the same key", () => {
    const spellings: [string, string][] = [
      ["dir/a b.txt", "dir/a%20b.txt"],
      ["dir/é.txt", "dir/%C3%A9.txt"],
      ["dir/é.txt", "dir/%c3%a9.txt"],
      ["dir/é.txt", "dir/%c3%A9.txt"],
      ["dir/é.txt", "dir/é.txt"],
      ["Abc/~x", "%41bc/%7Ex"],
      ["Abc/~x", "%41%62%63/%7e%78"],
      ["Abc/~x", "Abc/~x"],
      ["a(1)!'*.txt", "a(1)!'*.txt"],
      ["a(1)!'*.txt", "a%281%29%21%27%2A.txt"],
      ["a:b=c@d$e&f;g,h", "a%3Ab%3Dc%40d%24e%26f%3Bg%2Ch"],
      ["a:b=c@d$e&f;g,h", "a:b=c@d$e&f;g,h"],
      ["100%", "100%25"],
      ["a#b?c", "a%23b%3Fc"],
      ["trailing ", "trailing%20"],
    ];
    for (const [key, raw] of spellings) {
      assert.equal(decodeKey(raw), key, raw);
      // The canonical encoding of the key decodes back to it too.
      assert.equal(decodeKey(encodeKeyPath(key)), key, key);
    }
  });

  test("a raw + stays a plus; %2B is a plus; %20 is a space", () => {
    assert.equal(decodeKey("a+b"), "a+b");
    assert.equal(decodeKey("a%2Bb"), "a+b");
    assert.equal(decodeKey("a%2bb"), "a+b");
    assert.equal(decodeKey("dir/a+b%20c.txt"), "dir/a+b c.txt");
  });

  test("decodes exactly once: %2525 is the key %25", () => {
    assert.equal(decodeKey("%2525"), "%25");
    assert.equal(decodeKey("%252F"), "%2F");
  });

  test("keeps empty segments and a trailing slash", () => {
    assert.equal(decodeKey("a//b/"), "a//b/");
    assert.equal(decodeKey(""), "");
    assert.equal(decodeKey("/x"), "/x");
  });

  test("%2F decodes to a slash inside the key", () => {
    assert.equal(decodeKey("a%2Fb"), "a/b");
  });

  test("bad escapes are a BadTargetError", () => {
    for (const raw of ["%", "a%", "a%2", "%G1", "%1g", "a%%20", "%-1"]) {
      assert.throws(() => decodeKey(raw), BadTargetError, raw);
    }
  });

  test("bytes that are not UTF-8 are a BadTargetError", () => {
    for (
      const raw of [
        "%C3", // lead byte alone (nginx-s3-gateway forwarded this unsigned)
        "foo%C3",
        "%C3%28",
        "%C0%AF", // overlong /
        "%C0%AE%C0%AE", // overlong ..
        "%E0%80%AE", // overlong .
        "%ED%A0%80", // surrogate
        "%F8%88%80%80%80",
        "%FF",
        "%80",
      ]
    ) {
      assert.throws(() => decodeKey(raw), BadTargetError, raw);
    }
  });

  test("a NUL is a BadTargetError", () => {
    for (const raw of ["%00", "a%00b", "a/%00"]) {
      assert.throws(() => decodeKey(raw), BadTargetError, raw);
    }
  });

  test("a . or .. segment that appears after decoding is a BadTargetError", () => {
    for (
      const raw of [
        "a%2F..%2Fb",
        "%2F..%2Fother/x",
        "..%2Fother",
        "a%2F.",
        "a%2F..",
        "%2E%2E", // as decodeKey's own input (rawTarget would have resolved it)
        "%2e",
        "a/%2E%2E/b",
        "..",
        ".",
        "a/./b",
        "a/../b",
        "a/..",
      ]
    ) {
      assert.throws(() => decodeKey(raw), BadTargetError, raw);
    }
  });

  test("dots that are not whole segments are fine", () => {
    for (const key of ["...", "a/.../b", ".hidden", "a..b", "a/..b", "b../c", "x.", ". /x"]) {
      assert.equal(decodeKey(encodeKeyPath(key)), key, key);
    }
  });
});

describe("isBucketName", () => {
  test("accepts S3 and S3-compatible names", () => {
    for (const name of ["ab", "my-bucket", "my.bucket", "My_Bucket", "0bucket", "a".repeat(255)]) {
      assert.equal(isBucketName(name), true, name);
    }
  });

  test("refuses names that could change the path or host", () => {
    for (
      const name of [
        "",
        "a",
        "a/b",
        "..",
        ".",
        ".bucket",
        "-bucket",
        "_bucket",
        "a b",
        "a%2Fb",
        "a:b",
        "a@b",
        "a?b",
        "a#b",
        "a\u0000b",
        "bücket",
        "a".repeat(256),
      ]
    ) {
      assert.equal(isBucketName(name), false, JSON.stringify(name));
    }
  });
});

describe("isDnsBucketName", () => {
  test("accepts lower-case DNS labels of 3 to 63 characters", () => {
    for (const name of ["abc", "my-bucket", "my.bucket", "a1.b2.c3", "a".repeat(63)]) {
      assert.equal(isDnsBucketName(name), true, name);
    }
  });

  test("refuses what cannot be a host-name label", () => {
    for (
      const name of [
        "ab",
        "a".repeat(64),
        "My-Bucket",
        "my_bucket",
        "bucket-",
        "a-.b",
        "a..b",
        ".ab",
        "ab.",
        "-ab",
        "a.-b",
        "a b",
        "a:80",
      ]
    ) {
      assert.equal(isDnsBucketName(name), false, name);
    }
  });
});
