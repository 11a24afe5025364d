/**
 * Renders a {@linkcode Listing} as an HTML page or as JSON. Pure functions, no I/O.
 *
 * Links. Every key and prefix links to `rootPath + encodeKeyPath(key)`, so that the browser
 * requests exactly that key: every byte outside `A-Z a-z 0-9 - _ . ~ /` is percent-encoded,
 * folder links end in `/`. Two cases need care:
 * - A key with a `.` or `..` path segment (`a/../b`) cannot be carried by a URL path at all:
 *   browsers remove dot segments, even percent-encoded ones (WHATWG URL). Such entries are listed
 *   without a link (`href: null` in JSON).
 * - When the link would start with `//` (root path `/`, key starting with `/`), it is written
 *   `/.//key`, which browsers resolve to the path `//key` on the same origin instead of to a
 *   host named `key`.
 *
 * Pagination. The "Next page" link is `<listing path>?page=<token>`, the token encoded with
 * `encodeQueryComponent`. `page` is a ListObjectsV2 continuation token only: the handler lists
 * with `list-type=2` and sends `page` back as `continuation-token`.
 *
 * The HTML page has no script and loads nothing: one inline `<style>` (allowed by
 * {@linkcode LISTING_CSP}) and inline SVG icons.
 *
 * @module
 */

import { encodeKeyPath, encodeQueryComponent } from "../s3/encode.ts";
import { sha256 } from "../crypto/sha256.ts";
import { base64, escapeMarkup } from "../text.ts";
import { isLaterPage, type Listing, nextPageToken } from "./model.ts";

/** How to render a listing. */
export interface RenderOptions {
  /**
   * The URL path under which keys live, already URL-encoded, starting and ending with `/`:
   * `/mybucket/` in path mode, `/` when one bucket is served at the root.
   */
  rootPath: string;
  /** Label of the first breadcrumb and of the page title; defaults to the bucket name. */
  title?: string;
}

/** A folder (common prefix) as rendered. */
export interface FolderView {
  /** The name relative to the listed prefix, with its trailing delimiter, e.g. `photos/`. */
  name: string;
  /** The full prefix, e.g. `2024/photos/`. */
  prefix: string;
  /** Where the folder is listed, or `null` when it cannot be linked. */
  href: string | null;
}

/** A file (object) as rendered. */
export interface FileView {
  /** The name relative to the listed prefix, e.g. `cat.jpg`. */
  name: string;
  /** The full key. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** As S3 sent it (ISO 8601), or `""`. */
  lastModified: string;
  /** As S3 sent it, quotes included, or `""`. */
  etag: string;
  /** The storage class, or `null`. */
  storageClass: string | null;
  /** Where the object is fetched, or `null` when it cannot be linked. */
  href: string | null;
}

/** A breadcrumb: the bucket root, then one per folder of the listed prefix. */
export interface Crumb {
  /** Label: the title for the root, else the folder name without its delimiter. */
  name: string;
  /** The full prefix this crumb lists (`""` for the root). */
  prefix: string;
  /** Link, or `null` when it cannot be linked. */
  href: string | null;
}

/** Everything the HTML and JSON renderings show, with every href computed. */
export interface ListingView {
  bucket: string;
  prefix: string;
  /** Href of this listing (the prefix's folder URL), or `null`. */
  href: string | null;
  /** Href of the parent folder, or `null` at the root. */
  parent: string | null;
  breadcrumbs: Crumb[];
  folders: FolderView[];
  files: FileView[];
  isTruncated: boolean;
  /** The token for the next page, or `null` on the last page. */
  nextPageToken: string | null;
  /** Href of the next page, or `null` on the last page. */
  next: string | null;
  /** Href of the first page when this is a later page, else `null`. */
  first: string | null;
}

function hasDotSegment(key: string): boolean {
  for (const segment of key.split("/")) {
    if (segment === "." || segment === "..") return true;
  }
  return false;
}

