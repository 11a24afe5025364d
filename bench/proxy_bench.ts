/**
 * HTTP throughput of the proxy itself, served by Deno and by Bun, against a bare server.
 *
 *   deno run --allow-all bench/proxy_bench.ts
 *
 * On 127.0.0.1 only, it starts a trivial S3-like upstream in this process (an `index.html` and a
 * ListObjectsV2 document, both behind a check that the request is signed), then for each runtime
 * the proxy as a real process (`tests/support/proxy.ts` `startProxy`) pointed at that upstream,
 * and a bare `Deno.serve`/`Bun.serve` (this file, run with `--serve-bare`) answering a static 307
 * with a presigned-URL-sized `Location`. It measures, each for a few seconds at a fixed number of
 * keep-alive connections:
 *
 * - **bare**: the bare server's static 307, the ceiling of the runtime's HTTP stack here;
 * - **redirect**: `GET` of a non-index key by a plain HTTP client (no `Accept`, as wrk and curl):
 *   route + presign + access log, no upstream;
 * - **metrics**: the same against a second proxy started with `ADMIN_PORT=0`, so metrics are
 *   recorded (they are only with an admin port), measured in turns with a proxy without
 *   (`--metrics-rounds N`, default 3, the best of each kept); the run prints the cost of metrics,
 *   1 - on/off (`--max-metrics-cost F` fails the run above it; default 0, no bar);
 * - **browser**: the same `GET` with a browser's headers (`Accept: text/html`, a Chrome
 *   user agent, ...): the proxy first sends S3 a `HEAD` of the key (a missing key might be a folder
 *   to redirect to with a slash), then presigns;
 * - **proxied**: `GET` of an `index.html`: route + sign + upstream fetch + streamed body + log;
 * - **listing**: `GET` of a folder without `index.html`: two upstream requests (the `index.html`
 *   404, then ListObjectsV2), the XML parsed and rendered as HTML;
 * - **redirect10**, **proxied10**: the redirect and proxied cases through a second proxy with a
 *   ROUTES_FILE of ten routes (each with its own prefix, bucket setting and credentials; the one
 *   measured is the last), against the one route at `/` of the cases above;
 * - **basic**: the redirect case on a route with `AUTH=basic` (an htpasswd line of cost 10), the
 *   same credentials every time, so after the first request bcrypt is not paid (the cache);
 * - **jwt**: the redirect case on a route with `AUTH=jwt` and an RS256 token (the issuer of
 *   tests/support/oidc.ts, in this process), the same token every time (the verified-token cache).
 *   Both through a third proxy whose routes file has `basic` under `/b/` and `jwt` under `/j/`;
 *   the run prints each one's cost per request against redirect.
 *
 * Load comes from `wrk` when it is on the PATH (requests/s and p50/p99 latency), else from an
 * in-process generator (N concurrent keep-alive `fetch` loops for a fixed time), and the output
 * says which. Either way the load generator shares the machine's cores with the servers, so the
 * absolute figures are a floor; the ratio redirect/bare is the comparable number. Every answer is
 * checked once before its case is measured, and a case with failed requests fails the run.
 * Everything stops by itself: each case is bounded, and the whole run is killed at `--budget`.
 *
 * Options: `--seconds S` per case (default 3), `--warmup S` (default 1; wrk takes whole seconds), `--connections N`
 * (default 64), `--threads N` (wrk threads, default 1), `--runtimes deno,bun`,
 * `--cases bare,redirect,metrics,browser,proxied,listing,redirect10,proxied10,basic,jwt`,
 * `--generator auto|wrk|fetch`, `--budget S` (default 150), `--min-ratio R` (exit 1 when
 * redirect/bare is below R for a runtime; default 0, no bar), `--max-auth-cost C` (exit 1 when
 * basic or jwt costs more than C times redirect per request; default 0, no bar),
 * `--metrics-rounds N`, `--max-metrics-cost F` (see the metrics case above).
 *
 * @module
 */

import process from "node:process";
import { readLines } from "../tests/support/lines.ts";
import { type ProxyHandle, REPO_ROOT, type Runtime, startProxy } from "../tests/support/proxy.ts";
import { makeKey, signJwt, startIssuer } from "../tests/support/oidc.ts";
import { bcryptHash } from "../src/auth/bcrypt.ts";

