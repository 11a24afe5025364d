/**
 * Size limits (src/limits.ts) and where the router applies them: a key over 1024 bytes of
 * UTF-8 is S3's `KeyTooLongError`, in redirect and proxy modes, for every client kind, folders
 * too; listing parameters over S3's bounds are `400`; an over-long target is `414` and an
 * over-large head `431`; no Location the proxy builds is over 8 KiB. Nothing goes upstream.
 *
 * @module
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  checkHead,
  checkListQuery,
  checkObjectQuery,
  MAX_HEAD_BYTES,
  MAX_KEY_BYTES,
  MAX_RESPONSE_HEADER,
  MAX_TARGET_LENGTH,
  utf8Length,
} from "../src/limits.ts";
import { parseConfig } from "../src/config.ts";
import { createHandler } from "../src/handler.ts";
import { staticProvider } from "../src/credentials/provider.ts";

function config(env: Record<string, string> = {}) {
  const result = parseConfig({ AWS_ENDPOINT_HOST: "s3.test", ...env });
  assert.ok(result.ok, JSON.stringify(result));
  return result.config;
}

/** A handler whose fetch counts calls (and answers 200, as an S3 that has everything). */
function handlerWith(env: Record<string, string> = {}, token?: string) {
  const calls: string[] = [];
  const handler = createHandler(config(env), {
    fetch: ((input: Request | URL | string) => {
      calls.push(String(input instanceof Request ? input.url : input));
      return Promise.resolve(new Response("ok", { headers: { "content-length": "2" } }));
    }) as typeof fetch,
    now: () => Date.UTC(2024, 0, 15, 12),
    credentials: staticProvider({
      accessKeyId: "AKIDEXAMPLE",
      secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
      sessionToken: token,
    }),
  });
  return { handler, calls };
}

const CLIENTS: [string, Record<string, string>][] = [
  ["curl", { "user-agent": "curl/8.5" }],
  ["browser", { "user-agent": "Mozilla/5.0", accept: "text/html" }],
  ["api", { "user-agent": "aws-cli/2.15 Python/3.11" }],
];

describe("limits: pure checks", () => {
  test("utf8Length counts bytes", () => {
    assert.equal(utf8Length("abc"), 3);
    assert.equal(utf8Length("é"), 2);
    assert.equal(utf8Length("😀"), 4);
  });

  test("checkHead: target over 8 KiB is 414, head over 12 KiB or 100 headers is 431", () => {
    const h = new Headers({ host: "proxy" });
    assert.equal(
      checkHead("GET", "http://proxy/" + "a".repeat(MAX_TARGET_LENGTH - 1), h),
      undefined,
    );
    assert.equal(checkHead("GET", "http://proxy/" + "a".repeat(MAX_TARGET_LENGTH), h)?.status, 414);
    assert.equal(checkHead("GET", "http://proxy/" + "a".repeat(MAX_HEAD_BYTES), h)?.status, 431);
    const big = new Headers({ host: "proxy", "x-a": "a".repeat(MAX_HEAD_BYTES) });
    assert.equal(checkHead("GET", "http://proxy/a", big)?.status, 431);
    const many = new Headers();
    for (let i = 0; i < 101; i++) many.set(`x-${i}`, "v");
    assert.equal(checkHead("GET", "http://proxy/a", many)?.status, 431);
    many.delete("x-0");
    assert.equal(checkHead("GET", "http://proxy/a", many), undefined);
  });

  test("checkListQuery: key parameters by UTF-8 bytes, tokens by length", () => {
    for (const name of ["prefix", "marker", "start-after"]) {
      assert.equal(checkListQuery([[name, "a".repeat(MAX_KEY_BYTES)]]), undefined, name);
      assert.equal(
        checkListQuery([[name, "a".repeat(MAX_KEY_BYTES + 1)]])?.code,
        "KeyTooLongError",
      );
      assert.equal(checkListQuery([[name, "é".repeat(513)]])?.status, 400, `${name} in bytes`);
    }
    for (const name of ["continuation-token", "page"]) {
      assert.equal(checkListQuery([[name, "t".repeat(4096)]]), undefined, name);
      assert.equal(checkListQuery([[name, "t".repeat(4097)]])?.status, 400, name);
    }
    // every occurrence counts, not only the first
    assert.equal(checkListQuery([["prefix", "a"], ["prefix", "a".repeat(2000)]])?.status, 400);
  });

  test("checkObjectQuery: by encoded length", () => {
    assert.equal(checkObjectQuery([["response-content-disposition", "a".repeat(1000)]]), undefined);
    assert.equal(
      checkObjectQuery([["response-content-disposition", "é".repeat(300)]])?.status,
      400,
      "300 é are 1800 encoded characters",
    );
  });
});

