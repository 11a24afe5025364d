/**
 * A small, strict, dependency-free XML reader for the documents S3 and STS answer (listings,
 * error documents, `AssumeRoleWithWebIdentity`). Pure functions; malformed input throws a
 * `SyntaxError` that says what and where, and never yields a partial tree.
 *
 * What it accepts: an optional BOM and XML declaration (UTF-8 only, as the caller has already
 * decoded the body), comments and processing instructions, elements with attributes (namespace
 * prefixes and `xmlns` are accepted; callers match elements by {@linkcode localName}), the five
 * predefined entities, decimal and hex character references (astral code points included), CDATA
 * sections, self-closing and empty elements.
 * What it rejects: a DOCTYPE (no DTDs, hence no entity expansion), unknown entities, mismatched
 * or unclosed tags, text or a second element after the root, `<` in attribute values, raw
 * control characters other than tab, LF and CR.
 *
 * Character references to C0 control characters (`&#x1;`) are accepted, as in XML 1.1: an S3 key
 * may contain them and S3 writes them as references. Line ends in raw text are normalised (`CRLF`
 * and lone `CR` become `LF`) as XML requires; a CR written as `&#13;` stays a CR.
 *
 * @module
 */

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

/** Where the parser is in the source. */
interface Cursor {
  readonly src: string;
  readonly len: number;
  i: number;
}

function skipSpace(c: Cursor): void {
  for (;;) {
    const ch = c.src.charCodeAt(c.i);
    if (ch !== 0x20 && ch !== 0x0a && ch !== 0x09 && ch !== 0x0d) return;
    c.i++;
  }
}

function isAsciiLetter(ch: number): boolean {
  return (ch | 0x20) >= 0x61 && (ch | 0x20) <= 0x7a;
}

function readName(c: Cursor, what: string): string {
  const { src } = c;
  const start = c.i;
  // Fast path for ASCII names; the regular expression decides the rest.
  let ch = src.charCodeAt(c.i);
  if (isAsciiLetter(ch)) {
    do ch = src.charCodeAt(++c.i); while (
      isAsciiLetter(ch) || (ch >= 0x30 && ch <= 0x39) || ch === 0x5f || ch === 0x2d ||
      ch === 0x2e || ch === 0x3a
    );
    if (ch < 0x80 || Number.isNaN(ch)) return src.slice(start, c.i);
    c.i = start;
  }
  NAME.lastIndex = c.i;
  const m = NAME.exec(src);
  if (m === null) fail(`expected ${what} name`, c.i);
  c.i = NAME.lastIndex;
  return m[0];
}

function skipComment(c: Cursor): void {
  const end = c.src.indexOf("--", c.i + 4);
  if (end === -1) fail("unterminated comment", c.i);
  if (c.src.charCodeAt(end + 2) !== 0x3e) fail('"--" is not allowed inside a comment', end);
  c.i = end + 3;
}

function skipPi(c: Cursor): void {
  const start = c.i;
  c.i += 2;
  const target = readName(c, "processing instruction target");
  if (target.toLowerCase() === "xml") fail("XML declaration is only allowed at the start", start);
  const end = c.src.indexOf("?>", c.i);
  if (end === -1) fail("unterminated processing instruction", start);
  c.i = end + 2;
}

/** Skips whitespace, comments and processing instructions (outside the root element). */
function skipMisc(c: Cursor): void {
  for (;;) {
    skipSpace(c);
    if (c.src.startsWith("<!--", c.i)) skipComment(c);
    else if (c.src.startsWith("<?", c.i)) skipPi(c);
    else return;
  }
}

