/**
 * A real S3 server for the tests: `@20minutes/s3rver@5.0.0` in a Node child process
 * (tests/support/s3rver_main.mjs), seeded and inspected with requests signed by aws4fetch, so
 * the fake is independent of the project's own signer.
 *
 * What this server does, measured here (tests/s3rver_test.ts asserts each point):
 * - It verifies SigV4 for real: header auth and presigned query auth, with the secret of the
 *   access key named in the credential (several key pairs may be registered; an unknown access
 *   key is 403 InvalidAccessKeyId; a bad signature is 403 SignatureDoesNotMatch). A presigned
 *   URL past X-Amz-Date + X-Amz-Expires is 403 AccessDenied "Request has expired";
 *   X-Amz-Expires over 604800 is 400 AuthorizationQueryParametersError.
 * - It does NOT check: the clock skew of header auth (its date parser cannot read x-amz-date,
 *   so a request signed days ago still passes; real S3 says RequestTimeTooSkewed after 15
 *   minutes), that the scope date equals the date of X-Amz-Date, the region or the service in
 *   the scope (any value works if the signature was computed with it),
 *   x-amz-security-token (accepted and ignored, but covered by the signature when signed), that
 *   `host` is among the signed headers, or the payload hash against the body.
 * - Header auth requires an x-amz-content-sha256 header (400 InvalidRequest without it).
 * - Stock s3rver serves UNSIGNED requests as anonymous; s3rver_main.mjs rejects them with 403
 *   AccessDenied unless `allowAnonymous: true`.
 * - The canonical URI is rebuilt from the decoded bucket and key, each segment re-encoded with
 *   encodeURIComponent plus `!'()*` (the RFC 3986 set): what goes on the wire may be spelled
 *   either way, but what is signed must be the strict encoding. A raw `+` in the path is a plus.
 * - The canonical query encodes values with plain encodeURIComponent (it does NOT encode
 *   `!'()*` in query values, unlike SigV4), parses `+` in the query as a space, and breaks on a
 *   repeated parameter name.
 * - Bucket requests must be `/bucket`, not `/bucket/` (the latter is routed as an object with
 *   an empty key). Keys are stored as files: `//` in a key is collapsed to `/` in storage (but
 *   the signature is checked against the key as sent), `.`/`..` segments cannot be stored
 *   faithfully (and fetch normalises them anyway), and a segment longer than about 230 bytes
 *   is a 500 (the file name limit).
 *   A key ending in `/` is stored and listed with its slash.
 * - Listing XML double-escapes `& < > '` and backtick (`a&b` is listed as `a&amp;amp;b`); `"`
 *   is escaped once. listKeys() below undoes both layers; real S3 escapes once.
 * - ListObjectsV2 continuation tokens are DES-encrypted: Node needs --openssl-legacy-provider.
 * - Range: `bytes=a-b` and `bytes=a-` give 206 with Content-Range; a start past the end is
 *   416 InvalidRange; a suffix range `bytes=-n` is NOT supported (it is read as `0-n`).
 *   If-None-Match (exact ETag or `*`) and If-Modified-Since give 304; If-Match and
 *   If-Unmodified-Since are ignored (never 412).
 * - Virtual-host style works only for Host `<bucket>.s3.<serviceEndpoint>` (option
 *   serviceEndpoint); an IP Host (what the tests use) is always path style.
 *
 * @module
 */

import { AwsClient } from "aws4fetch";
import { readLines } from "./lines.ts";