describe("limits: the router refuses, and nothing goes upstream", () => {
  test("a key over 1024 UTF-8 bytes: 400 KeyTooLongError in every mode, for every client", async () => {
    const long = "k".repeat(MAX_KEY_BYTES + 1);
    const wide = "é".repeat(513); // 1026 bytes, 513 characters
    const envs: Record<string, string>[] = [{}, { REDIRECT: "always" }, { REDIRECT: "never" }, {
      S3_BUCKET: "bkt",
    }];
    for (const env of envs) {
      const { handler, calls } = handlerWith(env);
      const base = "S3_BUCKET" in env ? "http://proxy/" : "http://proxy/bkt/";
      for (const [label, headers] of CLIENTS) {
        for (const key of [long, wide, `dir/${long}/`, `${long.slice(10)}/index.html`]) {
          for (const method of ["GET", "HEAD"]) {
            const url = base + encodeURIComponent(key).replaceAll("%2F", "/");
            const res = await handler(new Request(url, { method, headers }));
            const what = `${JSON.stringify(env)} ${label} ${method} ${key.slice(-12)}`;
            assert.equal(res.status, 400, what);
            if (method === "GET" && label === "api") {
              assert.match(await res.text(), /<Code>KeyTooLongError<\/Code>/, what);
            } else if (method === "GET") {
              assert.match(await res.text(), /^400 KeyTooLongError: /, what);
            }
            assert.equal(res.headers.get("location"), null, what);
          }
        }
      }
      assert.deepEqual(calls, [], JSON.stringify(env));
    }
  });

  test("a key of exactly 1024 bytes is served", async () => {
    const { handler } = handlerWith();
    const res = await handler(
      new Request("http://proxy/bkt/" + "k".repeat(MAX_KEY_BYTES), { headers: CLIENTS[0][1] }),
    );
    assert.equal(res.status, 307);
    assert.ok(res.headers.get("location")!.length < MAX_RESPONSE_HEADER);
  });

  test("listing parameters over S3's bounds: 400, never forwarded", async () => {
    const { handler, calls } = handlerWith();
    const queries = [
      `list-type=2&prefix=${"p".repeat(1025)}`,
      `marker=${"m".repeat(1025)}`,
      `list-type=2&start-after=${"%C3%A9".repeat(513)}`,
      `list-type=2&continuation-token=${"t".repeat(4097)}`,
    ];
    for (const query of queries) {
      for (const [label, headers] of CLIENTS) {
        const res = await handler(new Request(`http://proxy/bkt?${query}`, { headers }));
        assert.equal(res.status, 400, `${label} ${query.slice(0, 30)}`);
      }
    }
    const page = await handler(
      new Request(`http://proxy/bkt/dir/?page=${"t".repeat(4097)}`, { headers: CLIENTS[1][1] }),
    );
    assert.equal(page.status, 400, "a folder's ?page=");
    assert.deepEqual(calls, []);
  });

  test("a 307 with many response-* parameters: 400 rather than a Location over 8 KiB", async () => {
    const { handler, calls } = handlerWith({}, "T".repeat(1200));
    const value = "x".repeat(400);
    const params = ["type", "language", "expires", "cache-control", "disposition", "encoding"]
      .map((n) => `response-content-${n}=${value}`).join("&");
    const key = "k".repeat(MAX_KEY_BYTES);
    const res = await handler(
      new Request(`http://proxy/bkt/${key}?${params}`, { headers: CLIENTS[0][1] }),
    );
    assert.equal(res.status, 400);
    // the largest Location that is built stays under the bound
    const worst = await handler(
      new Request(
        `http://proxy/bkt/${"%C3%A9".repeat(512)}?response-content-disposition=${"y".repeat(1450)}`,
        { headers: CLIENTS[0][1] },
      ),
    );
    assert.equal(worst.status, 307);
    const location = worst.headers.get("location")!;
    assert.ok(location.length <= MAX_RESPONSE_HEADER, `${location.length}`);
    assert.deepEqual(calls, []);
  });

  test("an over-long target is 414, an over-large head 431 with no body", async () => {
    const { handler, calls } = handlerWith();
    const res = await handler(new Request("http://proxy/bkt/a?x=" + "q".repeat(9000)));
    assert.equal(res.status, 414);
    const big = await handler(
      new Request("http://proxy/bkt/a", { headers: { "x-big": "b".repeat(13000) } }),
    );
    assert.equal(big.status, 431);
    assert.equal(await big.text(), "");
    assert.equal(big.headers.get("connection"), "close");
    assert.deepEqual(calls, []);
  });

  test("a backend header over 8 KiB is a 502, never relayed", async () => {
    const handler = createHandler(config(), {
      fetch: (() =>
        Promise.resolve(
          new Response("ok", {
            headers: { "content-length": "2", "content-disposition": "d".repeat(9000) },
          }),
        )) as typeof fetch,
      now: Date.now,
      credentials: staticProvider({ accessKeyId: "AKID", secretAccessKey: "SECRET" }),
    });
    const res = await handler(new Request("http://proxy/bkt/site/index.html"));
    assert.equal(res.status, 502);
    assert.equal(res.headers.get("content-disposition"), null);
  });
});

describe("limits: IDLE_TIMEOUT", () => {
  test("defaults past UPSTREAM_TIMEOUT, at least 10 s; must exceed it when set", () => {
    assert.equal(config().idleTimeoutSeconds, 31);
    assert.equal(config({ UPSTREAM_TIMEOUT: "1" }).idleTimeoutSeconds, 10);
    assert.equal(config({ UPSTREAM_TIMEOUT: "1", IDLE_TIMEOUT: "2" }).idleTimeoutSeconds, 2);
    const bad = parseConfig({ UPSTREAM_TIMEOUT: "5", IDLE_TIMEOUT: "5" });
    assert.ok(!bad.ok && bad.errors.some((e) => e.startsWith("IDLE_TIMEOUT:")));
    const range = parseConfig({ IDLE_TIMEOUT: "256" });
    assert.ok(!range.ok && range.errors.some((e) => e.startsWith("IDLE_TIMEOUT:")));
  });
});
