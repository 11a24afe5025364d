/**
 * SigV4 dates and credential scopes: `x-amz-date` and `YYYYMMDD` formatting and checks, parsing
 * and checking a scope `YYYYMMDD/REGION/SERVICE/aws4_request`, and decoding a pre-derived 32-byte
 * signing key. Pure; shared by the signer, the credential sources, the config and the CLIs.
 *
 * @module
 */

/**
 * Formats epoch milliseconds as an `x-amz-date`, `YYYYMMDDTHHMMSSZ` (UTC).
 *
 * @example
 * ```ts
 * amzDate(Date.UTC(2013, 4, 24)); // "20130524T000000Z"
 * ```
 */
export function amzDate(ms: number): string {
  // The same second as the last call (most requests, under load): the same string.
  const second = Math.floor(ms / 1000);
  if (second === lastSecond) return lastAmzDate;
  const iso = new Date(ms).toISOString();
  lastAmzDate = iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10) + "T" + iso.slice(11, 13) +
    iso.slice(14, 16) + iso.slice(17, 19) + "Z";
  lastSecond = second;
  return lastAmzDate;
}
let lastSecond = NaN;
let lastAmzDate = "";

/**
 * The UTC date `YYYYMMDD` of an instant given in epoch milliseconds.
 *
 * @example
 * ```ts
 * utcDate(Date.UTC(2024, 0, 2, 23, 59)); // "20240102"
 * ```
 */
export function utcDate(ms: number): string {
  const iso = new Date(ms).toISOString();
  return iso.slice(0, 4) + iso.slice(5, 7) + iso.slice(8, 10);
}

/**
 * The UTC date `YYYYMMDD` that is `days` days after `date` (a valid `YYYYMMDD`).
 *
 * @example
 * ```ts
 * addDays("20241231", 1); // "20250101"
 * ```
 */
export function addDays(date: string, days: number): string {
  return utcDate(Date.UTC(+date.slice(0, 4), +date.slice(4, 6) - 1, +date.slice(6, 8) + days));
}

const DATE = /^\d{8}$/;
const DATETIME = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;

// Both checks round-trip through `Date.UTC`, which rolls 20230229 over to 20230301 (and maps
// years below 100 to the 1900s), so a date that is not a real day never comes back the same.
// Years before 1970 are refused: no SigV4 request is dated before the epoch.

/**
 * Whether `date` is `YYYYMMDD` naming a real calendar day, from 1970.
 *
 * @example
 * ```ts
 * isCalendarDate("20240229"); // true
 * isCalendarDate("20230229"); // false
 * ```
 */
export function isCalendarDate(date: string): boolean {
  return DATE.test(date) && date >= "1970" && addDays(date, 0) === date;
}

/**
 * Whether `datetime` is `YYYYMMDDTHHMMSSZ` naming a real UTC instant, from 1970.
 *
 * @example
 * ```ts
 * isAmzDate("20130524T000000Z"); // true
 * isAmzDate("20130532T000000Z"); // false
 * ```
 */
export function isAmzDate(datetime: string): boolean {
  const m = DATETIME.exec(datetime);
  if (m === null || datetime < "1970") return false;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return amzDate(Date.UTC(y, mo - 1, d, h, mi, s)) === datetime;
}

/** The shape of a credential scope, for messages. */
export const SCOPE_FORMAT = "YYYYMMDD/REGION/SERVICE/aws4_request";

/** The parts of a scope `YYYYMMDD/REGION/SERVICE/aws4_request`. */
export interface ScopeParts {
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

const SCOPE = /^(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request$/;

/**
 * Splits a credential scope, or answers `undefined` when it is not
 * `YYYYMMDD/REGION/SERVICE/aws4_request` with a real calendar date.
 *
 * @example
 * ```ts
 * parseScope("20160902/us-east-1/s3/aws4_request"); // { date: "20160902", region: "us-east-1", service: "s3" }
 * ```
 */
export function parseScope(scope: string): ScopeParts | undefined {
  const m = SCOPE.exec(scope);
  if (m === null || !isCalendarDate(m[1])) return undefined;
  return { date: m[1], region: m[2], service: m[3] };
}

/**
 * Why a key of scope `scope` cannot sign a request dated `date` (`YYYYMMDD`) in `region` and
 * `service`, or `undefined` when it can.
 *
 * @example
 * ```ts
 * scopeMismatch("20160902/us-east-1/s3/aws4_request", "20160902", "us-east-1", "s3"); // undefined
 * ```
 */
export function scopeMismatch(
  scope: string,
  date: string,
  region: string,
  service: string,
): string | undefined {
  const parts = parseScope(scope);
  if (parts === undefined) return `invalid signing key scope "${scope}": expected ${SCOPE_FORMAT}`;
  if (parts.date !== date) {
    return `signing key expired: its scope is for ${parts.date} (UTC) but the request is dated ` +
      `${date}; a signing key is valid for one UTC day`;
  }
  if (parts.region !== region) {
    return `signing key scope is for region ${parts.region}, not ${region}`;
  }
  if (parts.service !== service) {
    return `signing key scope is for service ${parts.service}, not ${service}`;
  }
  return undefined;
}

/**
 * What is wrong with a configured scope for a proxy of `region` and `service` (its date is not
 * checked: a key's day comes and goes), one message each; empty when nothing is. Messages do not
 * name the setting, so that the caller can (`AWS_KEY_SCOPE: ...`).
 *
 * @example
 * ```ts
 * scopeProblems("20160902/eu-west-1/s3/aws4_request", "us-east-1");
 * // ["its region eu-west-1 is not the configured region us-east-1"]
 * ```
 */
export function scopeProblems(scope: string, region: string, service = "s3"): string[] {
  const parts = parseScope(scope);
  if (parts === undefined) return [`"${scope}" is not YYYYMMDD/REGION/${service}/aws4_request`];
  const problems = [];
  if (parts.region !== region) {
    problems.push(`its region ${parts.region} is not the configured region ${region}`);
  }
  if (parts.service !== service) problems.push(`its service ${parts.service} is not ${service}`);
  return problems;
}

const BASE64_32 = /^[A-Za-z0-9+/]{43}=$/;
const HEX_32 = /^[0-9a-fA-F]{64}$/;

/**
 * Decodes a 32-byte signing key written in base64 (as `signing-key` prints it) or in hex (as
 * `signing-key --no-base64` prints it); `undefined` for anything else.
 *
 * @example
 * ```ts
 * decodeSigningKey("L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=")?.length; // 32
 * ```
 */
export function decodeSigningKey(text: string): Uint8Array | undefined {
  const out = new Uint8Array(32);
  if (HEX_32.test(text)) {
    for (let i = 0; i < 32; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return out;
  }
  if (!BASE64_32.test(text)) return undefined;
  // 43 base64 digits and one "=" are always 32 bytes.
  const binary = atob(text);
  for (let i = 0; i < 32; i++) out[i] = binary.charCodeAt(i);
  return out;
}