/** An access key pair the fake accepts. */
export interface KeyPair {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Options for {@linkcode startS3rver}. */
export interface S3rverOptions {
  /**
   * Buckets to create before the server starts: a name, or a name with configuration documents
   * (`CORSConfiguration`, `WebsiteConfiguration` XML) applied at startup.
   */
  buckets?: (string | { name: string; configs: string[] })[];
  /** The default key pair (handle.accessKeyId/secretAccessKey); generated per run if absent. */
  keyPair?: KeyPair;
  /** More key pairs the server accepts, besides the default one. */
  extraKeyPairs?: KeyPair[];
  /** Let unsigned requests through, as stock s3rver does. Default false (403). */
  allowAnonymous?: boolean;
  /**
   * Raw path prefixes (`/bucket/private/`) under which every GET and HEAD is `403 AccessDenied`,
   * existing key or not, as with a bucket policy denying `s3:GetObject`; PUT still works.
   */
  denyGet?: string[];
  /** Host suffix for virtual-host style (`<bucket>.s3.<serviceEndpoint>`). */
  serviceEndpoint?: string;
  /** Port on 127.0.0.1. Default 0: any free port. */
  port?: number;
  /** Milliseconds to wait for the server to be ready. Default 20000. */
  startTimeoutMs?: number;
}

/** The answer of {@linkcode S3rverHandle.getObject}. */
export interface S3Object {
  status: number;
  bytes: Uint8Array;
  headers: Headers;
  /** The body decoded as UTF-8. */
  text: string;
}

/** A running fake S3 server. */
export interface S3rverHandle extends KeyPair, AsyncDisposable {
  port: number;
  /** `127.0.0.1:PORT` */
  host: string;
  /** `http://127.0.0.1:PORT` */
  endpoint: string;
  /** The region the helpers sign for (the server accepts any). */
  region: string;
  /** Storage directory of the server (removed by stop()). */
  directory: string;
  /** PUT an object; throws unless the server answers 200. */
  putObject(
    bucket: string,
    key: string,
    body: string | Uint8Array,
    headers?: HeadersInit,
  ): Promise<void>;
  /** PUT many objects, `concurrency` at a time (default 16). */
  putObjects(
    bucket: string,
    objects: Iterable<[key: string, body: string | Uint8Array]>,
    concurrency?: number,
  ): Promise<void>;
  /** GET an object, signed; never throws on an HTTP status. */
  getObject(bucket: string, key: string, headers?: HeadersInit): Promise<S3Object>;
  /** DELETE an object; throws unless 204. */
  deleteObject(bucket: string, key: string): Promise<void>;
  /** Create a bucket; throws unless 200. */
  createBucket(bucket: string): Promise<void>;
  /** Every key of a bucket (ListObjectsV2, following continuation tokens), decoded. */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  /** `http://127.0.0.1:PORT/<bucket>/<encoded key>` */
  objectUrl(bucket: string, key: string): string;
  /**
   * A request signed with the default key pair by aws4fetch. `path` is the raw request target
   * (`/bucket/encoded%20key?query`); `aws` passes options to aws4fetch (signQuery, datetime...).
   */
  signedFetch(path: string, init?: SignedInit): Promise<Response>;
  /** SIGTERM the server, wait for it to exit, remove its directory. Idempotent. */
  stop(): Promise<void>;
}

/** RequestInit plus aws4fetch's per-request options. */
export type SignedInit = RequestInit & {
  aws?: {
    datetime?: string;
    signQuery?: boolean;
    accessKeyId?: string;
    secretAccessKey?: string;
    sessionToken?: string;
    region?: string;
    allHeaders?: boolean;
    singleEncode?: boolean;
  };
};

const UNRESERVED = /^[A-Za-z0-9\-_.~]$/;

/**
 * Percent-encode an S3 key for a URL path: every UTF-8 byte outside `A-Za-z0-9-_.~` becomes
 * `%XX` (upper-case hex), `/` is kept. Done here, not by project code.
 *
 * @example
 * ```ts
 * encodeKey("a b/c+d€"); // "a%20b/c%2Bd%E2%82%AC"
 * ```
 */
export function encodeKey(key: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(key)) {
    const ch = String.fromCharCode(byte);
    out += ch === "/" || UNRESERVED.test(ch)
      ? ch
      : "%" + byte.toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

const ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

function randomChars(alphabet: string, n: number): string[] {
  const out: string[] = [];
  const buf = new Uint8Array(1);
  while (out.length < n) {
    crypto.getRandomValues(buf);
    // Rejection sampling keeps the choice uniform.
    if (buf[0] < 256 - (256 % alphabet.length)) out.push(alphabet[buf[0] % alphabet.length]);
  }
  return out;
}

/**
 * A fresh, real-looking key pair: access key `AKIA` + 16 upper-case alphanumerics, secret of 40
 * base64-alphabet characters that always contains `/`, `+` and `=`.
 *
 * @example
 * ```ts
 * const { accessKeyId, secretAccessKey } = generateKeyPair();
 * ```
 */
export function generateKeyPair(): KeyPair {
  const accessKeyId = "AKIA" + randomChars(ALNUM_UPPER, 16).join("");
  const secret = randomChars(BASE64, 37);
  for (const ch of ["/", "+", "="]) {
    const pos = new Uint32Array(1);
    crypto.getRandomValues(pos);
    secret.splice(pos[0] % (secret.length + 1), 0, ch);
  }
  return { accessKeyId, secretAccessKey: secret.join("") };
}

/**
 * Decode the XML text of one element (entities and character references).
 *
 * @example
 * ```ts
 * decodeXmlText("a&amp;b&#x27;"); // "a&b'"
 * ```
 */
export function decodeXmlText(s: string): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|amp|lt|gt|quot|apos);/g, (_m, e: string) => {
    switch (e) {
      case "amp":
        return "&";
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    return String.fromCodePoint(
      e[1] === "x" ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10),
    );
  });
}

