/**
 * Verifies a client's SigV4 signature as S3 does, in both forms: the `Authorization` header and
 * presigned query parameters (`X-Amz-*`). The canonical request is built from the raw request
 * target the client sent: the canonical URI is the path exactly as sent (no normalisation, no
 * second encoding), the canonical query is the raw query decoded once (`+` is a space) and
 * re-encoded and sorted (without `X-Amz-Signature` for a presigned URL), and the headers are
 * those named by `SignedHeaders`, in that order. Refusals carry S3's status and code. Pure.
 *
 * @module
 */

import { hmacHex } from "../crypto/sha256.ts";
import { BadTargetError, parseQuery } from "../s3/key.ts";
import { isAmzDate } from "../s3/scope.ts";
import {
  canonicalQuery,
  credentialScope,
  foldValue,
  MAX_PRESIGN_EXPIRES,
  type Pair,
  type SigningKeyCache,
  stringToSign,
  UNSIGNED_PAYLOAD,
} from "../s3/sigv4.ts";
import { truncate } from "../text.ts";
import type { AuthFailure, AuthOutcome } from "./method.ts";

/** The one algorithm S3 (and so the proxy) verifies. */
const ALGORITHM = "AWS4-HMAC-SHA256";
/** How far `x-amz-date` may be from the proxy's clock (S3's 15 minutes). */
export const MAX_SKEW_MS = 15 * 60 * 1000;

/** What is verified of a request. */
export interface VerifyRequest {
  readonly method: string;
  /** The request URL as the server received it: its path and query are the raw target. */
  readonly url: string;
  readonly headers: Headers;
}

/** A key the verifier knows. */
export interface VerifyKey {
  readonly secret: string;
  readonly prefixes?: readonly string[];
}

/** Where and when a request is verified, and with which keys. */
export interface VerifyContext {
  /** The route's region: the credential scope must name it (and service `s3`). */
  readonly region: string;
  /** The proxy's clock, epoch milliseconds. */
  readonly now: number;
  readonly lookup: (id: string) => VerifyKey | undefined;
  /** Derived signing keys, by secret, date and region. */
  readonly cache: SigningKeyCache;
}

function fail(status: 400 | 403, code: string, message: string, reason: string): AuthFailure {
  return { kind: "fail", status, code, message, reason: "sigv4: " + reason };
}

/** A client-given value for a message or the log: shortened, whatever its length. */
function shown(text: string): string {
  return truncate(text, 80);
}

const SIGNATURE_MISMATCH = "The request signature we calculated does not match the signature " +
  "you provided. Check your key and signing method.";
const V2_REFUSED = "Signature Version 2 is not supported: this proxy requires Signature " +
  "Version 4 (AWS4-HMAC-SHA256); configure the client for SigV4 (s3v4)";
const QUERY_PARAMS = "Query-string authentication version 4 requires the X-Amz-Algorithm, " +
  "X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires " +
  "parameters.";

/** The raw path (never empty) and raw query (without `?`) of a request URL. */
export function rawPathAndQuery(url: string): { path: string; query: string } {
  const scheme = url.indexOf("://");
  let start = scheme < 0 ? 0 : scheme + 3;
  while (start < url.length && url[start] !== "/" && url[start] !== "?") start++;
  const q = url.indexOf("?", start);
  const path = url.slice(start, q < 0 ? url.length : q);
  return { path: path === "" ? "/" : path, query: q < 0 ? "" : url.slice(q + 1) };
}

/** Equal strings, compared in time that depends on their length only. */
function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/** A signature to check, from either form. */
interface Claim {
  readonly form: "header" | "query";
  readonly credential: string;
  readonly datetime: string;
  readonly signedHeaders: string;
  readonly signature: string;
  readonly payloadHash: string;
  /** The pairs of the canonical query. */
  readonly query: readonly Pair[];
  /** Presigned: the lifetime in seconds. */
  readonly expires?: number;
  /** The session token the request carries, if any. */
  readonly token?: string;
}

/** The 400 of a malformed credential or scope, as S3 words it for each form. */
function malformed(form: Claim["form"], detail: string): AuthFailure {
  return form === "header"
    ? fail(
      400,
      "AuthorizationHeaderMalformed",
      "The authorization header is malformed; " + detail,
      "malformed Authorization: " + detail,
    )
    : fail(
      400,
      "AuthorizationQueryParametersError",
      "Error parsing the X-Amz-Credential parameter; " + detail,
      "malformed X-Amz-Credential: " + detail,
    );
}

