/**
 * The AWS test data staged in tests/vectors (a copy of ../shared/vectors; its README says what
 * each file is), for the tests that read it.
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The file path of tests/vectors/, ending in `/`. */
export const VECTORS: string = fileURLToPath(new URL("../vectors/", import.meta.url));

/** One entry of signing-keys.json: a secret, a scope, and the keys derived from them. */
export interface SigningKeyVector {
  name: string;
  secret_access_key: string;
  date: string;
  region: string;
  service: string;
  scope: string;
  k_date_hex: string;
  k_region_hex: string;
  k_service_hex: string;
  signing_key_hex: string;
  signing_key_base64: string;
}

/**
 * The entries of signing-keys.json, read afresh.
 *
 * @example
 * ```ts
 * const nginx = signingKeyVectors().find((k) => k.name === "ngx_aws_auth-readme-20160902-s3")!;
 * // nginx.signing_key_hex is the key for nginx.scope
 * ```
 */
export function signingKeyVectors(): SigningKeyVector[] {
  return JSON.parse(readFileSync(VECTORS + "signing-keys.json", "utf8")).keys;
}