/**
 * The href under `rootPath` that makes a browser request exactly `key`, or `undefined` when no
 * URL path can carry the key (a `.` or `..` segment). See the module documentation.
 *
 * @example
 * ```ts
 * keyHref("/b/", "dir/a b?#.txt"); // "/b/dir/a%20b%3F%23.txt"
 * keyHref("/", "/x"); // "/.//x"
 * keyHref("/b/", "a/../x"); // undefined
 * ```
 */
export function keyHref(rootPath: string, key: string): string | undefined {
  checkRootPath(rootPath);
  if (hasDotSegment(key)) return undefined;
  const href = rootPath + encodeKeyPath(key);
  return href.startsWith("//") ? "/." + href : href;
}

function checkRootPath(rootPath: string): void {
  if (!rootPath.startsWith("/") || !rootPath.endsWith("/") || rootPath.startsWith("//")) {
    throw new TypeError(`rootPath must start and end with "/" (got "${rootPath}")`);
  }
}

/** The prefix of the folder that contains `prefix` (`a/b/` -> `a/`, `a/` -> ``). */
function parentPrefix(prefix: string): string {
  const trimmed = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return trimmed.slice(0, trimmed.lastIndexOf("/") + 1);
}

function relativeName(full: string, prefix: string): string {
  return full.startsWith(prefix) ? full.slice(prefix.length) : full;
}

/**
 * Computes the view both renderings share: names relative to the listed prefix, breadcrumbs,
 * the parent, and every href. A zero-length-name object (the "folder marker" whose key equals
 * the listed prefix, e.g. `photos/` when listing `photos/`) is left out: its link would be this
 * listing itself.
 *
 * @example
 * ```ts
 * const view = listingView(listing, { rootPath: "/b/" });
 * view.files.map((f) => f.href);
 * ```
 */
export function listingView(listing: Listing, options: RenderOptions): ListingView {
  const { rootPath } = options;
  checkRootPath(rootPath);
  const link = (key: string): string | null => keyHref(rootPath, key) ?? null;
  const prefix = listing.prefix;
  const title = options.title ?? (listing.bucket || "/");

  const breadcrumbs: Crumb[] = [{ name: title, prefix: "", href: link("") }];
  let at = 0;
  for (;;) {
    const slash = prefix.indexOf("/", at);
    const end = slash === -1 ? prefix.length : slash + 1;
    if (end <= at) break;
    const crumbPrefix = prefix.slice(0, end);
    breadcrumbs.push({
      name: prefix.slice(at, slash === -1 ? end : slash),
      prefix: crumbPrefix,
      href: link(crumbPrefix),
    });
    at = end;
  }

  const here = link(prefix);
  const token = nextPageToken(listing) ?? null;
  return {
    bucket: listing.bucket,
    prefix,
    href: here,
    parent: prefix === "" ? null : link(parentPrefix(prefix)),
    breadcrumbs,
    folders: listing.folders.map((p) => ({
      name: relativeName(p, prefix),
      prefix: p,
      href: link(p),
    })),
    files: listing.files
      .filter((f) => !(f.key === prefix && prefix.endsWith("/")))
      .map((f) => ({
        name: relativeName(f.key, prefix),
        key: f.key,
        size: f.size,
        lastModified: f.lastModified,
        etag: f.etag,
        storageClass: f.storageClass ?? null,
        href: link(f.key),
      })),
    isTruncated: listing.isTruncated,
    nextPageToken: token,
    next: token === null ? null : `${here ?? ""}?page=${encodeQueryComponent(token)}`,
    first: isLaterPage(listing) ? (here ?? "?") : null,
  };
}

/**
 * Renders a listing as JSON (a string, for `Content-Type: application/json`):
 *
 * ```
 * { "bucket": string, "prefix": string, "parent": string | null,
 *   "folders": [{ "name", "prefix", "href": string | null }],
 *   "files": [{ "name", "key", "size", "lastModified", "etag", "storageClass", "href" }],
 *   "isTruncated": boolean, "nextPageToken": string | null, "next": string | null }
 * ```
 *
 * `name` is relative to `prefix`; `href`, `parent` and `next` are paths as in the HTML page;
 * `nextPageToken` goes back in the `page` query parameter.
 *
 * @example
 * ```ts
 * const body = renderListingJson(listing, { rootPath: "/b/" });
 * JSON.parse(body).files[0].href; // "/b/a/x.txt"
 * ```
 */
