/**
 * The model of one page of an S3 bucket listing (ListObjects V1 or V2), as produced by
 * {@linkcode parseListing} in `xml.ts` and consumed by `render.ts`. Pure types and helpers.
 *
 * All strings are decoded: keys and prefixes are exactly the S3 keys, whether or not the
 * response was requested with `encoding-type=url`.
 *
 * @module
 */

/** One object (S3 `Contents` element) of a listing. */
export interface ListingFile {
  /** The full object key, decoded. */
  key: string;
  /** Size in bytes. */
  size: number;
  /** `LastModified` as S3 sent it (ISO 8601, e.g. `2009-10-12T17:50:30.000Z`), or `""`. */
  lastModified: string;
  /** `ETag` as S3 sent it, quotes included (e.g. `"fba9dede5f27731c9771645a39863328"`), or `""`. */
  etag: string;
  /** `StorageClass` when present (e.g. `STANDARD`). */
  storageClass?: string;
}

/** One page of a bucket listing. */
export interface Listing {
  /** 1 for ListObjects, 2 for ListObjectsV2 (detected from the elements present). */
  version: 1 | 2;
  /** The bucket name (`Name`), or `""` when absent. */
  bucket: string;
  /** The prefix that was listed (`Prefix`), decoded; `""` for the bucket root. */
  prefix: string;
  /** The delimiter (`Delimiter`), decoded; `""` when none. */
  delimiter: string;
  /** Whether more results follow (`IsTruncated`). */
  isTruncated: boolean;
  /** Full common prefixes (`CommonPrefixes/Prefix`), decoded, in S3 order (e.g. `a/b/`). */
  folders: string[];
  /** Objects (`Contents`), in S3 order. */
  files: ListingFile[];
  /** V2: token for the next page (`NextContinuationToken`); opaque, never URL-decoded. */
  nextContinuationToken?: string;
  /** V2: the token this page was requested with (`ContinuationToken`). */
  continuationToken?: string;
  /** V2: `StartAfter` echoed back, decoded. */
  startAfter?: string;
  /** V2: number of keys and common prefixes on this page (`KeyCount`). */
  keyCount?: number;
  /** `MaxKeys` echoed back. */
  maxKeys?: number;
  /** V1: the marker this page was requested with (`Marker`), decoded. */
  marker?: string;
  /**
   * V1: where the next page starts (`NextMarker`), decoded. When S3 omits it on a truncated
   * page (it does unless a delimiter was given), the parser fills in the last key or common
   * prefix of the page, whichever sorts last, as the S3 documentation prescribes.
   */
  nextMarker?: string;
}

/** The code and message of an S3 `Error` document. */
export interface S3ErrorInfo {
  /** e.g. `NoSuchBucket`, `AccessDenied`. */
  code: string;
  /** Human-readable message, or `""` when absent. */
  message: string;
}

/**
 * The value to send back to S3 for the next page of a generated listing (as
 * `continuation-token`), or `undefined` on the last page. Generated listings are read with
 * ListObjectsV2 only, so a V1 page (which S3 tools get as XML, never rendered) has none.
 *
 * @example
 * ```ts
 * nextPageToken({ version: 2, isTruncated: true, nextContinuationToken: "1ueGcx==" } as Listing);
 * // "1ueGcx=="
 * ```
 */
export function nextPageToken(listing: Listing): string | undefined {
  if (!listing.isTruncated) return undefined;
  return listing.version === 2 ? listing.nextContinuationToken : undefined;
}

/**
 * Whether this V2 page is not the first one: it was requested with a continuation token or
 * start-after.
 *
 * @example
 * ```ts
 * isLaterPage({ version: 2, continuationToken: "abc" } as Listing); // true
 * ```
 */
export function isLaterPage(listing: Listing): boolean {
  return Boolean(listing.continuationToken || listing.startAfter);
}
