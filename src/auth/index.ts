/**
 * A route's access control, built from its {@linkcode AuthConfig}: one {@linkcode Authenticator}
 * per method it names (`none` is none). An authenticator that reads a file is shared by every
 * route that names the same file and settings, so one file is read and watched once.
 *
 * @module
 */

import type { AuthConfig } from "./config.ts";
import type { Authenticator, AuthIo } from "./method.ts";

export { AuthConfigError, type AuthIo } from "./method.ts";
import { createBasicAuth } from "./basic.ts";
import { createJwtAuth } from "./jwt.ts";
import { createSigv4Auth } from "./sigv4.ts";

/**
 * The authenticators of a route, reusing those in `shared` (keyed by method and settings) and
 * adding the ones it creates. Throws {@linkcode AuthConfigError} when one cannot start.
 *
 * @example
 * ```ts
 * const shared = new Map<string, Authenticator>();
 * const auth = await createAuthenticators(route.config.auth, route.config.region, io, shared);
 * ```
 */
export async function createAuthenticators(
  config: AuthConfig,
  region: string,
  io: AuthIo,
  shared: Map<string, Authenticator>,
): Promise<Authenticator[]> {
  const out: Authenticator[] = [];
  for (const method of config.methods) {
    if (method === "none") continue;
    const key = JSON.stringify(
      method === "basic"
        ? [method, config.basicFile, config.realm]
        : method === "jwt"
        ? [method, config.jwt, config.realm]
        : [method, config.sigv4KeysFile, region],
    );
    let auth = shared.get(key);
    if (!auth) {
      auth = method === "basic"
        ? await createBasicAuth({ file: config.basicFile!, realm: config.realm }, io)
        : method === "jwt"
        ? await createJwtAuth({ ...config.jwt!, realm: config.realm }, io)
        : await createSigv4Auth({ file: config.sigv4KeysFile!, region }, io);
      shared.set(key, auth);
    }
    out.push(auth);
  }
  return out;
}
