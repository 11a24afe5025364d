/**
 * `deno task signing-key`: derives date-scoped SigV4 signing keys from a secret access key, so
 * that a proxy can sign for a day without holding the secret (the seed's generator, compatible
 * with ngx_aws_auth's `generate_signing_key`).
 *
 * ```sh
 * deno task signing-key -k wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY -r us-east-1 -d 20160902
 * # L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=
 * # 20160902/us-east-1/s3/aws4_request
 * ```
 *
 * The logic is {@linkcode main}, a pure function of the arguments and the time; the shell at the
 * bottom only does the I/O. Needs no permissions.
 *
 * @module
 */

import { toHex } from "../crypto/sha256.ts";
import { base64 } from "../text.ts";
import { parseFlags } from "./flags.ts";
import { type CliResult, runCli, usageError } from "./shell.ts";
import { VERSION } from "../version.ts";
import { addDays, isCalendarDate, utcDate } from "../s3/scope.ts";
import { credentialScope, deriveSigningKey } from "../s3/sigv4.ts";

export type { CliResult } from "./shell.ts";

/** Usage text, printed by `--help` and after a usage error. */
export const USAGE = `Usage: deno task signing-key -k SECRET_KEY -r REGION [options]

Derives the SigV4 signing key of one UTC day and prints it (base64), then its scope.

  -k, --secret-key KEY   secret access key (required)
  -r, --region REGION    region, e.g. us-east-1 (required)
  -s, --service NAME     service (default: s3)
  -d, --date YYYYMMDD    UTC date of the key (default: today, UTC)
      --days N           print N consecutive days from the date, one "KEY SCOPE" line each
      --no-base64        print keys in hex instead of base64
  -v, --verbose          say what was chosen, on stderr
  -h, --help             print this help
      --version          print the version

A signing key is valid for requests dated on its UTC day only.
Exit codes: 0 ok, 2 bad usage.
`;

const MAX_DAYS = 366;
const NAME = /^[a-z0-9-]{1,64}$/;

/** Flags that take a value, by every spelling. */
const VALUE_FLAGS: Record<string, string> = {
  "-k": "secret-key",
  "--secret-key": "secret-key",
  "-r": "region",
  "--region": "region",
  "-s": "service",
  "--service": "service",
  "-d": "date",
  "--date": "date",
  "--days": "days",
};

/** Flags without a value. */
const BOOLEAN_FLAGS: Record<string, string> = {
  "--no-base64": "no-base64",
  "-v": "verbose",
  "--verbose": "verbose",
  "-h": "help",
  "--help": "help",
  "--version": "version",
};

function usage(message: string): CliResult {
  return usageError("signing-key", USAGE, message);
}

/**
 * Runs the signing-key CLI on `args` at time `now`. Pure: returns what to print and the exit
 * code (0, or 2 for bad usage). Never prints the secret.
 *
 * @example
 * ```ts
 * main(["-k", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "-r", "us-east-1", "-d", "20160902"], new Date());
 * // { code: 0, stdout: "L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=\n20160902/us-east-1/s3/aws4_request\n", stderr: "" }
 * ```
 */
export function main(args: readonly string[], now: Date): CliResult {
  const parsed = parseFlags(args, { values: VALUE_FLAGS, booleans: BOOLEAN_FLAGS });
  if ("error" in parsed) return usage(parsed.error);
  const { flags } = parsed;
  if (flags.has("help")) return { code: 0, stdout: USAGE, stderr: "" };
  if (flags.has("version")) return { code: 0, stdout: `signing-key ${VERSION}\n`, stderr: "" };

  const secret = flags.get("secret-key");
  if (secret === undefined) return usage("missing -k/--secret-key");
  if (secret === "") return usage("-k/--secret-key is empty");
  const region = flags.get("region");
  if (region === undefined) return usage("missing -r/--region");
  if (!NAME.test(region)) {
    return usage(`bad region "${region}": expected lower-case letters, digits and -`);
  }
  const service = flags.get("service") ?? "s3";
  if (!NAME.test(service)) {
    return usage(`bad service "${service}": expected lower-case letters, digits and -`);
  }
  const date = flags.get("date") ?? utcDate(now.getTime());
  if (!isCalendarDate(date)) {
    return usage(`bad date "${date}": expected YYYYMMDD, a real UTC calendar day`);
  }
  const rawDays = flags.get("days");
  if (
    rawDays !== undefined &&
    (!/^\d+$/.test(rawDays) || Number(rawDays) < 1 || Number(rawDays) > MAX_DAYS)
  ) {
    return usage(`bad --days "${rawDays}": expected a whole number from 1 to ${MAX_DAYS}`);
  }
  const days = rawDays === undefined ? 1 : Number(rawDays);
  const hex = flags.has("no-base64");

  const lines: string[] = [];
  for (let i = 0; i < days; i++) {
    const day = addDays(date, i);
    const key = deriveSigningKey(secret, day, region, service);
    const text = hex ? toHex(key) : base64(key);
    const scope = credentialScope(day, region, service);
    if (rawDays === undefined) lines.push(text, scope);
    else lines.push(text + " " + scope);
  }

  let stderr = "";
  if (flags.has("verbose")) {
    stderr = [
      `region: ${region}`,
      `service: ${service}${flags.has("service") ? "" : " (default)"}`,
      `date: ${date}${flags.has("date") ? "" : " (today, UTC)"}`,
      `days: ${days}${rawDays === undefined ? "" : ` (through ${addDays(date, days - 1)})`}`,
      `format: ${hex ? "hex" : "base64"}`,
      `output: ${rawDays === undefined ? "key, then scope" : '"KEY SCOPE" per line'}`,
      "",
    ].join("\n");
  }
  return { code: 0, stdout: lines.join("\n") + "\n", stderr };
}

if (import.meta.main) runCli((args) => main(args, new Date()));
