// Signing keys: decoding, scopes, the key file format (as `deno task signing-key` prints it),
// one key from the environment that expires at UTC midnight, and a key file that rotates across
// midnight on an injected clock, warns ahead when tomorrow has no key, and survives bad rewrites.

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as signingKeyCli } from "../src/cli/signing_key.ts";
import {
  parseSigningKeyFile,
  selectSigningKey,
  signingKeyFileProvider,
  signingKeyProvider,
} from "../src/credentials/signing_key.ts";
import { decodeSigningKey, parseScope, utcDate } from "../src/s3/scope.ts";
import { CredentialSourceError, CredentialsUnavailableError } from "../src/credentials/provider.ts";
import { runtimeCredentialIo } from "../src/credentials/io.ts";
import type { SigningKeyCredentials } from "../src/s3/sigv4.ts";
import { captureLog, manualTimers, memoryFiles, testClock } from "./support/fake_aws.ts";
import { signingKeyVectors } from "./support/vectors.ts";

const KEY_VECTORS = signingKeyVectors();

const SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const HOUR = 3_600_000;

/** What `deno task signing-key -k SECRET -r REGION -d DATE [--days N]` prints. */
function cli(date: string, days?: number, region = "us-east-1"): string {
  const args = ["-k", SECRET, "-r", region, "-d", date];
  if (days !== undefined) args.push("--days", String(days));
  const out = signingKeyCli(args, new Date());
  assert.equal(out.code, 0, out.stderr);
  return out.stdout;
}

/** Every key (base64 and hex) in a file's text, to search logs and errors for. */
function keyMaterial(...texts: string[]): string[] {
  const out: string[] = [];
  for (const text of texts) {
    for (const e of parseSigningKeyFile(text).entries) {
      out.push(btoa(String.fromCharCode(...e.signingKey)));
      out.push([...e.signingKey].map((b) => b.toString(16).padStart(2, "0")).join(""));
    }
  }
  return out;
}

function assertNoKeys(haystack: string, keys: string[]): void {
  assert.ok(keys.length > 0);
  for (const k of keys) assert.ok(!haystack.includes(k), "key material leaked");
}

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");

describe("decodeSigningKey and parseScope", () => {
  test("base64 and hex forms of every vector key decode to the same 32 bytes", () => {
    assert.ok(KEY_VECTORS.length > 0);
    for (const v of KEY_VECTORS) {
      assert.equal(hex(decodeSigningKey(v.signing_key_base64)!), v.signing_key_hex);
      assert.equal(hex(decodeSigningKey(v.signing_key_hex)!), v.signing_key_hex);
      assert.equal(hex(decodeSigningKey(v.signing_key_hex.toUpperCase())!), v.signing_key_hex);
    }
  });

  test("anything but 32 bytes is refused", () => {
    assert.equal(decodeSigningKey(""), undefined);
    assert.equal(decodeSigningKey(btoa("x".repeat(31))), undefined);
    assert.equal(decodeSigningKey(btoa("x".repeat(33))), undefined);
    assert.equal(decodeSigningKey("L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4"), undefined);
    assert.equal(decodeSigningKey("L4vRLWAO92X5L3Sqk5QydUSdB0nC9-1wfqLMOKLbRp4="), undefined);
    assert.equal(decodeSigningKey("ab".repeat(31)), undefined);
  });

  test("scopes", () => {
    assert.deepEqual(parseScope("20160902/us-east-1/s3/aws4_request"), {
      date: "20160902",
      region: "us-east-1",
      service: "s3",
    });
    assert.equal(parseScope("20230230/us-east-1/s3/aws4_request"), undefined);
    assert.equal(parseScope("2016090/us-east-1/s3/aws4_request"), undefined);
    assert.equal(parseScope("20160902/us-east-1/s3"), undefined);
    assert.equal(parseScope("20160902/us-east-1/s3/aws4_requestx"), undefined);
    assert.equal(utcDate(Date.UTC(2024, 1, 29, 23, 59, 59, 999)), "20240229");
    assert.equal(utcDate(Date.UTC(2024, 2, 1)), "20240301");
  });
});