export function renderListingJson(listing: Listing, options: RenderOptions): string {
  const v = listingView(listing, options);
  return JSON.stringify({
    bucket: v.bucket,
    prefix: v.prefix,
    parent: v.parent,
    folders: v.folders,
    files: v.files,
    isTruncated: v.isTruncated,
    nextPageToken: v.nextPageToken,
    next: v.next,
  });
}

const UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];

/**
 * A byte count in binary units: bytes below 1 KiB, else one decimal below 10 and none above.
 *
 * @example
 * ```ts
 * humanSize(0); // "0 B"
 * humanSize(1536); // "1.5 KiB"
 * humanSize(123456789); // "118 MiB"
 * ```
 */
export function humanSize(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes < 0) throw new RangeError(`not a size: ${bytes}`);
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes / 1024;
  let unit = 0;
  for (;;) {
    if (value < 9.95) return `${value.toFixed(1)} ${UNITS[unit]}`;
    if (value < 1023.5 || unit === UNITS.length - 1) return `${Math.round(value)} ${UNITS[unit]}`;
    value /= 1024;
    unit++;
  }
}

/**
 * A timestamp as shown in the page: UTC, `YYYY-MM-DD HH:MM:SS UTC`. A value that is not a
 * date is returned unchanged.
 *
 * @example
 * ```ts
 * formatTime("2009-10-12T17:50:30.000Z"); // "2009-10-12 17:50:30 UTC"
 * ```
 */
export function formatTime(iso: string): string {
  const time = Date.parse(iso);
  if (iso === "" || Number.isNaN(time)) return iso;
  const s = new Date(time).toISOString();
  return `${s.slice(0, 10)} ${s.slice(11, 19)} UTC`;
}

/**
 * A name made visible and escaped for HTML: control characters become their Unicode control
 * pictures (U+2400...), and bidirectional formatting characters (which could disguise an
 * extension) are shown as `[U+202E]`.
 */
function showName(name: string): string {
  const visible = name.replace(
    // deno-lint-ignore no-control-regex
    /[\u0000-\u001F\u007F]|[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]/g,
    (c) => {
      const code = c.charCodeAt(0);
      if (code < 0x20) return String.fromCharCode(0x2400 + code);
      if (code === 0x7f) return "\u2421";
      return `[U+${code.toString(16).toUpperCase()}]`;
    },
  );
  return escapeMarkup(visible);
}

