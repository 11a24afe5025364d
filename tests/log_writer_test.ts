/**
 * The batched access log (src/log_writer.ts) and its cached time formats: lines in order, written
 * together after the delay, at once past the size bound, and on flush; `isoTime` and `amzDate`
 * equal their uncached forms. End to end, under Deno and Bun: every request's line is on stdout
 * after a SIGTERM (or SIGINT) that comes right after the requests, before any batch delay ran out.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { batchedLines } from "../src/log_writer.ts";
import { isoTime } from "../src/proxy/log.ts";
import { amzDate } from "../src/s3/scope.ts";
import { startProxy } from "./support/proxy.ts";

/** A writer whose timer and clock are run by hand. */
function manual(options: { maxChars?: number } = {}) {
  const writes: string[] = [];
  const timers: { run: () => void; ms: number }[] = [];
  const clock = { ms: 1_000 };
  const out = batchedLines((text) => writes.push(text), {
    delayMs: 20,
    idleGapMs: 0.1,
    ...options,
    schedule: (run, ms) => timers.push({ run, ms }),
    now: () => clock.ms,
  });
  return { out, writes, timers, clock };
}

describe("batchedLines", () => {
  test("lines wait for the timer, then go out in one write, in order", () => {
    const { out, writes, timers } = manual();
    out.line("a");
    out.line("b");
    out.line("c");
    assert.deepEqual(writes, []);
    assert.equal(timers.length, 1, "one timer per batch");
    assert.equal(timers[0].ms, 20);
    timers[0].run();
    assert.deepEqual(writes, ["a\nb\nc\n"]);
    out.line("d");
    assert.equal(timers.length, 2, "the next batch has its own timer");
    timers[1].run();
    assert.deepEqual(writes, ["a\nb\nc\n", "d\n"]);
  });

  test("flush writes what is held at once; a timer after it writes nothing", () => {
    const { out, writes, timers } = manual();
    out.line("x");
    out.flush();
    assert.deepEqual(writes, ["x\n"]);
    timers[0].run();
    out.flush();
    assert.deepEqual(writes, ["x\n"], "nothing written twice, no empty write");
  });

  test("idle writes at once after a quiet gap; within it, one write a millisecond later", async () => {
    const { out, writes, timers, clock } = manual();
    assert.equal(out.idle(), undefined, "nothing held: nothing to wait for");
    assert.deepEqual(writes, []);
    out.line("a");
    assert.equal(out.idle(), undefined, "a lone request's line is written before its answer");
    assert.deepEqual(writes, ["a\n"]);
    clock.ms += 0.5; // a loopback round trip later
    out.line("b");
    assert.equal(out.idle(), undefined);
    assert.deepEqual(writes, ["a\n", "b\n"]);

    clock.ms += 0.05; // a busy proxy: the next answer within the gap
    out.line("c");
    const first = out.idle();
    assert.ok(first instanceof Promise, "held: the answer waits for the write");
    out.line("d");
    assert.equal(out.idle(), first, "one write shared by every answer within it");
    assert.deepEqual(writes, ["a\n", "b\n"]);
    const idleTimers = timers.filter((t) => t.ms !== 20);
    assert.deepEqual(idleTimers.map((t) => t.ms), [1]);
    let done = false;
    first!.then(() => done = true);
    await Promise.resolve();
    assert.equal(done, false, "not before the write");
    clock.ms += 1;
    idleTimers[0].run();
    await first;
    assert.deepEqual(writes, ["a\n", "b\n", "c\nd\n"], "in order, in one write");

    clock.ms += 0.05;
    out.line("e");
    assert.ok(out.idle() instanceof Promise, "the timer's write starts a new gap");
    out.flush(); // an exit, or the 20 ms batch
    assert.deepEqual(writes, ["a\n", "b\n", "c\nd\n", "e\n"]);
    for (const t of timers) t.run();
    assert.equal(writes.join(""), "a\nb\nc\nd\ne\n", "no line lost or written twice");
    assert.equal(writes.length, 4, "no empty write");
  });

  test("a batch past maxChars is written at once", () => {
    const { out, writes } = manual({ maxChars: 10 });
    out.line("12345");
    assert.deepEqual(writes, []);
    out.line("67890");
    assert.deepEqual(writes, ["12345\n67890\n"]);
  });
});

describe("cached time formats", () => {
  test("isoTime equals toISOString, within a second, across seconds and days", () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 58, 0);
    for (let ms = base; ms < base + 3000; ms += 7) {
      assert.equal(isoTime(ms), new Date(ms).toISOString());
    }
    for (const ms of [0, 1, 10, 100, 999, Date.UTC(1999, 0, 1), Date.UTC(9999, 11, 31, 23, 59)]) {
      assert.equal(isoTime(ms), new Date(ms).toISOString());
    }
    assert.equal(isoTime(253402300800000), new Date(253402300800000).toISOString()); // year 10000
    assert.equal(isoTime(base + 0.6), new Date(base).toISOString());
  });

  test("amzDate equals the uncached form, back and forth across seconds", () => {
    const plain = (ms: number) => new Date(ms).toISOString().replace(/[-:]|\.\d{3}/g, "");
    const base = Date.UTC(2024, 0, 15, 12, 34, 56, 900);
    for (const ms of [base, base + 50, base + 150, base - 1000, base, base + 86_400_000]) {
      assert.equal(amzDate(ms), plain(ms));
    }
  });
});

describe("an idle proxy writes a request's line before its answer", () => {
  for (const runtime of ["deno", "bun"] as const) {
    test(`${runtime}: the line is there when the answer is`, async () => {
      await using proxy = await startProxy({
        runtime,
        env: {
          AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
          AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
          AWS_ENDPOINT_HOST: "127.0.0.1:9",
          AWS_ENDPOINT_SCHEME: "http",
        },
      });
      for (let i = 0; i < 5; i++) {
        const res = await fetch(`${proxy.url}/bucket/one-${i}.txt`, { redirect: "manual" });
        await res.body?.cancel();
        assert.equal(res.status, 307);
        // Not waited for (as other suites read it): written before the answer went out.
        const line = proxy.jsonLines().find((l) => l.path === `/bucket/one-${i}.txt`);
        assert.equal(line?.status, 307);
      }
    });
  }
});

describe("the access log is complete after a shutdown", () => {
  for (const runtime of ["deno", "bun"] as const) {
    for (const signal of ["SIGTERM", "SIGINT"] as const) {
      test(`${runtime}, ${signal} right after 200 requests: 200 request lines`, async () => {
        await using proxy = await startProxy({
          runtime,
          env: {
            AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
            AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            AWS_ENDPOINT_HOST: "127.0.0.1:9",
            AWS_ENDPOINT_SCHEME: "http",
          },
        });
        const statuses = await Promise.all(
          Array.from({ length: 200 }, async (_, i) => {
            const res = await fetch(`${proxy.url}/bucket/file-${i}.txt`, { redirect: "manual" });
            await res.body?.cancel();
            return res.status;
          }),
        );
        assert.deepEqual(new Set(statuses), new Set([307]));
        const status = await proxy.stop(signal);
        assert.equal(status.code, 0);
        const paths = proxy.jsonLines().filter((l) => l.event === "request").map((l) => l.path);
        assert.equal(paths.length, 200);
        assert.equal(new Set(paths).size, 200);
        const last = proxy.jsonLines().at(-1);
        assert.equal(last?.event, "shutdown", "the shutdown line is there too, last");
      });
    }
  }
});
