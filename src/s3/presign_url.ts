/**
 * A full presigned URL for one S3 object, in path-style or virtual-host addressing. Pure: the time
 * and the credentials are inputs. Built on {@linkcode presign}; the proxy and the presign CLI use
 * it.
 *
 * @module
 */

import { s3Address } from "./address.ts";
import {
  type Credentials,
  type Pair,
  presign,
  SigningError,
  type SigningKeyCache,
  UNSIGNED_PAYLOAD,
} from "./sigv4.ts";

/** What {@linkcode presignObjectUrl} needs. */
export interface PresignObjectOptions {
  /** `https` or `http`. */
  readonly scheme: "https" | "http";
  /** Endpoint host, optionally with a port: `s3.us-east-1.amazonaws.com`, `127.0.0.1:9000`. */
  readonly host: string;
  /** Bucket name (no `/`). */
  readonly bucket: string;
  /** Object key, taken literally (`#`, `?`, `%`, spaces and `+` are part of it). */
  readonly key: string;
  /** `path`: `host/bucket/key`; `virtual`: `bucket.host/key`. */
  readonly style: "path" | "virtual";
  /** HTTP method the URL is good for (a presigned URL is method-specific), e.g. `GET`, `HEAD`. */
  readonly method: string;
  /** Extra decoded query parameters to sign in (`versionId`, `response-content-type`, ...). */
  readonly query?: readonly Pair[];
  /** Lifetime in seconds, 1 to 604800. */
  readonly expires: number;
  /** `YYYYMMDDTHHMMSSZ`, UTC. */
  readonly datetime: string;
  readonly credentials: Credentials;
  readonly region: string;
  /** A shared signing-key cache. */
  readonly cache?: SigningKeyCache;
}

/**
 * Presigns an S3 object URL. The key is encoded once with {@linkcode encodeKeyPath} (no
 * dot-segment or `//` normalisation) and the URL carries the query exactly as signed. A default
 * port (`:443` for https, `:80` for http) is dropped from the host, because clients leave it out
 * of the `Host` header they send. Throws a {@linkcode SigningError} on bad input.
 *
 * @example
 * ```ts
 * presignObjectUrl({
 *   scheme: "https", host: "s3.amazonaws.com", bucket: "examplebucket", key: "test.txt",
 *   style: "virtual", method: "GET", expires: 86400, datetime: "20130524T000000Z",
 *   credentials: { accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "..." },
 *   region: "us-east-1",
 * });
 * // "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&..."
 * ```
 */
export function presignObjectUrl(options: PresignObjectOptions): string {
  const { scheme, bucket, style } = options;
  if (scheme !== "https" && scheme !== "http") {
    throw new SigningError(`invalid scheme "${scheme}": expected https or http`);
  }
  if (bucket === "" || bucket.includes("/")) {
    throw new SigningError(`invalid bucket name "${bucket}"`);
  }
  if (style !== "path" && style !== "virtual") {
    throw new SigningError(`invalid addressing style "${style}": expected path or virtual`);
  }
  let endpoint = options.host.toLowerCase();
  const defaultPort = scheme === "https" ? ":443" : ":80";
  if (endpoint.endsWith(defaultPort)) endpoint = endpoint.slice(0, -defaultPort.length);
  const { host, path } = s3Address(endpoint, bucket, options.key, style);
  const signed = presign(
    {
      method: options.method,
      path,
      query: options.query,
      headers: [["host", host]],
      payloadHash: UNSIGNED_PAYLOAD,
    },
    {
      credentials: options.credentials,
      region: options.region,
      service: "s3",
      datetime: options.datetime,
      cache: options.cache,
    },
    { expires: options.expires },
  );
  return scheme + "://" + host + path + "?" + signed.query;
}
