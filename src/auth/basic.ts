/**
 * `basic`: HTTP Basic authentication against an htpasswd file of bcrypt lines.
 *
 * @module
 */

import { AuthConfigError, type Authenticator, type AuthIo } from "./method.ts";

/** What {@linkcode createBasicAuth} needs. */
export interface BasicOptions {
  /** The htpasswd file (`AUTH_BASIC_FILE`). */
  readonly file: string;
  /** `AUTH_REALM`. */
  readonly realm: string;
}

/** Not built yet: refuses to start, so a route that names `basic` is never open. */
export function createBasicAuth(_options: BasicOptions, _io: AuthIo): Promise<Authenticator> {
  return Promise.reject(new AuthConfigError("AUTH=basic is not available in this build"));
}
