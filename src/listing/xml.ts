/**
 * The two documents the listing needs from S3, read with the strict parser of `../xml.ts`:
 * `ListBucketResult` (ListObjects V1 and V2) and `Error`. Pure functions; malformed input throws
 * a `SyntaxError` that says what and where, and never yields a partial model. Elements are
 * matched by local name, in any order; unknown elements are ignored.
 *
 * @module
 */

import { decodeStrict } from "../s3/encode.ts";
import { childElements, localName, parseXml, singles, type XmlElement } from "../xml.ts";
import type { Listing, ListingFile, S3ErrorInfo } from "./model.ts";

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