const MAIN = new URL("./s3rver_main.mjs", import.meta.url);
const REPO_ROOT = new URL("../../", import.meta.url);

/**
 * Start a fake S3 server on 127.0.0.1 and a free port; resolves once it listens.
 *
 * @example
 * ```ts
 * await using s3 = await startS3rver({ buckets: ["site"] });
 * await s3.putObject("site", "index.html", "<h1>hi</h1>");
 * const got = await s3.getObject("site", "index.html");
 * // got.status === 200, got.text === "<h1>hi</h1>"
 * ```
 */
export async function startS3rver(options: S3rverOptions = {}): Promise<S3rverHandle> {
  const keyPair = options.keyPair ?? generateKeyPair();
  const directory = await Deno.makeTempDir({ prefix: "s3rver-" });
  const settings = {
    buckets: options.buckets ?? [],
    keyPairs: [keyPair, ...(options.extraKeyPairs ?? [])],
    directory,
    allowAnonymous: options.allowAnonymous ?? false,
    denyGet: options.denyGet ?? [],
    serviceEndpoint: options.serviceEndpoint,
    port: options.port ?? 0,
  };
  const child = new Deno.Command("node", {
    args: ["--openssl-legacy-provider", MAIN.pathname, JSON.stringify(settings)],
    cwd: REPO_ROOT.pathname,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output: string[] = [];
  let onReady: (port: number) => void = () => {};
  const ready = new Promise<number>((resolve) => (onReady = resolve));
  const stdoutDone = readLines(child.stdout, (line) => {
    output.push(line);
    try {
      const msg = JSON.parse(line);
      if (msg?.event === "ready" && typeof msg.port === "number") onReady(msg.port);
    } catch { /* not JSON: keep as output */ }
  });
  const stderrDone = readLines(child.stderr, (line) => output.push(line));
  const exited = child.status;
  const stdin = child.stdin.getWriter();

  let stopped: Promise<void> | undefined;
  const stop = () =>
    stopped ??= (async () => {
      await stdin.close().catch(() => {});
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            child.kill("SIGKILL");
          } catch { /* already gone */ }
          resolve();
        }, 5000);
      });
      await Promise.race([exited, killed]);
      await exited;
      clearTimeout(timer);
      await Promise.all([stdoutDone, stderrDone]);
      await Deno.remove(directory, { recursive: true }).catch(() => {});
    })();

  let timer: ReturnType<typeof setTimeout> | undefined;
  const port = await Promise.race([
    ready,
    exited.then((s) => {
      throw new Error(`s3rver exited before ready (code ${s.code}):\n${output.join("\n")}`);
    }),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`s3rver not ready in time:\n${output.join("\n")}`)),
        options.startTimeoutMs ?? 20000,
      );
    }),
  ]).catch(async (err) => {
    await stop();
    throw err;
  }).finally(() => clearTimeout(timer));

  const host = `127.0.0.1:${port}`;
  const endpoint = `http://${host}`;
  const region = "us-east-1";
  const client = new AwsClient({ ...keyPair, service: "s3", region, retries: 0 });
  const objectUrl = (bucket: string, key: string) => `${endpoint}/${bucket}/${encodeKey(key)}`;
  const signedFetch = (path: string, init?: SignedInit) => client.fetch(endpoint + path, init);

  const expectOk = async (res: Response, what: string, status = 200) => {
    const body = await res.text();
    if (res.status !== status) throw new Error(`${what}: ${res.status} ${body}`);
  };

  const putObject = async (
    bucket: string,
    key: string,
    body: string | Uint8Array,
    headers?: HeadersInit,
  ) => {
    const bytes = typeof body === "string" ? new TextEncoder().encode(body) : body;
    const res = await client.fetch(objectUrl(bucket, key), {
      method: "PUT",
      body: bytes as Uint8Array<ArrayBuffer>,
      headers,
    });
    await expectOk(res, `PUT ${bucket}/${key}`);
  };

  const handle: S3rverHandle = {
    ...keyPair,
    port,
    host,
    endpoint,
    region,
    directory,
    putObject,
    async putObjects(bucket, objects, concurrency = 16) {
      const queue = [...objects];
      let next = 0;
      const worker = async () => {
        while (next < queue.length) {
          const [key, body] = queue[next++];
          await putObject(bucket, key, body);
        }
      };
      await Promise.all(Array.from({ length: concurrency }, worker));
    },
    async getObject(bucket, key, headers) {
      const res = await client.fetch(objectUrl(bucket, key), { headers });
      const bytes = new Uint8Array(await res.arrayBuffer());
      return {
        status: res.status,
        bytes,
        headers: res.headers,
        text: new TextDecoder().decode(bytes),
      };
    },
    async deleteObject(bucket, key) {
      await expectOk(
        await client.fetch(objectUrl(bucket, key), { method: "DELETE" }),
        `DELETE ${bucket}/${key}`,
        204,
      );
    },
    async createBucket(bucket) {
      await expectOk(
        await client.fetch(`${endpoint}/${bucket}`, { method: "PUT" }),
        `PUT bucket ${bucket}`,
      );
    },
    async listKeys(bucket, prefix) {
      const keys: string[] = [];
      let token: string | undefined;
      do {
        const q = new URLSearchParams({ "list-type": "2" });
        if (prefix !== undefined) q.set("prefix", prefix);
        if (token !== undefined) q.set("continuation-token", token);
        const res = await client.fetch(
          `${endpoint}/${bucket}?${q.toString().replace(/\+/g, "%20")}`,
        );
        const xml = await res.text();
        if (res.status !== 200) throw new Error(`list ${bucket}: ${res.status} ${xml}`);
        // s3rver escapes key text twice (see the module comment): decode twice.
        for (const m of xml.matchAll(/<Key>([^<]*)<\/Key>/g)) {
          keys.push(decodeXmlText(decodeXmlText(m[1])));
        }
        const truncated = /<IsTruncated>true<\/IsTruncated>/.test(xml);
        const t = /<NextContinuationToken>([^<]*)<\/NextContinuationToken>/.exec(xml);
        token = truncated && t ? decodeXmlText(t[1]) : undefined;
        if (truncated && !t) throw new Error(`list ${bucket}: truncated without a token`);
      } while (token !== undefined);
      return keys;
    },
    objectUrl,
    signedFetch,
    stop,
    [Symbol.asyncDispose]: stop,
  };
  return handle;
}
