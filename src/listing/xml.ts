/**
 * A small, strict, dependency-free XML parser for the two documents the listing needs from S3:
 * `ListBucketResult` (ListObjects V1 and V2) and `Error`. Pure functions; malformed input throws
 * a `SyntaxError` that says what and where, and never yields a partial model.
 *
 * What it accepts: an optional BOM and XML declaration (UTF-8 only, as the caller has already
 * decoded the body), comments and processing instructions, elements with attributes (namespace
 * prefixes and `xmlns` are accepted; elements are matched by local name), the five predefined
 * entities, decimal and hex character references (astral code points included), CDATA sections,
 * self-closing and empty elements, elements in any order, unknown elements (ignored).
 * What it rejects: a DOCTYPE (no DTDs, hence no entity expansion), unknown entities, mismatched
 * or unclosed tags, text or a second element after the root, `<` in attribute values, raw
 * control characters other than tab, LF and CR.
 *
 * Character references to C0 control characters (`&#x1;`) are accepted, as in XML 1.1: a key may
 * contain them and S3 writes them as references. Line ends in raw text are normalised (`CRLF` and
 * lone `CR` become `LF`) as XML requires; a CR written as `&#13;` stays a CR.
 *
 * @module
 */

import { decodeStrict } from "../s3/encode.ts";
import type { Listing, ListingFile, S3ErrorInfo } from "./model.ts";

/** An element of a parsed XML document: its qualified name, attributes and children. */
export interface XmlElement {
  /** The qualified name as written, e.g. `ListBucketResult` or `s3:Key`. */
  name: string;
  /** Attribute values, entity-decoded and normalised. */
  attributes: Record<string, string>;
  /** Child elements and text (adjacent text and CDATA are merged into one string). */
  children: (XmlElement | string)[];
}

function fail(message: string, at: number): never {
  throw new SyntaxError(`Malformed XML at offset ${at}: ${message}`);
}

const NAME = /[A-Za-z_:\u00C0-\uFFFF][A-Za-z0-9_:.\-\u00B7\u00C0-\uFFFF]*/y;
// Raw characters XML 1.0 forbids: C0 controls except tab, LF, CR; and U+FFFE, U+FFFF.
// deno-lint-ignore no-control-regex
const FORBIDDEN_RAW = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/;
const ENTITY = /&(?:(amp|lt|gt|quot|apos)|#([0-9]+)|#x([0-9A-Fa-f]+));/y;
const PREDEFINED: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function codePointAllowed(cp: number): boolean {
  return cp > 0 && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff) && cp !== 0xfffe &&
    cp !== 0xffff;
}

/** Decodes entity and character references in raw text that starts at `offset` in the source. */
function decodeReferences(raw: string, offset: number): string {
  let amp = raw.indexOf("&");
  if (amp === -1) return raw;
  let out = "";
  let last = 0;
  while (amp !== -1) {
    ENTITY.lastIndex = amp;
    const m = ENTITY.exec(raw);
    if (m === null) {
      const shown = raw.slice(amp, amp + 12).split(/[\s<]/)[0];
      fail(`invalid or unknown entity reference "${shown}"`, offset + amp);
    }
    out += raw.slice(last, amp);
    if (m[1] !== undefined) {
      out += PREDEFINED[m[1]];
    } else {
      const digits = m[2] ?? m[3];
      const cp = digits.length > 8 ? Infinity : parseInt(digits, m[2] !== undefined ? 10 : 16);
      if (!codePointAllowed(cp)) fail(`character reference "${m[0]}" is not allowed`, offset + amp);
      out += String.fromCodePoint(cp);
    }
    last = ENTITY.lastIndex;
    amp = raw.indexOf("&", last);
  }
  return out + raw.slice(last);
}

function normaliseLineEnds(text: string): string {
  return text.indexOf("\r") === -1 ? text : text.replace(/\r\n?/g, "\n");
}

/**
 * Parses an XML document into its root element. Throws a `SyntaxError` on anything malformed.
 *
 * @example
 * ```ts
 * const root = parseXml('<?xml version="1.0"?><a x="1"><b>t &amp; u</b></a>');
 * root.name; // "a"
 * root.attributes.x; // "1"
 * (root.children[0] as XmlElement).children[0]; // "t & u"
 * ```
 */