const CSS = [
  ":root{color-scheme:light dark;--bg:#fff;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;",
  "--head:#f6f8fa;--hover:#f6f8fa;--link:#0969da;--dir:#54aeff;--file:#818b98;",
  "font:15px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',sans-serif}",
  "@media (prefers-color-scheme:dark){:root{--bg:#0d1117;--fg:#e6edf3;--muted:#9198a1;",
  "--line:#3d444d;--head:#151b23;--hover:#151b23;--link:#4493f8;--dir:#4493f8;--file:#9198a1}}",
  "*{box-sizing:border-box}",
  "body{margin:0;background:var(--bg);color:var(--fg);-webkit-text-size-adjust:100%}",
  "body>svg{position:absolute;width:0;height:0;overflow:hidden}",
  "main{max-width:64rem;margin:0 auto;padding:2rem 1.25rem 3rem}",
  "a{color:var(--link);text-decoration:none}",
  "a:focus-visible{outline:2px solid var(--link);outline-offset:2px;border-radius:3px}",
  ".crumbs{font-size:1.3rem;font-weight:600;line-height:1.35;margin:0 0 .3rem;",
  "overflow-wrap:anywhere}",
  ".crumbs ol{list-style:none;margin:0;padding:0;display:flex;flex-wrap:wrap}",
  ".crumbs li+li::before{content:'/';color:var(--muted);padding:0 .4rem;font-weight:400}",
  ".crumbs a:hover{text-decoration:underline}",
  ".crumbs a[aria-current]{color:var(--fg)}",
  ".sum{color:var(--muted);font-size:.875rem;margin:0 0 1.1rem}",
  ".box{border:1px solid var(--line);border-radius:10px;overflow:hidden}",
  "table{width:100%;border-collapse:collapse}",
  "th{font-size:.75rem;font-weight:600;text-align:left;color:var(--muted);",
  "background:var(--head);padding:.55rem 1rem;border-bottom:1px solid var(--line)}",
  "tbody tr{position:relative}",
  "tbody tr+tr td{border-top:1px solid var(--line)}",
  "td{padding:.5rem 1rem;vertical-align:top}",
  "tbody tr:hover,tbody tr:focus-within{background:var(--hover)}",
  ".n{width:100%;overflow-wrap:anywhere}",
  ".n a,.n span{display:flex;gap:.65rem;align-items:flex-start;color:var(--fg)}",
  ".n a::after{content:'';position:absolute;inset:0}",
  ".n a:hover bdi{color:var(--link);text-decoration:underline}",
  ".n a:focus-visible{outline:0}.n a:focus-visible bdi{outline:2px solid var(--link)}",
  ".u .n a{color:var(--muted)}",
  "svg{width:1.15rem;height:1.15rem;flex:none;margin-top:.12rem;fill:currentColor}",
  ".d svg{color:var(--dir)}.f svg,.u svg{color:var(--file)}",
  "td.s,td.t{white-space:nowrap;color:var(--muted);font-size:.875rem;line-height:1.7;",
  "font-variant-numeric:tabular-nums}",
  "td.s{position:relative;z-index:1}",
  "th.s,td.s{text-align:right}th.t{padding-left:1.5rem}td.t{padding-left:1.5rem}",
  ".empty{color:var(--muted);text-align:center;padding:2.5rem 1rem}",
  "nav.pg{display:flex;gap:.75rem;justify-content:flex-end;margin-top:1rem}",
  "nav.pg a{border:1px solid var(--line);border-radius:8px;padding:.35rem .9rem;",
  "font-weight:500;background:var(--head)}",
  "nav.pg a:hover{border-color:var(--link)}",
  "nav.pg a[rel=next]::after{content:' \\2192'}nav.pg a:not([rel])::before{content:'\\2190  '}",
  "@media (max-width:40rem){main{padding:1.25rem .75rem 2rem}.crumbs{font-size:1.15rem}",
  "thead{display:none}table,tbody{display:block}",
  "tbody tr{display:grid;grid-template-columns:minmax(0,1fr) auto;column-gap:.75rem;",
  "padding:.7rem .9rem}tbody tr+tr{border-top:1px solid var(--line)}",
  "tbody tr+tr td{border-top:0}td{padding:0}td.t{grid-column:1;padding-left:1.8rem;",
  "font-size:.8rem;line-height:1.4}td.t:empty{display:none}td.s{line-height:1.6}",
  ".empty{grid-column:1/-1;padding:2rem 0}}",
].join("");

/**
 * A `Content-Security-Policy` for the HTML page: nothing may load or run; only the page's own
 * inline style (by hash) applies. Send it with every listing page.
 *
 * @example
 * ```ts
 * new Response(html, {
 *   headers: { "content-type": "text/html; charset=utf-8", "content-security-policy": LISTING_CSP },
 * });
 * ```
 */
