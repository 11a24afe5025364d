/**
 * HTTP throughput of the proxy itself, served by Deno and by Bun, against two floors of the same
 * runtime, measured side by side in one run.
 *
 *   deno run --allow-all bench/proxy_bench.ts [--min-ratio targets]
 *
 * On 127.0.0.1 only. The origin is a plain nginx (Debian's `nginx`, started from a scratch
 * folder) when one is installed, else a small S3-like upstream in this process (the output says
 * which); either serves an `index.html` of about 1 KiB, a 1 MiB and a 1 GiB object, and
 * ListObjectsV2 documents of 23 and of 1000 entries. For each runtime it starts, as real
 * processes with their output to a file (not parsed while measuring):
 *
 * - a **bare 307** (this file with `--serve-bare`: a static 307 with a presigned-URL-sized
 *   `Location`), the ceiling of the runtime's HTTP stack here;
 * - a **bare fetch-proxy** (this file with `--serve-fetch ORIGIN`: `fetch` the same origin URL,
 *   return its `Response`), the floor of any proxy in that runtime;
 * - the **minimal signer** (this file with `--serve-minimal PORT ORIGIN_HOST`: presign and 307,
 *   or signed fetch with a timeout signal, allow-listed headers, a small body read whole or a
 *   large one through a pull stream, one batched JSON log line): the least the proxy's work
 *   costs in that runtime;
 * - the proxy (`src/main.ts`), one route at `/`; and, for some cases, a second one with ten routes
 *   and a third with `LISTING_CACHE_SECONDS=60`.
 *
 * Cases (wrk `-t1 -c64` when wrk is on the PATH, else in-process fetch loops), each compared with
 * its floor:
 *
 * | case             | what                                                          | floor      |
 * | ---------------- | ------------------------------------------------------------- | ---------- |
 * | `bare`           | the bare 307                                                  |            |
 * | `min307`, `min1k`, `min1m` | the minimal signer on the redirect, 1 KiB, 1 MiB paths | bare, fetch1k, fetch1m |
 * | `redirect`       | `GET` of a key by a plain client: route, presign, 307, log   | bare       |
 * | `browser`        | the same with Chrome's headers (one upstream `HEAD` first)    | bare       |
 * | `fetch1k`        | the bare fetch-proxy, the 1 KiB `index.html`                  |            |
 * | `proxied`        | the 1 KiB `index.html` through the proxy                      | fetch1k    |
 * | `fetch1m`        | the bare fetch-proxy, the 1 MiB object                        |            |
 * | `proxied1m`      | the 1 MiB object through the proxy (stall timeout on)         | fetch1m    |
 * | `listing`        | a folder without `index.html`: 404, ListObjectsV2, HTML       |            |
 * | `listing1000`    | the same for a folder of 1000 keys                            |            |
 * | `cached1000`     | `listing1000` through the proxy with `LISTING_CACHE_SECONDS`  | listing1000|
 * | `redirect10`, `proxied10` | the redirect and proxied cases through ten routes    | one route  |
 * | `metrics`        | `redirect` on a proxy with `ADMIN_PORT=0` (metrics recorded)  | redirect   |
 * | `basic`, `jwt`   | `redirect` on an `AUTH=basic` route (htpasswd line of cost 10, | redirect   |
 * |                  | the same credentials each time: the cache) and on an `AUTH=jwt`|            |
 * |                  | route (an RS256 token from tests/support/oidc.ts's issuer)    |            |
 *
 * The proxy's `redirect`, `proxied` and `proxied1m` are also printed against `min307`, `min1k` and
 * `min1m`: what the proxy's own code costs beyond the work itself.
 *
 * Rounds are interleaved (`--rounds`, default 3: every case once per round, in the order above),
 * and each case's figure is the median of its rounds; a ratio is the median of the per-round
 * ratios, so that load from outside moves both sides. Each measurement also reports the server's
 * CPU time per request (utime + stime from /proc/PID/stat).
 *
 * `big` (on by default): a 1 GiB object downloaded once by curl, from a freshly started bare
 * fetch-proxy and from a fresh proxy, alternately (`--big-rounds`, default 2): the time, the
 * serving process's idle VmRSS and its peak (VmHWM from /proc/PID/status, and VmRSS sampled every
 * 10 ms).
 *
 * It also times, in this process (Deno) and in a Bun child, parsing the 1000-key ListObjectsV2
 * document and rendering its HTML page.
 *
 * `--min-ratio targets` checks issue 15's targets and exits 1 when one is missed: redirect and
 * browser-less redirect/bare >= 0.6, proxied/fetch1k >= 0.9, proxied1m/fetch1m >= 0.9, the 1 GiB
 * download's peak RSS < 64 MiB and its time <= 1.2x the bare fetch-proxy's. `--min-ratio R` (a
 * number) asks R of every case that has a floor. Every answer is checked once before its case is
 * measured, and a case with failed requests fails the run. Everything stops by itself: each case
 * is bounded, and the whole run is killed at `--budget`.
 *
 * Options: `--seconds S` per case (default 2), `--warmup S` (default 1), `--rounds N`
 * (default 3), `--big-rounds N` (default 2; 0 skips it), `--connections N` (default 64),
 * `--threads N` (wrk threads, default 1), `--runtimes deno,bun`, `--cases a,b,...`,
 * `--origin auto|nginx|inprocess`, `--generator auto|wrk|fetch`, `--budget S` (default 1200),
 * `--min-ratio targets|R`, `--against DIR`, `--max-metrics-cost F` (exit 1 when metrics cost more
 * than F, 1 - metrics/redirect), `--max-auth-cost C` (exit 1 when basic or jwt costs more than C
 * times redirect per request, redirect/basic), `--metrics-rounds N` (accepted for older scripts:
 * every case now runs in interleaved `--rounds`).
 *
 * `--against DIR` (a checkout of another commit, e.g. `git archive HEAD~1 | tar -x -C DIR`) also
 * runs every proxy case against the proxy from DIR (`case@base`), interleaved with this tree's,
 * and prints this tree / base per case: the before/after of a change in one run.
 *
 * @module
 */

import process from "node:process";
import { REPO_ROOT, type Runtime } from "../tests/support/proxy.ts";
import { parseListing } from "../src/listing/xml.ts";
import { renderListingHtml } from "../src/listing/render.ts";
import { presignObjectUrl } from "../src/s3/presign_url.ts";
import { createSigningKeyCache, signHeaders } from "../src/s3/sigv4.ts";
import { amzDate } from "../src/s3/scope.ts";
import { batchedLines } from "../src/log_writer.ts";
import { makeKey, signJwt, startIssuer } from "../tests/support/oidc.ts";
import { bcryptHash } from "../src/auth/bcrypt.ts";