describe("parseSigningKeyFile", () => {
  test("reads what `signing-key --days N` prints, in order", () => {
    const text = cli("20301230", 3);
    const { entries, errors } = parseSigningKeyFile(text);
    assert.deepEqual(errors, []);
    assert.deepEqual(entries.map((e) => e.date), ["20301230", "20301231", "20310101"]);
    assert.deepEqual(entries.map((e) => e.line), [1, 2, 3]);
    const first = text.split("\n")[0].split(" ");
    assert.equal(btoa(String.fromCharCode(...entries[0].signingKey)), first[0]);
    assert.equal(entries[0].scope, first[1]);
  });

  test("reads the two-line output of `signing-key` without --days, comments and blanks", () => {
    const text = "# keys for the proxy\n\n" + cli("20160902") + "\n  " + cli("20160903", 1) +
      "\t\n";
    const { entries, errors } = parseSigningKeyFile(text);
    assert.deepEqual(errors, []);
    assert.deepEqual(entries.map((e) => [e.date, e.line]), [["20160902", 3], ["20160903", 6]]);
    assert.equal(hex(entries[0].signingKey), KEY_VECTORS[0].signing_key_hex);
  });

  test("bad lines are reported by number, never by content", () => {
    const good = cli("20301230", 1).trim();
    const [key] = good.split(" ");
    const text = [
      good,
      key + " 20301231/us-east-1/s3",
      "not-a-key 20301231/us-east-1/s3/aws4_request",
      key,
      key + " scope extra",
    ].join("\n");
    const { entries, errors } = parseSigningKeyFile(text);
    assert.equal(entries.length, 1);
    assert.deepEqual(errors.map((e) => e.split(":")[0]), [
      "line 2",
      "line 3",
      "line 4",
      "line 5",
    ]);
    assertNoKeys(errors.join("\n"), [key]);
  });

  test("selectSigningKey prefers the configured region among keys for one day", () => {
    const text = cli("20301230", 1, "eu-west-1") + cli("20301230", 1, "us-east-1");
    const { entries } = parseSigningKeyFile(text);
    assert.equal(selectSigningKey(entries, "20301230", "us-east-1")?.region, "us-east-1");
    assert.equal(selectSigningKey(entries, "20301230", "ap-south-1")?.region, "eu-west-1");
    assert.equal(selectSigningKey(entries, "20301230")?.region, "eu-west-1");
    assert.equal(selectSigningKey(entries, "20301231", "us-east-1"), undefined);
  });
});

describe("signingKeyProvider (AWS_SIGNING_KEY + AWS_KEY_SCOPE)", () => {
  const v = KEY_VECTORS[0];
  const make = (now: () => number, log: (e: Record<string, unknown>) => void) =>
    signingKeyProvider({
      accessKeyId: "AKIDEXAMPLE",
      signingKey: decodeSigningKey(v.signing_key_base64)!,
      scope: v.scope,
      sessionToken: "session-token-value",
      now,
      log,
    });

  test("answers the key on its UTC day, then says it expired and logs that once a day", async () => {
    const clock = testClock(Date.UTC(2016, 8, 2, 23, 59, 59, 999));
    const { log, events, text } = captureLog();
    const p = make(clock.now, log);
    const creds = (await p.get()) as SigningKeyCredentials;
    assert.equal(creds.scope, v.scope);
    assert.equal(creds.sessionToken, "session-token-value");
    assert.equal(hex(creds.signingKey), v.signing_key_hex);
    clock.advance(1);
    await assert.rejects(p.get(), (e: unknown) => {
      assert.ok(e instanceof CredentialsUnavailableError);
      assert.match(
        e.message,
        /^signing key expired: its scope is for 20160902 \(UTC\) and today is 20160903/,
      );
      return true;
    });
    await assert.rejects(p.get(), CredentialsUnavailableError);
    const loud = events.filter((e) => e.event === "signing_key_expired");
    assert.equal(loud.length, 1);
    assert.equal(loud[0].level, "error");
    clock.advance(24 * HOUR);
    await assert.rejects(p.get(), /today is 20160904/);
    assert.equal(events.filter((e) => e.event === "signing_key_expired").length, 2);
    assertNoKeys(text(), [v.signing_key_base64, v.signing_key_hex, "session-token-value"]);
  });

  test("a key for a later day is not valid yet", async () => {
    const p = make(() => Date.UTC(2016, 8, 1, 12), () => {});
    await assert.rejects(p.get(), /signing key not valid yet: its scope is for 20160902/);
  });

  test("a bad scope is refused at creation", () => {
    assert.throws(
      () =>
        signingKeyProvider({
          accessKeyId: "A",
          signingKey: new Uint8Array(32),
          scope: "20160902/us-east-1",
          now: Date.now,
          log: () => {},
        }),
      CredentialSourceError,
    );
  });
});

