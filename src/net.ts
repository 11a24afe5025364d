/**
 * Client addresses: IPv4/IPv6 CIDR lists, and the address a request comes from, taking
 * `X-Forwarded-For` from trusted proxies only. Pure.
 *
 * @module
 */

/** A parsed CIDR block: the address as 16 bytes (IPv4 mapped into IPv6) and a prefix length. */
export interface Cidr {
  readonly bytes: Uint8Array;
  readonly bits: number;
  /** As written, for messages and logs. */
  readonly text: string;
}

/**
 * Parses an IPv4 or IPv6 address (`::ffff:a.b.c.d` and bracketed forms included) into 16 bytes,
 * IPv4 as `::ffff:a.b.c.d`; undefined when it is not one.
 *
 * @example
 * ```ts
 * parseIp("10.0.0.1")?.[15]; // 1
 * parseIp("[::1]")?.[15]; // 1
 * ```
 */
export function parseIp(text: string): Uint8Array | undefined {
  let s = text.trim();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  const zone = s.indexOf("%");
  if (zone >= 0) s = s.slice(0, zone);
  const v4 = parseIpv4(s);
  if (v4) return mapped(v4);
  if (!s.includes(":")) return undefined;
  return parseIpv6(s);
}

function parseIpv4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p.startsWith("0")) || Number(p) > 255) {
      return undefined;
    }
    out.push(Number(p));
  }
  return out;
}

function mapped(v4: number[]): Uint8Array {
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(v4, 12);
  return out;
}

function parseIpv6(s: string): Uint8Array | undefined {
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const out: number[] = [];
    const parts = half.split(":");
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (i === parts.length - 1 && p.includes(".")) {
        const v4 = parseIpv4(p);
        if (!v4) return undefined;
        out.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return undefined;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (!head || !tail) return undefined;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined;
  const all = [...head, ...new Array(halves.length === 2 ? missing : 0).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[i * 2] = g >> 8;
    out[i * 2 + 1] = g & 0xff;
  });
  return out;
}

/**
 * Parses a comma-separated list of CIDR blocks (`10.0.0.0/8, ::1/128, 192.168.1.7`; an address
 * alone is a block of one), or answers the entries that are not blocks.
 *
 * @example
 * ```ts
 * parseCidrList("10.0.0.0/8, ::1"); // [{ text: "10.0.0.0/8", ... }, { text: "::1", ... }]
 * parseCidrList("10.0.0.0/33"); // { bad: ["10.0.0.0/33"] }
 * ```
 */
export function parseCidrList(list: string): Cidr[] | { bad: string[] } {
  const out: Cidr[] = [];
  const bad: string[] = [];
  for (const raw of list.split(",")) {
    const text = raw.trim();
    if (text === "") continue;
    const slash = text.indexOf("/");
    const bytes = parseIp(slash < 0 ? text : text.slice(0, slash));
    const v4 = parseIpv4(slash < 0 ? text : text.slice(0, slash)) !== undefined;
    const lengthText = slash < 0 ? undefined : text.slice(slash + 1);
    const max = v4 ? 32 : 128;
    const length = lengthText === undefined ? max : Number(lengthText);
    if (
      !bytes || (lengthText !== undefined && !/^\d{1,3}$/.test(lengthText)) || length > max
    ) {
      bad.push(text);
      continue;
    }
    out.push({ bytes, bits: v4 ? length + 96 : length, text });
  }
  return bad.length > 0 ? { bad } : out;
}

/** Whether an address (16 bytes) falls in any of the blocks. */
export function inCidrs(address: Uint8Array, cidrs: readonly Cidr[]): boolean {
  return cidrs.some((c) => {
    for (let bit = 0; bit < c.bits; bit += 8) {
      const left = c.bits - bit;
      const mask = left >= 8 ? 0xff : (0xff << (8 - left)) & 0xff;
      const i = bit / 8;
      if ((address[i] & mask) !== (c.bytes[i] & mask)) return false;
    }
    return true;
  });
}

/** Whether an address (text, possibly unknown) is in the blocks; an unknown one is not. */
export function isAllowed(address: string | undefined, cidrs: readonly Cidr[]): boolean {
  const bytes = address === undefined ? undefined : parseIp(address);
  return bytes !== undefined && inCidrs(bytes, cidrs);
}

/**
 * The address a request comes from: the socket's peer, or, when that peer is a trusted proxy,
 * the rightmost `X-Forwarded-For` entry that is not itself a trusted proxy (entries left of it
 * were written by the client and prove nothing). Undefined when the socket address is unknown
 * or an entry that must be believed is not an address.
 *
 * @example
 * ```ts
 * const trusted = parseCidrList("10.0.0.0/8") as Cidr[];
 * clientAddress("10.0.0.5", "203.0.113.7, 10.0.0.9", trusted); // "203.0.113.7"
 * clientAddress("198.51.100.1", "203.0.113.7", trusted); // "198.51.100.1"
 * ```
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | null,
  trusted: readonly Cidr[],
): string | undefined {
  if (peer === undefined) return undefined;
  // Without trusted proxies the socket's peer is the answer (parsed only where it is compared).
  if (trusted.length === 0) return peer;
  const peerBytes = parseIp(peer);
  if (!peerBytes) return undefined;
  if (!inCidrs(peerBytes, trusted) || !forwardedFor) return peer;
  const hops = forwardedFor.split(",").map((h) => h.trim()).filter((h) => h !== "");
  let address = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const bytes = parseIp(hops[i]);
    if (!bytes) return undefined;
    address = hops[i];
    if (!inCidrs(bytes, trusted)) break;
  }
  return address;
}
