/**
 * The keys file of the `sigv4` method (`AUTH_SIGV4_KEYS_FILE`): one proxy-issued S3 key a line,
 * `ACCESS_KEY_ID SECRET_ACCESS_KEY [PREFIX ...]`, each PREFIX a `bucket/key` prefix the key is
 * limited to (`%XX` escapes decoded, so a space is `%20` and a `%` is `%25`); `#` comments and
 * blank lines. A comment line right above a key is its label (what `deno task keys add NAME`
 * writes). Parsing, the permission check, new random keys and the line format, shared by the
 * proxy and the `keys` CLI. Pure.
 *
 * @module
 */

import { decodeStrict } from "../s3/encode.ts";
import { isBucketName } from "../s3/key.ts";

/** One key of the file. */
export interface KeyEntry {
  readonly id: string;
  readonly secret: string;
  /** `bucket/key` prefixes the key may read and list under; undefined: the whole route. */
  readonly prefixes?: readonly string[];
  /** 1-based line number. */
  readonly line: number;
  /** The comment right above the line, without `#`, when there is one. */
  readonly label?: string;
}

/** The keys of a file, and every problem found (each naming its line, never a secret). */
export interface ParsedKeys {
  readonly keys: readonly KeyEntry[];
  readonly errors: readonly string[];
}

const KEY_ID = /^[A-Za-z0-9]{16,128}$/;
const SECRET = /^[\x21-\x7e]{16,128}$/;
const FORMAT = "expected ACCESS_KEY_ID SECRET_ACCESS_KEY [BUCKET/PREFIX ...]";

/**
 * Whether `id` can be a key id of the file: 16 to 128 letters and digits (as AWS key ids).
 *
 * @example
 * ```ts
 * isProxyKeyId("AKPXABCDEFGHIJKLMNOP"); // true
 * ```
 */
export function isProxyKeyId(id: string): boolean {
  return KEY_ID.test(id);
}

/**
 * A PREFIX as written in the file (escapes decoded), or why it is not one.
 *
 * @example
 * ```ts
 * parsePrefix("artifacts/nightly%20builds/"); // { prefix: "artifacts/nightly builds/" }
 * ```
 */
export function parsePrefix(text: string): { prefix: string } | { error: string } {
  const prefix = decodeStrict(text);
  if (prefix === undefined) return { error: `prefix "${text}" has a bad %-escape` };
  const slash = prefix.indexOf("/");
  if (slash < 0) {
    return { error: `prefix "${text}" is not BUCKET/KEY-PREFIX (write "${text}/" for a bucket)` };
  }
  if (!isBucketName(prefix.slice(0, slash))) {
    return { error: `prefix "${text}" does not start with a bucket name` };
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(prefix)) {
    return { error: `prefix "${text}" holds a control character` };
  }
  return { prefix };
}

/**
 * A prefix as written in the file: `%`, white space and control characters escaped.
 *
 * @example
 * ```ts
 * formatPrefix("docs/100% done/"); // "docs/100%25%20done/"
 * ```
 */
export function formatPrefix(prefix: string): string {
  return prefix.replace(
    // deno-lint-ignore no-control-regex
    /[%\s\u0000-\u001f\u007f]/g,
    (c) =>
      Array.from(
        new TextEncoder().encode(c),
        (b) => "%" + b.toString(16).toUpperCase().padStart(2, "0"),
      ).join(""),
  );
}

/**
 * Parses a keys file. A bad line is reported by its number and what is wrong, never its text
 * (it may hold a secret); a key id seen twice is an error.
 *
 * @example
 * ```ts
 * parseKeysFile("# ci\nAKPXABCDEFGHIJKLMNOP s3cr3t-s3cr3t-s3cr3t artifacts/nightly/\n");
 * // { keys: [{ id: "AKPXABCDEFGHIJKLMNOP", secret: "...", prefixes: ["artifacts/nightly/"],
 * //            line: 2, label: "ci" }], errors: [] }
 * ```
 */