export function parseXml(xml: string): XmlElement {
  if (!xml.isWellFormed()) fail("the text contains a lone surrogate", 0);
  const bad = FORBIDDEN_RAW.exec(xml);
  if (bad !== null) {
    const hex = bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, "0");
    fail(`character U+${hex} is not allowed in XML`, bad.index);
  }
  const src = xml;
  const len = src.length;
  let i = src.charCodeAt(0) === 0xfeff ? 1 : 0;

  const skipSpace = () => {
    for (;;) {
      const c = src.charCodeAt(i);
      if (c !== 0x20 && c !== 0x0a && c !== 0x09 && c !== 0x0d) return;
      i++;
    }
  };
  const readName = (what: string): string => {
    const start = i;
    // Fast path for ASCII names; the regular expression decides the rest.
    let c = src.charCodeAt(i);
    if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) {
      do c = src.charCodeAt(++i); while (
        ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f ||
        c === 0x2d || c === 0x2e || c === 0x3a
      );
      if (c < 0x80 || Number.isNaN(c)) return src.slice(start, i);
      i = start;
    }
    NAME.lastIndex = i;
    const m = NAME.exec(src);
    if (m === null) fail(`expected ${what} name`, i);
    i = NAME.lastIndex;
    return m[0];
  };
  const skipComment = () => {
    const end = src.indexOf("--", i + 4);
    if (end === -1) fail("unterminated comment", i);
    if (src.charCodeAt(end + 2) !== 0x3e) fail('"--" is not allowed inside a comment', end);
    i = end + 3;
  };
  const skipPi = () => {
    const start = i;
    i += 2;
    const target = readName("processing instruction target");
    if (target.toLowerCase() === "xml") fail("XML declaration is only allowed at the start", start);
    const end = src.indexOf("?>", i);
    if (end === -1) fail("unterminated processing instruction", start);
    i = end + 2;
  };
  // Whitespace, comments and processing instructions outside the root element.
  const skipMisc = () => {
    for (;;) {
      skipSpace();
      if (src.startsWith("<!--", i)) skipComment();
      else if (src.startsWith("<?", i)) skipPi();
      else return;
    }
  };

  // XML declaration.
  if (src.startsWith("<?xml", i) && /[ \t\r\n?]/.test(src.charAt(i + 5))) {
    const end = src.indexOf("?>", i);
    if (end === -1) fail("unterminated XML declaration", i);
    const decl = src.slice(i + 5, end);
    if (!/^\s+version\s*=\s*(["'])1\.[01]\1/.test(decl)) fail("bad XML declaration version", i);
    const enc = /\sencoding\s*=\s*(["'])([^"']*)\1/.exec(decl);
    if (enc !== null && !/^utf-?8$/i.test(enc[2])) {
      fail(`unsupported encoding "${enc[2]}" (only UTF-8)`, i);
    }
    i = end + 2;
  }
  skipMisc();
  if (src.startsWith("<!DOCTYPE", i)) fail("DOCTYPE is not supported", i);
  if (src.charCodeAt(i) !== 0x3c) {
    fail(i >= len ? "no root element" : "expected the root element", i);
  }

  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  const addText = (text: string) => {
    const children = stack[stack.length - 1].children;
    const lastIndex = children.length - 1;
    if (lastIndex >= 0 && typeof children[lastIndex] === "string") {
      children[lastIndex] += text;
    } else {
      children.push(text);
    }
  };

  while (root === undefined) {
    if (i >= len) fail(`unclosed element <${stack[stack.length - 1].name}>`, i);
    if (src.charCodeAt(i) !== 0x3c) {
      // Text content.
      let end = src.indexOf("<", i);
      if (end === -1) end = len;
      const raw = src.slice(i, end);
      const cdataEnd = raw.indexOf("]]>");
      if (cdataEnd !== -1) fail('"]]>" is not allowed in text', i + cdataEnd);
      addText(decodeReferences(normaliseLineEnds(raw), i));
      i = end;
    } else if (src.startsWith("</", i)) {
      const start = i;
      i += 2;
      const name = readName("closing tag");
      skipSpace();
      if (src.charCodeAt(i) !== 0x3e) fail(`expected ">" to close </${name}>`, i);
      i++;
      const open = stack.pop();
      if (open === undefined || open.name !== name) {
        fail(`</${name}> does not match ${open ? `<${open.name}>` : "any open element"}`, start);
      }
      if (stack.length === 0) root = open;
    } else if (src.startsWith("<!--", i)) {
      skipComment();
    } else if (src.startsWith("<![CDATA[", i)) {
      if (stack.length === 0) fail("CDATA outside the root element", i);
      const end = src.indexOf("]]>", i + 9);
      if (end === -1) fail("unterminated CDATA section", i);
      addText(normaliseLineEnds(src.slice(i + 9, end)));
      i = end + 3;
    } else if (src.startsWith("<?", i)) {
      skipPi();
    } else if (src.startsWith("<!", i)) {
      fail("markup declarations are not supported", i);
    } else {
      // Start tag.
      const start = i;
      i++;
      const element: XmlElement = { name: readName("element"), attributes: {}, children: [] };
      for (;;) {
        const before = i;
        skipSpace();
        const c = src.charCodeAt(i);
        if (c === 0x3e) {
          i++;
          if (stack.length > 0) stack[stack.length - 1].children.push(element);
          stack.push(element);
          break;
        }
        if (c === 0x2f) {
          if (src.charCodeAt(i + 1) !== 0x3e) fail('expected ">" after "/"', i + 1);
          i += 2;
          if (stack.length > 0) stack[stack.length - 1].children.push(element);
          else root = element;
          break;
        }
        if (i >= len) fail(`unterminated start tag <${element.name}>`, start);
        if (i === before) fail(`expected whitespace before an attribute in <${element.name}>`, i);
        const attr = readName("attribute");
        skipSpace();
        if (src.charCodeAt(i) !== 0x3d) fail(`expected "=" after attribute ${attr}`, i);
        i++;
        skipSpace();
        const quote = src.charAt(i);
        if (quote !== '"' && quote !== "'") fail(`expected a quoted value for ${attr}`, i);
        const end = src.indexOf(quote, i + 1);
        if (end === -1) fail(`unterminated value of attribute ${attr}`, i);
        const raw = src.slice(i + 1, end);
        const lt = raw.indexOf("<");
        if (lt !== -1) fail(`"<" is not allowed in attribute ${attr}`, i + 1 + lt);
        if (Object.hasOwn(element.attributes, attr)) fail(`duplicate attribute ${attr}`, i);
        element.attributes[attr] = decodeReferences(
          normaliseLineEnds(raw).replace(/[\t\n]/g, " "),
          i + 1,
        );
        i = end + 1;
      }
    }
  }
  skipMisc();
  if (i < len) fail("content after the root element", i);
  return root;
}

function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(colon + 1);
}

function childElements(element: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const child of element.children) {
    if (typeof child !== "string") out.push(child);
  }
  return out;
}

/** The text of a leaf element; throws if it has child elements. */
function textOf(element: XmlElement): string {
  const children = element.children;
  if (children.length === 0) return "";
  if (children.length === 1 && typeof children[0] === "string") return children[0];
  let text = "";
  for (const child of element.children) {
    if (typeof child !== "string") {
      throw new SyntaxError(`<${element.name}> must contain text only, found <${child.name}>`);
    }
    text += child;
  }
  return text;
}

/** Collects the text of each single-occurrence child element of interest; rejects duplicates. */
function singles(element: XmlElement, wanted: ReadonlySet<string>): Map<string, string> {
  const found = new Map<string, string>();
  const children = element.children;
  for (let i = 0; i < children.length; i++) {
    const child = children[i];
    if (typeof child === "string") continue;
    const name = localName(child.name);
    if (!wanted.has(name)) continue;
    if (found.has(name)) throw new SyntaxError(`duplicate <${name}> in <${element.name}>`);
    found.set(name, textOf(child));
  }
  return found;
}

function parseInteger(text: string, what: string): number {
  const t = text.trim();
  if (!/^[0-9]+$/.test(t)) throw new SyntaxError(`<${what}> is not a non-negative integer: "${t}"`);
  const n = Number(t);
  if (!Number.isSafeInteger(n)) throw new SyntaxError(`<${what}> is too large: ${t}`);
  return n;
}

function parseBoolean(text: string, what: string): boolean {
  const t = text.trim();
  if (t === "true" || t === "1") return true;
  if (t === "false" || t === "0") return false;
  throw new SyntaxError(`<${what}> is not a boolean: "${t}"`);
}

/** Compares two strings in the order S3 lists keys: by their UTF-8 bytes. */
function compareUtf8(a: string, b: string): number {
  // UTF-16 code unit order equals code point (hence UTF-8) order except that surrogates
  // (astral code points) sort below U+E000..U+FFFF; compare by code point to fix that.
  const ai = a[Symbol.iterator]();
  const bi = b[Symbol.iterator]();
  for (;;) {
    const x = ai.next();
    const y = bi.next();
    if (x.done || y.done) return x.done ? (y.done ? 0 : -1) : 1;
    const d = x.value.codePointAt(0)! - y.value.codePointAt(0)!;
    if (d !== 0) return d;
  }
}

const TOP_LEVEL = new Set([
  "Name",
  "Prefix",
  "Delimiter",
  "EncodingType",
  "IsTruncated",
  "MaxKeys",
  "KeyCount",
  "Marker",
  "NextMarker",
  "ContinuationToken",
  "NextContinuationToken",
  "StartAfter",
]);
const CONTENTS = new Set(["Key", "LastModified", "ETag", "Size", "StorageClass"]);
const COMMON_PREFIXES = new Set(["Prefix"]);

/**
 * Parses an S3 `ListBucketResult` document (ListObjects V1 or V2) into a {@linkcode Listing}.
 *
 * With `<EncodingType>url</EncodingType>`, `Key`, `Prefix` (top level and in `CommonPrefixes`),
 * `Delimiter`, `StartAfter`, `Marker` and `NextMarker` are percent-decoded, strictly, and `+`
 * is decoded as a space. Why `+` is a space: Amazon S3 form-encodes these values. Measured
 * against AWS (brekkylab/backlot issue 178): key `a b.txt` is listed as `a+b.txt` and key
 * `a+b.txt` as `a%2Bb.txt`; the ceph s3-tests (`test_bucket_list_encoding_basic`) expect a
 * literal `+` as `%2B` and a space as `%20` from other servers. Either way a raw `+` in an
 * encoded value never stands for a plus, and AWS's own SDKs decode with form semantics
 * (botocore's `unquote_str` is `unquote_plus`). Continuation tokens are opaque and left as sent.
 *
 * Throws a `SyntaxError` on malformed XML, a root other than `ListBucketResult` (for an `Error`
 * document the message names its code), missing or invalid required fields (`IsTruncated`,
 * `Contents/Key`, `Contents/Size`), a bad percent-encoding, or a truncated page without a way
 * to the next one.
 *
 * @example
 * ```ts
 * const listing = parseListing(
 *   '<ListBucketResult><Name>b</Name><Prefix>a/</Prefix><KeyCount>1</KeyCount>' +
 *     "<IsTruncated>false</IsTruncated><Contents><Key>a/x.txt</Key><Size>3</Size></Contents>" +
 *     "<CommonPrefixes><Prefix>a/c/</Prefix></CommonPrefixes></ListBucketResult>",
 * );
 * listing.files[0].key; // "a/x.txt"
 * listing.folders; // ["a/c/"]
 * ```
 */
export function parseListing(xml: string): Listing {
  const root = parseXml(xml);
  const rootName = localName(root.name);
  if (rootName === "Error") {
    const { code, message } = errorInfo(root);
    throw new SyntaxError(`expected <ListBucketResult>, got an S3 error: ${code}: ${message}`);
  }
  if (rootName !== "ListBucketResult") {
    throw new SyntaxError(`expected <ListBucketResult>, got <${root.name}>`);
  }
  const top = singles(root, TOP_LEVEL);

  const encodingType = top.get("EncodingType")?.trim() ?? "";
  if (encodingType !== "" && encodingType.toLowerCase() !== "url") {
    throw new SyntaxError(`unsupported <EncodingType> "${encodingType}"`);
  }
  const urlEncoded = encodingType !== "";
  const decode = (value: string, what: string): string => {
    if (!urlEncoded) return value;
    const decoded = decodeStrict(value, true);
    if (decoded === undefined) throw new SyntaxError(`invalid URL-encoding in <${what}>: ${value}`);
    return decoded;
  };
  const optional = (name: string): string | undefined => {
    const value = top.get(name);
    return value === undefined ? undefined : decode(value, name);
  };

  const isTruncatedText = top.get("IsTruncated");
  if (isTruncatedText === undefined) throw new SyntaxError("missing <IsTruncated>");

  const files: ListingFile[] = [];
  const folders: string[] = [];
  for (const child of childElements(root)) {
    const name = localName(child.name);
    if (name === "Contents") {
      const f = singles(child, CONTENTS);
      const key = f.get("Key");
      if (key === undefined) throw new SyntaxError("<Contents> without <Key>");
      const size = f.get("Size");
      if (size === undefined) throw new SyntaxError("<Contents> without <Size>");
      const file: ListingFile = {
        key: decode(key, "Key"),
        size: parseInteger(size, "Size"),
        lastModified: f.get("LastModified")?.trim() ?? "",
        etag: f.get("ETag")?.trim() ?? "",
      };
      const storageClass = f.get("StorageClass")?.trim();
      if (storageClass) file.storageClass = storageClass;
      files.push(file);
    } else if (name === "CommonPrefixes") {
      const prefix = singles(child, COMMON_PREFIXES).get("Prefix");
      if (prefix === undefined) throw new SyntaxError("<CommonPrefixes> without <Prefix>");
      folders.push(decode(prefix, "Prefix"));
    }
  }

  const v2 = ["KeyCount", "ContinuationToken", "NextContinuationToken", "StartAfter"].some((n) =>
    top.has(n)
  );
  const listing: Listing = {
    version: v2 ? 2 : 1,
    bucket: top.get("Name") ?? "",
    prefix: optional("Prefix") ?? "",
    delimiter: optional("Delimiter") ?? "",
    isTruncated: parseBoolean(isTruncatedText, "IsTruncated"),
    folders,
    files,
  };
  const maxKeys = top.get("MaxKeys");
  if (maxKeys !== undefined) listing.maxKeys = parseInteger(maxKeys, "MaxKeys");
  if (v2) {
    const keyCount = top.get("KeyCount");
    if (keyCount !== undefined) listing.keyCount = parseInteger(keyCount, "KeyCount");
    const token = top.get("ContinuationToken");
    if (token !== undefined) listing.continuationToken = token;
    const next = top.get("NextContinuationToken");
    if (next !== undefined) listing.nextContinuationToken = next;
    const startAfter = optional("StartAfter");
    if (startAfter !== undefined) listing.startAfter = startAfter;
    if (listing.isTruncated && !listing.nextContinuationToken) {
      throw new SyntaxError("truncated ListObjectsV2 result without <NextContinuationToken>");
    }
  } else {
    const marker = optional("Marker");
    if (marker !== undefined) listing.marker = marker;
    let nextMarker = optional("NextMarker");
    if (listing.isTruncated && !nextMarker) {
      // S3: without NextMarker, the next page starts after the last key (or common prefix).
      const lastKey = files.length > 0 ? files[files.length - 1].key : undefined;
      const lastPrefix = folders.length > 0 ? folders[folders.length - 1] : undefined;
      nextMarker = lastKey === undefined
        ? lastPrefix
        : lastPrefix === undefined
        ? lastKey
        : compareUtf8(lastKey, lastPrefix) >= 0
        ? lastKey
        : lastPrefix;
      if (nextMarker === undefined) {
        throw new SyntaxError("truncated ListObjects result without keys or <NextMarker>");
      }
    }
    if (nextMarker !== undefined) listing.nextMarker = nextMarker;
  }
  return listing;
}

function errorInfo(root: XmlElement): S3ErrorInfo {
  const fields = singles(root, new Set(["Code", "Message"]));
  const code = fields.get("Code")?.trim();
  if (!code) throw new SyntaxError("S3 <Error> without <Code>");
  return { code, message: fields.get("Message")?.trim() ?? "" };
}

/**
 * Parses an S3 `Error` document into its code and message. Other fields (`RequestId`,
 * `StringToSign`, ...) are ignored. Throws a `SyntaxError` on malformed XML, another root
 * element, or a missing `Code`.
 *
 * @example
 * ```ts
 * parseS3Error(
 *   "<Error><Code>NoSuchBucket</Code><Message>The specified bucket does not exist</Message></Error>",
 * ); // { code: "NoSuchBucket", message: "The specified bucket does not exist" }
 * ```
 */
export function parseS3Error(xml: string): S3ErrorInfo {
  const root = parseXml(xml);
  if (localName(root.name) !== "Error") {
    throw new SyntaxError(`expected <Error>, got <${root.name}>`);
  }
  return errorInfo(root);
}
