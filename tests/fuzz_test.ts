/**
 * A fuzzer: 10,000 seeded hostile requests (tests/support/fuzz.ts) per runtime, sent raw on
 * kept-alive connections to the proxy (src/main.ts under Deno, then Bun) in front of
 * `@20minutes/s3rver` through a recording forwarder. The invariants:
 *
 * - no `500` of the proxy's own and no crash (the process still serves at the end), no request
 *   left without an answer;
 * - every request that went upstream carries a valid signature (an independent verifier,
 *   tests/support/sigv4_verify.ts, on what the forwarder saw);
 * - nothing went upstream for a request the proxy refused itself: every `4xx` and `5xx` is
 *   replayed alone on one connection, and the forwarder must see nothing unless the answer is
 *   S3's (relayed, or a folder's `404` after its listing);
 * - every `307` (up to a cap) verifies at s3rver;
 * - no secret in any answer or log line;
 * - Deno and Bun give the same status for each input, but for the differences in
 *   {@linkcode ALLOWED_DIFFERENCES}, each with its reason.
 *
 * The seed is random unless `FUZZ_SEED` is set, and printed in every failure so that it can be
 * replayed: `FUZZ_SEED=123 deno test --allow-all tests/fuzz_test.ts`. `FUZZ_COUNT` changes the
 * number of requests.
 *
 * @module
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { encodeKey, type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, type Runtime, startProxy } from "./support/proxy.ts";
import { type Forwarder, startForwarder } from "./support/forwarder.ts";
import { type Answer, Http1Client } from "./support/http1.ts";
import { FUZZ_OBJECTS, type FuzzRequest, hostileRequests } from "./support/fuzz.ts";
import { verifyPresigned, verifyUpstream } from "./support/sigv4_verify.ts";

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? crypto.getRandomValues(new Uint32Array(1))[0]);
const COUNT = Number(Deno.env.get("FUZZ_COUNT") ?? 10_000);
const LANES = 8;
/** How many 307s are fetched at s3rver per runtime. */
const REDIRECT_CAP = 400;
const BUCKET = "bkt";
const TOKEN = "FwoGZXIvYXdzEJr//////////wEaDH+fuzz+token==" + crypto.randomUUID();
const REPLAY = `(replay: FUZZ_SEED=${SEED} FUZZ_COUNT=${COUNT})`;

/**
 * Where Deno and Bun may answer the same input differently, and why. Each entry: the tag of
 * the generator that makes the input, the pair `deno/bun` of statuses, the reason.
 */
const ALLOWED_DIFFERENCES: { tag: string; also?: string; pairs: RegExp; reason: string }[] = [
  {
    tag: "raw-bytes",
    also: "dot",
    pairs: /^400\/\d+$/,
    reason: "bytes that are not UTF-8 in a segment that a later `..` removes: Deno's own 400; " +
      "Bun resolves dot segments before the handler runs, so the proxy sees (and serves) only " +
      "the resolved path, as Deno would serve that spelling",
  },
  {
    tag: "two-hosts",
    pairs: /^400\/4\d\d$/,
    reason: "two Host headers: Deno's own 400; Bun passes them and the proxy refuses them " +
      "(400 InvalidHost, or 431 when the head is over its size first)",
  },
  {
    tag: "asterisk",
    pairs: /^405\/400$/,
    reason: "the asterisk-form target (`OPTIONS *`): Bun's own 400; Deno passes it and the " +
      "proxy says 405",
  },
  {
    tag: "unknown-method",
    pairs: /^4\d\d\/(0|400)$/,
    reason: "a method Bun's parser does not know (lower-case `get`, `FOO`, `GET0`): Bun closes " +
      "the connection or answers 400 before the handler runs; Deno passes it, and the proxy " +
      "refuses it (405, or a 4xx for the target that comes first)",
  },
  {
    tag: "raw-bytes",
    pairs: /^400\/4\d\d$/,
    reason: "a target with bytes that are not UTF-8: Deno's own 400; Bun makes them U+FFFD, " +
      "which the proxy refuses too, unless another refusal (405, 403, 431...) comes first",
  },
  {
    tag: "no-host",
    pairs: /^\d+\/400$/,
    reason: "an HTTP/1.1 request without Host: Bun's own 400 (RFC 9112 3.2); Deno passes it " +
      "and the proxy serves it as any other (the Host is not used to address S3)",
  },
  {
    tag: "del-in-header",
    pairs: /^400\/\d+$/,
    reason: "a DEL (0x7f) in a header value: Deno's own 400; Bun passes it, and the proxy " +
      "uses no such header",
  },
  {
    tag: "head-over-64k",
    pairs: /^400\/431$/,
    reason: "a head over 64 KiB: Deno's own 400 and Bun's own 431, before the handler runs",
  },
  {
    tag: "headers-over-127",
    pairs: /^400\/431$/,
    reason: "more than 127 header lines: Deno's own 400 before the handler; Bun lets 198 " +
      "through and the proxy answers 431 (src/limits.ts)",
  },
];

