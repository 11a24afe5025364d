/**
 * EC2 instance metadata, IMDSv2 only: a session token from `PUT /latest/api/token`, then the role
 * name from `GET /latest/meta-data/iam/security-credentials/`, then that role's JSON credentials,
 * each GET carrying `X-aws-ec2-metadata-token`. The session token is kept until shortly before its
 * TTL and fetched again when a GET answers 401. There is no IMDSv1 fallback: an instance that
 * refuses the token PUT gives no credentials.
 *
 * @module
 */

import { type HttpPolicy, httpRequest, parseCredentialsJson } from "./http.ts";
import { CredentialSourceError, type ExpiringCredentials } from "./provider.ts";

/** The default IMDS address. */
const IMDS_IPV4 = "http://169.254.169.254";
/** The IMDS address in IPv6 mode (`AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE=IPv6`). */
const IMDS_IPV6 = "http://[fd00:ec2::254]";
/** TTL asked for the session token, in seconds (6 hours, the maximum). */
const IMDS_TOKEN_TTL_SECONDS = 21600;

/**
 * The IMDS base URL, or `undefined` when `AWS_EC2_METADATA_DISABLED=true`.
 *
 * @example
 * ```ts
 * imdsEndpoint({}); // "http://169.254.169.254"
 * imdsEndpoint({ AWS_EC2_METADATA_SERVICE_ENDPOINT: "http://127.0.0.1:8111/" }); // "http://127.0.0.1:8111"
 * ```
 */
export function imdsEndpoint(env: Record<string, string | undefined>): string | undefined {
  if (env.AWS_EC2_METADATA_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const base = env.AWS_EC2_METADATA_SERVICE_ENDPOINT ||
    (env.AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE?.toLowerCase() === "ipv6" ? IMDS_IPV6 : IMDS_IPV4);
  return base.replace(/\/+$/, "");
}

/**
 * The IMDS policy from `AWS_METADATA_SERVICE_TIMEOUT` (seconds, default 1) and
 * `AWS_METADATA_SERVICE_NUM_ATTEMPTS` (default 1), as the AWS SDKs read them.
 *
 * @example
 * ```ts
 * imdsPolicy({ AWS_METADATA_SERVICE_TIMEOUT: "2" }); // { timeoutMs: 2000, attempts: 1 }
 * ```
 */
export function imdsPolicy(
  env: Record<string, string | undefined>,
): { timeoutMs: number; attempts: number } {
  const timeout = Number(env.AWS_METADATA_SERVICE_TIMEOUT);
  const attempts = Number(env.AWS_METADATA_SERVICE_NUM_ATTEMPTS);
  return {
    timeoutMs: timeout > 0 ? Math.round(timeout * 1000) : 1000,
    attempts: Number.isInteger(attempts) && attempts > 0 ? attempts : 1,
  };
}

/** What {@linkcode imdsClient} needs. */
export interface ImdsOptions {
  readonly endpoint: string;
  readonly fetch: typeof fetch;
  readonly now: () => number;
  readonly http: HttpPolicy;
}

/** Fetches instance-role credentials; remembers the session token and the last role name. */
export interface ImdsClient {
  fetchCredentials(): Promise<ExpiringCredentials>;
  /** The role of the last successful fetch. */
  readonly role: string | undefined;
}

const ROLE = /^[\w+=,.@-]{1,128}$/;

/**
 * Creates an IMDSv2 client.
 *
 * @example
 * ```ts
 * const imds = imdsClient({ endpoint: "http://169.254.169.254", fetch, now: Date.now,
 *   http: { timeoutMs: 1000, attempts: 1 } });
 * const creds = await imds.fetchCredentials();
 * ```
 */
export function imdsClient(options: ImdsOptions): ImdsClient {
  const { endpoint, now } = options;
  const label = `instance metadata ${endpoint}`;
  let token: string | undefined;
  let tokenUntil = 0;
  let role: string | undefined;

  async function sessionToken(): Promise<string> {
    if (token !== undefined && now() < tokenUntil) return token;
    const answer = await httpRequest(
      options.fetch,
      endpoint + "/latest/api/token",
      {
        method: "PUT",
        headers: { "x-aws-ec2-metadata-token-ttl-seconds": String(IMDS_TOKEN_TTL_SECONDS) },
      },
      options.http,
      label,
    );
    const text = answer.text.trim();
    if (answer.status !== 200 || !/^[\x21-\x7e]{1,1024}$/.test(text)) {
      throw new CredentialSourceError(
        answer.status !== 200
          ? `${label} refused an IMDSv2 session token (HTTP ${answer.status})`
          : `${label} answered a malformed IMDSv2 session token`,
      );
    }
    token = text;
    tokenUntil = now() + (IMDS_TOKEN_TTL_SECONDS - 60) * 1000;
    return token;
  }

  async function get(path: string): Promise<{ status: number; text: string }> {
    for (let attempt = 0;; attempt++) {
      const answer = await httpRequest(
        options.fetch,
        endpoint + path,
        {
          method: "GET",
          headers: { "x-aws-ec2-metadata-token": await sessionToken() },
        },
        options.http,
        label,
      );
      if (answer.status === 401 && attempt === 0) {
        token = undefined;
        continue;
      }
      return answer;
    }
  }

  return {
    get role() {
      return role;
    },
    async fetchCredentials() {
      const list = await get("/latest/meta-data/iam/security-credentials/");
      if (list.status === 404) {
        throw new CredentialSourceError(`${label}: no IAM role is attached to this instance`);
      }
      if (list.status !== 200) {
        throw new CredentialSourceError(`${label} answered HTTP ${list.status} for the role name`);
      }
      const name = list.text.split("\n").map((l) => l.trim()).find((l) => l !== "");
      if (!name || !ROLE.test(name)) {
        throw new CredentialSourceError(`${label} answered a malformed role name`);
      }
      const creds = await get(
        "/latest/meta-data/iam/security-credentials/" + encodeURIComponent(name),
      );
      if (creds.status !== 200) {
        throw new CredentialSourceError(
          `${label} answered HTTP ${creds.status} for the credentials of role ${name}`,
        );
      }
      const parsed = parseCredentialsJson(creds.text, `${label} (role ${name})`);
      role = name;
      return parsed;
    },
  };
}
