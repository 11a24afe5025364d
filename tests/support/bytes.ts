/**
 * Byte helpers for tests that speak raw HTTP/1.1 over TCP (where fetch would normalise the
 * request target or hide how a body ended).
 *
 * @module
 */

/** Index of `needle` in `haystack` from `from`, or -1. */
export function indexOfBytes(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i <= haystack.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** The chunks, one after the other. */
export function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

const CRLF = new TextEncoder().encode("\r\n");

/**
 * A chunked body -> its bytes, and whether the last (zero) chunk was there: a body that breaks
 * off, or has a bad chunk size, is `complete: false`.
 */
export function dechunk(body: Uint8Array): { bytes: Uint8Array; complete: boolean } {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < body.length) {
    const eol = indexOfBytes(body, CRLF, at);
    if (eol < 0) break;
    const size = parseInt(new TextDecoder().decode(body.subarray(at, eol)), 16);
    if (!(size >= 0)) break;
    if (size === 0) return { bytes: concat(parts), complete: true };
    parts.push(body.subarray(eol + 2, Math.min(body.length, eol + 2 + size)));
    at = eol + 2 + size + 2;
  }
  return { bytes: concat(parts), complete: false };
}