// ---------------------------------------------------------------------------------------------
// The bare server: `deno run --allow-net bench/proxy_bench.ts --serve-bare` or `bun run ... `.

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
    fetch: (req: Request) => Response;
  }): { port: number };
} | undefined;

function serveBare(): void {
  const answer = () =>
    new Response(null, {
      status: 307,
      headers: { location: BARE_LOCATION, "cache-control": "private, max-age=270" },
    });
  if (typeof Bun !== "undefined") {
    const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: answer });
    console.log(JSON.stringify({ event: "listening", port: server.port }));
  } else {
    Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) => console.log(JSON.stringify({ event: "listening", port })),
    }, answer);
  }
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
  "redirect",
  "metrics",
  "browser",
  "proxied",
  "listing",
  "redirect10",
  "proxied10",
  "basic",
  "jwt",
] as const;
type Case = typeof CASES[number];
/** The cases served by the proxy with ten routes, and the one-route case each is compared with. */
const TEN_ROUTES: Record<string, Case> = { redirect10: "redirect", proxied10: "proxied" };
/** The prefix of the measured route among the ten (the last one in the file). */
const TEN_PREFIX = "/site9/";
/** The cases served by the proxy with access control. */
const AUTH_CASES: readonly Case[] = ["basic", "jwt"];

// ---------------------------------------------------------------------------------------------
// The S3-like upstream (in this process).

const BUCKET = "bench";
const INDEX_HTML = "<!doctype html>\n<html><head><title>bench</title></head>" +
  "<body><h1>It works</h1><p>" + "An index page of about a kilobyte. ".repeat(26) +
  "</p></body></html>\n";
const LIST_FILES = 20;