// ---------------------------------------------------------------------------------------------
// The floors: `deno run --allow-net bench/proxy_bench.ts --serve-bare PORT` or `bun run ...`.

/** A Location as long as the proxy's presigned ones (about 330 bytes), so replies are alike. */
const BARE_LOCATION = "http://127.0.0.1:9000/bench/photos/2024/IMG_1000.jpg" +
  "?X-Amz-Algorithm=AWS4-HMAC-SHA256" +
  "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20260101%2Fus-east-1%2Fs3%2Faws4_request" +
  "&X-Amz-Date=20260101T000000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host" +
  "&X-Amz-Signature=" + "0123456789abcdef".repeat(4);

declare const Bun: {
  serve(options: {
    port: number;
    hostname: string;
    fetch: (req: Request) => Response | Promise<Response>;
  }): { port: number };
} | undefined;

function serveFloor(port: number, answer: (req: Request) => Response | Promise<Response>): void {
  if (typeof Bun !== "undefined") Bun.serve({ hostname: "127.0.0.1", port, fetch: answer });
  else Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, answer);
}

/** The bare 307. */
function serveBare(port: number): void {
  serveFloor(port, () =>
    new Response(null, {
      status: 307,
      headers: { location: BARE_LOCATION, "cache-control": "private, max-age=270" },
    }));
}

/** The bare fetch-proxy: the same origin URL, its Response returned as it is. */
function serveFetch(port: number, origin: string): void {
  serveFloor(port, (req) => {
    const url = req.url;
    return fetch(origin + url.slice(url.indexOf("/", url.indexOf("//") + 2)));
  });
}

/**
 * The minimal signer: the least a SigV4 proxy with an access log and a stall timeout does, with
 * the project's own signer and log writer and nothing else (no routes, no checks, no
 * decisions). A key under `photos/` gets a presigned 307; any other is fetched with signed
 * headers and a timeout signal, its allow-listed headers copied, a small body read whole and a
 * large one passed through a pull stream (what a stall timer needs to see the chunks); one JSON
 * line per request, batched. What the proxy costs beyond it is the proxy's own; what it costs
 * beyond the bare floors is the runtime's price of that work.
 */
function serveMinimal(port: number, originHost: string): void {
  const credentials = {
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  };
  const cache = createSigningKeyCache();
  const encoder = new TextEncoder();
  const out = batchedLines((text) => process.stdout.write(encoder.encode(text)));
  const keep = new Set(["content-type", "content-length", "etag", "last-modified"]);
  serveFloor(port, async (req) => {
    const url = req.url;
    const path = url.slice(url.indexOf("/", url.indexOf("//") + 2));
    const datetime = amzDate(Date.now());
    let status: number;
    let answer: Response;
    if (path.includes("/photos/")) {
      const location = presignObjectUrl({
        scheme: "http",
        host: originHost,
        bucket: BUCKET,
        key: decodeURIComponent(path.slice(BUCKET.length + 2)),
        style: "path",
        method: req.method,
        query: [],
        expires: 300,
        datetime,
        credentials,
        region: "us-east-1",
        cache,
      });
      status = 307;
      answer = new Response(null, {
        status,
        headers: { location, "cache-control": "private, max-age=270" },
      });
    } else {
      const auth = signHeaders(
        { method: "GET", path, headers: [["host", originHost]], payloadHash: "UNSIGNED-PAYLOAD" },
        { credentials, region: "us-east-1", service: "s3", datetime, cache },
      );
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), 30_000);
      const res = await fetch(`http://${originHost}${path}`, {
        headers: [...auth.headers.map(([n, v]): [string, string] => [n, v]), [
          "accept-encoding",
          "identity",
        ]],
        signal: abort.signal,
      });
      const headers: [string, string][] = [];
      res.headers.forEach((value, name) => {
        if (keep.has(name)) headers.push([name, value]);
      });
      status = res.status;
      if (Number(res.headers.get("content-length")) <= 64 * 1024) {
        const bytes = await res.arrayBuffer();
        clearTimeout(timer);
        answer = new Response(bytes, { status, headers });
      } else {
        const reader = res.body!.getReader();
        const body = new ReadableStream<Uint8Array>({
          async pull(c) {
            const chunk = await reader.read();
            if (chunk.done) {
              clearTimeout(timer);
              c.close();
            } else c.enqueue(chunk.value);
          },
          cancel: (reason) => reader.cancel(reason),
        }, { highWaterMark: 0 });
        answer = new Response(body, { status, headers });
      }
    }
    out.line(JSON.stringify({
      time: new Date().toISOString(),
      event: "request",
      requestId: crypto.randomUUID(),
      method: req.method,
      path,
      status,
    }));
    return answer;
  });
}

/** Times parsing and rendering a listing document, in whichever runtime runs this. */
function parseRender(xml: string, rounds: number): { parseUs: number; renderUs: number } {
  let parse = 0, render = 0;
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    const listing = parseListing(xml);
    const t1 = performance.now();
    renderListingHtml(listing, { rootPath: "/bench/", title: "bench" });
    const t2 = performance.now();
    if (i >= rounds / 5) { // the first fifth warms up
      parse += t1 - t0;
      render += t2 - t1;
    }
  }
  const n = rounds - Math.ceil(rounds / 5);
  return { parseUs: 1000 * parse / n, renderUs: 1000 * render / n };
}

// ---------------------------------------------------------------------------------------------
// Options.

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  if (i === -1) return fallback;
  const value = process.argv[i + 1];
  if (value === undefined) throw new Error(`${name} needs a value`);
  return value;
}

function numberOption(name: string, fallback: number, min = 0): number {
  const value = Number(option(name, String(fallback)));
  if (!(value >= min) || !Number.isFinite(value)) {
    throw new Error(`${name} needs a number >= ${min}`);
  }
  return value;
}

function listOption<T extends string>(name: string, all: readonly T[]): T[] {
  const values = option(name, all.join(",")).split(",").map((s) => s.trim()).filter(Boolean);
  for (const v of values) {
    if (!all.includes(v as T)) throw new Error(`${name}: "${v}" is not one of ${all.join(", ")}`);
  }
  return values as T[];
}