/**
 * Verifies the SigV4 signature of a request. `absent` when the request carries no AWS
 * signature at all (none, or another scheme such as Basic or Bearer); a refusal with S3's
 * status and code when it carries one that does not hold, or a SigV2 one; `ok` with the key id
 * as principal (and the key's prefixes) when it holds.
 *
 * @example
 * ```ts
 * const outcome = verifySigv4(
 *   { method: req.method, url: req.url, headers: req.headers },
 *   { region: "us-east-1", now: Date.now(), lookup: (id) => keys.get(id), cache },
 * );
 * ```
 */
export function verifySigv4(req: VerifyRequest, ctx: VerifyContext): AuthOutcome {
  const target = rawPathAndQuery(req.url);
  let pairs: Pair[];
  try {
    pairs = parseQuery(target.query);
  } catch (e) {
    if (!(e instanceof BadTargetError)) throw e;
    return fail(400, "InvalidArgument", e.message, "query does not decode");
  }
  const names = new Set(pairs.map(([name]) => name));
  const presigned = names.has("X-Amz-Algorithm") || names.has("X-Amz-Credential") ||
    names.has("X-Amz-Signature");
  const authorization = req.headers.get("authorization")?.trim() ?? null;
  const aws4Header = authorization !== null && /^AWS4-/i.test(authorization);
  if (aws4Header && presigned) {
    return fail(
      400,
      "InvalidArgument",
      "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature " +
        "query string parameter or the Authorization header should be specified",
      "both an Authorization header and a presigned query",
    );
  }
  let claim: Claim | AuthFailure;
  if (aws4Header) {
    claim = headerClaim(authorization, req.headers, pairs);
  } else if (presigned) {
    claim = queryClaim(pairs);
  } else if (
    (authorization !== null && /^AWS \S*:/.test(authorization)) ||
    (names.has("AWSAccessKeyId") && names.has("Signature"))
  ) {
    return fail(403, "AccessDenied", V2_REFUSED, "SigV2 refused");
  } else {
    return { kind: "absent" };
  }
  if ("kind" in claim) return claim;
  return verifyClaim(claim, req, target.path, ctx);
}

/** The claim of an `Authorization: AWS4-HMAC-SHA256 ...` header, or its refusal. */
function headerClaim(
  authorization: string,
  headers: Headers,
  pairs: readonly Pair[],
): Claim | AuthFailure {
  const space = authorization.search(/\s/);
  const algorithm = space < 0 ? authorization : authorization.slice(0, space);
  if (algorithm !== ALGORITHM) {
    return malformed(
      "header",
      `the algorithm "${shown(algorithm)}" is not supported; use ${ALGORITHM}`,
    );
  }
  const fields = new Map<string, string>();
  for (const part of authorization.slice(space).split(",")) {
    const text = part.trim();
    const eq = text.indexOf("=");
    const name = eq < 0 ? text : text.slice(0, eq).trim();
    if (!["Credential", "SignedHeaders", "Signature"].includes(name) || fields.has(name)) {
      return malformed(
        "header",
        `"${shown(name)}" is not one of its three components Credential, SignedHeaders and ` +
          `Signature, or is given twice`,
      );
    }
    fields.set(name, text.slice(eq + 1).trim());
  }
  if (fields.size !== 3) {
    return malformed(
      "header",
      "it needs three components: Credential, SignedHeaders and Signature",
    );
  }
  const datetime = headers.get("x-amz-date");
  if (datetime === null || !isAmzDate(datetime)) {
    return fail(
      403,
      "AccessDenied",
      "AWS authentication requires a valid Date or x-amz-date header (this proxy reads " +
        "x-amz-date, YYYYMMDDTHHMMSSZ)",
      datetime === null ? "no x-amz-date" : "bad x-amz-date",
    );
  }
  const payloadHash = headers.get("x-amz-content-sha256");
  if (payloadHash === null) {
    return fail(
      400,
      "InvalidRequest",
      "Missing required header for this request: x-amz-content-sha256",
      "no x-amz-content-sha256",
    );
  }
  if (!/^([0-9a-f]{64}|UNSIGNED-PAYLOAD|STREAMING-[A-Z0-9-]+)$/.test(payloadHash)) {
    return fail(
      400,
      "InvalidArgument",
      "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-..., or a valid sha256 value.",
      "bad x-amz-content-sha256",
    );
  }
  return {
    form: "header",
    credential: fields.get("Credential")!,
    signedHeaders: fields.get("SignedHeaders")!,
    signature: fields.get("Signature")!,
    datetime,
    payloadHash,
    query: pairs,
    token: headers.get("x-amz-security-token") ?? undefined,
  };
}