/** What one input came to. */
interface Seen {
  status: number;
  answer: Answer;
}

function text(a: Answer): string {
  return new TextDecoder().decode(a.body);
}

/** The S3-style code of an answer's body (XML or `STATUS CODE: message`), if any. */
function codeOf(a: Answer): string | undefined {
  const t = text(a);
  return /<Code>([^<]+)<\/Code>/.exec(t)?.[1] ?? /^\d{3} (\w+): /.exec(t)?.[1];
}

/** Sends every request over `LANES` kept-alive connections; the answers in input order. */
async function runAll(port: number, requests: FuzzRequest[]): Promise<Seen[]> {
  const seen: Seen[] = new Array(requests.length);
  let next = 0;
  await Promise.all(Array.from({ length: LANES }, async () => {
    const client = new Http1Client(port);
    try {
      while (next < requests.length) {
        const i = next++;
        const answer = await client.request(requests[i].raw, requests[i].method);
        seen[i] = { status: answer.status, answer };
      }
    } finally {
      client.close();
    }
  }));
  return seen;
}

describe(`fuzz: ${COUNT} hostile requests per runtime, seed ${SEED}`, () => {
  let s3: S3rverHandle;
  let forwarder: Forwarder;
  const requests = hostileRequests(SEED, COUNT);
  const statuses = new Map<Runtime, number[]>();

  before(async () => {
    s3 = await startS3rver({ buckets: [BUCKET] });
    forwarder = startForwarder(s3.port);
    await s3.putObjects(BUCKET, FUZZ_OBJECTS);
  });

  after(async () => {
    await forwarder?.close();
    await s3?.stop();
  });

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    test(`${runtime}: no 500, no crash, signed upstream, no refusal forwarded, no secret`, async () => {
      const key = { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey };
      await using proxy: ProxyHandle = await startProxy({
        runtime,
        env: {
          AWS_ACCESS_KEY_ID: s3.accessKeyId,
          AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
          AWS_SESSION_TOKEN: TOKEN,
          AWS_ENDPOINT_HOST: forwarder.host,
          AWS_ENDPOINT_SCHEME: "http",
          AWS_EC2_METADATA_DISABLED: "true",
        },
      });
      const from = forwarder.seen.length;
      const started = performance.now();
      const seen = await runAll(proxy.port, requests);
      const seconds = (performance.now() - started) / 1000;
      statuses.set(runtime, seen.map((s) => s.status));
      const upstream = forwarder.seen.slice(from);
      const counts = new Map<number, number>();
      for (const s of seen) counts.set(s.status, (counts.get(s.status) ?? 0) + 1);
      console.log(
        `fuzz ${runtime}: ${COUNT} requests in ${seconds.toFixed(1)} s, ${upstream.length} ` +
          `upstream; statuses ${JSON.stringify(Object.fromEntries(counts))} ${REPLAY}`,
      );

      // Every input got an answer or a close, in time.
      const timedOut = requests.filter((_, i) => seen[i].answer.timedOut);
      assert.deepEqual(timedOut.map((r) => r.label), [], `no answer within 10 s ${REPLAY}`);

      // Every upstream request is signed, for exactly what was sent.
      const unsigned = upstream.map((u) => verifyUpstream(u, key)).filter((e) => e !== undefined);
      assert.deepEqual(unsigned.slice(0, 5), [], `${unsigned.length} bad signatures ${REPLAY}`);

      // Refusals and errors, replayed one at a time: what reached the forwarder meanwhile.
      const client = new Http1Client(proxy.port);
      const problems: string[] = [];
      let replayed = 0;
      for (let i = 0; i < requests.length; i++) {
        if (seen[i].status < 400 && seen[i].status !== 0) continue;
        const before = forwarder.seen.length;
        const again = await client.request(requests[i].raw, requests[i].method);
        const went = forwarder.seen.length - before;
        replayed++;
        const code = codeOf(again);
        const what = `${requests[i].label}: ${again.status} ${code ?? ""}, ${went} upstream`;
        if (again.status >= 500 && went === 0 && again.status !== 505) {
          problems.push(`a ${again.status} of the proxy's own: ${what}`);
        }
        if (again.status >= 400 && again.status < 500 && went > 0) {
          // Only S3's own answers (relayed) or a folder's 404 after its listing.
          const s3Answer = code === undefined
            ? requests[i].method === "HEAD" && ![405, 414, 431].includes(again.status)
            : !isOwnRefusal(code, text(again));
          if (!s3Answer) problems.push(`a refusal that went upstream: ${what}`);
        }
        if (again.status === 0 && went > 0) problems.push(`closed after going upstream: ${what}`);
      }
      client.close();
      assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems ${REPLAY}`);
      assert.ok(replayed > COUNT / 10, `only ${replayed} refusals: the generator is too tame`);

      // Every 307 (up to the cap) is signed, and s3rver takes it.
      const redirects = seen.map((s, i) => [s, requests[i]] as const).filter(([s]) =>
        s.status === 307
      );
      assert.ok(redirects.length >= COUNT / 100, `only ${redirects.length} redirects`);
      const direct = new Http1Client(s3.port);
      for (const [s, r] of redirects.slice(0, REDIRECT_CAP)) {
        const location = s.answer.headers.get("location")!;
        assert.ok(location.length <= 8192, `${r.label}: a Location of ${location.length}`);
        const method = r.method === "HEAD" ? "HEAD" : "GET";
        assert.equal(verifyPresigned(location, method, key), undefined, `${r.label} ${REPLAY}`);
        const url = new URL(location);
        assert.equal(url.host, forwarder.host, r.label);
        const raw = new TextEncoder().encode(
          `${method} ${location.slice(location.indexOf("/", 8))} HTTP/1.1\r\nHost: ${url.host}` +
            "\r\n\r\n",
        );
        const got = await direct.request(raw, method);
        assert.ok(
          got.status !== 403 && got.status !== 400 && got.status !== 0,
          `${r.label}: s3rver answered ${got.status} ${codeOf(got) ?? ""} ${REPLAY}`,
        );
      }
      direct.close();

      // Still serving, and nothing secret anywhere.
      const alive = new Http1Client(proxy.port);
      const last = await alive.request(
        new TextEncoder().encode("GET /bkt/a.txt HTTP/1.1\r\nHost: proxy.test\r\n\r\n"),
      );
      alive.close();
      assert.equal(last.status, 307, "the proxy still serves");
      await proxy.stop();
      const secrets = [s3.secretAccessKey, TOKEN, encodeURIComponent(TOKEN), encodeKey(TOKEN)];
      const leaks: string[] = [];
      const scan = (where: string, t: string) => {
        for (const secret of secrets) if (t.includes(secret)) leaks.push(where);
        if (/(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])/i.test(t)) leaks.push(`${where}: a signature?`);
      };
      for (const [i, s] of seen.entries()) {
        const head = s.answer.head.split("\r\n").filter((l) => !/^location:/i.test(l)).join("\n");
        scan(requests[i].label, head + "\n" + text(s.answer));
      }
      for (const line of proxy.lines()) scan("log", line);
      assert.deepEqual(leaks.slice(0, 5), [], `secrets in answers or logs ${REPLAY}`);
      assert.ok(proxy.lines().length > COUNT / 2, "the proxy logged its requests");
    });
  }

  test("Deno and Bun give the same status for each input (but the allowed differences)", () => {
    const deno = statuses.get("deno");
    const bun = statuses.get("bun");
    assert.ok(deno && bun, "both runtimes ran");
    const unexplained: string[] = [];
    const explained = new Map<string, number>();
    for (let i = 0; i < requests.length; i++) {
      if (deno[i] === bun[i]) continue;
      const pair = `${deno[i]}/${bun[i]}`;
      const allowed = ALLOWED_DIFFERENCES.find((d) =>
        requests[i].tags.has(d.tag) && (!d.also || requests[i].tags.has(d.also)) &&
        d.pairs.test(pair)
      );
      if (allowed) explained.set(allowed.tag, (explained.get(allowed.tag) ?? 0) + 1);
      else unexplained.push(`${requests[i].label}: deno ${deno[i]}, bun ${bun[i]}`);
    }
    console.log(`fuzz: allowed differences ${JSON.stringify(Object.fromEntries(explained))}`);
    assert.deepEqual(unexplained.slice(0, 20), [], `${unexplained.length} differences ${REPLAY}`);
  });
});

/**
 * Whether an answer is one of the refusals the proxy decides before anything goes upstream (its
 * codes; `InvalidArgument` and `AccessDenied` are S3's too, told apart by the proxy's messages).
 */
function isOwnRefusal(code: string, body: string): boolean {
  if (code === "InvalidArgument") return /longer than \d+/.test(body);
  if (code === "AccessDenied") {
    return /sub-resource|disabled|ALLOW_CIDRS|may not read here/.test(body);
  }
  return OWN_CODES.has(code);
}

/** Codes of the refusals the proxy decides before anything goes upstream. */
const OWN_CODES = new Set([
  "InvalidURI",
  "InvalidBucketName",
  "InvalidHost",
  "KeyTooLongError",
  "InvalidArgument",
  "RequestURITooLong",
  "MethodNotAllowed",
  "NoSuchRoute",
]);
