// refreshingProvider: refresh ahead of expiration, single flight, fallback to still-valid
// credentials, backoff, expiry, short lifetimes, reload; all on an injected clock.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { refreshingProvider } from "../src/credentials/refresh.ts";
import {
  CredentialsUnavailableError,
  type ExpiringCredentials,
} from "../src/credentials/provider.ts";
import { captureLog, testClock } from "./support/fake_aws.ts";

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);
const MIN = 60_000;

/** A scripted fetch: each call takes the next step (credentials lifetime, or an error). */
function scripted(clock: { now: () => number }, steps: (number | Error)[]) {
  const calls: number[] = [];
  let n = 0;
  const fetchCredentials = (): Promise<ExpiringCredentials> => {
    const step = steps[Math.min(n, steps.length - 1)];
    n++;
    calls.push(clock.now());
    if (step instanceof Error) return Promise.reject(step);
    return Promise.resolve({
      accessKeyId: `ASIA${n}`,
      secretAccessKey: `secret-${n}`,
      sessionToken: `token-${n}`,
      expiration: clock.now() + step,
    });
  };
  return { calls, fetchCredentials };
}

describe("refreshingProvider", () => {
  test("answers from the cache until 5 minutes before expiration, then refreshes", async () => {
    const clock = testClock(T0);
    const { calls, fetchCredentials } = scripted(clock, [60 * MIN]);
    const { log, events } = captureLog();
    const p = refreshingProvider({ source: "test", fetchCredentials, now: clock.now, log });
    assert.equal((await p.get()).accessKeyId, "ASIA1");
    clock.advance(54 * MIN);
    assert.equal((await p.get()).accessKeyId, "ASIA1");
    assert.equal(calls.length, 1);
    clock.advance(MIN + 1);
    assert.equal((await p.get()).accessKeyId, "ASIA2");
    assert.equal(calls.length, 2);
    assert.equal(events.filter((e) => e.event === "credentials_refreshed").length, 2);
  });

  test("initial credentials are used without a fetch", async () => {
    const clock = testClock(T0);
    const { calls, fetchCredentials } = scripted(clock, [60 * MIN]);
    const p = refreshingProvider({
      source: "test",
      fetchCredentials,
      now: clock.now,
      log: () => {},
      initial: { accessKeyId: "INIT", secretAccessKey: "s", expiration: T0 + 60 * MIN },
    });
    assert.equal((await p.get()).accessKeyId, "INIT");
    assert.equal(calls.length, 0);
  });

  test("concurrent callers share one refresh", async () => {
    const clock = testClock(T0);
    let release!: () => void;
    let fetches = 0;
    const p = refreshingProvider({
      source: "test",
      now: clock.now,
      log: () => {},
      fetchCredentials: async () => {
        fetches++;
        await new Promise<void>((r) => release = r);
        return { accessKeyId: "ASIA" + fetches, secretAccessKey: "s", expiration: T0 + 3_600_000 };
      },
    });
    const first = Array.from({ length: 20 }, () => p.get());
    await Promise.resolve();
    const second = Array.from({ length: 20 }, () => p.get());
    release();
    const all = await Promise.all([...first, ...second]);
    assert.equal(fetches, 1);
    assert.ok(all.every((c) => c.accessKeyId === "ASIA1"));
  });

  test("a failed refresh keeps still-valid credentials, logs, and backs off", async () => {
    const clock = testClock(T0);
    const boom = new Error("container endpoint http://127.0.0.1 answered HTTP 500");
    const { calls, fetchCredentials } = scripted(clock, [60 * MIN, boom, boom, boom, 60 * MIN]);
    const { log, events } = captureLog();
    const p = refreshingProvider({
      source: "test",
      fetchCredentials,
      now: clock.now,
      log,
      backoffMs: 1000,
      maxBackoffMs: 4000,
    });
    assert.equal((await p.get()).accessKeyId, "ASIA1");
    clock.advance(56 * MIN); // inside the refresh window, 4 minutes left
    assert.equal((await p.get()).accessKeyId, "ASIA1"); // refresh 1 failed: old ones answered
    assert.equal(calls.length, 2);
    const failed = events.filter((e) => e.event === "credentials_refresh_failed");
    assert.equal(failed.length, 1);
    assert.equal(failed[0].retryInMs, 1000);
    assert.equal(failed[0].level, "warn");
    assert.match(String(failed[0].error), /HTTP 500/);

    // within the backoff: no new fetch, answered at once
    clock.advance(999);
    assert.equal((await p.get()).accessKeyId, "ASIA1");
    assert.equal(calls.length, 2);
    // after it: one more try (fails), then the delay doubles, then is capped
    clock.advance(1);
    await p.get();
    assert.equal(calls.length, 3);
    clock.advance(2000);
    await p.get();
    assert.equal(calls.length, 4);
    const delays = events.filter((e) => e.event === "credentials_refresh_failed").map((e) =>
      e.retryInMs
    );
    assert.deepEqual(delays, [1000, 2000, 4000]);
    clock.advance(4000);
    assert.equal((await p.get()).accessKeyId, "ASIA5");
    assert.equal(calls.length, 5);
  });

  test("expired credentials are never answered; the error names the source, not values", async () => {
    const clock = testClock(T0);
    const boom = new Error("STS answered HTTP 503");
    const { fetchCredentials } = scripted(clock, [10 * MIN, boom]);
    const { log, events } = captureLog();
    const p = refreshingProvider({
      source: "web identity (role r)",
      fetchCredentials,
      now: clock.now,
      log,
    });
    await p.get();
    clock.advance(10 * MIN);
    await assert.rejects(p.get(), (e: unknown) => {
      assert.ok(e instanceof CredentialsUnavailableError);
      assert.match(
        e.message,
        /web identity \(role r\) expired and their refresh failed: STS answered HTTP 503/,
      );
      assert.doesNotMatch(e.message, /secret-1|token-1/);
      return true;
    });
    // during the backoff the rejection is immediate, with the same reason
    await assert.rejects(p.get(), CredentialsUnavailableError);
    assert.equal(events.at(-1)?.level, "error");
  });

  test("credentials within the expiry margin count as expired", async () => {
    const clock = testClock(T0);
    const { fetchCredentials } = scripted(clock, [60 * MIN, new Error("down")]);
    const p = refreshingProvider({
      source: "t",
      fetchCredentials,
      now: clock.now,
      log: () => {},
      expiryMarginMs: 10_000,
    });
    await p.get();
    clock.advance(60 * MIN - 10_000);
    await assert.rejects(p.get(), CredentialsUnavailableError);
  });

  test("the first fetch failing rejects, and the next call waits for the backoff", async () => {
    const clock = testClock(T0);
    const { calls, fetchCredentials } = scripted(clock, [new Error("unreachable"), 60 * MIN]);
    const p = refreshingProvider({ source: "t", fetchCredentials, now: clock.now, log: () => {} });
    await assert.rejects(p.get(), /no credentials from t: unreachable/);
    await assert.rejects(p.get(), /unreachable/);
    assert.equal(calls.length, 1);
    clock.advance(1000);
    assert.equal((await p.get()).accessKeyId, "ASIA2");
  });

  test("credentials already expired on arrival are refused", async () => {
    const clock = testClock(T0);
    const { fetchCredentials } = scripted(clock, [-1000]);
    const { log, events } = captureLog();
    const p = refreshingProvider({ source: "t", fetchCredentials, now: clock.now, log });
    await assert.rejects(p.get(), /not in the future/);
    assert.equal(events[0].event, "credentials_refresh_failed");
  });

  test("short lifetimes refresh at half-life, not on every call", async () => {
    const clock = testClock(T0);
    const { calls, fetchCredentials } = scripted(clock, [4 * MIN]);
    const p = refreshingProvider({ source: "t", fetchCredentials, now: clock.now, log: () => {} });
    await p.get();
    clock.advance(2 * MIN - 1);
    await p.get();
    await p.get();
    assert.equal(calls.length, 1);
    clock.advance(1);
    await p.get();
    assert.equal(calls.length, 2);
  });

  test("refreshAheadMs is honoured", async () => {
    const clock = testClock(T0);
    const { calls, fetchCredentials } = scripted(clock, [60 * MIN]);
    const p = refreshingProvider({
      source: "t",
      fetchCredentials,
      now: clock.now,
      log: () => {},
      refreshAheadMs: 15 * MIN,
    });
    await p.get();
    clock.advance(45 * MIN - 1);
    await p.get();
    assert.equal(calls.length, 1);
    clock.advance(1);
    await p.get();
    assert.equal(calls.length, 2);
  });

  test("reload() forces a refresh and never rejects", async () => {
    const clock = testClock(T0);
    const { calls, fetchCredentials } = scripted(clock, [60 * MIN, 60 * MIN, new Error("x")]);
    const p = refreshingProvider({ source: "t", fetchCredentials, now: clock.now, log: () => {} });
    await p.get();
    await p.reload!();
    assert.equal(calls.length, 2);
    assert.equal((await p.get()).accessKeyId, "ASIA2");
    await p.reload!(); // fails, resolves anyway
    assert.equal((await p.get()).accessKeyId, "ASIA2");
  });
});
