/**
 * `deno task presign s3://BUCKET/KEY`: prints one presigned URL, from the same environment the
 * proxy reads. The key is taken literally, as `aws s3 presign` does: `#`, `?`, spaces and `%`
 * are part of it.
 *
 * ```sh
 * AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE AWS_SECRET_ACCESS_KEY=... \
 * AWS_ENDPOINT_HOST=s3.amazonaws.com S3_ADDRESSING_STYLE=virtual \
 *   deno task presign s3://examplebucket/test.txt --expires 86400 --date 20130524T000000Z
 * ```
 *
 * The logic is {@linkcode main}, a pure function of the arguments, the environment and the time;
 * the shell at the bottom only does the I/O. Needs `--allow-env` only.
 *
 * @module
 */

import { normalizeHost } from "../config.ts";
import { environmentCredentials } from "../credentials/env.ts";
import { CredentialSourceError } from "../credentials/provider.ts";
import { type Env, regionOf, setting } from "../env.ts";
import { isBucketName, isDnsBucketName } from "../s3/key.ts";
import { presignObjectUrl } from "../s3/presign_url.ts";
import { amzDate, isAmzDate } from "../s3/scope.ts";
import { type Credentials, MAX_PRESIGN_EXPIRES, SigningError } from "../s3/sigv4.ts";
import { type FlagSpec, parseFlags } from "./flags.ts";
import { type CliResult, runCli, usageError } from "./shell.ts";
import { VERSION } from "../version.ts";

export type { CliResult } from "./shell.ts";

/** Usage text, printed by `--help` and after a usage error. */
export const USAGE =
  `Usage: deno task presign s3://BUCKET/KEY [--expires SECONDS] [--method GET|HEAD] [--date YYYYMMDDTHHMMSSZ]

Prints a presigned URL for one object. The key is taken literally (#, ?, %, spaces included).

  --expires SECONDS   lifetime, 1 to ${MAX_PRESIGN_EXPIRES} (default: 3600)
  --method GET|HEAD   the method the URL is good for (default: GET)
  --date DATETIME     signing time, YYYYMMDDTHHMMSSZ in UTC (default: now)
  -h, --help          print this help
  --version           print the version

Environment:
  AWS_ACCESS_KEY_ID       access key id (required)
  AWS_SECRET_ACCESS_KEY   secret access key, or instead:
  AWS_SIGNING_KEY         a pre-derived signing key (base64, or hex), with
  AWS_KEY_SCOPE           its scope YYYYMMDD/REGION/s3/aws4_request (valid on that UTC day only)
  AWS_SESSION_TOKEN       session token of temporary credentials (signed into the URL)
  AWS_REGION              region; wins over AWS_DEFAULT_REGION (default: us-east-1)
  AWS_ENDPOINT_HOST       endpoint host[:port] (default: s3.REGION.amazonaws.com)
  AWS_ENDPOINT_SCHEME     https or http (default: https)
  S3_ADDRESSING_STYLE     path or virtual (default: path)

Exit codes: 0 ok, 1 bad environment or cannot sign, 2 bad usage.
`;

const DEFAULT_EXPIRES = 3600;

const FLAGS: FlagSpec = {
  values: { "--expires": "expires", "--method": "method", "--date": "date" },
  booleans: { "-h": "help", "--help": "help", "--version": "version" },
  positional: "s3://BUCKET/KEY",
  stopAt: "help",
};

function usage(message: string): CliResult {
  return usageError("presign", USAGE, message);
}

function failure(message: string): CliResult {
  return { code: 1, stdout: "", stderr: `presign: ${message}\n` };
}

/** The credentials the environment names (read as the proxy reads them), or why it names none. */
function credentialsOf(env: Env): Credentials | string {
  let found;
  try {
    found = environmentCredentials(env);
  } catch (error) {
    if (error instanceof CredentialSourceError) return error.message;
    throw error;
  }
  if ("absent" in found) return found.absent;
  if (found.mode === "signing key file") {
    return "AWS_SIGNING_KEY_FILE is not read by presign (it has no file access); " +
      "set AWS_SIGNING_KEY and AWS_KEY_SCOPE, or AWS_SECRET_ACCESS_KEY";
  }
  return found.credentials;
}