const CASES = [
  "bare",
  "min307",
  "redirect",
  "browser",
  "fetch1k",
  "min1k",
  "proxied",
  "fetch1m",
  "min1m",
  "proxied1m",
  "listing",
  "listing1000",
  "cached1000",
  "redirect10",
  "proxied10",
  "metrics",
  "basic",
  "jwt",
] as const;
type Case = typeof CASES[number];
/** The server each case is sent to. */
type Server = "bare" | "fetch" | "minimal" | "proxy" | "ten" | "cached" | "metrics" | "auth";
const SERVER: Record<Case, Server> = {
  bare: "bare",
  min307: "minimal",
  min1k: "minimal",
  min1m: "minimal",
  redirect: "proxy",
  browser: "proxy",
  fetch1k: "fetch",
  proxied: "proxy",
  fetch1m: "fetch",
  proxied1m: "proxy",
  listing: "proxy",
  listing1000: "proxy",
  cached1000: "cached",
  redirect10: "ten",
  proxied10: "ten",
  metrics: "metrics",
  basic: "auth",
  jwt: "auth",
};
/** Each case's floor (the case it is divided by). */
const FLOOR: Partial<Record<Case, Case>> = {
  min307: "bare",
  min1k: "fetch1k",
  min1m: "fetch1m",
  redirect: "bare",
  browser: "bare",
  proxied: "fetch1k",
  proxied1m: "fetch1m",
  cached1000: "listing1000",
  redirect10: "redirect",
  proxied10: "proxied",
  metrics: "redirect",
  basic: "redirect",
  jwt: "redirect",
};
/**
 * The minimal signer's case for each proxy case: the least any presigning, logging proxy with a
 * stall timeout does on that path in this runtime (see `serveMinimal`).
 */
const MINIMUM: Partial<Record<Case, Case>> = {
  redirect: "min307",
  proxied: "min1k",
  proxied1m: "min1m",
};
/** Issue 15's targets, for `--min-ratio targets`. */
const TARGETS: Partial<Record<Case, number>> = { redirect: 0.6, proxied: 0.9, proxied1m: 0.9 };
const BIG_MAX_RSS_MIB = 64;
const BIG_MAX_TIME_RATIO = 1.2;
/** The prefix of the measured route among the ten (the last one in the file). */
const TEN_PREFIX = "/site9/";

// ---------------------------------------------------------------------------------------------
// The origin's contents.

const BUCKET = "bench";
const INDEX_HTML = "<!doctype html>\n<html><head><title>bench</title></head>" +
  "<body><h1>It works</h1><p>" + "An index page of about a kilobyte. ".repeat(26) +
  "</p></body></html>\n";
const MIB = 1 << 20;
const BIG_SIZE = 1 << 30;
const PHOTO = "photos/2024/IMG_1000.jpg";
const PHOTO_BYTES = "jpeg bytes";
const PATHS: Record<Exclude<Case, "bare">, string> = {
  min307: `/${BUCKET}/${PHOTO}`,
  min1k: `/${BUCKET}/site/index.html`,
  min1m: `/${BUCKET}/blobs/1m.bin`,
  redirect: `/${BUCKET}/${PHOTO}`,
  browser: `/${BUCKET}/${PHOTO}`,
  fetch1k: `/${BUCKET}/site/index.html`,
  proxied: `/${BUCKET}/site/index.html`,
  fetch1m: `/${BUCKET}/blobs/1m.bin`,
  proxied1m: `/${BUCKET}/blobs/1m.bin`,
  listing: `/${BUCKET}/docs/`,
  listing1000: `/${BUCKET}/many/`,
  cached1000: `/${BUCKET}/many/`,
  redirect10: `${TEN_PREFIX}${PHOTO}`,
  proxied10: `${TEN_PREFIX}site/index.html`,
  metrics: `/${BUCKET}/${PHOTO}`,
  basic: `/b/${BUCKET}/${PHOTO}`,
  jwt: `/j/${BUCKET}/${PHOTO}`,
};
const BIG_PATH = `/${BUCKET}/blobs/1g.bin`;
/** Keys streamed by the proxy (the 1 MiB and 1 GiB objects too, for a plain client). */
const PROXY_PATTERN = "(^|/)index\\.html$|\\.bin$";

