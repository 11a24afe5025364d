/**
 * Container credentials (ECS task roles, EKS Pod Identity): a GET to the agent's endpoint,
 * answered in JSON (`AccessKeyId`, `SecretAccessKey`, `Token`, `Expiration`).
 *
 * The endpoint is `http://169.254.170.2` + `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`, or
 * `AWS_CONTAINER_CREDENTIALS_FULL_URI` when its host is a loopback address or one of the
 * documented agent addresses (169.254.170.2, 169.254.170.23, fd00:ec2::23); as in botocore, the
 * relative form wins when both are set. The `Authorization` header comes from
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE` (re-read on every fetch; it wins) or
 * `AWS_CONTAINER_AUTHORIZATION_TOKEN`.
 *
 * @module
 */

import { type HttpPolicy, httpRequest, parseCredentialsJson } from "./http.ts";
import {
  CredentialSourceError,
  type ExpiringCredentials,
  fileErrorMessage,
  isHeaderSafe,
} from "./provider.ts";

/** The ECS agent's address, for `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`. */
const ECS_AGENT_ORIGIN = "http://169.254.170.2";

const AGENT_HOSTS = new Set(["169.254.170.2", "169.254.170.23", "[fd00:ec2::23]"]);

/**
 * Whether a URL's host may serve container credentials: 127.0.0.0/8, `localhost`, `[::1]`, or a
 * documented ECS/EKS agent address. `hostname` is as `URL` gives it (IPv6 in brackets).
 *
 * @example
 * ```ts
 * allowedContainerHost("127.0.0.1"); // true
 * allowedContainerHost("example.com"); // false
 * ```
 */
export function allowedContainerHost(hostname: string): boolean {
  const host = hostname.toLowerCase();
  if (AGENT_HOSTS.has(host) || host === "localhost" || host === "[::1]") return true;
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  return v4 !== null && v4[1] === "127" && v4.slice(2).every((p) => Number(p) <= 255);
}

/** The container endpoint from the environment, or why there is none. */
export type ContainerEndpoint =
  | { readonly url: string; readonly origin: string }
  | { readonly absent: string };

/**
 * Reads the endpoint from the environment. Throws a {@linkcode CredentialSourceError} for a
 * full URI that is not a URL, not HTTP(S), or whose host is not allowed.
 *
 * @example
 * ```ts
 * containerEndpoint({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/credentials/abc" });
 * // { url: "http://169.254.170.2/v2/credentials/abc", origin: "http://169.254.170.2" }
 * ```
 */
export function containerEndpoint(env: Record<string, string | undefined>): ContainerEndpoint {
  const relative = env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI;
  if (relative) {
    const url = new URL(ECS_AGENT_ORIGIN + (relative.startsWith("/") ? "" : "/") + relative);
    return { url: url.href, origin: url.origin };
  }
  const full = env.AWS_CONTAINER_CREDENTIALS_FULL_URI;
  if (!full) {
    return {
      absent:
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and AWS_CONTAINER_CREDENTIALS_FULL_URI are not set",
    };
  }
  let url: URL;
  try {
    url = new URL(full);
  } catch {
    throw new CredentialSourceError("AWS_CONTAINER_CREDENTIALS_FULL_URI is not a URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CredentialSourceError("AWS_CONTAINER_CREDENTIALS_FULL_URI must be http or https");
  }
  if (!allowedContainerHost(url.hostname)) {
    throw new CredentialSourceError(
      `AWS_CONTAINER_CREDENTIALS_FULL_URI host ${url.hostname} is not allowed: it must be a ` +
        "loopback address or an ECS/EKS agent address (169.254.170.2, 169.254.170.23, [fd00:ec2::23])",
    );
  }
  return { url: url.href, origin: url.origin };
}

/** What {@linkcode fetchContainerCredentials} needs. */
export interface ContainerOptions {
  readonly url: string;
  readonly origin: string;
  readonly env: Record<string, string | undefined>;
  readonly fetch: typeof fetch;
  readonly readTextFile: (path: string) => Promise<string>;
  readonly http: HttpPolicy;
}

/**
 * The `Authorization` value: the token file's content (read now), else the token variable.
 */
async function containerAuthorization(
  env: Record<string, string | undefined>,
  readTextFile: (path: string) => Promise<string>,
): Promise<string | undefined> {
  let token: string | undefined;
  const file = env.AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE;
  if (file) {
    try {
      token = (await readTextFile(file)).trim();
    } catch (error) {
      throw new CredentialSourceError(
        `cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ${file}: ${fileErrorMessage(error)}`,
      );
    }
    if (token === "") {
      throw new CredentialSourceError(`AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE ${file} is empty`);
    }
  } else if (env.AWS_CONTAINER_AUTHORIZATION_TOKEN) {
    token = env.AWS_CONTAINER_AUTHORIZATION_TOKEN.trim();
  }
  if (token !== undefined && !isHeaderSafe(token)) {
    throw new CredentialSourceError(
      "the container authorization token holds characters not allowed in a header",
    );
  }
  return token;
}

/**
 * One fetch of container credentials.
 *
 * @example
 * ```ts
 * const creds = await fetchContainerCredentials({ url, origin, env, fetch,
 *   readTextFile: (p) => Deno.readTextFile(p), http: { timeoutMs: 2000, attempts: 3 } });
 * ```
 */
export async function fetchContainerCredentials(
  options: ContainerOptions,
): Promise<ExpiringCredentials> {
  const label = `container endpoint ${options.origin}`;
  const authorization = await containerAuthorization(options.env, options.readTextFile);
  const headers: Record<string, string> = { accept: "application/json" };
  if (authorization !== undefined) headers.authorization = authorization;
  const answer = await httpRequest(
    options.fetch,
    options.url,
    { method: "GET", headers },
    options.http,
    label,
  );
  if (answer.status !== 200) {
    throw new CredentialSourceError(`${label} answered HTTP ${answer.status}`);
  }
  return parseCredentialsJson(answer.text, label);
}
