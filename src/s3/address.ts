/**
 * Where a bucket or object lives on an S3 endpoint, in path or virtual-hosted addressing. Pure.
 *
 * @module
 */

import { encodeKeyPath } from "./encode.ts";

/** Host and encoded path of an S3 resource. */
export interface S3Address {
  /** `host[:port]` to connect to and to sign as `host`. */
  readonly host: string;
  /** Encoded path, exactly as sent and signed. */
  readonly path: string;
}

/**
 * Addresses a bucket (`key` undefined) or an object. Bucket-level paths never end in `/` in path
 * style (`/bucket`), since strict servers reject `/bucket/`.
 *
 * @example
 * ```ts
 * s3Address("s3.amazonaws.com", "b", "a b.txt", "path"); // { host: "s3.amazonaws.com", path: "/b/a%20b.txt" }
 * s3Address("s3.amazonaws.com", "b", "a b.txt", "virtual"); // { host: "b.s3.amazonaws.com", path: "/a%20b.txt" }
 * s3Address("s3.amazonaws.com", "b", undefined, "path"); // { host: "s3.amazonaws.com", path: "/b" }
 * ```
 */
export function s3Address(
  endpointHost: string,
  bucket: string,
  key: string | undefined,
  style: "path" | "virtual",
): S3Address {
  const encodedKey = key === undefined ? "" : encodeKeyPath(key);
  if (style === "virtual") {
    return { host: bucket + "." + endpointHost, path: "/" + encodedKey };
  }
  return {
    host: endpointHost,
    path: key === undefined ? "/" + bucket : "/" + bucket + "/" + encodedKey,
  };
}
