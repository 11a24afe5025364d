/**
 * The presigned `307`: large downloads go straight to S3, with a URL valid for
 * `PRESIGN_EXPIRES` seconds (less when the credentials expire sooner).
 *
 * @module
 */

import { MAX_RESPONSE_HEADER } from "../limits.ts";
import { HttpError } from "./errors.ts";
import { presignObjectUrl } from "../s3/presign_url.ts";
import type { Pair } from "../s3/sigv4.ts";
import type { Backend } from "./context.ts";
import { signContext, signing } from "./upstream.ts";

/** The object a redirect points at. */
export interface RedirectTarget {
  /** A presigned URL is method-specific: a `HEAD` gets a HEAD-signed URL. */
  readonly method: string;
  readonly bucket: string;
  readonly key: string;
  readonly query: readonly Pair[];
}

/** A `307` to a presigned URL of the object, cacheable privately until shortly before expiry. */
export async function presignedRedirect(
  backend: Backend,
  target: RedirectTarget,
): Promise<Response> {
  const { config } = backend;
  const ctx = await signContext(backend);
  // A URL signed with temporary credentials stops working when they expire: say so.
  const expiration = (ctx.credentials as { expiration?: unknown }).expiration;
  const expires = typeof expiration === "number"
    ? Math.max(
      1,
      Math.min(config.presignExpires, Math.floor((expiration - backend.now()) / 1000)),
    )
    : config.presignExpires;
  const location = signing(() =>
    presignObjectUrl({
      scheme: config.scheme,
      host: config.externalHost,
      bucket: target.bucket,
      key: target.key,
      style: config.addressingStyle,
      method: target.method,
      query: target.query,
      expires,
      datetime: ctx.datetime,
      credentials: ctx.credentials,
      region: ctx.region,
      cache: ctx.cache,
    })
  );
  if (location.length > MAX_RESPONSE_HEADER) {
    // route.ts bounds the key and the query carried, so only a very long session token or
    // host gets here: refuse rather than send a header clients cannot read.
    throw new HttpError(
      400,
      "InvalidArgument",
      `the redirect URL would be longer than ${MAX_RESPONSE_HEADER} bytes`,
    );
  }
  return new Response(null, {
    status: 307,
    headers: {
      location,
      "cache-control": `private, max-age=${Math.max(0, expires - 30)}`,
    },
  });
}