/**
 * Runs the presign CLI. Pure: `env` is the environment, `now` the time used when `--date` is not
 * given. Returns the URL on stdout (code 0), or a message on stderr with code 2 (bad usage) or 1
 * (bad environment, or the credentials cannot sign this request). Never prints a secret.
 *
 * @example
 * ```ts
 * main(
 *   ["s3://examplebucket/test.txt", "--expires", "86400", "--date", "20130524T000000Z"],
 *   { AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE", AWS_SECRET_ACCESS_KEY: "...",
 *     AWS_ENDPOINT_HOST: "s3.amazonaws.com", S3_ADDRESSING_STYLE: "virtual" },
 *   new Date(),
 * ).stdout; // "https://examplebucket.s3.amazonaws.com/test.txt?X-Amz-Algorithm=...\n"
 * ```
 */
export function main(args: readonly string[], env: Env, now: Date): CliResult {
  const parsed = parseFlags(args, FLAGS);
  if ("error" in parsed) return usage(parsed.error);
  const { flags, positional: target } = parsed;
  if (flags.has("help")) return { code: 0, stdout: USAGE, stderr: "" };
  if (flags.has("version")) return { code: 0, stdout: `presign ${VERSION}\n`, stderr: "" };
  if (target === undefined) return usage("missing s3://BUCKET/KEY");
  if (!target.startsWith("s3://")) return usage(`"${target}" is not s3://BUCKET/KEY`);
  const slash = target.indexOf("/", 5);
  const bucket = slash === -1 ? target.slice(5) : target.slice(5, slash);
  const key = slash === -1 ? "" : target.slice(slash + 1);
  if (!isBucketName(bucket)) return usage(`"${bucket}" is not a bucket name`);
  if (key === "") return usage(`missing the object key in "${target}"`);

  const rawExpires = flags.get("expires") ?? String(DEFAULT_EXPIRES);
  if (
    !/^\d+$/.test(rawExpires) || Number(rawExpires) < 1 ||
    Number(rawExpires) > MAX_PRESIGN_EXPIRES
  ) {
    return usage(
      `bad --expires "${rawExpires}": expected whole seconds from 1 to ${MAX_PRESIGN_EXPIRES}`,
    );
  }
  const method = (flags.get("method") ?? "GET").toUpperCase();
  if (method !== "GET" && method !== "HEAD") {
    return usage(`bad --method "${flags.get("method")}": expected GET or HEAD`);
  }
  const datetime = flags.get("date") ?? amzDate(now.getTime());
  if (!isAmzDate(datetime)) {
    return usage(`bad --date "${datetime}": expected YYYYMMDDTHHMMSSZ, a real UTC time`);
  }

  const credentials = credentialsOf(env);
  if (typeof credentials === "string") return failure(credentials);
  const region = regionOf(env);
  if (!/^[a-z0-9-]{1,64}$/.test(region)) {
    return failure(`AWS_REGION/AWS_DEFAULT_REGION: "${region}" is not a region name`);
  }
  const rawScheme = (setting(env, "AWS_ENDPOINT_SCHEME") ?? "https").toLowerCase();
  if (rawScheme !== "https" && rawScheme !== "http") {
    return failure(`AWS_ENDPOINT_SCHEME: "${rawScheme}" must be https or http`);
  }
  const scheme: "https" | "http" = rawScheme;
  const rawHost = setting(env, "AWS_ENDPOINT_HOST") ?? `s3.${region}.amazonaws.com`;
  const host = normalizeHost(rawHost, scheme);
  if (host === undefined) {
    return failure(`AWS_ENDPOINT_HOST: "${rawHost}" is not a host name with an optional port`);
  }
  const style = (setting(env, "S3_ADDRESSING_STYLE") ?? "path").toLowerCase();
  if (style !== "path" && style !== "virtual") {
    return failure(`S3_ADDRESSING_STYLE: "${style}" must be path or virtual`);
  }
  if (style === "virtual" && !isDnsBucketName(bucket)) {
    return failure(`"${bucket}" cannot be used with S3_ADDRESSING_STYLE=virtual (not a DNS name)`);
  }

  try {
    const url = presignObjectUrl({
      scheme,
      host,
      bucket,
      key,
      style,
      method,
      expires: Number(rawExpires),
      datetime,
      credentials,
      region,
    });
    return { code: 0, stdout: url + "\n", stderr: "" };
  } catch (error) {
    if (error instanceof SigningError) return failure(error.message);
    throw error;
  }
}

if (import.meta.main) runCli((args, env) => main(args, env(), new Date()));
