/**
 * The access-control settings of a route: `AUTH` (the methods, any one of which admits a
 * request) and each method's own settings. A method named without what it needs is a
 * configuration error, so no misconfiguration leaves a route open. Pure.
 *
 * @module
 */

import { type Env, setting } from "../env.ts";

/** The ways a request can be admitted. */
export type AuthMethodName = "none" | "basic" | "jwt" | "sigv4";

const METHODS: readonly AuthMethodName[] = ["none", "basic", "jwt", "sigv4"];

/** A claim rule of `AUTH_JWT_REQUIRE`: the claim must equal (or, as an array, contain) the value. */
export type ClaimRule = readonly [claim: string, value: string];

/** A route's access control. */
export interface AuthConfig {
  /** Never empty; `["none"]` is an open route. */
  readonly methods: readonly AuthMethodName[];
  /** `AUTH_REALM`, for the Basic challenge. */
  readonly realm: string;
  /** `AUTH_BASIC_FILE`: an htpasswd file of bcrypt lines (with `basic`). */
  readonly basicFile?: string;
  /** With `jwt`. */
  readonly jwt?: {
    /** `AUTH_JWT_ISSUER`: the `iss` required, and where discovery starts. */
    readonly issuer?: string;
    /** `AUTH_JWT_JWKS_URL`: the key set, when not discovered from the issuer. */
    readonly jwksUrl?: string;
    /** `AUTH_JWT_AUDIENCE`: an `aud` the token must hold. */
    readonly audience: string;
    /** `AUTH_JWT_REQUIRE`: every rule must hold. */
    readonly require: readonly ClaimRule[];
  };
  /** `AUTH_SIGV4_KEYS_FILE`: proxy-issued S3 keys (with `sigv4`). */
  readonly sigv4KeysFile?: string;
}

/** The settings read here, for the routes file's list of per-route settings. */
export const AUTH_SETTINGS: readonly string[] = [
  "AUTH",
  "AUTH_REALM",
  "AUTH_BASIC_FILE",
  "AUTH_JWT_ISSUER",
  "AUTH_JWT_JWKS_URL",
  "AUTH_JWT_AUDIENCE",
  "AUTH_JWT_REQUIRE",
  "AUTH_SIGV4_KEYS_FILE",
];

/** An http(s) URL, or a problem. */
function url(name: string, value: string, errors: string[]): string | undefined {
  try {
    const parsed = new URL(value);
    if (parsed.protocol === "https:" || parsed.protocol === "http:") return value;
  } catch {
    // reported below
  }
  errors.push(`${name}: "${value}" is not an http(s) URL`);
  return undefined;
}

/**
 * Parses `AUTH` and the settings of the methods it names; problems are pushed to `errors`.
 * Without `AUTH` the route is open (`["none"]`): the routes file requires it on every route.
 *
 * @example
 * ```ts
 * parseAuthConfig({ AUTH: "basic", AUTH_BASIC_FILE: "/etc/s3proxy/htpasswd" }, []).methods;
 * // ["basic"]
 * ```
 */
export function parseAuthConfig(env: Env, errors: string[]): AuthConfig {
  const raw = setting(env, "AUTH") ?? "none";
  const methods: AuthMethodName[] = [];
  for (const part of raw.split(",").map((m) => m.trim().toLowerCase())) {
    if (!METHODS.includes(part as AuthMethodName)) {
      errors.push(`AUTH: "${part}" is not one of ${METHODS.join(", ")}`);
    } else if (!methods.includes(part as AuthMethodName)) {
      methods.push(part as AuthMethodName);
    }
  }
  if (methods.includes("none") && methods.length > 1) {
    errors.push(`AUTH: "none" admits everyone; it cannot be combined with other methods`);
  }
  const has = (m: AuthMethodName) => methods.includes(m);
  const realm = setting(env, "AUTH_REALM") ?? "s3 signing proxy";
  // deno-lint-ignore no-control-regex
  if (/["\\\u0000-\u001f\u007f]/.test(realm)) {
    errors.push("AUTH_REALM: must not hold quotes, backslashes or control characters");
  }
  const basicFile = setting(env, "AUTH_BASIC_FILE");
  if (has("basic") && !basicFile) {
    errors.push("AUTH=basic needs AUTH_BASIC_FILE (an htpasswd file)");
  }
  const sigv4KeysFile = setting(env, "AUTH_SIGV4_KEYS_FILE");
  if (has("sigv4") && !sigv4KeysFile) {
    errors.push("AUTH=sigv4 needs AUTH_SIGV4_KEYS_FILE (a file of proxy-issued keys)");
  }
  let jwt: AuthConfig["jwt"];
  if (has("jwt")) {
    const rawIssuer = setting(env, "AUTH_JWT_ISSUER");
    const rawJwks = setting(env, "AUTH_JWT_JWKS_URL");
    const issuer = rawIssuer && url("AUTH_JWT_ISSUER", rawIssuer, errors);
    const jwksUrl = rawJwks && url("AUTH_JWT_JWKS_URL", rawJwks, errors);
    if (!rawIssuer && !rawJwks) {
      errors.push("AUTH=jwt needs AUTH_JWT_ISSUER (OIDC discovery) or AUTH_JWT_JWKS_URL");
    }
    const audience = setting(env, "AUTH_JWT_AUDIENCE");
    if (!audience) errors.push("AUTH=jwt needs AUTH_JWT_AUDIENCE (the audience tokens must name)");
    const require: ClaimRule[] = [];
    for (const rule of (setting(env, "AUTH_JWT_REQUIRE") ?? "").split(",")) {
      if (rule.trim() === "") continue;
      const eq = rule.indexOf("=");
      const claim = eq < 0 ? "" : rule.slice(0, eq).trim();
      if (claim === "") {
        errors.push(`AUTH_JWT_REQUIRE: "${rule.trim()}" is not CLAIM=VALUE`);
        continue;
      }
      require.push([claim, rule.slice(eq + 1).trim()]);
    }
    jwt = {
      issuer: issuer || undefined,
      jwksUrl: jwksUrl || undefined,
      audience: audience ?? "",
      require,
    };
  }
  return { methods, realm, basicFile, jwt, sigv4KeysFile };
}
