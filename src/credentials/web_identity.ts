/**
 * Web identity (IRSA and the like): the token in `AWS_WEB_IDENTITY_TOKEN_FILE` is exchanged for
 * temporary credentials of `AWS_ROLE_ARN` with STS `AssumeRoleWithWebIdentity`, an unsigned call
 * of the query API (sent as a form POST, so the token stays out of URLs), answered in XML. The
 * token file is re-read on every refresh: the platform rotates it.
 *
 * @module
 */

import { checkCredentials, type HttpPolicy, httpRequest } from "./http.ts";
import { CredentialSourceError, type ExpiringCredentials, fileErrorMessage } from "./provider.ts";

/**
 * The STS endpoint: `AWS_ENDPOINT_URL_STS` when set; else `https://sts.REGION.amazonaws.com`
 * when `AWS_STS_REGIONAL_ENDPOINTS=regional` and a region is set (`AWS_REGION`, else
 * `AWS_DEFAULT_REGION`); else the global `https://sts.amazonaws.com`.
 *
 * @example
 * ```ts
 * stsEndpoint({ AWS_STS_REGIONAL_ENDPOINTS: "regional", AWS_REGION: "eu-west-1" });
 * // "https://sts.eu-west-1.amazonaws.com"
 * ```
 */
export function stsEndpoint(env: Record<string, string | undefined>): string {
  if (env.AWS_ENDPOINT_URL_STS) return env.AWS_ENDPOINT_URL_STS;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION;
  if (env.AWS_STS_REGIONAL_ENDPOINTS?.toLowerCase() === "regional" && region) {
    return `https://sts.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
  }
  return "https://sts.amazonaws.com";
}

/**
 * The form body of an `AssumeRoleWithWebIdentity` call.
 *
 * @example
 * ```ts
 * assumeRoleBody("arn:aws:iam::123456789012:role/r", "s", "TOKEN").get("Action"); // "AssumeRoleWithWebIdentity"
 * ```
 */
export function assumeRoleBody(
  roleArn: string,
  sessionName: string,
  token: string,
): URLSearchParams {
  return new URLSearchParams([
    ["Action", "AssumeRoleWithWebIdentity"],
    ["Version", "2011-06-15"],
    ["RoleArn", roleArn],
    ["RoleSessionName", sessionName],
    ["WebIdentityToken", token],
  ]);
}

function decodeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === "#") {
      const code = e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return code <= 0x10ffff ? String.fromCodePoint(code) : "";
    }
    return { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" }[e] as string;
  });
}

/** The text of the only `<name>` element in `xml`, or `undefined` when none or several. */
function onlyElement(xml: string, name: string): string | undefined {
  const re = new RegExp(`<${name}>([^<]*)</${name}>`, "g");
  const all = [...xml.matchAll(re)];
  return all.length === 1 ? decodeXml(all[0][1]).trim() : undefined;
}

/**
 * Parses a successful `AssumeRoleWithWebIdentity` answer. Throws a
 * {@linkcode CredentialSourceError} for anything else (an error document, HTML, a missing
 * field), naming only what is wrong.
 *
 * @example
 * ```ts
 * parseAssumeRoleResponse(xml, "STS").accessKeyId; // "ASIA..."
 * ```
 */
export function parseAssumeRoleResponse(xml: string, label: string): ExpiringCredentials {
  const result = /<AssumeRoleWithWebIdentityResult>([\s\S]*)<\/AssumeRoleWithWebIdentityResult>/
    .exec(xml);
  const block = result && /<Credentials>([\s\S]*?)<\/Credentials>/.exec(result[1]);
  if (!/<AssumeRoleWithWebIdentityResponse[\s>]/.test(xml) || !block) {
    throw new CredentialSourceError(
      `${label} answered a body that is not an AssumeRoleWithWebIdentityResponse`,
    );
  }
  const inner = block[1];
  return checkCredentials({
    AccessKeyId: onlyElement(inner, "AccessKeyId"),
    SecretAccessKey: onlyElement(inner, "SecretAccessKey"),
    Token: onlyElement(inner, "SessionToken"),
    Expiration: onlyElement(inner, "Expiration"),
  }, label);
}

/**
 * The error code and message of an STS error document (`<ErrorResponse><Error><Code>`), each
 * cleaned to printable text and shortened, with every occurrence of `scrub` removed.
 *
 * @example
 * ```ts
 * stsError("<ErrorResponse><Error><Code>AccessDenied</Code></Error></ErrorResponse>", "").code; // "AccessDenied"
 * ```
 */
export function stsError(xml: string, scrub: string): { code?: string; message?: string } {
  const clean = (s: string | undefined) => {
    if (!s) return undefined;
    let out = s;
    if (scrub) out = out.split(scrub).join("[redacted]");
    out = out.replace(/[^\x20-\x7e]+/g, " ").trim();
    return out.length > 200 ? out.slice(0, 200) + "..." : out || undefined;
  };
  const code = onlyElement(xml, "Code");
  return {
    code: code && /^[\w.-]{1,64}$/.test(code) ? code : undefined,
    message: clean(onlyElement(xml, "Message")),
  };
}

/** What {@linkcode fetchWebIdentityCredentials} needs. */
export interface WebIdentityOptions {
  readonly endpoint: string;
  readonly roleArn: string;
  readonly sessionName: string;
  readonly tokenFile: string;
  readonly fetch: typeof fetch;
  readonly readTextFile: (path: string) => Promise<string>;
  readonly http: HttpPolicy;
}

/**
 * One `AssumeRoleWithWebIdentity` call, with the token file read afresh.
 *
 * @example
 * ```ts
 * const creds = await fetchWebIdentityCredentials({ endpoint: "https://sts.amazonaws.com",
 *   roleArn, sessionName: "proxy", tokenFile, fetch, readTextFile: (p) => Deno.readTextFile(p),
 *   http: { timeoutMs: 5000, attempts: 3 } });
 * ```
 */
export async function fetchWebIdentityCredentials(
  options: WebIdentityOptions,
): Promise<ExpiringCredentials> {
  let token: string;
  try {
    token = (await options.readTextFile(options.tokenFile)).trim();
  } catch (error) {
    throw new CredentialSourceError(
      `cannot read the web identity token file ${options.tokenFile}: ${fileErrorMessage(error)}`,
    );
  }
  if (token === "") {
    throw new CredentialSourceError(`the web identity token file ${options.tokenFile} is empty`);
  }
  const label = `STS AssumeRoleWithWebIdentity at ${options.endpoint}`;
  const answer = await httpRequest(
    options.fetch,
    options.endpoint,
    {
      method: "POST",
      headers: {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "accept": "application/xml",
      },
      body: assumeRoleBody(options.roleArn, options.sessionName, token).toString(),
    },
    options.http,
    label,
  );
  if (answer.status !== 200) {
    const { code, message } = stsError(answer.text, token);
    throw new CredentialSourceError(
      `${label} answered HTTP ${answer.status}` + (code ? ` ${code}` : "") +
        (message ? `: ${message}` : ""),
    );
  }
  return parseAssumeRoleResponse(answer.text, label);
}