function listXml(prefix: string, files: number): string {
  const contents = Array.from(
    { length: files },
    (_, i) =>
      `<Contents><Key>${prefix}report-${i}.pdf</Key>` +
      `<LastModified>2026-01-0${1 + (i % 9)}T12:00:00.000Z</LastModified>` +
      `<ETag>&quot;${(i + 1).toString(16).padStart(32, "0")}&quot;</ETag>` +
      `<Size>${1000 * (i + 1)}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
  ).join("");
  const folders = ["2024/", "2025/", "drafts/"].map((f) =>
    `<CommonPrefixes><Prefix>${prefix}${f}</Prefix></CommonPrefixes>`
  ).join("");
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${BUCKET}</Name>` +
    `<Prefix>${prefix}</Prefix><KeyCount>${files + 3}</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>` +
    contents + folders + `</ListBucketResult>`;
}
const LIST_DOCS = listXml("docs/", 20);
const LIST_MANY = listXml("many/", 997);

function s3Error(status: number, code: string, message: string): Response {
  return new Response(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code>` +
      `<Message>${message}</Message></Error>`,
    { status, headers: { "content-type": "application/xml" } },
  );
}

/** Headers of a browser's top-level navigation (Chrome), for the browser case. */
const BROWSER_HEADERS: Record<string, string> = {
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " +
    "Chrome/131.0.0.0 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
  "accept-language": "en-GB,en;q=0.9",
  "accept-encoding": "gzip, deflate, br, zstd",
  "sec-fetch-dest": "document",
  "sec-fetch-mode": "navigate",
  "sec-fetch-site": "none",
  "sec-fetch-user": "?1",
  "upgrade-insecure-requests": "1",
};

const ONE_MIB = new Uint8Array(MIB).fill(97);

/** The in-process origin, when nginx is not installed: the same objects, any signature. */
function upstreamHandler(req: Request): Response {
  const url = new URL(req.url);
  const head = req.method === "HEAD";
  const object = (body: BodyInit, length: number, type: string) =>
    new Response(head ? null : body, {
      headers: {
        "content-type": type,
        "content-length": String(length),
        etag: '"5d41402abc4b2a76b9719d911017c592"',
        "last-modified": "Thu, 01 Jan 2026 12:00:00 GMT",
        "accept-ranges": "bytes",
      },
    });
  switch (url.pathname) {
    case `/${BUCKET}/site/index.html`:
      return object(INDEX_HTML, INDEX_HTML.length, "text/html");
    case `/${BUCKET}/${PHOTO}`:
      return object(PHOTO_BYTES, PHOTO_BYTES.length, "image/jpeg");
    case `/${BUCKET}/blobs/1m.bin`:
      return object(ONE_MIB, MIB, "application/octet-stream");
    case BIG_PATH: {
      let sent = 0;
      const chunk = new Uint8Array(256 * 1024);
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          if (sent >= BIG_SIZE) return controller.close();
          controller.enqueue(chunk.slice());
          sent += chunk.length;
        },
      });
      return object(body, BIG_SIZE, "application/octet-stream");
    }
    case `/${BUCKET}`:
    case `/${BUCKET}/`: {
      const prefix = url.searchParams.get("prefix");
      const xml = prefix === "many/" ? LIST_MANY : prefix === "docs/" ? LIST_DOCS : undefined;
      if (xml !== undefined) {
        return new Response(xml, { headers: { "content-type": "application/xml" } });
      }
    }
  }
  return s3Error(404, "NoSuchKey", "The specified key does not exist.");
}

/** The files an nginx origin serves, and its configuration. */
async function writeNginxSite(dir: string, port: number): Promise<string> {
  const root = `${dir}/www`;
  for (const sub of ["site", "photos/2024", "blobs"]) {
    await Deno.mkdir(`${root}/${BUCKET}/${sub}`, { recursive: true });
  }
  await Deno.mkdir(`${root}/lists`, { recursive: true });
  await Deno.writeTextFile(`${root}/${BUCKET}/site/index.html`, INDEX_HTML);
  await Deno.writeTextFile(`${root}/${BUCKET}/${PHOTO}`, PHOTO_BYTES);
  await Deno.writeFile(`${root}/${BUCKET}/blobs/1m.bin`, ONE_MIB);
  // Sparse: read from the page cache of a hole, so the origin costs nearly nothing.
  const big = await Deno.open(`${root}/${BUCKET}/blobs/1g.bin`, { write: true, create: true });
  await big.truncate(BIG_SIZE);
  big.close();
  await Deno.writeTextFile(`${root}/lists/docs.xml`, LIST_DOCS);
  await Deno.writeTextFile(`${root}/lists/many.xml`, LIST_MANY);
  await Deno.writeTextFile(`${root}/lists/none.xml`, listXml("none/", 0));
  const conf = `${dir}/nginx.conf`;
  await Deno.writeTextFile(
    conf,
    `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log stderr error;
events { worker_connections 1024; }
http {
  types { text/html html; application/xml xml; image/jpeg jpg; application/octet-stream bin; }
  default_type application/octet-stream;
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  client_body_temp_path ${dir}/tmp;
  proxy_temp_path ${dir}/tmp;
  fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp;
  scgi_temp_path ${dir}/tmp;
  map $arg_prefix $listing {
    "docs%2F" /lists/docs.xml; "docs/" /lists/docs.xml;
    "many%2F" /lists/many.xml; "many/" /lists/many.xml;
    default /lists/none.xml;
  }
  server {
    listen 127.0.0.1:${port};
    root ${root};
    location = /${BUCKET} { default_type application/xml; try_files $listing =404; }
    location = /${BUCKET}/ { default_type application/xml; try_files $listing =404; }
    location / { }
  }
}
`,
  );
  await Deno.mkdir(`${dir}/tmp`, { recursive: true });
  return conf;
}

function findNginx(): string | undefined {
  for (const path of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]) {
    try {
      if (Deno.statSync(path).isFile) return path;
    } catch { /* not there */ }
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Children: everything started is registered here and killed on exit, deadline or Ctrl-C.

const children = new Set<Deno.ChildProcess>();

function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

/** A server under test: a child process whose stdout goes to a file (read after the run). */
interface Spawned {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  readonly logFile: string;
  stop(): Promise<void>;
}

/** Starts `cmd` with its output to `logFile` (exec'd by sh: the pid is the server's). */
async function spawnServer(
  name: string,
  cmd: string[],
  env: Record<string, string>,
  port: number,
  logFile: string,
  cwd = REPO_ROOT,
): Promise<Spawned> {
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const child = new Deno.Command("sh", {
    args: ["-c", `exec ${cmd.map(quote).join(" ")} >${quote(logFile)} 2>&1`],
    cwd,
    clearEnv: true,
    env: { PATH: Deno.env.get("PATH") ?? "", HOME: Deno.env.get("HOME") ?? "/", ...env },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  children.add(child);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    const timer = setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
    }, 5000);
    await child.status;
    clearTimeout(timer);
    children.delete(child);
  };
  const url = `http://127.0.0.1:${port}`;
  let exited = false;
  child.status.then(() => exited = true);
  const deadline = performance.now() + 20_000;
  while (!exited && performance.now() < deadline) {
    try {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      conn.close();
      return { name, pid: child.pid, url, logFile, stop };
    } catch {
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  await stop();
  const log = await Deno.readTextFile(logFile).catch(() => "");
  throw new Error(`${name}: not listening (${exited ? "exited" : "timed out"}):\n${log}`);
}

/** Seconds of CPU (user + system) the process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat (11 and 12 after the name), in clock ticks.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** VmRSS and VmHWM (peak) of a process, in MiB. */
function memory(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kib = (name: string) => Number(status.match(new RegExp(`^${name}:\\s+(\\d+) kB`, "m"))![1]);
  return { rss: kib("VmRSS") / 1024, hwm: kib("VmHWM") / 1024 };
}

// ---------------------------------------------------------------------------------------------
// Load generators.

interface Result {
  requests: number;
  seconds: number;
  rps: number;
  /** Milliseconds, when known. */
  p50?: number;
  p99?: number;
  /** Requests answered with another status than expected, or that failed. */
  bad: number;
  /** The server's CPU time per request, in microseconds. */
  cpuUs?: number;
}

const UNIT_MS: Record<string, number> = { us: 1e-3, ms: 1, s: 1000, m: 60000 };

/** Reads wrk's report (`--latency`). */
function parseWrk(out: string): Result {
  const num = (re: RegExp) => {
    const m = out.match(re);
    return m ? Number(m[1]) : undefined;
  };
  const latency = (pct: string) => {
    const m = out.match(new RegExp(`^\\s*${pct}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m"));
    return m ? Number(m[1]) * UNIT_MS[m[2]] : undefined;
  };
  const done = out.match(/(\d+) requests in ([\d.]+)(us|ms|s|m)/);
  const rps = num(/Requests\/sec:\s+([\d.]+)/);
  if (!done || rps === undefined) throw new Error(`cannot read wrk's output:\n${out}`);
  const socket = out.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return {
    requests: Number(done[1]),
    seconds: Number(done[2]) * UNIT_MS[done[3]] / 1000,
    rps,
    p50: latency("50"),
    p99: latency("99"),
    bad: (num(/Non-2xx or 3xx responses:\s+(\d+)/) ?? 0) + socketErrors,
  };
}

async function runWrk(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  connections: number,
  threads: number,
) {
  const child = new Deno.Command("wrk", {
    args: [
      ...Object.entries(headers).flatMap(([name, value]) => ["-H", `${name}: ${value}`]),
      `-t${threads}`,
      `-c${connections}`,
      `-d${Math.max(1, Math.round(seconds))}s`,
      "--timeout",
      "5s",
      "--latency",
      url,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(child);
  try {
    const out = await child.output();
    const text = new TextDecoder().decode(out.stdout);
    if (!out.success) {
      throw new Error(`wrk failed (${out.code}): ${text}${new TextDecoder().decode(out.stderr)}`);
    }
    return parseWrk(text);
  } finally {
    children.delete(child);
  }
}

/** N concurrent keep-alive fetch loops for `seconds`; latencies of every request. */
async function runFetchLoops(
  url: string,
  headers: Record<string, string>,
  seconds: number,
  connections: number,
  expectStatus: number,
): Promise<Result> {
  const latencies: number[] = [];
  let bad = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  const loop = async () => {
    for (let t = performance.now(); t < end;) {
      try {
        const res = await fetch(url, { headers, redirect: "manual" });
        await res.arrayBuffer();
        if (res.status !== expectStatus) bad++;
      } catch {
        bad++;
      }
      const now = performance.now();
      latencies.push(now - t);
      t = now;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  const elapsed = (performance.now() - start) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    requests: latencies.length,
    seconds: elapsed,
    rps: latencies.length / elapsed,
    p50: at(0.5),
    p99: at(0.99),
    bad,
  };
}

// ---------------------------------------------------------------------------------------------
// Checks: each case's answer is verified once before it is measured.

async function check(
  kind: Case,
  url: string,
  headers: Record<string, string>,
  originHost: string,
): Promise<number> {
  const res = await fetch(url, { headers, redirect: "manual" });
  const body = new Uint8Array(await res.arrayBuffer());
  const text = () => new TextDecoder().decode(body);
  const fail = (why: string) => {
    throw new Error(
      `${kind}: ${why} (status ${res.status}, body ${JSON.stringify(text().slice(0, 200))})`,
    );
  };
  switch (kind) {
    case "bare":
      if (res.status !== 307 || res.headers.get("location") !== BARE_LOCATION) fail("not the 307");
      return 307;
    case "min307":
    case "redirect":
    case "redirect10":
    case "metrics":
    case "basic":
    case "jwt":
    case "browser": {
      const location = res.headers.get("location") ?? "";
      if (
        res.status !== 307 ||
        !location.startsWith(`http://${originHost}/${BUCKET}/${PHOTO}?`) ||
        !/[?&]X-Amz-Signature=[0-9a-f]{64}(&|$)/.test(location)
      ) fail(`not a presigned 307: ${location}`);
      return 307;
    }
    case "fetch1k":
    case "min1k":
    case "proxied":
    case "proxied10":
      if (res.status !== 200 || text() !== INDEX_HTML) fail("not the index.html");
      return 200;
    case "fetch1m":
    case "min1m":
    case "proxied1m":
      if (res.status !== 200 || body.length !== MIB || body[MIB - 1] !== 97) fail("not 1 MiB");
      return 200;
    case "listing":
    case "listing1000":
    case "cached1000": {
      const last = kind === "listing" ? 19 : 996;
      if (
        res.status !== 200 || !res.headers.get("content-type")?.startsWith("text/html") ||
        !text().includes(`report-${last}.pdf`)
      ) fail("not the generated listing");
      return 200;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The run.

function runtimeVersion(runtime: Runtime): string {
  if (runtime === "deno") return `deno ${Deno.version.deno}`;
  try {
    const out = new Deno.Command("bun", { args: ["--version"], stdout: "piped", stderr: "null" })
      .outputSync();
    return `bun ${new TextDecoder().decode(out.stdout).trim()}`;
  } catch {
    return "bun (not found)";
  }
}

async function hasWrk(): Promise<boolean> {
  try {
    // `wrk -v` prints its version and exits 1.
    await new Deno.Command("wrk", { args: ["-v"], stdout: "null", stderr: "null" }).output();
    return true;
  } catch {
    return false;
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

const fmtMs = (ms: number | undefined) =>
  ms === undefined ? "-" : ms < 1 ? `${(ms * 1000).toFixed(0)} us` : `${ms.toFixed(2)} ms`;
const fmtRps = (rps: number) => Math.round(rps).toLocaleString("en-US");

function loadAverage(): string {
  try {
    return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
  } catch {
    return "?";
  }
}

/** The command that runs a floor (`--serve-bare PORT`, `--serve-fetch PORT ORIGIN`). */
function floorCommand(runtime: Runtime, args: string[]): string[] {
  const script = new URL(import.meta.url).pathname;
  return runtime === "deno"
    ? [Deno.execPath(), "run", "--allow-net", "--allow-read", script, ...args]
    : ["bun", "run", script, ...args];
}

function proxyCommand(runtime: Runtime): string[] {
  return runtime === "deno"
    ? [Deno.execPath(), "run", "--allow-net", "--allow-env", "--allow-read", "src/main.ts"]
    : ["bun", "run", "src/main.ts"];
}

/** One download of the 1 GiB object by curl: seconds, and the server's memory. */
async function bigOnce(server: Spawned): Promise<{ s: number; idle: number; peak: number }> {
  await new Promise((r) => setTimeout(r, 300));
  const idle = memory(server.pid).rss;
  let peak = idle;
  const sampler = setInterval(() => {
    try {
      peak = Math.max(peak, memory(server.pid).rss);
    } catch { /* gone */ }
  }, 10);
  const child = new Deno.Command("curl", {
    args: [
      "-sS",
      "-o",
      "/dev/null",
      "-w",
      "%{http_code} %{size_download} %{time_total}",
      "--max-time",
      "120",
      server.url + BIG_PATH,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  children.add(child);
  let out;
  try {
    out = await child.output();
  } finally {
    children.delete(child);
    clearInterval(sampler);
  }
  const [code, size, time] = new TextDecoder().decode(out.stdout).trim().split(" ");
  if (code !== "200" || Number(size) !== BIG_SIZE) {
    throw new Error(
      `${server.name}: 1 GiB download got ${code}, ${size} bytes: ` +
        new TextDecoder().decode(out.stderr),
    );
  }
  peak = Math.max(peak, memory(server.pid).hwm);
  return { s: Number(time), idle, peak };
}

async function main(): Promise<void> {
  const seconds = numberOption("--seconds", 2, 1);
  const warmup = numberOption("--warmup", 1, 0);
  const rounds = Math.floor(numberOption("--rounds", 3, 1));
  const bigRounds = Math.floor(numberOption("--big-rounds", 2, 0));
  const connections = Math.floor(numberOption("--connections", 64, 1));
  const threads = Math.floor(numberOption("--threads", 1, 1));
  const budget = numberOption("--budget", 1200, 5);
  const minRatioOption = option("--min-ratio", "0");
  const targets = minRatioOption === "targets";
  const minRatio = targets ? 0 : Number(minRatioOption);
  if (!targets && !(minRatio >= 0)) throw new Error("--min-ratio needs targets or a number");
  const runtimes = listOption("--runtimes", ["deno", "bun"] as const);
  const cases = listOption("--cases", CASES);
  const originOption = option("--origin", "auto");
  const maxMetricsCost = numberOption("--max-metrics-cost", 0, 0);
  const maxAuthCost = numberOption("--max-auth-cost", 0, 0);
  numberOption("--metrics-rounds", 3, 1);
  const againstOption = option("--against", "");
  const against = againstOption === "" ? undefined : await Deno.realPath(againstOption);
  const generatorOption = option("--generator", "auto");
  if (!["auto", "wrk", "fetch"].includes(generatorOption)) {
    throw new Error(`--generator: "${generatorOption}" is not auto, wrk or fetch`);
  }
  const wrk = generatorOption === "wrk" ||
    (generatorOption === "auto" && await hasWrk());

  const deadline = setTimeout(() => {
    console.error(`proxy_bench: over the budget of ${budget} s; stopping everything`);
    killAll();
    Deno.exit(2);
  }, budget * 1000);
  const onInterrupt = () => {
    killAll();
    Deno.exit(130);
  };
  Deno.addSignalListener("SIGINT", onInterrupt);

  console.log(
    `proxy_bench: ${cases.join(", ")}${bigRounds > 0 ? ", big" : ""} on ${
      runtimes.map(runtimeVersion).join(", ")
    }; ${rounds} interleaved rounds of ${seconds} s per case after ${warmup} s warm-up, ` +
      `${connections} connections; load average ${loadAverage()}`,
  );
  console.log(
    wrk
      ? `load generator: wrk (${threads} thread${threads > 1 ? "s" : ""})`
      : `load generator: in-process fetch loops (${connections} concurrent, keep-alive)` +
        (generatorOption === "auto" ? " - wrk not found on PATH" : ""),
  );

  const scratch = await Deno.makeTempDir({ prefix: "proxy-bench-" });
  const nginx = originOption === "inprocess" ? undefined : findNginx();
  if (originOption === "nginx" && nginx === undefined) throw new Error("nginx is not installed");
  let originHost: string;
  let stopOrigin: () => Promise<void>;
  if (nginx !== undefined) {
    const port = freePort();
    const conf = await writeNginxSite(scratch, port);
    const origin = await spawnServer(
      "nginx",
      [nginx, "-p", scratch, "-c", conf],
      {},
      port,
      `${scratch}/nginx.log`,
    );
    originHost = `127.0.0.1:${port}`;
    stopOrigin = origin.stop;
    console.log(`origin: nginx (${nginx}, one worker, sendfile) at ${originHost}`);
  } else {
    const upstream = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen: () => {} },
      upstreamHandler,
    );
    originHost = `127.0.0.1:${upstream.addr.port}`;
    stopOrigin = () => upstream.shutdown();
    console.log(
      `origin: in this process (${
        originOption === "inprocess" ? "--origin inprocess" : "nginx not installed"
      }): it shares this process's event loop with the fetch generator, if used`,
    );
  }
  console.log(
    `${navigator.hardwareConcurrency} CPU(s): wrk, the origin and the servers share them; ` +
      `absolute figures are a floor, compare the ratios.`,
  );

  // Ten routes, each with its own prefix, bucket setting and (dummy) credentials; the measured one
  // is the last, so that matching looks at every prefix. Private: it holds secrets.
  const routesFile = `${scratch}/routes.json`;
  await Deno.writeTextFile(
    routesFile,
    JSON.stringify({
      routes: Array.from({ length: 10 }, (_, i) => ({
        prefix: i === 9 ? TEN_PREFIX : `/site${i}/`,
        AUTH: "none",
        S3_BUCKET: BUCKET,
        AWS_ACCESS_KEY_ID: `AKIAIOSFODNN7EXAMPL${i}`,
        AWS_SECRET_ACCESS_KEY: `wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKE${i}`,
      })),
    }),
    { mode: 0o600 },
  );
  // Access control: basic under /b/, jwt under /j/ (the issuer runs in this process).
  const jwtKey = makeKey("RS256", "bench");
  const issuer = cases.includes("jwt") ? await startIssuer([jwtKey]) : undefined;
  const authFile = `${scratch}/auth-routes.json`;
  await Deno.writeTextFile(
    `${scratch}/htpasswd`,
    `bench:${bcryptHash("bench-pass", new Uint8Array(16), 10)}\n`,
  );
  await Deno.writeTextFile(
    authFile,
    JSON.stringify({
      routes: [
        { prefix: "/b/", AUTH: "basic", AUTH_BASIC_FILE: `${scratch}/htpasswd` },
        ...(issuer
          ? [{
            prefix: "/j/",
            AUTH: "jwt",
            AUTH_JWT_ISSUER: issuer.issuer,
            AUTH_JWT_AUDIENCE: "bench",
          }]
          : []),
      ],
    }),
  );
  const caseHeaders: Partial<Record<Case, Record<string, string>>> = {
    browser: BROWSER_HEADERS,
    basic: { authorization: `Basic ${btoa("bench:bench-pass")}` },
    jwt: {
      authorization: `Bearer ${
        issuer &&
        signJwt(jwtKey, {
          iss: issuer.issuer,
          aud: "bench",
          sub: "bench-user",
          exp: Math.floor(Date.now() / 1000) + 86_400,
        })
      }`,
    },
  };
  const env: Record<string, string> = {
    HOST: "127.0.0.1",
    AWS_ENDPOINT_HOST: originHost,
    AWS_ENDPOINT_SCHEME: "http",
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
    AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    PROXY_PATTERN,
  };
  const origin = `http://${originHost}`;
  /** The proxy's variants: this tree, and `@base` (the tree given by --against). */
  const variantsOf = (server: Server): string[] =>
    against !== undefined && server !== "bare" && server !== "fetch" && server !== "minimal"
      ? ["", "@base"]
      : [""];
  const started: Spawned[] = [];
  const start = async (
    runtime: Runtime,
    server: Server | "big-fetch" | "big-proxy",
    variant = "",
  ): Promise<Spawned> => {
    const port = freePort();
    const logFile = `${scratch}/${runtime}-${server}-${started.length}.log`;
    const name = `${runtime} ${server}${variant}`;
    const s = server === "bare"
      ? await spawnServer(
        name,
        floorCommand(runtime, ["--serve-bare", String(port)]),
        {},
        port,
        logFile,
      )
      : server === "minimal"
      ? await spawnServer(
        name,
        floorCommand(runtime, ["--serve-minimal", String(port), originHost]),
        {},
        port,
        logFile,
      )
      : server === "fetch" || server === "big-fetch"
      ? await spawnServer(
        name,
        floorCommand(runtime, ["--serve-fetch", String(port), origin]),
        {},
        port,
        logFile,
      )
      : await spawnServer(
        name,
        proxyCommand(runtime),
        {
          ...env,
          PORT: String(port),
          ...(server === "ten" ? { ROUTES_FILE: routesFile } : {}),
          ...(server === "cached" ? { LISTING_CACHE_SECONDS: "60" } : {}),
          ...(server === "metrics" ? { ADMIN_PORT: "0" } : {}),
          ...(server === "auth" ? { ROUTES_FILE: authFile } : {}),
        },
        port,
        logFile,
        variant === "" ? REPO_ROOT : against,
      );
    started.push(s);
    return s;
  };

  type Row = { runtime: Runtime; kind: Case; variant: string; round: number; result: Result };
  const rows: Row[] = [];
  const bigRows: {
    runtime: Runtime;
    who: string;
    s: number;
    idle: number;
    peak: number;
  }[] = [];
  let failed = false;

  try {
    const servers = new Map<string, Spawned>();
    for (const runtime of runtimes) {
      for (const server of new Set(cases.map((c) => SERVER[c]))) {
        for (const variant of variantsOf(server)) {
          servers.set(`${runtime} ${server}${variant}`, await start(runtime, server, variant));
        }
      }
    }
    const expected = new Map<string, number>();
    for (const runtime of runtimes) {
      for (const kind of cases) {
        const server = servers.get(`${runtime} ${SERVER[kind]}`)!;
        const url = server.url + (kind === "bare" ? `/${BUCKET}/${PHOTO}` : PATHS[kind]);
        const headers = caseHeaders[kind] ?? {};
        expected.set(`${runtime} ${kind}`, await check(kind, url, headers, originHost));
      }
    }
    for (let round = 1; round <= rounds; round++) {
      console.log(`round ${round} of ${rounds} (load average ${loadAverage()})`);
      for (const runtime of runtimes) {
        for (
          const [kind, variant] of cases.flatMap((c) =>
            variantsOf(SERVER[c]).map((v) => [c, v] as const)
          )
        ) {
          const server = servers.get(`${runtime} ${SERVER[kind]}${variant}`)!;
          const url = server.url + (kind === "bare" ? `/${BUCKET}/${PHOTO}` : PATHS[kind]);
          const headers = caseHeaders[kind] ?? {};
          const run = (s: number) =>
            wrk
              ? runWrk(url, headers, s, connections, threads)
              : runFetchLoops(url, headers, s, connections, expected.get(`${runtime} ${kind}`)!);
          if (warmup > 0) await run(warmup);
          const cpu0 = cpuSeconds(server.pid);
          const result = await run(seconds);
          result.cpuUs = 1e6 * (cpuSeconds(server.pid) - cpu0) / result.requests;
          rows.push({ runtime, kind, variant, round, result });
          const bad = result.bad > 0 ? `  FAILED: ${result.bad} bad answers` : "";
          console.log(
            `  ${runtime.padEnd(5)} ${(kind + variant).padEnd(17)} ${
              fmtRps(result.rps).padStart(8)
            } req/s` +
              `  p50 ${fmtMs(result.p50).padStart(8)}  p99 ${fmtMs(result.p99).padStart(8)}` +
              `  cpu ${result.cpuUs.toFixed(0).padStart(5)} us/req${bad}`,
          );
          if (result.bad > 0) failed = true;
        }
      }
    }
    for (const server of servers.values()) await server.stop();
    for (const server of servers.values()) {
      const text = await Deno.readTextFile(server.logFile);
      const errors = text.split("\n").filter((l) => l.includes(`"level":"error"`)).length;
      if (errors > 0) {
        console.log(`${server.name}: logged ${errors} errors`);
        failed = true;
      }
    }
    // The 1 GiB object, once per fresh process, bare fetch-proxy and proxy alternately.
    for (let round = 1; round <= bigRounds; round++) {
      for (const runtime of runtimes) {
        for (const who of ["fetch", ...variantsOf("proxy").map((v) => "proxy" + v)]) {
          const server = who === "fetch"
            ? await start(runtime, "big-fetch")
            : await start(runtime, "big-proxy", who.slice("proxy".length));
          try {
            const big = await bigOnce(server);
            bigRows.push({ runtime, who, ...big });
            console.log(
              `  ${runtime.padEnd(5)} 1 GiB via ${who === "fetch" ? "bare fetch-proxy" : who}` +
                `: ${big.s.toFixed(2)} s, RSS idle ${big.idle.toFixed(0)} MiB, peak ${
                  big.peak.toFixed(0)
                } MiB`,
            );
          } finally {
            await server.stop();
          }
        }
      }
    }
  } finally {
    for (const s of started) await s.stop().catch(() => {});
    await stopOrigin().catch(() => {});
    await issuer?.close();
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
    clearTimeout(deadline);
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }

  // Parsing and rendering the 1000-key listing, in Deno here and in Bun.
  const parse = parseRender(LIST_MANY, 200);
  const bunParse = runtimes.includes("bun")
    ? await (async () => {
      const out = await new Deno.Command("bun", {
        args: ["run", new URL(import.meta.url).pathname, "--parse-render"],
        stdout: "piped",
        stderr: "inherit",
      }).output();
      return JSON.parse(new TextDecoder().decode(out.stdout)) as typeof parse;
    })()
    : undefined;

  console.log(`\nsummary (medians of ${rounds} rounds; load average now ${loadAverage()}):`);
  console.log(
    "runtime case         req/s      cpu us/req  floor        floor req/s  ratio (median of rounds)",
  );
  for (const runtime of runtimes) {
    const of = (kind: Case, variant = "") =>
      rows.filter((r) => r.runtime === runtime && r.kind === kind && r.variant === variant);
    /** The median over rounds of mine's req/s divided by others' in the same round. */
    const ratioOf = (mine: Row[], others: Row[]) =>
      median(mine.map((r) => r.result.rps / others.find((f) => f.round === r.round)!.result.rps));
    for (const [kind, variant] of cases.flatMap((c) => variantsOf(SERVER[c]).map((v) => [c, v]))) {
      const mine = of(kind as Case, variant);
      if (mine.length === 0) continue;
      const rps = median(mine.map((r) => r.result.rps));
      const cpu = median(mine.map((r) => r.result.cpuUs ?? 0));
      const floor = FLOOR[kind as Case];
      const floorRows = floor ? of(floor, SERVER[floor] === "proxy" ? variant : "") : [];
      let cells = "";
      if (floor && floorRows.length > 0) {
        const ratio = ratioOf(mine, floorRows);
        const want = variant !== ""
          ? undefined
          : targets
          ? TARGETS[kind as Case]
          : minRatio > 0
          ? minRatio
          : undefined;
        const verdict = want === undefined
          ? ""
          : ratio >= want
          ? `  ok (>= ${want})`
          : `  MISSED (< ${want})`;
        if (want !== undefined && ratio < want) failed = true;
        cells = `${floor.padEnd(12)} ${
          fmtRps(median(floorRows.map((r) => r.result.rps))).padStart(11)
        }  ${ratio.toFixed(2)}${verdict}`;
      }
      if (variant !== "") {
        cells += `  (this tree / ${variant.slice(1)}: ${
          ratioOf(of(kind as Case), mine).toFixed(2)
        })`;
      }
      console.log(
        `${runtime.padEnd(7)} ${(kind + variant).padEnd(17)} ${fmtRps(rps).padStart(8)}  ${
          cpu.toFixed(0).padStart(10)
        }  ${cells}`,
      );
    }
    // The proxy against the minimal signer: what the proxy's own code costs on each path.
    for (const [kind, minimum] of Object.entries(MINIMUM) as [Case, Case][]) {
      const [mine, least] = [of(kind), of(minimum)];
      if (mine.length === 0 || least.length === 0) continue;
      const cpu = (rows: Row[]) => median(rows.map((r) => r.result.cpuUs ?? 0));
      console.log(
        `${runtime}: ${kind} / ${minimum} (the minimal signer) ${
          ratioOf(mine, least).toFixed(2)
        }, cpu ${cpu(mine).toFixed(0)} against ${cpu(least).toFixed(0)} us/req`,
      );
    }
    // Metrics and access control, as costs against redirect (ratios of the same rounds).
    const redirectRows = of("redirect");
    if (redirectRows.length > 0 && of("metrics").length > 0) {
      const cost = 1 - ratioOf(of("metrics"), redirectRows);
      console.log(`${runtime}: metrics cost ${(100 * cost).toFixed(1)}% (1 - metrics/redirect)`);
      if (maxMetricsCost > 0 && cost > maxMetricsCost) {
        console.error(
          `FAIL: ${runtime} metrics cost ${cost.toFixed(3)} is above ${maxMetricsCost}`,
        );
        failed = true;
      }
    }
    for (const c of ["basic", "jwt"] as const) {
      if (redirectRows.length === 0 || of(c).length === 0) continue;
      const cost = 1 / ratioOf(of(c), redirectRows);
      console.log(`${runtime}: ${c} costs ${cost.toFixed(2)}x redirect per request`);
      if (maxAuthCost > 0 && cost > maxAuthCost) {
        console.error(
          `FAIL: ${runtime} ${c} costs ${cost.toFixed(2)}x redirect (> ${maxAuthCost})`,
        );
        failed = true;
      }
    }
    const big = (who: string) => bigRows.filter((r) => r.runtime === runtime && r.who === who);
    for (const who of variantsOf("proxy").map((v) => "proxy" + v)) {
      const [f, p] = [big("fetch"), big(who)];
      if (p.length === 0 || f.length === 0) continue;
      const time = median(p.map((r) => r.s)) / median(f.map((r) => r.s));
      const peak = Math.max(...p.map((r) => r.peak));
      const verdict = who === "proxy" && (targets || minRatio > 0)
        ? (peak < BIG_MAX_RSS_MIB && time <= BIG_MAX_TIME_RATIO ? "  ok" : "  MISSED") +
          ` (< ${BIG_MAX_RSS_MIB} MiB, <= ${BIG_MAX_TIME_RATIO}x)`
        : "";
      if (verdict.includes("MISSED")) failed = true;
      console.log(
        `${runtime.padEnd(7)} 1 GiB: ${who} ${median(p.map((r) => r.s)).toFixed(2)} s, peak RSS ${
          peak.toFixed(0)
        } MiB (idle ${median(p.map((r) => r.idle)).toFixed(0)}); bare fetch-proxy ${
          median(f.map((r) => r.s)).toFixed(2)
        } s, peak ${Math.max(...f.map((r) => r.peak)).toFixed(0)} MiB (idle ${
          median(f.map((r) => r.idle)).toFixed(0)
        }); time ratio ${time.toFixed(2)}${verdict}`,
      );
    }
  }
  const pr = (p: typeof parse) =>
    `parse ${p.parseUs.toFixed(0)} us, render ${p.renderUs.toFixed(0)} us`;
  console.log(
    `1000-key listing (${(LIST_MANY.length / 1024).toFixed(0)} KiB of XML): deno ${pr(parse)}` +
      (bunParse ? `; bun ${pr(bunParse)}` : ""),
  );
  if (failed) process.exitCode = 1;
}

const serveAt = (flag: string) => Number(process.argv[process.argv.indexOf(flag) + 1]);
if (process.argv.includes("--serve-bare")) serveBare(serveAt("--serve-bare"));
else if (process.argv.includes("--serve-minimal")) {
  serveMinimal(
    serveAt("--serve-minimal"),
    process.argv[process.argv.indexOf("--serve-minimal") + 2],
  );
} else if (process.argv.includes("--serve-fetch")) {
  serveFetch(serveAt("--serve-fetch"), process.argv[process.argv.indexOf("--serve-fetch") + 2]);
} else if (process.argv.includes("--parse-render")) {
  console.log(JSON.stringify(parseRender(LIST_MANY, 200)));
} else {
  try {
    await main();
  } catch (e) {
    killAll();
    console.error(`proxy_bench: ${e instanceof Error ? e.message : e}`);
    process.exitCode = 1;
  }
}
