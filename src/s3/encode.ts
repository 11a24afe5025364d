/**
 * The one canonical encoding of S3 keys and query components (RFC 3986 unreserved set kept,
 * upper-case hex, UTF-8), and strict percent-decoding. Pure functions.
 *
 * @module
 */

const HEX = "0123456789ABCDEF";
const UNRESERVED = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  if (/[A-Za-z0-9\-_.~]/.test(ch)) UNRESERVED[c] = 1;
}
const SLASH = 0x2f;
const utf8 = new TextEncoder();

function encode(text: string, keepSlash: boolean): string {
  // Fast path: nothing to escape.
  let i = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 128 || (UNRESERVED[c] === 0 && !(keepSlash && c === SLASH))) break;
  }
  if (i === text.length) return text;
  let out = text.slice(0, i);
  const bytes = utf8.encode(text.slice(i));
  for (let j = 0; j < bytes.length; j++) {
    const b = bytes[j];
    if (b < 128 && (UNRESERVED[b] === 1 || (keepSlash && b === SLASH))) {
      out += String.fromCharCode(b);
    } else {
      out += "%" + HEX[b >> 4] + HEX[b & 15];
    }
  }
  return out;
}

/**
 * Encodes an S3 object key (or any path) for the wire and for signing: every byte outside
 * `A-Z a-z 0-9 - _ . ~` is `%XX` with upper-case hex, and `/` is kept.
 * Lone surrogates are encoded as U+FFFD by `TextEncoder`; callers that take keys from
 * untrusted input validate them first (see {@linkcode decodeStrict}).
 *
 * @example
 * ```ts
 * encodeKeyPath("dir/a b+c.txt"); // "dir/a%20b%2Bc.txt"
 * ```
 */
export function encodeKeyPath(key: string): string {
  return encode(key, true);
}

/**
 * Encodes one query-string name or value (RFC 3986 unreserved kept, `/` encoded as `%2F`).
 *
 * @example
 * ```ts
 * encodeQueryComponent("a/b c"); // "a%2Fb%20c"
 * ```
 */
export function encodeQueryComponent(text: string): string {
  return encode(text, false);
}

const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes `text` exactly once and strictly: a `%` not followed by two hex digits, or a
 * result that is not valid UTF-8, returns `undefined`. With `plusIsSpace`, a raw `+` decodes to a
 * space (form and query semantics); otherwise a `+` stays a plus (path semantics).
 *
 * @example
 * ```ts
 * decodeStrict("a%2Bb+c"); // "a+b+c"
 * decodeStrict("a+b", true); // "a b"
 * decodeStrict("%C3"); // undefined
 * ```
 */
export function decodeStrict(text: string, plusIsSpace = false): string | undefined {
  // A lone surrogate is not text: it has no UTF-8 form to sign or to send.
  if (!text.isWellFormed()) return undefined;
  if (text.indexOf("%") === -1) {
    return plusIsSpace && text.indexOf("+") !== -1 ? text.replaceAll("+", " ") : text;
  }
  const source = utf8.encode(text);
  const out = new Uint8Array(source.length);
  let n = 0;
  for (let i = 0; i < source.length; i++) {
    const b = source[i];
    if (b === 0x25) {
      if (i + 2 >= source.length) return undefined;
      const hi = hexValue(source[i + 1]);
      const lo = hexValue(source[i + 2]);
      if (hi < 0 || lo < 0) return undefined;
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else if (b === 0x2b && plusIsSpace) {
      out[n++] = 0x20;
    } else {
      out[n++] = b;
    }
  }
  try {
    return fatal.decode(out.subarray(0, n));
  } catch {
    return undefined;
  }
}
