// Runs @20minutes/s3rver@5.0.0 as a child process for the tests (see tests/support/s3rver.ts).
//
// Usage: node --openssl-legacy-provider tests/support/s3rver_main.mjs '<json>'
//   (or the same JSON in the S3RVER_CONFIG environment variable)
//
// JSON settings, all optional:
//   buckets:         array of bucket names (or { name, configs: [xml strings] }) to create
//   keyPairs:        array of { accessKeyId, secretAccessKey } accepted by the server; the
//                    built-in S3RVER/S3RVER pair is always revoked
//   directory:       storage directory (default: a fresh temp dir, removed on exit)
//   address:         bind address (default 127.0.0.1)
//   port:            bind port (default 0: any free port)
//   serviceEndpoint: s3rver's vhost suffix (default "amazonaws.com"): requests with
//                    Host <bucket>.s3.<serviceEndpoint> are virtual-host style
//   vhostBuckets:    treat any other non-IP, non-localhost Host as a bucket name (default false)
//   allowAnonymous:  let unsigned requests through, as stock s3rver does (default false: an
//                    unsigned request is answered 403 AccessDenied)
//   denyGet:         raw path prefixes ("/bucket/private/"): a GET or HEAD under one is answered
//                    403 AccessDenied, whether the key exists or not, as a bucket policy denying
//                    s3:GetObject does (PUT and DELETE still work, to seed the test)
//
// When ready it prints exactly one JSON line on stdout:
//   {"event":"ready","address":"127.0.0.1","port":12345,"directory":"/tmp/..."}
// It exits cleanly on SIGTERM, SIGINT, or when its stdin closes, so it never outlives the
// process that started it. Secrets are never printed.
//
// The engines field of the package says node >= 24; it works on Node 20. The
// --openssl-legacy-provider flag is needed because ListObjectsV2 continuation tokens use DES.

import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";

const require = createRequire(import.meta.url);
const S3rver = require("@20minutes/s3rver");
const AWSAccount = require("@20minutes/s3rver/lib/models/account");
const S3Error = require("@20minutes/s3rver/lib/models/error");

function fail(message) {
  process.stderr.write(`s3rver_main: ${message}\n`);
  process.exit(2);
}

let settings = {};
const raw = process.argv[2] ?? process.env.S3RVER_CONFIG ?? "{}";
try {
  settings = JSON.parse(raw);
} catch (err) {
  fail(`settings are not JSON: ${err.message}`);
}
if (settings === null || typeof settings !== "object" || Array.isArray(settings)) {
  fail("settings must be a JSON object");
}

const buckets = (settings.buckets ?? []).map((b) => typeof b === "string" ? { name: b } : b);
const keyPairs = settings.keyPairs ?? [];
for (const pair of keyPairs) {
  if (typeof pair?.accessKeyId !== "string" || typeof pair?.secretAccessKey !== "string") {
    fail("each keyPairs entry needs string accessKeyId and secretAccessKey");
  }
}

// The account registry is a process-wide static Map; one account may hold many key pairs.
AWSAccount.DUMMY_ACCOUNT.revokeAccessKey("S3RVER");
for (const { accessKeyId, secretAccessKey } of keyPairs) {
  AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
}

const ownDirectory = settings.directory === undefined;
const directory = settings.directory ?? mkdtempSync(join(tmpdir(), "s3rver-"));

const server = new S3rver({
  address: settings.address ?? "127.0.0.1",
  port: settings.port ?? 0,
  silent: true,
  directory,
  serviceEndpoint: settings.serviceEndpoint ?? "amazonaws.com",
  vhostBuckets: settings.vhostBuckets ?? false,
  configureBuckets: buckets,
});

if (!settings.allowAnonymous) {
  // Stock s3rver serves requests that carry no signature at all as anonymous. A request with
  // a signature is verified by s3rver itself (403 on mismatch), so demanding that one of the
  // three auth mechanisms be present is enough to make every request authenticated.
  // CORS preflights (OPTIONS) are exempt, as in s3rver.
  server.middleware.unshift(function requireSignature(ctx, next) {
    const q = new URL(ctx.url, "http://x").searchParams;
    const signed = "authorization" in ctx.headers || q.has("X-Amz-Algorithm") ||
      q.has("Signature");
    if (!signed && ctx.method !== "OPTIONS") {
      throw new S3Error("AccessDenied", "Anonymous requests are disabled in this test server");
    }
    return next();
  });
}

const denyGet = settings.denyGet ?? [];
if (!Array.isArray(denyGet) || denyGet.some((p) => typeof p !== "string" || !p.startsWith("/"))) {
  fail("denyGet must be an array of raw paths starting with /");
}
if (denyGet.length > 0) {
  server.middleware.unshift(function denyReads(ctx, next) {
    const path = ctx.url.split("?")[0];
    const read = ctx.method === "GET" || ctx.method === "HEAD";
    if (read && denyGet.some((prefix) => path.startsWith(prefix))) {
      throw new S3Error("AccessDenied", "Access Denied");
    }
    return next();
  });
}

let stopping = false;
function shutdown(code = 0) {
  if (stopping) return;
  stopping = true;
  const finish = () => {
    if (ownDirectory) {
      try {
        rmSync(directory, { recursive: true, force: true });
      } catch { /* best effort */ }
    }
    process.exit(code);
  };
  if (!server.httpServer) return finish();
  server.httpServer.close(finish);
  server.httpServer.closeAllConnections();
}

process.on("SIGTERM", () => shutdown(0));
process.on("SIGINT", () => shutdown(0));
process.stdin.on("end", () => shutdown(0));
process.stdin.on("close", () => shutdown(0));
process.stdin.on("error", () => shutdown(0));
process.stdin.resume();

try {
  const addr = await server.run();
  process.stdout.write(
    JSON.stringify({ event: "ready", address: addr.address, port: addr.port, directory }) + "\n",
  );
} catch (err) {
  process.stderr.write(`s3rver_main: failed to start: ${err?.stack ?? err}\n`);
  shutdown(1);
}
