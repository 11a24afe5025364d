/** src/body.ts: a whole body read with a size cap and an optional time limit. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { BodyTimeoutError, readAtMost } from "../src/body.ts";

function streamOf(chunks: Uint8Array[], then: "close" | "stall" | "error" = "close") {
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      if (then === "close") controller.close();
      if (then === "error") controller.error(new Error("connection reset"));
    },
    cancel() {
      cancelled = true;
    },
  });
  return { body, cancelled: () => cancelled };
}

test("a body up to the cap is read whole; one byte more is undefined and cancelled", async () => {
  const parts = [new Uint8Array([1, 2, 3]), new Uint8Array([4, 5])];
  assert.deepEqual(
    await readAtMost(new Response(streamOf(parts).body), 5),
    new Uint8Array([1, 2, 3, 4, 5]),
  );
  const over = streamOf([...parts, new Uint8Array([6])], "stall");
  assert.equal(await readAtMost(new Response(over.body), 5), undefined);
  assert.ok(over.cancelled());
  assert.deepEqual(await readAtMost(new Response(null), 5), new Uint8Array());
});

test("a Content-Length over the cap is refused before reading", async () => {
  const s = streamOf([new Uint8Array([1])], "stall");
  const res = new Response(s.body, { headers: { "content-length": "6" } });
  assert.equal(await readAtMost(res, 5), undefined);
  assert.ok(s.cancelled());
});

test("a stalled body throws BodyTimeoutError after the limit; a broken one rethrows", async () => {
  const stalled = streamOf([new Uint8Array([1])], "stall");
  await assert.rejects(readAtMost(new Response(stalled.body), 100, 20), BodyTimeoutError);
  assert.ok(stalled.cancelled());
  await assert.rejects(
    readAtMost(new Response(streamOf([new Uint8Array([1])], "error").body), 100, 1000),
    /connection reset/,
  );
});
