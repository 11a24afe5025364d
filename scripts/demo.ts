/**
 * A one-command demo, for anyone without a bucket: `deno task demo`.
 *
 * It starts a local S3 server that verifies signatures (`@20minutes/s3rver`, through
 * tests/support/s3rver.ts), fills a bucket `demo` with folders, an `index.html`, awkward key names
 * and a few MiB of random bytes made on the fly, starts the proxy in front of it
 * (`deno run ... src/main.ts`), prints the URLs to open and commands to try, shows the proxy's
 * access log, and stops everything on Ctrl-C (SIGINT) or SIGTERM.
 *
 *   deno task demo [--port 8080] [--s3-port 4568]     # or PORT=... S3_PORT=...; 0 = any free port
 *
 * It needs Node and the npm dev-dependencies (it runs `npm ci` when they are missing).
 *
 * @module
 */

const REPO_ROOT = new URL("../", import.meta.url).pathname;
const BUCKET = "demo";
const BIG_KEY = "big/random-4MiB.bin";
const BIG_SIZE = 4 * 2 ** 20;

function setting(flag: string, variable: string, fallback: number): number {
  const at = Deno.args.indexOf(flag);
  const raw = at >= 0 ? Deno.args[at + 1] : Deno.env.get(variable);
  const value = Number(raw ?? fallback);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    console.error(`demo: ${flag} / ${variable} must be a port number (0 for any), got ${raw}`);
    Deno.exit(2);
  }
  return value;
}

const proxyPort = setting("--port", "PORT", 8080);
const s3Port = setting("--s3-port", "S3_PORT", 4568);

/** The npm dev-dependencies (s3rver, aws4fetch), installed with `npm ci` if missing. */
async function ensureDevDependencies(): Promise<void> {
  const needed = ["@20minutes/s3rver/package.json", "aws4fetch/package.json"];
  const missing = await Promise.all(
    needed.map((path) =>
      Deno.stat(`${REPO_ROOT}node_modules/${path}`).then(() => false, () => true)
    ),
  );
  if (!missing.includes(true)) return;
  console.log("demo: installing the npm dev-dependencies (npm ci)...");
  const out = await new Deno.Command("npm", {
    args: ["ci", "--no-audit", "--no-fund"],
    cwd: REPO_ROOT,
    stdin: "null",
  }).output();
  if (!out.success) {
    console.error("demo: npm ci failed");
    Deno.exit(1);
  }
}