export const LISTING_CSP: string = `default-src 'none'; style-src 'sha256-${
  base64(sha256(CSS))
}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

const PAGE = "M5.5 2H12l4 4v11.5c0 .8-.7 1.5-1.5 1.5h-9c-.8 0-1.5-.7-1.5-1.5v-14C4 2.7 4.7 2 " +
  "5.5 2zM11.5 2.5v4H15.5";

/** A file-shaped icon: the page outline plus `inner` (path data), stroked. */
function pageSymbol(id: string, inner: string, filled = ""): string {
  return `<symbol id="${id}" viewBox="0 0 20 20"><path d="${PAGE}${inner}" fill="none" ` +
    'stroke="currentColor" stroke-width="1.3" stroke-linejoin="round" stroke-linecap="round"/>' +
    (filled ? `<path d="${filled}"/>` : "") + "</symbol>";
}

const ICONS = '<svg hidden xmlns="http://www.w3.org/2000/svg">' +
  '<symbol id="d" viewBox="0 0 20 20"><path d="M2 5.5C2 4.7 2.7 4 3.5 4h4.2l1.8 2h7c.8 0 ' +
  '1.5.7 1.5 1.5v8c0 .8-.7 1.5-1.5 1.5h-13c-.8 0-1.5-.7-1.5-1.5z"/></symbol>' +
  '<symbol id="u" viewBox="0 0 20 20"><path d="M10 4v12M5 9l5-5 5 5" fill="none" ' +
  'stroke="currentColor" stroke-width="1.6" stroke-linecap="round" stroke-linejoin="round"/>' +
  "</symbol>" +
  pageSymbol("f", "M7 10h6M7 13h6M7 16h4") +
  pageSymbol("b", "") +
  pageSymbol("i", "M6.5 16.5l2.5-3.5 2 2.5 1.3-1.6 1.7 2.6z", "M8.6 9.2a1.3 1.3 0 1 1 0 .01z") +
  pageSymbol("z", "M9.5 2.5v1.3M9.5 5.1v1.3M9.5 7.7V9M8.3 10.5h2.4v3.2H8.3z") +
  pageSymbol("c", "M8 10.5 6 12.7l2 2.2M12 10.5l2 2.2-2 2.2") +
  pageSymbol("m", "", "M8.3 10.2v5.2l4.3-2.6z") +
  "</svg>";

const ICON_BY_EXTENSION: ReadonlyMap<string, string> = new Map([
  ...["txt", "md", "markdown", "rst", "csv", "tsv", "log", "pdf", "doc", "docx", "odt", "rtf"]
    .map((e) => [e, "f"] as const),
  ...["xls", "xlsx", "ods", "ppt", "pptx", "odp", "epub", "tex"].map((e) => [e, "f"] as const),
  ...["png", "jpg", "jpeg", "gif", "webp", "avif", "svg", "bmp", "ico", "tif", "tiff", "heic"]
    .map((e) => [e, "i"] as const),
  ...["zip", "gz", "tgz", "bz2", "xz", "zst", "7z", "rar", "tar", "jar", "whl", "deb", "rpm"]
    .map((e) => [e, "z"] as const),
  ...["html", "htm", "css", "js", "mjs", "ts", "json", "xml", "yaml", "yml", "toml", "ini", "sh"]
    .map((e) => [e, "c"] as const),
  ...["py", "rb", "go", "rs", "c", "h", "cpp", "java", "kt", "swift", "sql", "ipynb", "php"]
    .map((e) => [e, "c"] as const),
  ...["mp3", "wav", "flac", "ogg", "m4a", "aac", "opus", "mp4", "mov", "mkv", "webm", "avi"]
    .map((e) => [e, "m"] as const),
]);

/** The icon of a file: by its extension (text, image, archive, code, media), else blank. */
function fileIcon(name: string): string {
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || dot === name.length - 1) return "b";
  return ICON_BY_EXTENSION.get(name.slice(dot + 1).toLowerCase()) ?? "b";
}

function icon(id: string): string {
  return `<svg aria-hidden="true"><use href="#${id}"/></svg>`;
}

/** A name cell: a link when there is an href, else plain text with an explanation. */
function nameCell(iconId: string, label: string, href: string | null): string {
  if (href === null) {
    return `<td class="n"><span title="This name cannot be addressed by a URL">${
      icon(iconId)
    }<bdi>${label}</bdi></span></td>`;
  }
  return `<td class="n"><a href="${escapeMarkup(href)}">${
    icon(iconId)
  }<bdi>${label}</bdi></a></td>`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Renders a listing as a complete HTML page (`text/html; charset=utf-8`; send it with
 * {@linkcode LISTING_CSP}): breadcrumbs, a parent-folder row, folders then files with sizes and
 * UTC modification times, and "Next page" / "First page" links. Every name is HTML-escaped and
 * every href comes from {@linkcode keyHref}.
 *
 * @example
 * ```ts
 * const html = renderListingHtml(parseListing(xml), { rootPath: "/mybucket/" });
 * ```
 */
export function renderListingHtml(listing: Listing, options: RenderOptions): string {
  const v = listingView(listing, options);
  const crumbs = v.breadcrumbs.map((c, i) => {
    const last = i === v.breadcrumbs.length - 1;
    const label = c.name === "" ? "<i>(empty name)</i>" : `<bdi>${showName(c.name)}</bdi>`;
    if (c.href === null) return `<li>${label}</li>`;
    return `<li><a href="${escapeMarkup(c.href)}"${
      last ? ' aria-current="page"' : ""
    }>${label}</a></li>`;
  }).join("");

  const rows: string[] = [];
  if (v.parent !== null) {
    rows.push(
      `<tr class="u">${
        nameCell("u", "Parent folder", v.parent)
      }<td class="s"></td><td class="t"></td></tr>`,
    );
  }
  for (const folder of v.folders) {
    rows.push(
      `<tr class="d">${
        nameCell("d", showName(folder.name), folder.href)
      }<td class="s">—</td><td class="t"></td></tr>`,
    );
  }
  let total = 0;
  for (const file of v.files) {
    total += file.size;
    const when = file.lastModified === ""
      ? ""
      : `<time datetime="${escapeMarkup(file.lastModified)}">${
        escapeMarkup(formatTime(file.lastModified))
      }</time>`;
    rows.push(
      `<tr class="f">${
        nameCell(fileIcon(file.name), showName(file.name), file.href)
      }<td class="s" title="${String(file.size).replace(/\B(?=(\d{3})+(?!\d))/g, ",")} bytes">${
        humanSize(file.size)
      }</td><td class="t">${when}</td></tr>`,
    );
  }
  if (v.folders.length === 0 && v.files.length === 0) {
    rows.push(`<tr><td class="empty" colspan="3">This folder is empty.</td></tr>`);
  }

  const summary = [plural(v.folders.length, "folder"), plural(v.files.length, "file")];
  if (v.files.length > 0) summary.push(humanSize(total));
  const pager: string[] = [];
  if (v.first !== null) pager.push(`<a href="${escapeMarkup(v.first)}">First page</a>`);
  if (v.next !== null) pager.push(`<a rel="next" href="${escapeMarkup(v.next)}">Next page</a>`);

  const title = v.breadcrumbs[0].name + "/" + v.prefix;
  return "<!doctype html>\n" +
    '<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    '<meta name="color-scheme" content="light dark">' +
    `<title>${showName(title)}</title><style>${CSS}</style></head>\n` +
    `<body>${ICONS}<main>` +
    `<nav class="crumbs" aria-label="Breadcrumb"><ol>${crumbs}</ol></nav>` +
    `<p class="sum">${summary.join(" · ")}${
      v.isTruncated ? " on this page · more on the next page" : ""
    }</p>` +
    '<div class="box"><table><thead><tr><th scope="col">Name</th>' +
    '<th scope="col" class="s">Size</th><th scope="col" class="t">Last modified</th></tr></thead>' +
    `<tbody>\n${rows.join("\n")}\n</tbody></table></div>` +
    (pager.length > 0 ? `<nav class="pg" aria-label="Pages">${pager.join("")}</nav>` : "") +
    "</main></body></html>\n";
}
