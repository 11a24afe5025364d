/**
 * `jwt`: OIDC access or ID tokens (`Authorization: Bearer`), verified with WebCrypto.
 *
 * @module
 */

import type { AuthConfig } from "./config.ts";
import { AuthConfigError, type Authenticator, type AuthIo } from "./method.ts";

/** Not built yet: refuses to start, so a route that names `jwt` is never open. */
export function createJwtAuth(
  _options: NonNullable<AuthConfig["jwt"]>,
  _io: AuthIo,
): Promise<Authenticator> {
  return Promise.reject(new AuthConfigError("AUTH=jwt is not available in this build"));
}