function listXml(prefix: string): string {
  const files = Array.from(
    { length: LIST_FILES },
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
    `<Prefix>${prefix}</Prefix><KeyCount>${LIST_FILES + 3}</KeyCount><MaxKeys>1000</MaxKeys>` +
    `<Delimiter>/</Delimiter><EncodingType>url</EncodingType><IsTruncated>false</IsTruncated>` +
    files + folders + `</ListBucketResult>`;
}

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

const PHOTO = "photos/2024/IMG_1000.jpg";

/** Answers like S3 for the objects the bench asks for; anything else is a 404. */
function upstreamHandler(req: Request): Response {
  if (!req.headers.get("authorization")?.startsWith("AWS4-HMAC-SHA256 Credential=")) {
    return s3Error(403, "AccessDenied", "unsigned request");
  }
  const url = new URL(req.url);
  const head = req.method === "HEAD";
  if (url.pathname === `/${BUCKET}/site/index.html`) {
    return new Response(head ? null : INDEX_HTML, {
      headers: {
        "content-type": "text/html",
        "content-length": String(INDEX_HTML.length),
        etag: '"5d41402abc4b2a76b9719d911017c592"',
        "last-modified": "Thu, 01 Jan 2026 12:00:00 GMT",
        "accept-ranges": "bytes",
      },
    });
  }
  if (url.pathname === `/${BUCKET}/${PHOTO}`) {
    return new Response(head ? null : "jpeg bytes", {
      headers: { "content-type": "image/jpeg", "content-length": "10", etag: '"1"' },
    });
  }
  if (
    (url.pathname === `/${BUCKET}` || url.pathname === `/${BUCKET}/`) &&
    url.searchParams.get("list-type") === "2"
  ) {
    return new Response(listXml(url.searchParams.get("prefix") ?? ""), {
      headers: { "content-type": "application/xml" },
    });
  }
  return s3Error(404, "NoSuchKey", "The specified key does not exist.");
}

// ---------------------------------------------------------------------------------------------
// Children: everything started is registered here and killed on exit, deadline or Ctrl-C.

const children = new Set<Deno.ChildProcess>();
const proxies = new Set<ProxyHandle>();

function killAll(): void {
  for (const child of children) {
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
  }
  for (const proxy of proxies) {
    try {
      Deno.kill(proxy.pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}

interface BareHandle extends AsyncDisposable {
  url: string;
}

async function startBare(runtime: Runtime): Promise<BareHandle> {
  const script = new URL(import.meta.url).pathname;
  const [cmd, args] = runtime === "deno"
    ? [Deno.execPath(), ["run", "--allow-net", script, "--serve-bare"]]
    : ["bun", ["run", script, "--serve-bare"]];
  const child = new Deno.Command(cmd, {
    args,
    cwd: REPO_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  children.add(child);
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    await child.status;
    children.delete(child);
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`bare ${runtime} server: no port`)), 15000);
      readLines(child.stdout, (line) => {
        try {
          const port = JSON.parse(line).port;
          if (typeof port === "number") {
            clearTimeout(timer);
            resolve(port);
          }
        } catch { /* not our line */ }
      }).then(() => {
        clearTimeout(timer);
        reject(new Error(`bare ${runtime} server exited`));
      });
    });
    return {
      url: `http://127.0.0.1:${port}/bench/photos/2024/IMG_1000.jpg`,
      [Symbol.asyncDispose]: stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
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
  note?: string;
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
    note: socket ? socket[0] : undefined,
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
  upstreamHost: string,
): Promise<number> {
  const res = await fetch(url, { headers, redirect: "manual" });
  const body = await res.text();
  const fail = (why: string) => {
    throw new Error(
      `${kind}: ${why} (status ${res.status}, body ${JSON.stringify(body.slice(0, 200))})`,
    );
  };
  switch (kind) {
    case "bare":
      if (res.status !== 307 || res.headers.get("location") !== BARE_LOCATION) fail("not the 307");
      return 307;
    case "redirect":
    case "metrics":
    case "redirect10":
    case "basic":
    case "jwt":
    case "browser": {
      const location = res.headers.get("location") ?? "";
      if (
        res.status !== 307 ||
        !location.startsWith(`http://${upstreamHost}/${BUCKET}/${PHOTO}?`) ||
        !/[?&]X-Amz-Signature=[0-9a-f]{64}(&|$)/.test(location)
      ) fail(`not a presigned 307: ${location}`);
      return 307;
    }
    case "proxied":
    case "proxied10":
      if (res.status !== 200 || body !== INDEX_HTML) fail("not the index.html");
      return 200;
    case "listing":
      if (
        res.status !== 200 || !res.headers.get("content-type")?.startsWith("text/html") ||
        !body.includes(`report-${LIST_FILES - 1}.pdf`)
      ) fail("not the generated listing");
      return 200;
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

const fmtMs = (ms: number | undefined) =>
  ms === undefined ? "-" : ms < 1 ? `${(ms * 1000).toFixed(0)} us` : `${ms.toFixed(2)} ms`;

async function main(): Promise<void> {
  const seconds = numberOption("--seconds", 3, 1);
  const warmup = numberOption("--warmup", 1, 0);
  const connections = Math.floor(numberOption("--connections", 64, 1));
  const threads = Math.floor(numberOption("--threads", 1, 1));
  const budget = numberOption("--budget", 150, 5);
  const minRatio = numberOption("--min-ratio", 0, 0);
  const maxMetricsCost = numberOption("--max-metrics-cost", 0, 0);
  const metricsRounds = Math.floor(numberOption("--metrics-rounds", 3, 1));
  const maxAuthCost = numberOption("--max-auth-cost", 0, 0);
  const runtimes = listOption("--runtimes", ["deno", "bun"] as const);
  const cases = listOption("--cases", CASES);
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

  const cpus = navigator.hardwareConcurrency;
  console.log(
    `proxy_bench: ${cases.join(", ")} on ${runtimes.map(runtimeVersion).join(", ")}; ` +
      `${seconds} s per case after ${warmup} s warm-up, ${connections} connections`,
  );
  console.log(
    wrk
      ? `load generator: wrk (${threads} thread${threads > 1 ? "s" : ""})`
      : `load generator: in-process fetch loops (${connections} concurrent, keep-alive)` +
        (generatorOption === "auto" ? " - wrk not found on PATH" : "") +
        "\n  (it saturates before a bare server does, so the ratios to bare understate the gap)",
  );
  console.log(
    `${cpus} CPU(s): the load generator, the upstream (in this process) and the server ` +
      `under test share them, so absolute figures are a floor; compare ratios.`,
  );

  const upstream = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    upstreamHandler,
  );
  const upstreamHost = `127.0.0.1:${upstream.addr.port}`;
  // Ten routes, each with its own prefix, bucket setting and (dummy) credentials; the measured one
  // is the last, so that matching looks at every prefix. Private: it holds secrets.
  const scratch = await Deno.makeTempDir({ prefix: "proxy-bench-" });
  const routesFile = `${scratch}/routes.json`;
  await Deno.writeTextFile(
    routesFile,
    JSON.stringify({
      routes: Array.from({ length: 10 }, (_, i) => ({
        prefix: i === 9 ? TEN_PREFIX : `/site${i}/`,
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
  const authHeaders: Partial<Record<Case, Record<string, string>>> = {
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
  const rows: { runtime: Runtime; kind: Case; result: Result }[] = [];
  let failed = false;

  const measure = async (runtime: Runtime, kind: Case, url: string, note = "") => {
    const headers = kind === "browser" ? BROWSER_HEADERS : authHeaders[kind] ?? {};
    const expect = await check(kind, url, headers, upstreamHost);
    const run = (s: number) =>
      wrk
        ? runWrk(url, headers, s, connections, threads)
        : runFetchLoops(url, headers, s, connections, expect);
    if (warmup > 0) await run(warmup);
    const result = await run(seconds);
    rows.push({ runtime, kind, result });
    const bad = result.bad > 0 ? `  FAILED: ${result.bad} bad answers` : "";
    console.log(
      `${runtime.padEnd(5)} ${kind.padEnd(9)} ${
        Math.round(result.rps).toLocaleString("en-US").padStart(8)
      } req/s  p50 ${fmtMs(result.p50).padStart(8)}  p99 ${fmtMs(result.p99).padStart(8)}${bad}${
        note ? `  (${note})` : ""
      }`,
    );
    if (result.bad > 0) failed = true;
  };

  try {
    for (const runtime of runtimes) {
      if (cases.includes("bare")) {
        await using bare = await startBare(runtime);
        await measure(runtime, "bare", bare.url);
      }
      const paths: Record<Exclude<Case, "bare">, string> = {
        redirect: `/${BUCKET}/${PHOTO}`,
        metrics: `/${BUCKET}/${PHOTO}`,
        browser: `/${BUCKET}/${PHOTO}`,
        proxied: `/${BUCKET}/site/index.html`,
        listing: `/${BUCKET}/docs/`,
        redirect10: `${TEN_PREFIX}${PHOTO}`,
        proxied10: `${TEN_PREFIX}site/index.html`,
        basic: `/b/${BUCKET}/${PHOTO}`,
        jwt: `/j/${BUCKET}/${PHOTO}`,
      };
      const env = {
        AWS_ENDPOINT_HOST: upstreamHost,
        AWS_ENDPOINT_SCHEME: "http",
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
        AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      };
      const one = cases.filter((c) =>
        c !== "bare" && c !== "metrics" && !(c in TEN_ROUTES) && !AUTH_CASES.includes(c)
      );
      const ten = cases.filter((c) => c in TEN_ROUTES);
      const auth = cases.filter((c) => AUTH_CASES.includes(c));
      const runs: [Case[], Record<string, string>][] = [[one, env]];
      if (ten.length > 0) runs.push([ten, { ...env, ROUTES_FILE: routesFile }]);
      if (auth.length > 0) runs.push([auth, { ...env, ROUTES_FILE: authFile }]);
      for (const [group, groupEnv] of runs) {
        if (group.length === 0) continue;
        const proxy = await startProxy({ runtime, env: groupEnv });
        proxies.add(proxy);
        try {
          for (const kind of group) {
            await measure(runtime, kind, proxy.url + paths[kind as Exclude<Case, "bare">]);
          }
          const errors = proxy.jsonLines().filter((l) => l.level === "error").length;
          if (errors > 0) {
            console.log(`${runtime}: the proxy logged ${errors} errors`);
            failed = true;
          }
        } finally {
          await proxy.stop();
          proxies.delete(proxy);
        }
      }
      if (cases.includes("metrics")) {
        // Metrics off and on, in two proxies side by side, measured in turns; the best of each
        // is kept (other load on the machine only ever lowers a figure).
        const off = await startProxy({ runtime, env });
        proxies.add(off);
        const on = await startProxy({ runtime, env: { ...env, ADMIN_PORT: "0" } }).catch(
          async (e) => {
            await off.stop();
            throw e;
          },
        );
        proxies.add(on);
        try {
          for (let round = 0; round < metricsRounds; round++) {
            await measure(runtime, "redirect", off.url + paths.redirect, "metrics off");
            await measure(runtime, "metrics", on.url + paths.metrics, "metrics on");
          }
          for (const proxy of [off, on]) {
            const errors = proxy.jsonLines().filter((l) => l.level === "error").length;
            if (errors > 0) {
              console.log(`${runtime}: the proxy logged ${errors} errors`);
              failed = true;
            }
          }
        } finally {
          for (const proxy of [off, on]) {
            await proxy.stop();
            proxies.delete(proxy);
          }
        }
      }
    }
  } finally {
    await Deno.remove(scratch, { recursive: true }).catch(() => {});
    await upstream.shutdown();
    await issuer?.close();
    clearTimeout(deadline);
    Deno.removeSignalListener("SIGINT", onInterrupt);
  }

  for (const runtime of runtimes) {
    /** The best figure of a case (the metrics pair runs several times). */
    const rps = (kind: Case) => {
      const all = rows.filter((r) => r.runtime === runtime && r.kind === kind);
      return all.length === 0 ? undefined : Math.max(...all.map((r) => r.result.rps));
    };
    const off = rps("redirect");
    const on = rps("metrics");
    if (off !== undefined && on !== undefined) {
      const cost = 1 - on / off;
      console.log(
        `${runtime}: metrics on/off ${(100 * on / off).toFixed(1)}% (cost ${
          (100 * cost).toFixed(1)
        }%)`,
      );
      if (maxMetricsCost > 0 && cost > maxMetricsCost) {
        console.error(
          `FAIL: ${runtime} metrics cost ${cost.toFixed(3)} is above ${maxMetricsCost}`,
        );
        failed = true;
      }
    }
    const ten = Object.entries(TEN_ROUTES).filter(([c, o]) => rps(c as Case) && rps(o)).map(
      ([c, o]) => `${c}/${o} ${(100 * rps(c as Case)! / rps(o)!).toFixed(0)}%`,
    );
    if (ten.length > 0) console.log(`${runtime}, ten routes vs one: ${ten.join(", ")}`);
    const open = rps("redirect");
    const costs = AUTH_CASES.filter((c) => rps(c) !== undefined && open);
    if (costs.length > 0) {
      const cost = (c: Case) => open! / rps(c)!;
      console.log(
        `${runtime}: cost per request against redirect: ` +
          costs.map((c) => `${c} ${cost(c).toFixed(2)}x`).join(", "),
      );
      for (const c of costs) {
        if (maxAuthCost > 0 && cost(c) > maxAuthCost) {
          console.error(
            `FAIL: ${runtime} ${c} costs ${cost(c).toFixed(2)}x redirect (> ${maxAuthCost})`,
          );
          failed = true;
        }
      }
    }
    const bare = rps("bare");
    if (bare === undefined) continue;
    const ratios = cases.filter((c) => c !== "bare" && rps(c) !== undefined).map((c) =>
      `${c}/bare ${(100 * rps(c)! / bare).toFixed(0)}%`
    );
    console.log(`${runtime}: ${ratios.join(", ")}`);
    const redirect = rps("redirect");
    if (minRatio > 0 && redirect !== undefined && redirect / bare < minRatio) {
      console.error(
        `FAIL: ${runtime} redirect/bare ${(redirect / bare).toFixed(2)} is below ${minRatio}`,
      );
      failed = true;
    }
  }
  if (failed) process.exitCode = 1;
}

if (process.argv.includes("--serve-bare")) serveBare();
else {
  try {
    await main();
  } catch (e) {
    killAll();
    console.error(`proxy_bench: ${e instanceof Error ? e.message : e}`);
    process.exitCode = 1;
  }
}
