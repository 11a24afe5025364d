/**
 * Objects stored with a Content-Encoding pass through the proxy byte for byte, under Deno and
 * Bun: the proxy must not let its runtime's fetch decode them (Bun's fetch gunzips by default),
 * or clients would get plain bytes labelled gzip. Against @20minutes/s3rver, streamed to an API
 * client and proxied as index.html.
 */
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { type S3rverHandle, startS3rver } from "./support/s3rver.ts";
import { type ProxyHandle, type Runtime, startProxy } from "./support/proxy.ts";
import { dechunk } from "./support/bytes.ts";

const TEXT = "compressed text, stored gzipped, served as stored\n".repeat(50);
const GZ = new Uint8Array(gzipSync(TEXT));
const AWSCLI = { "user-agent": "aws-cli/2.9.19 Python/3.11 Linux botocore/2.0" };

describe("stored Content-Encoding passes through", () => {
  let s3: S3rverHandle;
  before(async () => {
    s3 = await startS3rver({ buckets: ["enc"] });
    for (const key of ["data.txt", "site/index.html"]) {
      await s3.putObject("enc", key, GZ, {
        "content-encoding": "gzip",
        "content-type": "text/plain",
      });
    }
  });
  after(() => s3?.stop());

  for (const runtime of ["deno", "bun"] as Runtime[]) {
    describe(`under ${runtime}`, () => {
      let proxy: ProxyHandle;
      before(async () => {
        proxy = await startProxy({
          runtime,
          env: {
            AWS_ACCESS_KEY_ID: s3.accessKeyId,
            AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
            AWS_ENDPOINT_HOST: s3.host,
            AWS_ENDPOINT_SCHEME: "http",
          },
        });
      });
      after(() => proxy?.stop());

      for (
        const [path, headers] of [["/enc/data.txt", AWSCLI], ["/enc/site/index.html", {}]] as const
      ) {
        test(`${path}: the gzip bytes as stored, labelled gzip`, async () => {
          // A raw socket read: fetch itself would decode the body on the client side.
          const conn = await Deno.connect({ hostname: "127.0.0.1", port: proxy.port });
          const head = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
          await conn.write(
            new TextEncoder().encode(
              `GET ${path} HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip\r\n${head}Connection: close\r\n\r\n`,
            ),
          );
          const chunks: Uint8Array[] = [];
          const buf = new Uint8Array(65536);
          for (let n; (n = await conn.read(buf)) !== null;) chunks.push(buf.slice(0, n));
          conn.close();
          const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
          let at = 0;
          for (const c of chunks) all.set(c, (at += c.length) - c.length);
          const split = all.findIndex((_, i) =>
            all[i] === 13 && all[i + 1] === 10 && all[i + 2] === 13 && all[i + 3] === 10
          );
          const headText = new TextDecoder().decode(all.subarray(0, split)).toLowerCase();
          assert.match(headText, /^http\/1\.1 200/);
          assert.match(headText, /\r\ncontent-encoding: gzip\r\n/);
          let body: Uint8Array = all.subarray(split + 4);
          if (/\r\ntransfer-encoding: chunked\r\n/.test(headText)) {
            const chunked = dechunk(body);
            assert.ok(chunked.complete, "the chunked body ends with its last chunk");
            body = chunked.bytes;
          }
          assert.deepEqual(body, GZ);
        });
      }
    });
  }
});
