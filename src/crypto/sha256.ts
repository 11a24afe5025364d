/**
 * Synchronous SHA-256 and HMAC-SHA256 in plain TypeScript (FIPS 180-4, RFC 2104).
 *
 * Why not WebCrypto: every awaited `crypto.subtle` call costs tens of microseconds of scheduling,
 * and one signature needs several. Hashing a few hundred bytes here takes a microsecond or two,
 * so signing stays synchronous and fast. `tests/sha256_test.ts` proves the results equal
 * WebCrypto's.
 *
 * Speed notes (see bench/README.md): the compression function runs eight rounds per loop turn
 * with the working variables renamed instead of moved, and keeps every sum in int32 range; text
 * is UTF-8 encoded natively (`encodeInto`) into a reusable buffer and padded in place; digests go
 * straight from the state words to hex.
 *
 * Module state: three scratch buffers (`W`, `STATE`, `scratch`). Every function here is
 * synchronous and calls nothing that could re-enter it, so two calls never interleave; each call
 * overwrites the scratch it reads, so nothing carries over from one call to the next; and no
 * result aliases a scratch buffer (digests are fresh arrays or strings).
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

/** Message schedule, reused by every compression. */
const W = new Int32Array(64);
/** The running hash state of the call in progress. */
const STATE = new Int32Array(8);
/** UTF-8 of the text being hashed, with room for its padding; grown up to `MAX_SCRATCH`. */
let scratch = new Uint8Array(1024);
/** Larger inputs get a buffer of their own, so that the module does not hold on to megabytes. */
const MAX_SCRATCH = 1 << 16;
const utf8 = new TextEncoder();

