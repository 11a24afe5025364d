/**
 * `sigv4`: proxy-issued S3 keys; the client's SigV4 signature is verified as S3 would.
 *
 * @module
 */

import { AuthConfigError, type Authenticator, type AuthIo } from "./method.ts";

/** What {@linkcode createSigv4Auth} needs. */
export interface Sigv4Options {
  /** The keys file (`AUTH_SIGV4_KEYS_FILE`). */
  readonly file: string;
  /** The route's region: signatures must be scoped to it (service `s3`). */
  readonly region: string;
}

/** Not built yet: refuses to start, so a route that names `sigv4` is never open. */
export function createSigv4Auth(_options: Sigv4Options, _io: AuthIo): Promise<Authenticator> {
  return Promise.reject(new AuthConfigError("AUTH=sigv4 is not available in this build"));
}