function skipDeclaration(c: Cursor): void {
  const { src, i } = c;
  if (!src.startsWith("<?xml", i) || !/[ \t\r\n?]/.test(src.charAt(i + 5))) return;
  const end = src.indexOf("?>", i);
  if (end === -1) fail("unterminated XML declaration", i);
  const decl = src.slice(i + 5, end);
  if (!/^\s+version\s*=\s*(["'])1\.[01]\1/.test(decl)) fail("bad XML declaration version", i);
  const enc = /\sencoding\s*=\s*(["'])([^"']*)\1/.exec(decl);
  if (enc !== null && !/^utf-?8$/i.test(enc[2])) {
    fail(`unsupported encoding "${enc[2]}" (only UTF-8)`, i);
  }
  c.i = end + 2;
}

/** Appends text to the open element, merged with text just before it. */
function addText(stack: XmlElement[], text: string): void {
  const children = stack[stack.length - 1].children;
  const lastIndex = children.length - 1;
  if (lastIndex >= 0 && typeof children[lastIndex] === "string") {
    children[lastIndex] += text;
  } else {
    children.push(text);
  }
}

function readText(c: Cursor, stack: XmlElement[]): void {
  let end = c.src.indexOf("<", c.i);
  if (end === -1) end = c.len;
  const raw = c.src.slice(c.i, end);
  const cdataEnd = raw.indexOf("]]>");
  if (cdataEnd !== -1) fail('"]]>" is not allowed in text', c.i + cdataEnd);
  addText(stack, decodeReferences(normaliseLineEnds(raw), c.i));
  c.i = end;
}

function readCdata(c: Cursor, stack: XmlElement[]): void {
  if (stack.length === 0) fail("CDATA outside the root element", c.i);
  const end = c.src.indexOf("]]>", c.i + 9);
  if (end === -1) fail("unterminated CDATA section", c.i);
  addText(stack, normaliseLineEnds(c.src.slice(c.i + 9, end)));
  c.i = end + 3;
}

/** Reads `</name>` and closes the open element; answers it when it was the root. */
function closeTag(c: Cursor, stack: XmlElement[]): XmlElement | undefined {
  const start = c.i;
  c.i += 2;
  const name = readName(c, "closing tag");
  skipSpace(c);
  if (c.src.charCodeAt(c.i) !== 0x3e) fail(`expected ">" to close </${name}>`, c.i);
  c.i++;
  const open = stack.pop();
  if (open === undefined || open.name !== name) {
    fail(`</${name}> does not match ${open ? `<${open.name}>` : "any open element"}`, start);
  }
  return stack.length === 0 ? open : undefined;
}

/** Reads one `name="value"` into the element's attributes. */
function readAttribute(c: Cursor, element: XmlElement): void {
  const { src } = c;
  const attr = readName(c, "attribute");
  skipSpace(c);
  if (src.charCodeAt(c.i) !== 0x3d) fail(`expected "=" after attribute ${attr}`, c.i);
  c.i++;
  skipSpace(c);
  const quote = src.charAt(c.i);
  if (quote !== '"' && quote !== "'") fail(`expected a quoted value for ${attr}`, c.i);
  const end = src.indexOf(quote, c.i + 1);
  if (end === -1) fail(`unterminated value of attribute ${attr}`, c.i);
  const raw = src.slice(c.i + 1, end);
  const lt = raw.indexOf("<");
  if (lt !== -1) fail(`"<" is not allowed in attribute ${attr}`, c.i + 1 + lt);
  if (Object.hasOwn(element.attributes, attr)) fail(`duplicate attribute ${attr}`, c.i);
  element.attributes[attr] = decodeReferences(
    normaliseLineEnds(raw).replace(/[\t\n]/g, " "),
    c.i + 1,
  );
  c.i = end + 1;
}

/** Reads a start tag; answers the element when it is a self-closed root. */
function openTag(c: Cursor, stack: XmlElement[]): XmlElement | undefined {
  const start = c.i;
  c.i++;
  const element: XmlElement = { name: readName(c, "element"), attributes: {}, children: [] };
  const parent = stack.length > 0 ? stack[stack.length - 1] : undefined;
  for (;;) {
    const before = c.i;
    skipSpace(c);
    const ch = c.src.charCodeAt(c.i);
    if (ch === 0x3e) {
      c.i++;
      parent?.children.push(element);
      stack.push(element);
      return undefined;
    }
    if (ch === 0x2f) {
      if (c.src.charCodeAt(c.i + 1) !== 0x3e) fail('expected ">" after "/"', c.i + 1);
      c.i += 2;
      parent?.children.push(element);
      return parent === undefined ? element : undefined;
    }
    if (c.i >= c.len) fail(`unterminated start tag <${element.name}>`, start);
    if (c.i === before) fail(`expected whitespace before an attribute in <${element.name}>`, c.i);
    readAttribute(c, element);
  }
}

/** Reads markup and text from the root's start tag to its end tag. */
function readRoot(c: Cursor): XmlElement {
  const stack: XmlElement[] = [];
  const { src } = c;
  for (;;) {
    let root: XmlElement | undefined;
    if (c.i >= c.len) fail(`unclosed element <${stack[stack.length - 1].name}>`, c.i);
    if (src.charCodeAt(c.i) !== 0x3c) readText(c, stack);
    else if (src.startsWith("</", c.i)) root = closeTag(c, stack);
    else if (src.startsWith("<!--", c.i)) skipComment(c);
    else if (src.startsWith("<![CDATA[", c.i)) readCdata(c, stack);
    else if (src.startsWith("<?", c.i)) skipPi(c);
    else if (src.startsWith("<!", c.i)) fail("markup declarations are not supported", c.i);
    else root = openTag(c, stack);
    if (root !== undefined) return root;
  }
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
  const c: Cursor = { src: xml, len: xml.length, i: xml.charCodeAt(0) === 0xfeff ? 1 : 0 };
  skipDeclaration(c);
  skipMisc(c);
  if (xml.startsWith("<!DOCTYPE", c.i)) fail("DOCTYPE is not supported", c.i);
  if (xml.charCodeAt(c.i) !== 0x3c) {
    fail(c.i >= c.len ? "no root element" : "expected the root element", c.i);
  }
  const root = readRoot(c);
  skipMisc(c);
  if (c.i < c.len) fail("content after the root element", c.i);
  return root;
}

/**
 * A name without its namespace prefix.
 *
 * @example
 * ```ts
 * localName("s3:Key"); // "Key"
 * ```
 */
export function localName(name: string): string {
  const colon = name.indexOf(":");
  return colon === -1 ? name : name.slice(colon + 1);
}

/** The child elements of an element, text left out. */
export function childElements(element: XmlElement): XmlElement[] {
  const out: XmlElement[] = [];
  for (const child of element.children) {
    if (typeof child !== "string") out.push(child);
  }
  return out;
}

/** The only child element named `name` (by local name), or `undefined` when none or several. */
export function onlyChild(element: XmlElement, name: string): XmlElement | undefined {
  let found: XmlElement | undefined;
  for (const child of element.children) {
    if (typeof child === "string" || localName(child.name) !== name) continue;
    if (found !== undefined) return undefined;
    found = child;
  }
  return found;
}

/** The text of a leaf element; throws a `SyntaxError` if it has child elements. */
export function textOf(element: XmlElement): string {
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

/**
 * The text of each child element named in `wanted` (by local name); throws a `SyntaxError` when
 * one occurs twice or is not a leaf.
 */
export function singles(element: XmlElement, wanted: ReadonlySet<string>): Map<string, string> {
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
