/**
 * Web identity (IRSA and the like): the token in `AWS_WEB_IDENTITY_TOKEN_FILE` is exchanged for
 * temporary credentials of `AWS_ROLE_ARN` with STS `AssumeRoleWithWebIdentity`, an unsigned call
 * of the query API (sent as a form POST, so the token stays out of URLs), answered in XML. The
 * token file is re-read on every refresh: the platform rotates it.
 *
 * @module
 */

import { type Env, setting } from "../env.ts";
import { truncate } from "../text.ts";
import { localName, onlyChild, parseXml, textOf, type XmlElement } from "../xml.ts";
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
export function stsEndpoint(env: Env): string {
  const url = setting(env, "AWS_ENDPOINT_URL_STS");
  if (url !== undefined) return url;
  const region = setting(env, "AWS_REGION") ?? setting(env, "AWS_DEFAULT_REGION");
  if (setting(env, "AWS_STS_REGIONAL_ENDPOINTS")?.toLowerCase() === "regional" && region) {
    return `https://sts.${region}.amazonaws.com${region.startsWith("cn-") ? ".cn" : ""}`;
  }
  return "https://sts.amazonaws.com";
}

/**
 * The form body of an `AssumeRoleWithWebIdentity` call.
 */
function assumeRoleBody(
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

/** The parsed document, or `undefined` when the body is not well-formed XML. */
function parseDocument(xml: string): XmlElement | undefined {
  try {
    return parseXml(xml);
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** The trimmed text of the only leaf child `name` of `element`; `undefined` otherwise. */
function onlyText(element: XmlElement | undefined, name: string): string | undefined {
  const child = element && onlyChild(element, name);
  if (child === undefined || child.children.some((c) => typeof c !== "string")) return undefined;
  return textOf(child).trim();
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
  const root = parseDocument(xml);
  const result = root && localName(root.name) === "AssumeRoleWithWebIdentityResponse"
    ? onlyChild(root, "AssumeRoleWithWebIdentityResult")
    : undefined;
  const credentials = result && onlyChild(result, "Credentials");
  if (credentials === undefined) {
    throw new CredentialSourceError(
      `${label} answered a body that is not an AssumeRoleWithWebIdentityResponse`,
    );
  }
  return checkCredentials({
    AccessKeyId: onlyText(credentials, "AccessKeyId"),
    SecretAccessKey: onlyText(credentials, "SecretAccessKey"),
    Token: onlyText(credentials, "SessionToken"),
    Expiration: onlyText(credentials, "Expiration"),
  }, label);
}

/**
 * The error code and message of an STS error document (`<ErrorResponse><Error><Code>`), each
 * cleaned to printable text and shortened, with every occurrence of `scrub` removed.
 */
function stsError(xml: string, scrub: string): { code?: string; message?: string } {
  const clean = (s: string | undefined) => {
    if (!s) return undefined;
    let out = s;
    if (scrub) out = out.split(scrub).join("[redacted]");
    out = out.replace(/[^\x20-\x7e]+/g, " ").trim();
    return truncate(out, 200) || undefined;
  };
  const root = parseDocument(xml);
  const error = root && localName(root.name) === "ErrorResponse" ? onlyChild(root, "Error") : root;
  const code = onlyText(error, "Code");
  return {
    code: code && /^[\w.-]{1,64}$/.test(code) ? code : undefined,
    message: clean(onlyText(error, "Message")),
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
