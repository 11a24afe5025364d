/**
 * The one canonical encoding (src/s3/encode.ts): RFC 3986 unreserved set kept, upper-case hex,
 * `/` kept in paths only, a `+` is a plus in paths; strict decoding refuses bad escapes and bytes
 * that are not UTF-8. Random round trips use a seeded PRNG (the seed is in the test name).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeStrict, encodeKeyPath, encodeQueryComponent } from "../src/s3/encode.ts";
import { prng } from "./support/random.ts";

const SEED = 0xe5c0de;

const UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~";

/** An independent reference: byte-wise over UTF-8, written from RFC 3986 section 2.3. */
function reference(text: string, keepSlash: boolean): string {
  let out = "";
  for (const b of new TextEncoder().encode(text)) {
    const ch = String.fromCharCode(b);
    if (b < 128 && (UNRESERVED.includes(ch) || (keepSlash && ch === "/"))) out += ch;
    else out += "%" + b.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Random well-formed text over a wide alphabet: ASCII (controls too), 2-, 3- and 4-byte UTF-8. */
function randomText(rand: () => number, maxLength: number): string {
  const pools = [
    () => String.fromCharCode((rand() * 128) | 0),
    () => " +%#?&=/;:@!$'()*,[]\\\"<>^`{|}".charAt((rand() * 29) | 0),
    () => String.fromCharCode(0x80 + ((rand() * 0x780) | 0)),
    () => String.fromCharCode(0x800 + ((rand() * 0xd000) | 0)), // below the surrogates
    () => String.fromCharCode(0xe000 + ((rand() * 0x2000) | 0)),
    () => String.fromCodePoint(0x10000 + ((rand() * 0x100000) | 0)),
    () => ["😀", "ሴ", "é", "日本", "👩‍👩‍👧"][(rand() * 5) | 0],
  ];
  let out = "";
  const n = (rand() * maxLength) | 0;
  for (let i = 0; i < n; i++) out += pools[(rand() * pools.length) | 0]();
  return out;
}

describe("encodeKeyPath", () => {
  test("keeps the unreserved set and /, encodes every other ASCII byte in upper-case hex", () => {
    for (let c = 0; c < 128; c++) {
      const ch = String.fromCharCode(c);
      const expected = UNRESERVED.includes(ch) || ch === "/"
        ? ch
        : "%" + c.toString(16).toUpperCase().padStart(2, "0");
      assert.equal(encodeKeyPath(ch), expected, `char code ${c}`);
    }
  });

  test("a + is a plus (%2B), a space is %20, and reserved characters are escaped", () => {
    assert.equal(encodeKeyPath("a+b c"), "a%2Bb%20c");
    assert.equal(encodeKeyPath("dir/a b+c.txt"), "dir/a%20b%2Bc.txt");
    assert.equal(encodeKeyPath("test$file.text"), "test%24file.text");
    assert.equal(encodeKeyPath("(1)!'*"), "%281%29%21%27%2A");
    assert.equal(encodeKeyPath("100%/#?"), "100%25/%23%3F");
  });

  test("keeps / and empty segments and dot segments verbatim", () => {
    assert.equal(encodeKeyPath("/a/./b//c/../d/"), "/a/./b//c/../d/");
  });

  test("non-ASCII text is UTF-8, upper-case hex", () => {
    assert.equal(encodeKeyPath("ሴ"), "%E1%88%B4");
    assert.equal(encodeKeyPath("é/😀"), "%C3%A9/%F0%9F%98%80");
    assert.equal(encodeKeyPath("abc/ü"), "abc/%C3%BC");
  });

  test("equals the RFC 3986 reference over random text (seed " + SEED + ")", () => {
    const rand = prng(SEED);
    for (let i = 0; i < 2000; i++) {
      const text = randomText(rand, 40);
      assert.equal(encodeKeyPath(text), reference(text, true), JSON.stringify(text));
    }
  });
});

describe("encodeQueryComponent", () => {
  test("encodes / too, and otherwise matches encodeKeyPath", () => {
    assert.equal(encodeQueryComponent("a/b c"), "a%2Fb%20c");
    assert.equal(encodeQueryComponent("a+b=c&d"), "a%2Bb%3Dc%26d");
    assert.equal(encodeQueryComponent(UNRESERVED), UNRESERVED);
  });

  test("equals the RFC 3986 reference over random text (seed " + SEED + ")", () => {
    const rand = prng(SEED + 1);
    for (let i = 0; i < 2000; i++) {
      const text = randomText(rand, 40);
      const encoded = encodeQueryComponent(text);
      assert.equal(encoded, reference(text, false), JSON.stringify(text));
      assert.match(encoded, /^(?:[A-Za-z0-9\-_.~]|%[0-9A-F]{2})*$/);
    }
  });
});

describe("decodeStrict", () => {
  test("decodes once: %2525 is %25, not %", () => {
    assert.equal(decodeStrict("%2525"), "%25");
    assert.equal(decodeStrict("a%2Fb"), "a/b");
  });

  test("a + is a plus in paths, a space with plusIsSpace", () => {
    assert.equal(decodeStrict("a+b%2Bc"), "a+b+c");
    assert.equal(decodeStrict("a+b%2Bc", true), "a b+c");
    assert.equal(decodeStrict("a+b", true), "a b");
    assert.equal(decodeStrict("a+b"), "a+b");
  });

  test("lower-case and mixed-case hex are accepted on input", () => {
    assert.equal(decodeStrict("%e1%88%b4"), "ሴ");
    assert.equal(decodeStrict("%c3%A9"), "é");
    assert.equal(decodeStrict("%7e%7E"), "~~");
  });

  test("text without escapes comes back as it is", () => {
    assert.equal(decodeStrict("plain/key.txt"), "plain/key.txt");
    assert.equal(decodeStrict("ሴ/é"), "ሴ/é");
    assert.equal(decodeStrict(""), "");
  });

  test("refuses bad escapes", () => {
    for (const bad of ["%", "a%", "%1", "a%1", "%G1", "%1G", "%%", "%-1", "% 1", "ok%2"]) {
      assert.equal(decodeStrict(bad), undefined, JSON.stringify(bad));
      assert.equal(decodeStrict(bad, true), undefined, JSON.stringify(bad) + " (plusIsSpace)");
    }
  });

  test("refuses byte sequences that are not UTF-8", () => {
    const bad = [
      "%C3", // lead byte alone
      "a%C3b",
      "%E1%88", // truncated 3-byte sequence
      "%C0%AF", // overlong "/"
      "%E0%80%AF", // overlong "/", 3 bytes
      "%ED%A0%80", // UTF-16 surrogate U+D800
      "%ED%BF%BF", // surrogate U+DFFF
      "%F4%90%80%80", // above U+10FFFF
      "%FF",
      "%FE",
      "%80", // continuation byte alone
      "%BF%BF",
    ];
    for (const text of bad) assert.equal(decodeStrict(text), undefined, text);
  });

  test("accepts the edges of valid UTF-8", () => {
    assert.equal(decodeStrict("%00"), "\u0000");
    assert.equal(decodeStrict("%7F"), "\u007f");
    assert.equal(decodeStrict("%C2%80"), "\u0080");
    assert.equal(decodeStrict("%EF%BF%BF"), "\uffff");
    assert.equal(decodeStrict("%ED%9F%BF"), "\ud7ff");
    assert.equal(decodeStrict("%F4%8F%BF%BF"), "\u{10ffff}");
    assert.equal(decodeStrict("%F0%9F%98%80"), "😀");
  });

  test(
    "round trips: decodeStrict(encode(text)) === text over random text (seed " + SEED + ")",
    () => {
      const rand = prng(SEED + 2);
      for (let i = 0; i < 3000; i++) {
        const text = randomText(rand, 40);
        assert.equal(decodeStrict(encodeKeyPath(text)), text, JSON.stringify(text));
        assert.equal(decodeStrict(encodeKeyPath(text), true), text, JSON.stringify(text));
        assert.equal(decodeStrict(encodeQueryComponent(text), true), text, JSON.stringify(text));
      }
    },
  );

  test("round trips the other way: encode(decode(wire)) is the canonical spelling", () => {
    // Different spellings of one key decode to the same text and re-encode to one spelling.
    for (const wire of ["a%20b", "a b", "a%2fb%2Fc", "%c3%a9", "%C3%A9", "é", "%7E", "~"]) {
      const text = decodeStrict(wire);
      assert.notEqual(text, undefined, wire);
      assert.equal(decodeStrict(encodeKeyPath(text!)), text, wire);
    }
    assert.equal(encodeKeyPath(decodeStrict("%c3%a9")!), encodeKeyPath(decodeStrict("é")!));
    assert.equal(encodeKeyPath(decodeStrict("%7e")!), "~");
  });
});

test("decodeStrict refuses lone surrogates in its raw input", () => {
  for (const raw of ["\uD800", "a\uDC00b", "\uD800%41", "x%41\uDBFF"]) {
    assert.equal(decodeStrict(raw), undefined, JSON.stringify(raw));
    assert.equal(decodeStrict(raw, true), undefined, JSON.stringify(raw));
  }
  assert.equal(decodeStrict("\uD83D\uDE00%41"), "\u{1F600}A");
});