/** Runs the compression function over whole 64-byte blocks of `data` from `offset` to `end`. */
function compress(state: Int32Array, data: Uint8Array, offset: number, end: number): void {
  const w = W;
  let h0 = state[0], h1 = state[1], h2 = state[2], h3 = state[3];
  let h4 = state[4], h5 = state[5], h6 = state[6], h7 = state[7];
  for (let p = offset; p < end; p += 64) {
    for (let i = 0, j = p; i < 16; i++, j += 4) {
      w[i] = (data[j] << 24) | (data[j + 1] << 16) | (data[j + 2] << 8) | data[j + 3];
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15], y = w[i - 2];
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (((w[i - 16] + s0) | 0) + ((w[i - 7] + s1) | 0)) | 0;
    }
    let a = h0, b = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7, t1 = 0, t2 = 0;
    // Eight rounds per turn: round r's (a..h) are the variables rotated right by r, so no
    // variable is moved; after eight rounds every name holds its own role again.
    for (let i = 0; i < 64; i += 8) {
      t1 =
        ((h + (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7)))) | 0) +
          (g ^ (e & (f ^ g))) + ((K[i + 0] + w[i + 0]) | 0) | 0;
      t2 = (((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) +
          ((a & b) | (c & (a | b))) | 0;
      d = (d + t1) | 0;
      h = (t1 + t2) | 0;
      t1 =
        ((g + (((d >>> 6) | (d << 26)) ^ ((d >>> 11) | (d << 21)) ^ ((d >>> 25) | (d << 7)))) | 0) +
          (f ^ (d & (e ^ f))) + ((K[i + 1] + w[i + 1]) | 0) | 0;
      t2 = (((h >>> 2) | (h << 30)) ^ ((h >>> 13) | (h << 19)) ^ ((h >>> 22) | (h << 10))) +
          ((h & a) | (b & (h | a))) | 0;
      c = (c + t1) | 0;
      g = (t1 + t2) | 0;
      t1 =
        ((f + (((c >>> 6) | (c << 26)) ^ ((c >>> 11) | (c << 21)) ^ ((c >>> 25) | (c << 7)))) | 0) +
          (e ^ (c & (d ^ e))) + ((K[i + 2] + w[i + 2]) | 0) | 0;
      t2 = (((g >>> 2) | (g << 30)) ^ ((g >>> 13) | (g << 19)) ^ ((g >>> 22) | (g << 10))) +
          ((g & h) | (a & (g | h))) | 0;
      b = (b + t1) | 0;
      f = (t1 + t2) | 0;
      t1 =
        ((e + (((b >>> 6) | (b << 26)) ^ ((b >>> 11) | (b << 21)) ^ ((b >>> 25) | (b << 7)))) | 0) +
          (d ^ (b & (c ^ d))) + ((K[i + 3] + w[i + 3]) | 0) | 0;
      t2 = (((f >>> 2) | (f << 30)) ^ ((f >>> 13) | (f << 19)) ^ ((f >>> 22) | (f << 10))) +
          ((f & g) | (h & (f | g))) | 0;
      a = (a + t1) | 0;
      e = (t1 + t2) | 0;
      t1 =
        ((d + (((a >>> 6) | (a << 26)) ^ ((a >>> 11) | (a << 21)) ^ ((a >>> 25) | (a << 7)))) | 0) +
          (c ^ (a & (b ^ c))) + ((K[i + 4] + w[i + 4]) | 0) | 0;
      t2 = (((e >>> 2) | (e << 30)) ^ ((e >>> 13) | (e << 19)) ^ ((e >>> 22) | (e << 10))) +
          ((e & f) | (g & (e | f))) | 0;
      h = (h + t1) | 0;
      d = (t1 + t2) | 0;
      t1 =
        ((c + (((h >>> 6) | (h << 26)) ^ ((h >>> 11) | (h << 21)) ^ ((h >>> 25) | (h << 7)))) | 0) +
          (b ^ (h & (a ^ b))) + ((K[i + 5] + w[i + 5]) | 0) | 0;
      t2 = (((d >>> 2) | (d << 30)) ^ ((d >>> 13) | (d << 19)) ^ ((d >>> 22) | (d << 10))) +
          ((d & e) | (f & (d | e))) | 0;
      g = (g + t1) | 0;
      c = (t1 + t2) | 0;
      t1 =
        ((b + (((g >>> 6) | (g << 26)) ^ ((g >>> 11) | (g << 21)) ^ ((g >>> 25) | (g << 7)))) | 0) +
          (a ^ (g & (h ^ a))) + ((K[i + 6] + w[i + 6]) | 0) | 0;
      t2 = (((c >>> 2) | (c << 30)) ^ ((c >>> 13) | (c << 19)) ^ ((c >>> 22) | (c << 10))) +
          ((c & d) | (e & (c | d))) | 0;
      f = (f + t1) | 0;
      b = (t1 + t2) | 0;
      t1 =
        ((a + (((f >>> 6) | (f << 26)) ^ ((f >>> 11) | (f << 21)) ^ ((f >>> 25) | (f << 7)))) | 0) +
          (h ^ (f & (g ^ h))) + ((K[i + 7] + w[i + 7]) | 0) | 0;
      t2 = (((b >>> 2) | (b << 30)) ^ ((b >>> 13) | (b << 19)) ^ ((b >>> 22) | (b << 10))) +
          ((b & c) | (d & (b | c))) | 0;
      e = (e + t1) | 0;
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
 * Pads the message held in `buf[0, length)` (after `prefix` bytes already absorbed into `state`)
 * and compresses it. `buf` must have 72 bytes of room after `length`.
 */
function padAndCompress(state: Int32Array, buf: Uint8Array, length: number, prefix: number) {
  const end = (length + 72) & ~63;
  buf[length] = 0x80;
  buf.fill(0, length + 1, end - 5);
  const bits = (prefix + length) * 8;
  buf[end - 5] = bits / 0x100000000; // bits < 2^40 for any input that fits in memory
  buf[end - 4] = bits >>> 24;
  buf[end - 3] = bits >>> 16;
  buf[end - 2] = bits >>> 8;
  buf[end - 1] = bits;
  compress(state, buf, 0, end);
}

/** Absorbs all of `data` (text as UTF-8) into `state`, after `prefix` bytes, and finishes it. */
function absorb(state: Int32Array, data: Uint8Array | string, prefix: number): void {
  if (typeof data === "string") {
    const n = data.length;
    const need = n * 3 + 72; // a UTF-16 code unit is at most 3 bytes of UTF-8
    let buf = scratch;
    if (need > buf.length) {
      buf = need <= MAX_SCRATCH ? (scratch = new Uint8Array(MAX_SCRATCH)) : new Uint8Array(need);
    }
    padAndCompress(state, buf, utf8.encodeInto(data, buf).written, prefix);
    return;
  }
  const length = data.length;
  const whole = length - (length & 63);
  compress(state, data, 0, whole);
  const tail = scratch;
  tail.set(data.subarray(whole));
  padAndCompress(state, tail, length - whole, prefix + whole);
}

function digestBytes(state: Int32Array): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0, j = 0; i < 8; i++, j += 4) {
    const v = state[i];
    out[j] = v >>> 24;
    out[j + 1] = v >>> 16;
    out[j + 2] = v >>> 8;
    out[j + 3] = v;
  }
  return out;
}

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, "0"));

/** Char codes of the lower-case hex digits. */
const X = Array.from("0123456789abcdef", (c) => c.charCodeAt(0));