/** The claim of a presigned query (`X-Amz-*`), or its refusal. */
function queryClaim(pairs: readonly Pair[]): Claim | AuthFailure {
  const values = new Map<string, string[]>();
  for (const [name, value] of pairs) {
    if (name.startsWith("X-Amz-")) values.set(name, [...values.get(name) ?? [], value]);
  }
  const one = (name: string) => values.get(name)?.length === 1 ? values.get(name)![0] : undefined;
  const queryError = (message: string, reason: string) =>
    fail(400, "AuthorizationQueryParametersError", message, reason);
  const algorithm = one("X-Amz-Algorithm");
  const credential = one("X-Amz-Credential");
  const datetime = one("X-Amz-Date");
  const rawExpires = one("X-Amz-Expires");
  const signedHeaders = one("X-Amz-SignedHeaders");
  const signature = one("X-Amz-Signature");
  if (
    algorithm === undefined || credential === undefined || datetime === undefined ||
    rawExpires === undefined || signedHeaders === undefined || signature === undefined
  ) {
    return queryError(QUERY_PARAMS, "presigned query incomplete (or a parameter twice)");
  }
  if (algorithm !== ALGORITHM) {
    return queryError(`X-Amz-Algorithm only supports "${ALGORITHM}"`, "presign algorithm");
  }
  if (!isAmzDate(datetime)) {
    return queryError(
      `X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`,
      "bad X-Amz-Date",
    );
  }
  if (!/^\d{1,10}$/.test(rawExpires)) {
    return queryError("X-Amz-Expires should be a number", "bad X-Amz-Expires");
  }
  const expires = Number(rawExpires);
  if (expires > MAX_PRESIGN_EXPIRES) {
    return queryError(
      `X-Amz-Expires must be less than a week (in seconds) that is ${MAX_PRESIGN_EXPIRES}`,
      "X-Amz-Expires over a week",
    );
  }
  return {
    form: "query",
    credential,
    datetime,
    signedHeaders,
    signature,
    payloadHash: UNSIGNED_PAYLOAD,
    query: pairs.filter(([name]) => name !== "X-Amz-Signature"),
    expires,
    token: one("X-Amz-Security-Token"),
  };
}

/** Checks a claim's scope, key, time, signed headers and signature; the first refusal wins. */
function verifyClaim(
  claim: Claim,
  req: VerifyRequest,
  path: string,
  ctx: VerifyContext,
): AuthOutcome {
  const scope = checkScope(claim, ctx.region);
  if ("kind" in scope) return scope;
  const { id, date, region, service } = scope;
  const found = lookupKey(claim, id, ctx);
  if ("kind" in found) return found;
  const { key } = found;
  const late = checkTime(claim, id, ctx.now);
  if (late !== undefined) return late;
  const headers = canonicalHeaders(claim, req.headers, id);
  if (typeof headers !== "string") return headers;
  const canonical = req.method + "\n" + path + "\n" + canonicalQuery(claim.query) + "\n" +
    headers + "\n" + claim.signedHeaders + "\n" + claim.payloadHash;
  const signingKey = ctx.cache.get(
    { accessKeyId: id, secretAccessKey: key.secret },
    date,
    region,
    service,
  );
  const toSign = stringToSign(claim.datetime, credentialScope(date, region, service), canonical);
  if (!constantTimeEqual(hmacHex(signingKey, toSign), claim.signature)) {
    return fail(403, "SignatureDoesNotMatch", SIGNATURE_MISMATCH, `bad signature (${id})`);
  }
  return { kind: "ok", principal: id, ...(key.prefixes ? { prefixes: key.prefixes } : {}) };
}