describe("signingKeyFileProvider (AWS_SIGNING_KEY_FILE)", () => {
  const FILE = "/etc/proxy/signing-keys";
  const D = Date.UTC(2030, 11, 31); // 20301231, the day before a year change

  async function setup(text: string, start: number, extra: { region?: string } = {}) {
    const clock = testClock(start);
    const fs = memoryFiles({ [FILE]: text });
    const timers = manualTimers();
    const captured = captureLog();
    const provider = await signingKeyFileProvider({
      path: FILE,
      accessKeyId: "AKIDEXAMPLE",
      region: extra.region ?? "us-east-1",
      readTextFile: fs.readTextFile,
      now: clock.now,
      log: captured.log,
      setTimeout: timers.setTimeout,
      clearTimeout: timers.clearTimeout,
    });
    return { clock, fs, timers, ...captured, provider };
  }

  const scopeOf = async (p: { get(): Promise<unknown> }) =>
    ((await p.get()) as SigningKeyCredentials).scope;

  test("rotates across UTC midnight to the next line without re-reading the file", async () => {
    const text = cli("20301231", 2);
    const { clock, fs, provider, text: logText } = await setup(text, D + 23 * HOUR);
    assert.equal(provider.source, `signing key file ${FILE}`);
    assert.equal(await scopeOf(provider), "20301231/us-east-1/s3/aws4_request");
    clock.set(D + 24 * HOUR - 1);
    assert.equal(await scopeOf(provider), "20301231/us-east-1/s3/aws4_request");
    clock.set(D + 24 * HOUR);
    const next = (await provider.get()) as SigningKeyCredentials;
    assert.equal(next.scope, "20310101/us-east-1/s3/aws4_request");
    assert.equal(
      btoa(String.fromCharCode(...next.signingKey)),
      text.split("\n")[1].split(" ")[0],
    );
    assert.equal(fs.reads.length, 1);
    provider.close!();
    assertNoKeys(logText(), keyMaterial(text));
  });

  test("warns hours ahead when the file has no key for the next UTC day, once", async () => {
    const text = cli("20301231", 1);
    const { clock, events, provider } = await setup(text, D + 12 * HOUR);
    await provider.get();
    assert.equal(events.filter((e) => e.event === "signing_key_missing_tomorrow").length, 0);
    clock.set(D + 18 * HOUR); // 6 hours before midnight
    await provider.get();
    await provider.get();
    const warnings = events.filter((e) => e.event === "signing_key_missing_tomorrow");
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0].level, "warn");
    assert.equal(warnings[0].date, "20310101");
    assert.equal(warnings[0].hoursLeft, 6);
    assert.match(String(warnings[0].message), /no signing key for 20310101/);
    provider.close!();
  });

  test("the warning also comes from the poll timer, with no request at all", async () => {
    const { clock, events, timers, provider } = await setup(cli("20301231", 1), D + 1 * HOUR);
    clock.set(D + 20 * HOUR);
    assert.equal(timers.pending, 1);
    await timers.runAll();
    assert.equal(events.filter((e) => e.event === "signing_key_missing_tomorrow").length, 1);
    assert.equal(timers.pending, 1, "the poll is scheduled again");
    provider.close!();
    assert.equal(timers.pending, 0);
  });

  test("a new file is picked up by the poll; the day after uses its key", async () => {
    const { clock, fs, events, timers, provider, text } = await setup(
      cli("20301231", 1),
      D + 20 * HOUR,
    );
    await provider.get();
    fs.files.set(FILE, cli("20301231", 3));
    await timers.runAll();
    const reloaded = events.filter((e) => e.event === "signing_key_file_reloaded");
    assert.equal(reloaded.length, 1);
    assert.equal(reloaded[0].keys, 3);
    assert.equal(reloaded[0].to, "20310102");
    clock.set(D + 24 * HOUR + 5);
    assert.equal(await scopeOf(provider), "20310101/us-east-1/s3/aws4_request");
    // an unchanged file is not reported again
    await timers.runAll();
    assert.equal(events.filter((e) => e.event === "signing_key_file_reloaded").length, 1);
    provider.close!();
    assertNoKeys(text(), keyMaterial(cli("20301231", 3)));
  });

  test("no key for today: 'no signing key for DATE in FILE', after one re-read", async () => {
    const { clock, fs, events, provider, text } = await setup(cli("20301231", 1), D + 10 * HOUR);
    clock.set(D + 24 * HOUR + HOUR);
    const readsBefore = fs.reads.length;
    await assert.rejects(provider.get(), (e: unknown) => {
      assert.ok(e instanceof CredentialsUnavailableError);
      assert.match(e.message, /^no signing key for 20310101 in \/etc\/proxy\/signing-keys/);
      assert.match(e.message, /its keys are for 20301231/);
      return true;
    });
    assert.equal(fs.reads.length, readsBefore + 1, "a miss re-reads the file");
    // a second miss right after does not hit the disk again
    await assert.rejects(provider.get(), CredentialsUnavailableError);
    assert.equal(fs.reads.length, readsBefore + 1);
    assert.equal(events.filter((e) => e.event === "signing_key_missing").length, 1);
    provider.close!();
    assertNoKeys(text(), keyMaterial(cli("20301231", 1)));
  });

  test("a miss re-reads the file: a key added just before midnight works at once", async () => {
    const { clock, fs, provider } = await setup(cli("20301231", 1), D + 23 * HOUR);
    fs.files.set(FILE, cli("20301231", 2)); // no poll has run
    clock.set(D + 24 * HOUR);
    assert.equal(await scopeOf(provider), "20310101/us-east-1/s3/aws4_request");
    provider.close!();
  });

  test("a half-written or unreadable file keeps the keys read before", async () => {
    const good = cli("20301231", 2);
    const { clock, fs, events, timers, provider, text } = await setup(good, D + 2 * HOUR);
    const [key] = good.split(" ");
    fs.files.set(FILE, good.split("\n")[0] + "\n" + key.slice(0, 20));
    await timers.runAll();
    const invalid = events.filter((e) => e.event === "signing_key_file_invalid");
    assert.equal(invalid.length, 1);
    assert.deepEqual(invalid[0].errors, ["line 2: expected BASE64KEY SCOPE"]);
    clock.set(D + 24 * HOUR);
    assert.equal(await scopeOf(provider), "20310101/us-east-1/s3/aws4_request");

    fs.files.delete(FILE);
    await provider.reload!();
    await provider.reload!();
    assert.equal(events.filter((e) => e.event === "signing_key_file_unreadable").length, 1);
    assert.equal(await scopeOf(provider), "20310101/us-east-1/s3/aws4_request");
    provider.close!();
    assertNoKeys(text(), keyMaterial(good));
  });

  test("reload() reads the file now", async () => {
    const { clock, fs, events, provider } = await setup(cli("20301231", 1), D + 2 * HOUR);
    fs.files.set(FILE, cli("20301231", 2));
    await provider.reload!();
    assert.equal(events.filter((e) => e.event === "signing_key_file_reloaded").length, 1);
    const reads = fs.reads.length;
    clock.set(D + 24 * HOUR);
    assert.equal(await scopeOf(provider), "20310101/us-east-1/s3/aws4_request");
    assert.equal(fs.reads.length, reads, "served from what reload() read");
    await provider.reload!(); // unchanged
    assert.equal(events.filter((e) => e.event === "signing_key_file_checked").length, 1);
    provider.close!();
  });

  test("the region picks among keys for the same day", async () => {
    const text = cli("20301231", 1, "eu-west-1") + cli("20301231", 1, "us-east-1");
    const { provider } = await setup(text, D, { region: "us-east-1" });
    assert.equal(await scopeOf(provider), "20301231/us-east-1/s3/aws4_request");
    provider.close!();
  });

  test("startup: a missing file or a bad line is an error that names the file, not the keys", async () => {
    const fs = memoryFiles({ "/bad": "# header\n" + cli("20301231", 1) + "garbage\n" });
    const base = {
      accessKeyId: "A",
      readTextFile: fs.readTextFile,
      now: () => D,
      log: () => {},
    };
    await assert.rejects(
      signingKeyFileProvider({ ...base, path: "/missing" }),
      /cannot read \/missing: .*No such file/,
    );
    await assert.rejects(signingKeyFileProvider({ ...base, path: "/bad" }), (e: unknown) => {
      assert.ok(e instanceof CredentialSourceError);
      assert.equal(e.message, "/bad: line 3: expected BASE64KEY SCOPE");
      return true;
    });
    fs.files.set("/empty", "# nothing yet\n");
    await assert.rejects(signingKeyFileProvider({ ...base, path: "/empty" }), /holds no keys/);
  });

  test("works on a real file through the runtime IO", async () => {
    const dir = await mkdtemp(join(tmpdir(), "signing-keys-"));
    try {
      const path = join(dir, "keys");
      await writeFile(path, cli("20301231", 1));
      const io = runtimeCredentialIo({ env: {} });
      const clock = testClock(D + 23 * HOUR);
      const timers = manualTimers();
      const provider = await signingKeyFileProvider({
        path,
        accessKeyId: "A",
        readTextFile: io.readTextFile,
        now: clock.now,
        log: () => {},
        setTimeout: timers.setTimeout,
        clearTimeout: timers.clearTimeout,
      });
      assert.equal(await scopeOf(provider), "20301231/us-east-1/s3/aws4_request");
      await writeFile(path, cli("20310101", 1));
      await timers.runAll();
      clock.set(D + 24 * HOUR);
      assert.equal(await scopeOf(provider), "20310101/us-east-1/s3/aws4_request");
      provider.close!();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