export function parseKeysFile(text: string): ParsedKeys {
  const keys: KeyEntry[] = [];
  const errors: string[] = [];
  const seen = new Map<string, number>();
  let label: string | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const n = i + 1;
    const line = lines[i].trim();
    if (line === "") {
      label = undefined;
      continue;
    }
    if (line.startsWith("#")) {
      label = line.slice(1).trim() || undefined;
      continue;
    }
    const above = label;
    label = undefined;
    const [id, secret, ...rest] = line.split(/\s+/);
    if (secret === undefined) {
      errors.push(`line ${n}: ${FORMAT}`);
      continue;
    }
    if (!KEY_ID.test(id)) {
      errors.push(`line ${n}: the access key id is not 16 to 128 letters and digits`);
      continue;
    }
    if (!SECRET.test(secret)) {
      errors.push(
        `line ${n}: the secret of ${id} is not 16 to 128 printable ASCII characters`,
      );
      continue;
    }
    const prefixes: string[] = [];
    let bad = false;
    for (const raw of rest) {
      const parsed = parsePrefix(raw);
      if ("error" in parsed) {
        errors.push(`line ${n}: ${parsed.error}`);
        bad = true;
      } else {
        prefixes.push(parsed.prefix);
      }
    }
    if (bad) continue;
    const first = seen.get(id);
    if (first !== undefined) {
      errors.push(`line ${n}: the access key id ${id} is already on line ${first}`);
      continue;
    }
    seen.set(id, n);
    keys.push({
      id,
      secret,
      line: n,
      ...(prefixes.length > 0 ? { prefixes } : {}),
      ...(above !== undefined ? { label: above } : {}),
    });
  }
  return { keys, errors };
}

/**
 * Why a keys file of this mode must not be used (readable or writable by group or others), or
 * undefined when it is private (or its mode is unknown).
 *
 * @example
 * ```ts
 * keysFileModeProblem("/etc/proxy/keys", 0o100644);
 * // "/etc/proxy/keys holds secrets but is accessible by group or others (mode 0644); ..."
 * ```
 */
export function keysFileModeProblem(path: string, mode: number | undefined): string | undefined {
  if (mode === undefined || (mode & 0o077) === 0) return undefined;
  return `${path} holds secrets but is accessible by group or others (mode ` +
    `${(mode & 0o777).toString(8).padStart(4, "0")}); make it private, as ssh requires of a ` +
    `key file: chmod 600 ${path}`;
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/**
 * A new key pair from `random` bytes (`crypto.getRandomValues`): the id `AKPX` and 16 base32
 * characters (80 bits), the secret 40 characters of the base64 alphabet (240 bits). Each
 * character takes one byte modulo 32 or 64, which divide 256: no bias.
 *
 * @example
 * ```ts
 * newKeyPair((n) => crypto.getRandomValues(new Uint8Array(n)));
 * // { id: "AKPX7Q2M...", secret: "q+8Z..." }
 * ```
 */
export function newKeyPair(random: (n: number) => Uint8Array): { id: string; secret: string } {
  const idBytes = random(16);
  const secretBytes = random(40);
  let id = "AKPX";
  for (const b of idBytes) id += BASE32[b & 31];
  let secret = "";
  for (const b of secretBytes) secret += SECRET_ALPHABET[b & 63];
  return { id, secret };
}

/**
 * The line of a key in the file.
 *
 * @example
 * ```ts
 * formatKeyLine("AKPXABCDEFGHIJKLMNOP", "secret...", ["artifacts/nightly/"]);
 * // "AKPXABCDEFGHIJKLMNOP secret... artifacts/nightly/"
 * ```
 */
export function formatKeyLine(id: string, secret: string, prefixes: readonly string[]): string {
  return [id, secret, ...prefixes.map(formatPrefix)].join(" ");
}
