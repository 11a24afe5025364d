/**
 * The contract of an access-control method (`basic`, `jwt`, `sigv4`), and how a route's methods
 * are combined: any one of them admits a request; a request that none admits gets the
 * challenges of all of them, or the failure of the credentials it presented.
 *
 * @module
 */

/** What the methods touch: files, the network (JWKS), the clock, timers, the log. */
export interface AuthIo {
  readonly readTextFile: (path: string) => Promise<string>;
  /** `st_mode` of a file, or undefined where the runtime cannot tell. */
  readonly fileMode: (path: string) => Promise<number | undefined>;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly log: (entry: Record<string, unknown>) => void;
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (id: unknown) => void;
}

/** A log function of one method: every entry names the method and what it reads. */
export type MethodLog = (level: string, event: string, fields?: Record<string, unknown>) => void;

/**
 * The log of one method, its entries `{ level, event, ...about, ...fields }`.
 *
 * @example
 * ```ts
 * const log = methodLog(io, { method: "basic", file });
 * log("info", "auth_basic_file_loaded", { users: 3 });
 * ```
 */
export function methodLog(io: Pick<AuthIo, "log">, about: Record<string, unknown>): MethodLog {
  return (level, event, fields = {}) => io.log({ level, event, ...about, ...fields });
}

/** A method that cannot be set up (a file that does not parse...): the message names why. */
export class AuthConfigError extends Error {
  override name = "AuthConfigError";
}

/** What a method sees of a request. */
export interface AuthInput {
  readonly req: Request;
  readonly method: string;
  /** The request URL as the server received it (raw target, for SigV4's canonical request). */
  readonly url: string;
  readonly clientAddr?: string;
}

/** A refusal: status, an S3-style code, a message safe to show, and headers of the answer. */
export interface AuthFailure {
  readonly kind: "fail";
  /**
   * `400` for malformed credentials (SigV4's `AuthorizationHeaderMalformed`...); `429`: too many
   * failures from this address (with `Retry-After`).
   */
  readonly status: 400 | 401 | 403 | 429;
  readonly code: string;
  readonly message: string;
  /** `WWW-Authenticate`, for a method whose credentials were presented and refused. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Why, for the log only (never a password, token or secret). */
  readonly reason: string;
}

/**
 * The `401` of a method's credentials, presented and refused (or missing): `wwwAuthenticate`
 * tells the client how to try again, `reason` is for the log only.
 *
 * @example
 * ```ts
 * unauthorized("Unauthorized", "wrong user name or password", 'Basic realm="docs"', "unknown user");
 * ```
 */
export function unauthorized(
  code: string,
  message: string,
  wwwAuthenticate: string,
  reason: string,
): AuthFailure {
  return {
    kind: "fail",
    status: 401,
    code,
    message,
    headers: { "www-authenticate": wwwAuthenticate },
    reason,
  };
}

/** What one method says of a request. */
export type AuthOutcome =
  /** This method's credentials are not in the request. */
  | { readonly kind: "absent" }
  | {
    readonly kind: "ok";
    /** Who: a user name, a token's `sub`, a key id. Logged. */
    readonly principal: string;
    /** `bucket/key` prefixes the principal may read and list; undefined: everything. */
    readonly prefixes?: readonly string[];
  }
  | AuthFailure;

/** One access-control method of a route. */
export interface Authenticator {
  readonly name: "basic" | "jwt" | "sigv4";
  check(input: AuthInput): Promise<AuthOutcome>;
  /** The challenge for a request without credentials (`WWW-Authenticate`), if the method has one. */
  challenge?(): string;
  /** Re-reads files (SIGHUP). Never rejects. */
  reload?(): Promise<void>;
  close?(): void;
}

/** A request admitted: who, and what they may read. */
export interface Admitted {
  readonly kind: "ok";
  readonly principal?: string;
  readonly method?: string;
  readonly prefixes?: readonly string[];
}

/**
 * Runs a route's methods in order; the first that admits the request wins. Otherwise the first
 * failure of presented credentials is the answer (with every challenge), or, with no
 * credentials at all, `401` with every challenge (`403 AccessDenied` when no method has one,
 * as S3 answers an anonymous request).
 *
 * @example
 * ```ts
 * const result = await authenticate(route.auth, { req, method: req.method, url: req.url });
 * if (result.kind === "fail") return errorResponse(result, client, req.method);
 * ```
 */
export async function authenticate(
  methods: readonly Authenticator[],
  input: AuthInput,
): Promise<Admitted | (AuthFailure & { readonly method?: string })> {
  if (methods.length === 0) return { kind: "ok" };
  let failure: (AuthFailure & { method: string }) | undefined;
  for (const m of methods) {
    const outcome = await m.check(input);
    if (outcome.kind === "ok") {
      return {
        kind: "ok",
        principal: outcome.principal,
        method: m.name,
        prefixes: outcome.prefixes,
      };
    }
    if (outcome.kind === "fail" && !failure) failure = { ...outcome, method: m.name };
  }
  const challengesOf = (ms: readonly Authenticator[]) =>
    ms.map((m) => m.challenge?.()).filter((c): c is string => !!c);
  const challenges = challengesOf(methods);
  if (failure) {
    // The refused method's own header stands for its challenge; the others add theirs.
    const own = failure.headers?.["www-authenticate"];
    const others = challengesOf(own ? methods.filter((m) => m.name !== failure!.method) : methods);
    const all = [...new Set([...(own ? [own] : []), ...others])];
    return {
      ...failure,
      headers: all.length > 0 && failure.status === 401
        ? { ...failure.headers, "www-authenticate": all.join(", ") }
        : failure.headers,
    };
  }
  if (challenges.length === 0) {
    return {
      kind: "fail",
      status: 403,
      code: "AccessDenied",
      message: "Access Denied: this route needs credentials",
      reason: "no credentials",
    };
  }
  return unauthorized(
    "Unauthorized",
    "this route needs credentials",
    challenges.join(", "),
    "no credentials",
  );
}

/**
 * Whether a principal limited to `prefixes` may make this request: read a key under one of
 * them, or list a prefix under one of them (a listing of `bucket/` with `prefix=nightly/` is
 * under `bucket/nightly/`). Bucket-level requests other than listings (HEAD, location) need a
 * prefix in that bucket; the bucket list needs unlimited access.
 */
export function mayRead(
  prefixes: readonly string[] | undefined,
  target: { readonly bucket?: string; readonly key?: string; readonly listPrefix?: string },
): boolean {
  if (prefixes === undefined) return true;
  if (target.bucket === undefined) return false;
  const path = target.bucket + "/" + (target.key ?? target.listPrefix ?? "");
  if (target.key === undefined && target.listPrefix === undefined) {
    return prefixes.some((p) => p.startsWith(target.bucket + "/"));
  }
  return prefixes.some((p) => path.startsWith(p));
}