/** The state as 64 lower-case hex digits, in one call (faster than concatenating pieces). */
function digestHex(state: Int32Array): string {
  const a = state[0], b = state[1], c = state[2], d = state[3];
  const e = state[4], f = state[5], g = state[6], h = state[7];
  return String.fromCharCode(
    X[a >>> 28],
    X[(a >>> 24) & 15],
    X[(a >>> 20) & 15],
    X[(a >>> 16) & 15],
    X[(a >>> 12) & 15],
    X[(a >>> 8) & 15],
    X[(a >>> 4) & 15],
    X[a & 15],
    X[b >>> 28],
    X[(b >>> 24) & 15],
    X[(b >>> 20) & 15],
    X[(b >>> 16) & 15],
    X[(b >>> 12) & 15],
    X[(b >>> 8) & 15],
    X[(b >>> 4) & 15],
    X[b & 15],
    X[c >>> 28],
    X[(c >>> 24) & 15],
    X[(c >>> 20) & 15],
    X[(c >>> 16) & 15],
    X[(c >>> 12) & 15],
    X[(c >>> 8) & 15],
    X[(c >>> 4) & 15],
    X[c & 15],
    X[d >>> 28],
    X[(d >>> 24) & 15],
    X[(d >>> 20) & 15],
    X[(d >>> 16) & 15],
    X[(d >>> 12) & 15],
    X[(d >>> 8) & 15],
    X[(d >>> 4) & 15],
    X[d & 15],
    X[e >>> 28],
    X[(e >>> 24) & 15],
    X[(e >>> 20) & 15],
    X[(e >>> 16) & 15],
    X[(e >>> 12) & 15],
    X[(e >>> 8) & 15],
    X[(e >>> 4) & 15],
    X[e & 15],
    X[f >>> 28],
    X[(f >>> 24) & 15],
    X[(f >>> 20) & 15],
    X[(f >>> 16) & 15],
    X[(f >>> 12) & 15],
    X[(f >>> 8) & 15],
    X[(f >>> 4) & 15],
    X[f & 15],
    X[g >>> 28],
    X[(g >>> 24) & 15],
    X[(g >>> 20) & 15],
    X[(g >>> 16) & 15],
    X[(g >>> 12) & 15],
    X[(g >>> 8) & 15],
    X[(g >>> 4) & 15],
    X[g & 15],
    X[h >>> 28],
    X[(h >>> 24) & 15],
    X[(h >>> 20) & 15],
    X[(h >>> 16) & 15],
    X[(h >>> 12) & 15],
    X[(h >>> 8) & 15],
    X[(h >>> 4) & 15],
    X[h & 15],
  );
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
  STATE.set(IV);
  absorb(STATE, data, 0);
  return digestBytes(STATE);
}

/**
 * Lower-case hex SHA-256 of `data` (a string is hashed as UTF-8); same as
 * `toHex(sha256(data))`, without the intermediate bytes.
 *
 * @example
 * ```ts
 * sha256Hex("abc"); // "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
 * ```
 */
export function sha256Hex(data: Uint8Array | string): string {
  STATE.set(IV);
  absorb(STATE, data, 0);
  return digestHex(STATE);
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
  let k = typeof key === "string" ? utf8.encode(key) : key;
  if (k.length > 64) k = sha256(k);
  const pad = new Uint8Array(64);
  pad.fill(0x36);
  for (let i = 0; i < k.length; i++) pad[i] ^= k[i];
  const inner = IV.slice();
  compress(inner, pad, 0, 64);
  pad.fill(0x5c);
  for (let i = 0; i < k.length; i++) pad[i] ^= k[i];
  const outer = IV.slice();
  compress(outer, pad, 0, 64);
  return { inner, outer };
}

/** Leaves HMAC(key, message) in `STATE`. */
function hmacState(key: HmacKey, message: Uint8Array | string): void {
  STATE.set(key.inner);
  absorb(STATE, message, 64);
  // The outer hash reads one block: the inner digest, then the padding of 64 + 32 bytes.
  const block = scratch;
  for (let i = 0, j = 0; i < 8; i++, j += 4) {
    const v = STATE[i];
    block[j] = v >>> 24;
    block[j + 1] = v >>> 16;
    block[j + 2] = v >>> 8;
    block[j + 3] = v;
  }
  STATE.set(key.outer);
  padAndCompress(STATE, block, 32, 64);
}

/**
 * HMAC-SHA256 of `message` (a string is taken as UTF-8) under a prepared key.
 *
 * @example
 * ```ts
 * toHex(hmac(hmacKey("key"), "message"));
 * ```
 */
export function hmac(key: HmacKey, message: Uint8Array | string): Uint8Array {
  hmacState(key, message);
  return digestBytes(STATE);
}

/**
 * Lower-case hex HMAC-SHA256 of `message` under a prepared key; same as
 * `toHex(hmac(key, message))`, without the intermediate bytes.
 *
 * @example
 * ```ts
 * hmacHex(hmacKey("key"), "The quick brown fox jumps over the lazy dog");
 * // "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
 * ```
 */
export function hmacHex(key: HmacKey, message: Uint8Array | string): string {
  hmacState(key, message);
  return digestHex(STATE);
}

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