/** The credential's parts, once they name `aws4_request`, `s3`, the route's region and the date. */
function checkScope(
  claim: Claim,
  routeRegion: string,
): { id: string; date: string; region: string; service: string } | AuthFailure {
  const { form, datetime } = claim;
  const parts = claim.credential.split("/");
  if (parts.length !== 5 || parts.some((p) => p === "")) {
    return malformed(
      form,
      `the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
    );
  }
  const [id, date, region, service, terminal] = parts;
  if (terminal !== "aws4_request") {
    return malformed(
      form,
      `incorrect terminal "${shown(terminal)}". This endpoint uses "aws4_request".`,
    );
  }
  if (service !== "s3") {
    return malformed(form, `incorrect service "${shown(service)}". This endpoint belongs to "s3".`);
  }
  if (region !== routeRegion) {
    return malformed(form, `the region '${shown(region)}' is wrong; expecting '${routeRegion}'`);
  }
  if (date !== datetime.slice(0, 8)) {
    return malformed(
      form,
      `Invalid credential date "${shown(date)}". This date is not the same as X-Amz-Date: "${
        datetime.slice(0, 8)
      }".`,
    );
  }
  return { id, date, region, service };
}

/** The key of `id`, when it exists and the claim carries no session token. */
function lookupKey(
  claim: Claim,
  id: string,
  ctx: VerifyContext,
): { readonly key: VerifyKey } | AuthFailure {
  const key = ctx.lookup(id);
  if (key === undefined) {
    return fail(
      403,
      "InvalidAccessKeyId",
      "The AWS Access Key Id you provided does not exist in our records.",
      `unknown key id ${shown(id)}`,
    );
  }
  if (claim.token !== undefined) {
    return fail(
      400,
      "InvalidToken",
      "The provided token is malformed or otherwise invalid: proxy-issued keys take no " +
        "session token (unset AWS_SESSION_TOKEN)",
      `session token with ${id}`,
    );
  }
  return { key };
}

/**
 * The refusal of a claim signed too far from `now`: a header within 15 minutes either way; a
 * presigned URL from 15 minutes ahead until it expires.
 */
function checkTime(claim: Claim, id: string, now: number): AuthFailure | undefined {
  const { datetime } = claim;
  const t = Date.UTC(
    +datetime.slice(0, 4),
    +datetime.slice(4, 6) - 1,
    +datetime.slice(6, 8),
    +datetime.slice(9, 11),
    +datetime.slice(11, 13),
    +datetime.slice(13, 15),
  );
  if (claim.form === "header" && Math.abs(now - t) > MAX_SKEW_MS) {
    return fail(
      403,
      "RequestTimeTooSkewed",
      "The difference between the request time and the current time is too large.",
      `x-amz-date ${datetime} is more than 15 minutes from now (${id})`,
    );
  }
  if (claim.form === "query") {
    if (t - now > MAX_SKEW_MS) {
      return fail(
        403,
        "AccessDenied",
        "Request is not valid yet",
        `presigned in the future (${id})`,
      );
    }
    if (now > t + claim.expires! * 1000) {
      return fail(403, "AccessDenied", "Request has expired", `presigned URL expired (${id})`);
    }
  }
  return undefined;
}

/**
 * The canonical headers (`name:value\n` each, in `SignedHeaders` order), or the refusal of a
 * `SignedHeaders` that is malformed, leaves an `x-amz-*` header of the request out, or names one
 * the request does not carry.
 */
function canonicalHeaders(claim: Claim, headers: Headers, id: string): string | AuthFailure {
  const signed = claim.signedHeaders.split(";");
  if (signed.some((h) => h === "" || h !== h.toLowerCase()) || !signed.includes("host")) {
    return malformed(
      claim.form,
      `SignedHeaders "${shown(claim.signedHeaders)}" must be lower-case names separated by ";", ` +
        `host among them`,
    );
  }
  const unsigned = [...headers.keys()].filter((h) => h.startsWith("x-amz-") && !signed.includes(h));
  if (unsigned.length > 0) {
    return fail(
      403,
      "AccessDenied",
      "There were headers present in the request which were not signed: " +
        shown(unsigned.join(", ")),
      `unsigned headers ${shown(unsigned.join(","))} (${id})`,
    );
  }
  let text = "";
  for (const name of signed) {
    const value = headers.get(name);
    if (value === null) {
      return fail(
        403,
        "SignatureDoesNotMatch",
        SIGNATURE_MISMATCH,
        `signed header ${shown(name)} is not in the request (${id})`,
      );
    }
    text += name + ":" + foldValue(value) + "\n";
  }
  return text;
}
