/**
 * The credential chain, in the order of the AWS SDKs: environment (keys, a signing key, or a
 * signing-key file), web identity, shared files, container endpoint, EC2 instance metadata. The
 * first source that is configured is the one used: a source that is configured but fails stops
 * the search with an error (as in the SDKs), and so does a search that finds nothing. Either
 * error names every source tried and why each failed. Remote sources are fetched once here, so a
 * broken set-up fails at startup, within the fetch timeouts.
 *
 * @module
 */

import { containerEndpoint, fetchContainerCredentials } from "./container.ts";
import { environmentProvider } from "./env.ts";
import type { HttpPolicy } from "./http.ts";
import { imdsClient, imdsEndpoint, imdsPolicy } from "./imds.ts";
import {
  type CredentialProvider,
  CredentialsConfigError,
  errorMessage,
  type SourceFailure,
} from "./provider.ts";
import { refreshingProvider } from "./refresh.ts";
import { sharedFilesProvider } from "./shared_files.ts";
import { fetchWebIdentityCredentials, stsEndpoint } from "./web_identity.ts";

export { CredentialsConfigError, CredentialsUnavailableError } from "./provider.ts";
export type { CredentialProvider } from "./provider.ts";

/** Everything the credential sources touch, passed in. */
export interface CredentialIo {
  /** For STS, the container endpoint and IMDS. */
  readonly fetch: typeof fetch;
  /** Epoch milliseconds. */
  readonly now: () => number;
  /** Reads a credential file (token files, shared files, the signing-key file). */
  readonly readTextFile: (path: string) => Promise<string>;
  /** For `~/.aws/...`; without it only explicitly named shared files are read. */
  readonly homeDir?: string;
  /** Structured log sink; no event ever holds a credential value. */
  readonly log: (event: Record<string, unknown>) => void;
  /** Timers for polling the signing-key file; without them it is re-read on demand only. */
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (id: unknown) => void;
  /** Waits between retried fetches; without it retries follow at once. */
  readonly sleep?: (ms: number) => Promise<void>;
}

/** Tuning; the defaults suit production. */
export interface ResolveOptions {
  /** Refresh temporary credentials this long before they expire (default 5 minutes). */
  readonly refreshAheadMs?: number;
  /** Timeout of each STS/container/IMDS request (defaults: STS 5 s, container 2 s, IMDS 1 s). */
  readonly httpTimeoutMs?: number;
  /** Attempts per fetch for STS and the container endpoint (default 3). */
  readonly httpAttempts?: number;
  /** First delay after a failed refresh (default 1 s), doubled up to `maxBackoffMs` (60 s). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Signing-key file poll interval (default 10 s). */
  readonly signingKeyPollMs?: number;
  /** Warn this long before UTC midnight when the next day has no key (default 6 h). */
  readonly signingKeyWarnAheadMs?: number;
}

type Found = { provider: CredentialProvider } | { absent: string };

interface Source {
  readonly name: string;
  /** Tried even with no variable set (IMDS): its failure does not stop the search. */
  readonly implicit?: boolean;
  readonly attempt: () => Promise<Found>;
}

/**
 * Finds the credential source for this environment and returns its provider, primed: static and
 * file sources are read, remote sources have fetched once. Throws a
 * {@linkcode CredentialsConfigError} listing every source tried and why each failed.
 *
 * @example
 * ```ts
 * const provider = await resolveCredentialProvider(Deno.env.toObject(), runtimeCredentialIo());
 * const credentials = await provider.get();
 * ```
 */
export async function resolveCredentialProvider(
  env: Record<string, string | undefined>,
  io: CredentialIo,
  options: ResolveOptions = {},
): Promise<CredentialProvider> {
  const failures: SourceFailure[] = [];
  for (const source of credentialSources(env, io, options)) {
    let found: Found;
    try {
      found = await source.attempt();
    } catch (error) {
      failures.push({ source: source.name, reason: errorMessage(error) });
      if (source.implicit) continue;
      throw new CredentialsConfigError(
        `AWS credentials: the ${source.name} source is configured but unusable ` +
          "(sources tried, in order):",
        failures,
      );
    }
    if ("absent" in found) {
      failures.push({ source: source.name, reason: found.absent });
      continue;
    }
    io.log({
      level: "info",
      event: "credentials_source",
      source: found.provider.source,
      skipped: failures.map((f) => `${f.source}: ${f.reason}`),
    });
    return found.provider;
  }
  throw new CredentialsConfigError(
    "no usable AWS credentials (sources tried, in order):",
    failures,
  );
}

