/**
 * Synchronous SHA-256 and HMAC-SHA256 in plain TypeScript (FIPS 180-4, RFC 2104).
 *
 * Why not WebCrypto: every awaited `crypto.subtle` call costs tens of microseconds of scheduling,
 * and one signature needs several. Hashing a few hundred bytes here takes a few microseconds, so
 * signing stays synchronous and fast. `tests/sha256_test.ts` proves the results equal
 * WebCrypto's.
 *
 * @module
 */

const K = new Int32Array([
  0x428a2f98,
  0x71374491,
  0xb5c0fbcf,
  0xe9b5dba5,
  0x3956c25b,
  0x59f111f1,
  0x923f82a4,
  0xab1c5ed5,
  0xd807aa98,
  0x12835b01,
  0x243185be,
  0x550c7dc3,
  0x72be5d74,
  0x80deb1fe,
  0x9bdc06a7,
  0xc19bf174,
  0xe49b69c1,
  0xefbe4786,
  0x0fc19dc6,
  0x240ca1cc,
  0x2de92c6f,
  0x4a7484aa,
  0x5cb0a9dc,
  0x76f988da,
  0x983e5152,
  0xa831c66d,
  0xb00327c8,
  0xbf597fc7,
  0xc6e00bf3,
  0xd5a79147,
  0x06ca6351,
  0x14292967,
  0x27b70a85,
  0x2e1b2138,
  0x4d2c6dfc,
  0x53380d13,
  0x650a7354,
  0x766a0abb,
  0x81c2c92e,
  0x92722c85,
  0xa2bfe8a1,
  0xa81a664b,
  0xc24b8b70,
  0xc76c51a3,
  0xd192e819,
  0xd6990624,
  0xf40e3585,
  0x106aa070,
  0x19a4c116,
  0x1e376c08,
  0x2748774c,
  0x34b0bcb5,
  0x391c0cb3,
  0x4ed8aa4a,
  0x5b9cca4f,
  0x682e6ff3,
  0x748f82ee,
  0x78a5636f,
  0x84c87814,
  0x8cc70208,
  0x90befffa,
  0xa4506ceb,
  0xbef9a3f7,
  0xc67178f2,
]);

const IV = new Int32Array([
  0x6a09e667,
  0xbb67ae85,
  0x3c6ef372,
  0xa54ff53a,
  0x510e527f,
  0x9b05688c,
  0x1f83d9ab,
  0x5be0cd19,
]);

/** Runs the compression function over whole 64-byte blocks of `data` from `offset`. */
function compress(state: Int32Array, w: Int32Array, data: Uint8Array, offset: number, end: number) {
  let h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3];
  let h4 = state[4], h5 = state[5], h6 = state[6], h7 = state[7];
  for (let p = offset; p < end; p += 64) {
    for (let i = 0; i < 16; i++) {
      const j = p + i * 4;
      w[i] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const a = w[i - 15], b = w[i - 2];
      const s0 = ((a >>> 7) | (a << 25)) ^ ((a >>> 18) | (a << 14)) ^ (a >>> 3);
      const s1 = ((b >>> 17) | (b << 15)) ^ ((b >>> 19) | (b << 13)) ^ (b >>> 10);
      w[i] = (w[i - 16] + s0 + w[i - 7] + s1) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (let i = 0; i < 64; i++) {
      const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const ch = (e & f) ^ (~e & g);
      const t1 = (h + S1 + ch + K[i] + w[i]) | 0;
      const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const maj = (a & b) ^ (a & c) ^ (b & c);
      const t2 = (S0 + maj) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0;
    h1 = (h1 + b) | 0;
    h2 = (h2 + c) | 0;
    h3 = (h3 + d) | 0;
    h4 = (h4 + e) | 0;
    h5 = (h5 + f) | 0;
    h6 = (h6 + g) | 0;
    h7 = (h7 + h) | 0;
  }
  state[0] = h0;
  state[1] = h1;
  state[2] = h2;
  state[3] = h3;
  state[4] = h4;
  state[5] = h5;
  state[6] = h6;
  state[7] = h7;
}

/**
 * Hashes `data` starting from `state` (the IV, or a precomputed HMAC pad state) after
 * `prefixLength` bytes were already absorbed, and returns the 32-byte digest.
 */
function finish(state: Int32Array, prefixLength: number, data: Uint8Array): Uint8Array {
  const st = state.slice();
  const w = new Int32Array(64);
  const whole = data.length - (data.length % 64);
  compress(st, w, data, 0, whole);
  const rest = data.length - whole;
  const tail = new Uint8Array(rest < 56 ? 64 : 128);
  tail.set(data.subarray(whole));
  tail[rest] = 0x80;
  const bits = (prefixLength + data.length) * 8;
  const view = new DataView(tail.buffer);
  view.setUint32(tail.length - 8, Math.floor(bits / 0x100000000));
  view.setUint32(tail.length - 4, bits >>> 0);
  compress(st, w, tail, 0, tail.length);
  const out = new Uint8Array(32);
  const ov = new DataView(out.buffer);
  for (let i = 0; i < 8; i++) ov.setInt32(i * 4, st[i]);
  return out;
}

const utf8 = new TextEncoder();

function bytesOf(data: Uint8Array | string): Uint8Array {
  return typeof data === "string" ? utf8.encode(data) : data;
}

/**
 * SHA-256 of `data` (a string is hashed as UTF-8).
 *
 * @example
 * ```ts
 * toHex(sha256("")); // "e3b0c442...b855"
 * ```
 */
export function sha256(data: Uint8Array | string): Uint8Array {
  return finish(IV, 0, bytesOf(data));
}

/** A key prepared for repeated HMAC-SHA256: the inner and outer pad states, precomputed. */
export interface HmacKey {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

/**
 * Prepares `key` for HMAC-SHA256, so that each later {@linkcode hmac} costs only the message's
 * blocks plus one.
 *
 * @example
 * ```ts
 * const key = hmacKey("key");
 * toHex(hmac(key, "The quick brown fox jumps over the lazy dog"));
 * // "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
 * ```
 */
export function hmacKey(key: Uint8Array | string): HmacKey {
  let k = bytesOf(key);
  if (k.length > 64) k = sha256(k);
  const pad = new Uint8Array(64);
  const w = new Int32Array(64);
  pad.fill(0x36);
  for (let i = 0; i < k.length; i++) pad[i] ^= k[i];
  const inner = IV.slice();
  compress(inner, w, pad, 0, 64);
  pad.fill(0x5c);
  for (let i = 0; i < k.length; i++) pad[i] ^= k[i];
  const outer = IV.slice();
  compress(outer, w, pad, 0, 64);
  return { inner, outer };
}

/** HMAC-SHA256 of `message` (a string is taken as UTF-8) under a prepared key. */
export function hmac(key: HmacKey, message: Uint8Array | string): Uint8Array {
  return finish(key.outer, 64, finish(key.inner, 64, bytesOf(message)));
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

/**
 * Lower-case hex of `bytes`.
 *
 * @example
 * ```ts
 * toHex(new Uint8Array([0, 255])); // "00ff"
 * ```
 */
export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (let i = 0; i < bytes.length; i++) out += HEX[bytes[i]];
  return out;
}
