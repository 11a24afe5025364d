/**
 * Proves the synchronous SHA-256 and HMAC-SHA256 of src/crypto/sha256.ts equal WebCrypto's, over
 * every length from 0 to 300 bytes, the padding boundaries, large inputs, long keys and unicode
 * strings. Random inputs come from a seeded PRNG so that a failure reproduces.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { hmac, hmacHex, hmacKey, sha256, sha256Hex, toHex } from "../src/crypto/sha256.ts";
import { prng } from "./support/random.ts";

const SEED = 0x5eed2026;

function randomBytes(rand: () => number, length: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = (rand() * 256) | 0;
  return out;
}

async function webSha256(data: Uint8Array<ArrayBuffer>): Promise<string> {
  return toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", data)));
}

async function webHmac(
  key: Uint8Array<ArrayBuffer>,
  message: Uint8Array<ArrayBuffer>,
): Promise<string> {
  // WebCrypto refuses an empty HMAC key; node:crypto (OpenSSL) is the reference for that one.
  if (key.length === 0) return createHmac("sha256", key).update(message).digest("hex");
  const k = await crypto.subtle.importKey("raw", key, { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return toHex(new Uint8Array(await crypto.subtle.sign("HMAC", k, message)));
}

const utf8 = new TextEncoder();

describe("sha256 equals WebCrypto", () => {
  test("every length from 0 to 300 bytes (seed " + SEED + ")", async () => {
    const rand = prng(SEED);
    for (let n = 0; n <= 300; n++) {
      const data = randomBytes(rand, n);
      assert.equal(toHex(sha256(data)), await webSha256(data), `length ${n}, seed ${SEED}`);
    }
  });

  test("padding boundaries, with every byte value as filler", async () => {
    for (const n of [55, 56, 57, 63, 64, 65, 119, 120, 121, 127, 128, 129, 183, 184]) {
      for (const fill of [0x00, 0x80, 0xff, 0x61]) {
        const data = new Uint8Array(n).fill(fill);
        assert.equal(toHex(sha256(data)), await webSha256(data), `length ${n}, fill ${fill}`);
      }
    }
  });

  test("large random inputs (seed " + SEED + ")", async () => {
    const rand = prng(SEED + 1);
    for (const n of [1000, 4095, 4096, 65537, 1 << 20, (1 << 20) + 63]) {
      const data = randomBytes(rand, n);
      assert.equal(toHex(sha256(data)), await webSha256(data), `length ${n}`);
    }
  });

  test("a subarray view is hashed over its own bytes only", async () => {
    const rand = prng(SEED + 2);
    const backing = randomBytes(rand, 500);
    for (const [start, end] of [[1, 100], [63, 64], [7, 500], [64, 128]]) {
      const view = backing.subarray(start, end);
      assert.equal(toHex(sha256(view)), await webSha256(view.slice()), `[${start}, ${end})`);
    }
  });

  test("strings are hashed as UTF-8, unicode included", async () => {
    const strings = [
      "",
      "abc",
      "ሴ",
      "é".repeat(40),
      "😀 emoji and text ☃ ü " + "x".repeat(70),
      "日本語のキー/with/slashes",
      "\u0000\u007f\u0080\u07ff\u0800\uffff\u{10000}\u{10ffff}",
    ];
    for (const s of strings) {
      assert.equal(toHex(sha256(s)), await webSha256(utf8.encode(s)), JSON.stringify(s));
    }
  });

  test("long strings (past the reusable scratch buffer), ASCII and not", async () => {
    const rand = prng(SEED + 6);
    for (const n of [341, 342, 1000, 21821, 21822, 30000, 100003]) {
      let ascii = "";
      let mixed = "";
      for (let i = 0; i < n; i++) {
        ascii += String.fromCharCode(32 + ((rand() * 95) | 0));
        mixed += i % 7 === 0 ? "😀" : i % 5 === 0 ? "é" : i % 3 === 0 ? "ሴ" : "a";
      }
      for (const s of [ascii, mixed, ascii + mixed, mixed + ascii]) {
        assert.equal(sha256Hex(s), await webSha256(utf8.encode(s)), `length ${s.length}`);
      }
      // And a short one right after, which must not see leftovers of the long one.
      assert.equal(sha256Hex("abc"), await webSha256(utf8.encode("abc")));
    }
  });

  test("sha256Hex equals toHex(sha256()) and WebCrypto (seed " + SEED + ")", async () => {
    const rand = prng(SEED + 7);
    for (let n = 0; n <= 200; n += 3) {
      const data = randomBytes(rand, n);
      assert.equal(sha256Hex(data), toHex(sha256(data)));
      assert.equal(sha256Hex(data), await webSha256(data));
    }
  });

  test("FIPS 180-2 known answers", () => {
    assert.equal(
      toHex(sha256("abc")),
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assert.equal(
      toHex(sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    );
  });

  test("results are fresh arrays, not views of shared scratch space", () => {
    const a = sha256("first");
    const b = sha256("second");
    assert.notEqual(toHex(a), toHex(b));
    assert.equal(toHex(a), toHex(sha256("first")));
    a.fill(0);
    assert.equal(toHex(sha256("first")), toHex(sha256(utf8.encode("first"))));
    assert.notEqual(toHex(sha256("first")), toHex(a));
  });
});

describe("hmac equals WebCrypto", () => {
  test(
    "key lengths 0 to 200 bytes (longer than a block included) (seed " + SEED + ")",
    async () => {
      const rand = prng(SEED + 3);
      for (let k = 0; k <= 200; k += k < 70 ? 1 : 13) {
        const key = randomBytes(rand, k);
        const message = randomBytes(rand, (rand() * 300) | 0);
        assert.equal(
          toHex(hmac(hmacKey(key), message)),
          await webHmac(key, message),
          `key length ${k}, message length ${message.length}`,
        );
      }
    },
  );

  test("message lengths 0 to 300 bytes under one prepared key (seed " + SEED + ")", async () => {
    const rand = prng(SEED + 4);
    const key = randomBytes(rand, 32);
    const prepared = hmacKey(key);
    for (let n = 0; n <= 300; n++) {
      const message = randomBytes(rand, n);
      assert.equal(toHex(hmac(prepared, message)), await webHmac(key, message), `length ${n}`);
    }
  });

  test("boundary message lengths with keys of 64, 65 and 100 bytes", async () => {
    const rand = prng(SEED + 5);
    for (const k of [63, 64, 65, 100]) {
      const key = randomBytes(rand, k);
      for (const n of [55, 56, 63, 64, 119, 120, 1000]) {
        const message = randomBytes(rand, n);
        assert.equal(toHex(hmac(hmacKey(key), message)), await webHmac(key, message), `${k}/${n}`);
      }
    }
  });

  test("string keys and messages are taken as UTF-8", async () => {
    const cases: [string, string][] = [
      ["AWS4wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830"],
      ["ключ", "сообщение"],
      ["😀".repeat(20), "ሴ/é/😀"],
      ["", ""],
    ];
    for (const [key, message] of cases) {
      assert.equal(
        toHex(hmac(hmacKey(key), message)),
        await webHmac(utf8.encode(key), utf8.encode(message)),
        JSON.stringify([key, message]),
      );
    }
  });

  test("hmacHex equals toHex(hmac()) and WebCrypto (seed " + SEED + ")", async () => {
    const rand = prng(SEED + 8);
    for (let n = 0; n <= 300; n += 7) {
      const key = randomBytes(rand, 1 + ((rand() * 100) | 0));
      const message = randomBytes(rand, n);
      const prepared = hmacKey(key);
      assert.equal(hmacHex(prepared, message), toHex(hmac(prepared, message)));
      assert.equal(hmacHex(prepared, message), await webHmac(key, message));
    }
    const long = "ü".repeat(40000);
    assert.equal(hmacHex(hmacKey("k"), long), await webHmac(utf8.encode("k"), utf8.encode(long)));
  });

  test("RFC 4231 known answers (test cases 1, 2 and 6)", () => {
    assert.equal(
      toHex(hmac(hmacKey(new Uint8Array(20).fill(0x0b)), "Hi There")),
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
    );
    assert.equal(
      toHex(hmac(hmacKey("Jefe"), "what do ya want for nothing?")),
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
    );
    assert.equal(
      toHex(
        hmac(
          hmacKey(new Uint8Array(131).fill(0xaa)),
          "Test Using Larger Than Block-Size Key - Hash Key First",
        ),
      ),
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
    );
  });

  test("a prepared key is not changed by use, and keys do not interfere", async () => {
    const k1 = hmacKey("one");
    const k2 = hmacKey("two");
    const first = toHex(hmac(k1, "message"));
    hmac(k2, "x".repeat(500));
    hmac(k1, "y".repeat(70));
    assert.equal(toHex(hmac(k1, "message")), first);
    assert.equal(first, await webHmac(utf8.encode("one"), utf8.encode("message")));
    const a = hmac(k1, "a");
    const b = hmac(k2, "a");
    assert.notEqual(toHex(a), toHex(b));
  });
});

describe("toHex", () => {
  test("lower-case, two digits per byte, every byte value", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    const hex = toHex(all);
    assert.equal(hex.length, 512);
    for (let i = 0; i < 256; i++) {
      assert.equal(hex.slice(i * 2, i * 2 + 2), i.toString(16).padStart(2, "0"));
    }
    assert.equal(toHex(new Uint8Array(0)), "");
  });
});