function credentialSources(
  env: Record<string, string | undefined>,
  io: CredentialIo,
  options: ResolveOptions,
): Source[] {
  const policy = (timeoutMs: number, attempts: number): HttpPolicy => ({
    timeoutMs: options.httpTimeoutMs ?? timeoutMs,
    attempts: options.httpAttempts ?? attempts,
    sleep: io.sleep,
  });
  /**
   * A remote source: fetched once now (a broken set-up fails at startup), then refreshed with the
   * same fetch. `source` names it after that first fetch (IMDS learns its role from it).
   */
  const refreshing = async (
    source: () => string,
    fetchCredentials: Parameters<typeof refreshingProvider>[0]["fetchCredentials"],
  ): Promise<Found> => {
    const initial = await fetchCredentials();
    return {
      provider: refreshingProvider({
        source: source(),
        initial,
        fetchCredentials,
        now: io.now,
        log: io.log,
        refreshAheadMs: options.refreshAheadMs,
        backoffMs: options.backoffMs,
        maxBackoffMs: options.maxBackoffMs,
      }),
    };
  };

  return [
    {
      name: "environment",
      attempt: () =>
        environmentProvider(env, io, {
          pollMs: options.signingKeyPollMs,
          warnAheadMs: options.signingKeyWarnAheadMs,
        }),
    },
    {
      name: "web identity",
      attempt: async () => {
        const tokenFile = env.AWS_WEB_IDENTITY_TOKEN_FILE;
        const roleArn = env.AWS_ROLE_ARN;
        if (!tokenFile || !roleArn) {
          return {
            absent: tokenFile
              ? "AWS_WEB_IDENTITY_TOKEN_FILE is set but AWS_ROLE_ARN is not"
              : roleArn
              ? "AWS_ROLE_ARN is set but AWS_WEB_IDENTITY_TOKEN_FILE is not"
              : "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN are not set",
          };
        }
        const request = {
          endpoint: stsEndpoint(env),
          roleArn,
          sessionName: env.AWS_ROLE_SESSION_NAME || `s3-signing-proxy-${io.now()}`,
          tokenFile,
          fetch: io.fetch,
          readTextFile: io.readTextFile,
          http: policy(5000, 3),
        };
        return await refreshing(
          () => `web identity (role ${roleArn})`,
          () => fetchWebIdentityCredentials(request),
        );
      },
    },
    {
      name: "shared files",
      attempt: () =>
        sharedFilesProvider({
          env,
          homeDir: io.homeDir,
          readTextFile: io.readTextFile,
          log: io.log,
        }),
    },
    {
      name: "container",
      attempt: async () => {
        const endpoint = containerEndpoint(env);
        if ("absent" in endpoint) return endpoint;
        const request = {
          ...endpoint,
          env,
          fetch: io.fetch,
          readTextFile: io.readTextFile,
          http: policy(2000, 3),
        };
        return await refreshing(
          () => `container endpoint ${endpoint.origin}`,
          () => fetchContainerCredentials(request),
        );
      },
    },
    {
      name: "instance metadata (IMDSv2)",
      implicit: true,
      attempt: async () => {
        const endpoint = imdsEndpoint(env);
        if (!endpoint) return { absent: "AWS_EC2_METADATA_DISABLED=true" };
        const fromEnv = imdsPolicy(env);
        const client = imdsClient({
          endpoint,
          fetch: io.fetch,
          now: io.now,
          http: policy(fromEnv.timeoutMs, fromEnv.attempts),
        });
        return await refreshing(
          () => `instance metadata ${endpoint} (role ${client.role})`,
          () => client.fetchCredentials(),
        );
      },
    },
  ];
}