/** The sample bucket: folders, an index.html, awkward names, one large random file. */
function sampleObjects(): [string, string | Uint8Array][] {
  const big = new Uint8Array(BIG_SIZE);
  for (let at = 0; at < big.length; at += 65536) {
    crypto.getRandomValues(big.subarray(at, at + 65536));
  }
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Demo site</title></head>
<body>
<h1>Served from a private bucket</h1>
<p>This page is <code>site/index.html</code>, streamed by the proxy with a signed request.</p>
<p><a href="report.txt">report.txt</a> is a redirect to a presigned URL;
<a href="/${BUCKET}/">the bucket</a> is a generated listing.</p>
</body></html>
`;
  return [
    ["site/index.html", page],
    ["site/report.txt", "A plain object: your browser got a 307 to a presigned S3 URL.\n"],
    ["docs/readme.txt", "Keys are taken from the raw path, decoded once, signed as sent.\n"],
    ["docs/a b+c.txt", "A space and a plus: /docs/a%20b+c.txt (a raw + in a path is a plus).\n"],
    ["docs/ünïcødé – 日本語.txt", "Unicode key names work too.\n"],
    ["docs/(parens) [brackets].txt", "Parentheses and brackets.\n"],
    // s3rver lists a folder under its parent only when it holds an object itself.
    ["photos/README.txt", "Photos, by year.\n"],
    ["photos/2024/beach.txt", "A folder two levels down.\n"],
    ["photos/2024/snow.txt", "Another one.\n"],
    [BIG_KEY, big],
  ];
}

await ensureDevDependencies();
const { startS3rver } = await import("../tests/support/s3rver.ts");
const { readLines } = await import("../tests/support/lines.ts");

const s3 = await startS3rver({ buckets: [BUCKET], port: s3Port, startTimeoutMs: 30_000 });
/** The proxy's process, once started. */
const running: { proxy?: Deno.ChildProcess } = {};
let stopping: Promise<never> | undefined;

/** Stops the proxy (SIGTERM, then SIGKILL after 12 s) and the S3 server, then exits. */
function stop(code: number, why: string): Promise<never> {
  return stopping ??= (async () => {
    console.log(`\ndemo: ${why}: stopping the proxy and the S3 server...`);
    const child = running.proxy;
    if (child) {
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* already gone */ }
      }, 12_000);
      await child.status;
      clearTimeout(timer);
    }
    await s3.stop();
    console.log("demo: stopped");
    Deno.exit(code);
  })();
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => stop(0, signal));
}

try {
  for (const [key, body] of sampleObjects()) {
    // Typed as a browser needs them: the page renders, text shows as text.
    const type = key.endsWith(".html")
      ? "text/html; charset=utf-8"
      : key.endsWith(".txt")
      ? "text/plain; charset=utf-8"
      : "application/octet-stream";
    await s3.putObject(BUCKET, key, body, { "content-type": type });
  }
} catch (error) {
  console.error(`demo: could not fill the bucket: ${error}`);
  await stop(1, "error");
}

const proxy = running.proxy = new Deno.Command(Deno.execPath(), {
  args: ["run", "--allow-net", "--allow-env", "src/main.ts"],
  cwd: REPO_ROOT,
  clearEnv: true,
  env: {
    PATH: Deno.env.get("PATH") ?? "",
    HOME: Deno.env.get("HOME") ?? "/",
    HOST: "127.0.0.1",
    PORT: String(proxyPort),
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_ENDPOINT_HOST: s3.host,
    AWS_ENDPOINT_SCHEME: "http",
  },
  stdin: "null",
  stdout: "piped",
  stderr: "piped",
}).spawn();

let onListening: (port: number) => void = () => {};
const listening = new Promise<number>((resolve) => (onListening = resolve));
readLines(proxy.stdout, (line) => {
  let entry: Record<string, unknown> | undefined;
  try {
    entry = JSON.parse(line);
  } catch { /* not JSON */ }
  if (entry?.event === "listening" && typeof entry.port === "number") onListening(entry.port);
  else if (entry?.event === "request") {
    console.log(
      `  ${entry.method} ${entry.path} -> ${entry.status} (${entry.decision}, ${entry.client})`,
    );
  } else console.log(`  proxy: ${line}`);
});
readLines(proxy.stderr, (line) => console.error(`  proxy: ${line}`));
proxy.status.then((status) => stop(1, `the proxy exited (code ${status.code})`));

const port = await listening;
const url = `http://127.0.0.1:${port}`;
const b = `${url}/${BUCKET}`;
const aws = `--no-sign-request --endpoint-url ${url}`;
console.log(`
s3 signing proxy demo

  s3     ${s3.endpoint}   (s3rver: a local S3 that verifies every signature; bucket "${BUCKET}")
  proxy  ${url}   (holds the keys; nobody else needs any)

Open in a browser:
  ${b}/                 a generated listing (folders, files, sizes)
  ${b}/site/            an index.html, streamed through the proxy
  ${b}/docs/            awkward key names: spaces, +, unicode, parentheses

Try:
  curl -i ${b}/docs/a%20b+c.txt              # 307 to a presigned URL
  curl -L ${b}/docs/a%20b+c.txt              # ...followed
  curl -i ${b}/site/index.html               # streamed, signed
  curl '${b}?list-type=2&delimiter=/'        # S3's ListObjectsV2 XML
  curl -H 'Accept: application/json' ${b}/photos/2024/   # a listing as JSON
  curl -i -X PUT ${b}/docs/readme.txt        # 405: read-only
  curl -i ${b}/bad%ZZ                        # 400: a bad escape goes nowhere
  curl -o /dev/null -w '%{size_download} bytes\\n' -L ${b}/${BIG_KEY}
  aws s3 ls s3://${BUCKET}/ --recursive ${aws}
  aws s3 cp s3://${BUCKET}/${BIG_KEY} /tmp/ ${aws}

Access log below. Ctrl-C stops everything.
`);
