/**
 * Small text helpers shared by the error responses, the listings, the CLIs and the credential
 * sources: markup escaping, base64, and shortening messages for logs.
 *
 * @module
 */

const ESCAPES: Readonly<Record<string, string>> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes text for XML or HTML element content and quoted attribute values.
 *
 * @example
 * ```ts
 * escapeMarkup(`<img src=x onerror="a('b')">&`);
 * // "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
 * ```
 */
export function escapeMarkup(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * Standard base64 (with padding) of some bytes.
 *
 * @example
 * ```ts
 * base64(new Uint8Array([1, 2, 3])); // "AQID"
 * ```
 */
export function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i++) binary += String.fromCharCode(bytes[i]);
  return btoa(binary);
}

/**
 * `text` cut to at most `limit` characters, with `...` when it was cut: for messages that go into
 * a log line or an error that wraps them.
 */
export function truncate(text: string, limit: number): string {
  return text.length > limit ? text.slice(0, limit) + "..." : text;
}

/** The message of any thrown value. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
