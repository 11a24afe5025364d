/**
 * src/proxy/relay.ts's stall timeout on streamed bodies (one timer per stream, re-armed lazily):
 * only time spent waiting on the backend counts, per read, whatever the body's whole length in
 * time; a backend that stalls breaks the body after the timeout and its read is cancelled; a
 * client that reads slowly is not cut off.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { relay } from "../src/proxy/relay.ts";

const CHUNK = 16 * 1024;
/** More than relay reads whole (64 KiB), so the body is streamed. */
const CHUNKS = 8;

/** A backend body: `CHUNKS` chunks, each after `gapMs` (0: at once), or none after `stallAfter`. */
function backend(gapMs: number, stallAfter = Infinity) {
  const state = { sent: 0, cancelled: false };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (state.sent >= CHUNKS) return controller.close();
      if (state.sent >= stallAfter) return new Promise<void>(() => {}); // never answers
      if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      controller.enqueue(new Uint8Array(CHUNK).fill(state.sent));
      state.sent++;
    },
    cancel() {
      state.cancelled = true;
    },
  }, { highWaterMark: 0 });
  const res = new Response(body, {
    headers: { "content-length": String(CHUNK * CHUNKS), "content-type": "application/x" },
  });
  return { res, state };
}

const options = (timeoutMs: number) => ({ method: "GET", client: "api" as const, timeoutMs });

describe("relay: the stall timeout on a streamed body", () => {
  test("a backend slower in all than the timeout, but never for one read, is relayed whole", async () => {
    // 8 chunks 40 ms apart: 320 ms in all, against a timeout of 200 ms per read.
    const { res } = backend(40);
    const answer = await relay(res, options(200));
    const bytes = new Uint8Array(await answer.arrayBuffer());
    assert.equal(bytes.length, CHUNK * CHUNKS);
    for (let i = 0; i < CHUNKS; i++) assert.equal(bytes[i * CHUNK], i);
  });

  test("a backend that stalls mid-body: the body errors after the timeout, upstream cancelled", async () => {
    const { res, state } = backend(0, 2);
    const started = performance.now();
    const answer = await relay(res, options(100));
    const reader = answer.body!.getReader();
    let received = 0;
    const error = await (async () => {
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return undefined;
          received += value.length;
        }
      } catch (e) {
        return e;
      }
    })();
    const ms = performance.now() - started;
    assert.ok(error instanceof Error, "the body ends in an error, not as complete");
    assert.match(error.message, /sent nothing for 0.1 s/);
    assert.equal(received, 2 * CHUNK);
    assert.ok(ms >= 95 && ms < 3000, `broke after ${ms} ms`);
    assert.ok(state.cancelled, "the upstream read is cancelled");
  });

  test("a client that reads slowly is not cut off: only waiting on the backend counts", async () => {
    const { res } = backend(0);
    const answer = await relay(res, options(50));
    const reader = answer.body!.getReader();
    let received = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      received += value.length;
      // The client takes three timeouts' worth between reads (a slow client, not a sync).
      await new Promise((r) => setTimeout(r, 150));
    }
    assert.equal(received, CHUNK * CHUNKS);
  });

  test("a client that cancels cancels the upstream read", async () => {
    const { res, state } = backend(0);
    const answer = await relay(res, options(1000));
    const reader = answer.body!.getReader();
    await reader.read();
    await reader.cancel("gone");
    assert.ok(state.cancelled);
  });
});
