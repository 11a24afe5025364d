/**
 * `basic` (src/auth/basic.ts) and its bcrypt (src/auth/bcrypt.ts): bcrypt against lines that
 * Debian's `htpasswd -B` (apache2-utils) writes in the test and against the Openwall/OpenBSD
 * vectors; the htpasswd file's parsing (errors name the line, never the hash); the check itself
 * (challenge, malformed headers, unknown users still cost a bcrypt); the success cache; the
 * throttling of repeated failures; re-reading the file on change and on reload().
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  type BcryptHash,
  bcryptHash,
  bcryptVerify,
  constantTimeEqual,
  parseBcrypt,
} from "../src/auth/bcrypt.ts";
import { createBasicAuth, parseHtpasswd } from "../src/auth/basic.ts";
import { AuthConfigError, type AuthIo, type AuthOutcome } from "../src/auth/method.ts";

/** `htpasswd -nbB -C cost user password`'s line (without the trailing blank line). */
async function htpasswd(user: string, password: string, flags = ["-B", "-C", "4"]) {
  const out = await new Deno.Command("htpasswd", {
    args: ["-nb", ...flags, user, password],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `htpasswd failed (install apache2-utils): ${stderr}`);
  return new TextDecoder().decode(out.stdout).trim();
}

function parsed(hash: string): BcryptHash {
  const h = parseBcrypt(hash);
  if (typeof h === "string") assert.fail(h);
  return h;
}

const latin1 = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));

/**
 * Openwall's crypt_blowfish 1.2 vectors (wrapper.c) that OpenBSD computes alike (no `$2x$`, no
 * `$2a$` bug countermeasure): password (as bytes, Latin-1 here) and hash.
 */
const VECTORS: [string, string][] = [
  ["U*U", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"],
  ["U*U*", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK"],
  ["U*U*U", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a"],
  ["", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.7uG0VCzI2bS7j6ymqJi9CdcdxiRTWNy"],
  [
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789" +
    "chars after 72 are ignored",
    "$2a$05$abcdefghijklmnopqrstuu5s2v8.iXieOjg/.AySBTTZIIVFJeBui",
  ],
  ["\xa3", "$2a$05$/OK.fbVrR/bpIqNJ5ianF.Sa7shbm4.OzKpvFnX1pQLmQW96oUlCq"],
  [
    "\xaa".repeat(72) + "chars after 72 are ignored as usual",
    "$2a$05$/OK.fbVrR/bpIqNJ5ianF.swQOIzjOiJ9GHEPuhEkvqrUyvWhEMx6",
  ],
  // John the Ripper's
  ["U*U*U*U*", "$2a$05$c92SVSfjeiCD6F2nAD6y0uBpJDjdRkt0EgeC4/31Rf2LUZbDRDE.O"],
  ["", "$2a$05$Otz9agnajgrAe0.kFVF9V.tzaStZ2s1s4ZWi/LY4sw2k/MTVFj/IO"],
];

describe("bcrypt", () => {
  test("the Openwall and OpenBSD vectors, under $2a$, $2b$ and $2y$ alike", async () => {
    for (const [password, hash] of VECTORS) {
      for (const version of ["2a", "2b", "2y"] as const) {
        const h = parsed(hash.replace("$2a$", `$${version}$`));
        assert.equal(
          bcryptHash(latin1(password), h.salt, h.cost, version),
          hash.replace("$2a$", `$${version}$`),
          `${JSON.stringify(password)} under $${version}$`,
        );
        assert.ok(await bcryptVerify(latin1(password), h));
      }
      if (password.length < 72) {
        assert.ok(!await bcryptVerify(latin1(password + "x"), parsed(hash)), "one byte more");
      }
    }
  });

  test("lines that htpasswd -B writes verify, and only with their password", async () => {
    const passwords = ["correct horse", "ünïcödé ✓ 密码", "", "a:b:c", "x".repeat(71)];
    for (const password of passwords) {
      const line = await htpasswd("u", password);
      assert.match(line, /^u:\$2y\$04\$/);
      const h = parsed(line.slice(2));
      assert.ok(await bcryptVerify(password, h), JSON.stringify(password));
      assert.equal(bcryptHash(password, h.salt, 4), line.slice(2));
      assert.ok(!await bcryptVerify(password + "!", h));
      assert.ok(!await bcryptVerify("!" + password, h));
    }
    const cost5 = parsed((await htpasswd("u", "five", ["-B", "-C", "5"])).slice(2));
    assert.equal(cost5.cost, 5);
    assert.ok(await bcryptVerify("five", cost5));
  });

  test("72-byte truncation: bytes after the 72nd do not count, the 72nd does", async () => {
    const long = "p".repeat(72);
    const h = parsed((await htpasswd("u", long + "tail")).slice(2));
    assert.ok(await bcryptVerify(long, h));
    assert.ok(await bcryptVerify(long + "other tail", h));
    assert.ok(!await bcryptVerify("p".repeat(71), h), "71 bytes are not 72");
    // UTF-8 bytes are counted, not characters: 36 two-byte characters are 72 bytes.
    const wide = "é".repeat(36);
    const w = parsed((await htpasswd("u", wide)).slice(2));
    assert.ok(await bcryptVerify(wide + "é", w));
    assert.ok(!await bcryptVerify("é".repeat(35), w));
  });

  test("parseBcrypt refuses other hashes, $2x$, bad costs and bad lengths, without echoing them", () => {
    const bad = [
      "$apr1$KGTAsnkm$5slz1YJueUSzoEe8dzgsb0",
      "{SHA}EfatjsUqKYSrqv18O1FlA3hcIHI=",
      "U8MHYCRuVKcl6",
      "$2x$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$2y$03$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$2y$18$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
      "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOe",
      "$2y$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW!",
      "",
    ];
    for (const hash of bad) {
      const why = parseBcrypt(hash);
      assert.equal(typeof why, "string", hash);
      assert.ok(hash === "" || !(why as string).includes(hash.slice(7, 20)), why as string);
    }
    assert.match(parseBcrypt(bad[3]) as string, /\$2x\$/);
    assert.match(parseBcrypt(bad[4]) as string, /cost 3/);
  });

  test("constantTimeEqual", () => {
    assert.ok(constantTimeEqual("abc", "abc"));
    assert.ok(!constantTimeEqual("abc", "abd"));
    assert.ok(!constantTimeEqual("abc", "ab"));
    assert.ok(!constantTimeEqual("", "a"));
    assert.ok(constantTimeEqual("", ""));
  });
});

describe("htpasswd files", () => {
  test("bcrypt users; comments, blank lines and CRLF are fine", async () => {
    const alice = await htpasswd("alice", "a-pass");
    const bob = await htpasswd("bob", "b-pass");
    const { users, errors } = parseHtpasswd(`# users\n${alice}\r\n\n  \n${bob}\n`);
    assert.deepEqual(errors, []);
    assert.deepEqual([...users.keys()], ["alice", "bob"]);
  });

  test("every bad line is named by its number and user, never with its hash", async () => {
    const md5 = await htpasswd("carol", "x", ["-m"]);
    const sha = await htpasswd("dave", "x", ["-s"]);
    const crypt = await htpasswd("erin", "x", ["-d"]);
    const alice = await htpasswd("alice", "a");
    const text = [alice, md5, sha, crypt, "frank:plain", "no colon here", alice, ""].join("\n");
    const { users, errors } = parseHtpasswd(text);
    assert.deepEqual([...users.keys()], ["alice"]);
    assert.equal(errors.length, 6, errors.join("\n"));
    assert.match(errors[0], /^line 2 \(user "carol"\): not a bcrypt hash/);
    assert.match(errors[1], /^line 3 \(user "dave"\)/);
    assert.match(errors[2], /^line 4 \(user "erin"\)/);
    assert.match(errors[3], /^line 5 \(user "frank"\)/);
    assert.match(errors[4], /^line 6: not USER:HASH/);
    assert.match(errors[5], /^line 7 \(user "alice"\): the user is already on an earlier line/);
    for (const line of [md5, sha, crypt, alice]) {
      const hash = line.slice(line.indexOf(":") + 1);
      assert.ok(!errors.join("\n").includes(hash.slice(0, 12)), "a hash in the errors");
    }
    assert.ok(!errors.join("\n").includes("plain"));
  });
});

/** An in-memory htpasswd file and the rest of AuthIo, with a clock and timers under control. */
function fakeIo(text: string) {
  const files = new Map<string, string>([["/htpasswd", text]]);
  const logs: Record<string, unknown>[] = [];
  const timers: (() => void)[] = [];
  let t = Date.UTC(2026, 0, 1);
  const io: AuthIo = {
    readTextFile: (path) => {
      const file = files.get(path);
      return file === undefined
        ? Promise.reject(new Deno.errors.NotFound(`No such file: ${path}`))
        : Promise.resolve(file);
    },
    fileMode: () => Promise.resolve(0o600),
    fetch: () => Promise.reject(new Error("no network here")),
    now: () => t,
    log: (e) => logs.push(e),
    setTimeout: (fn) => timers.push(fn),
    clearTimeout: () => {},
  };
  return {
    io,
    files,
    logs,
    timers,
    advance: (ms: number) => t += ms,
    /** Runs the timers due (all of them: the poll), and waits for the re-read. */
    async poll() {
      const due = timers.splice(0);
      for (const fn of due) fn();
      for (let i = 0; i < 20; i++) await Promise.resolve();
    },
  };
}

function basicHeader(user: string, password: string) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  return "Basic " + btoa(String.fromCharCode(...bytes));
}

function input(authorization?: string, clientAddr = "192.0.2.1") {
  const headers = authorization === undefined ? undefined : { authorization };
  const req = new Request("http://p/x", { headers });
  return { req, method: "GET", url: req.url, clientAddr };
}

function failure(outcome: AuthOutcome) {
  if (outcome.kind !== "fail") assert.fail(`expected a failure, got ${JSON.stringify(outcome)}`);
  return outcome;
}

describe("the basic method", () => {
  test("startup: a missing file, a bad line, or no users is a configuration error", async () => {
    const { io, files } = fakeIo("");
    const options = { file: "/htpasswd", realm: "r" };
    files.delete("/htpasswd");
    await assert.rejects(createBasicAuth(options, io), (e: Error) => {
      assert.ok(e instanceof AuthConfigError);
      assert.match(e.message, /cannot read AUTH_BASIC_FILE \/htpasswd/);
      return true;
    });
    const md5 = await htpasswd("carol", "x", ["-m"]);
    files.set("/htpasswd", `${await htpasswd("alice", "a")}\n${md5}\n`);
    await assert.rejects(createBasicAuth(options, io), (e: Error) => {
      assert.ok(e instanceof AuthConfigError);
      assert.match(e.message, /line 2 \(user "carol"\): not a bcrypt hash/);
      assert.ok(!e.message.includes(md5.slice(6)), "no hash in the message");
      return true;
    });
    files.set("/htpasswd", "# nobody\n");
    await assert.rejects(createBasicAuth(options, io), /holds no users/);
  });

  test("challenge, success, wrong password, unknown user, malformed and absent", async () => {
    const f = fakeIo(`${await htpasswd("alice", "a-pass")}\n${await htpasswd("bob", "b")}\n`);
    const calls: string[] = [];
    const basic = await createBasicAuth({
      file: "/htpasswd",
      realm: "docs",
      freeFailures: 100,
      verify: (p, h) => (calls.push(`${h.cost}`), bcryptVerify(p, h)),
    }, f.io);
    assert.equal(basic.challenge?.(), 'Basic realm="docs", charset="UTF-8"');
    assert.deepEqual(await basic.check(input()), { kind: "absent" });
    assert.deepEqual(await basic.check(input("Bearer abc")), { kind: "absent" });
    assert.deepEqual(await basic.check(input(basicHeader("alice", "a-pass"))), {
      kind: "ok",
      principal: "alice",
    });
    const wrong = failure(await basic.check(input(basicHeader("alice", "b"))));
    assert.equal(wrong.status, 401);
    assert.equal(wrong.headers?.["www-authenticate"], 'Basic realm="docs", charset="UTF-8"');
    assert.equal(wrong.reason, "wrong password for user alice");
    assert.ok(!wrong.message.includes("alice"));
    calls.length = 0;
    const unknown = failure(await basic.check(input(basicHeader("mallory", "b"))));
    assert.equal(unknown.reason, "unknown user");
    assert.deepEqual(calls, ["4"], "an unknown user costs a bcrypt at the file's cost");
    for (
      const bad of ["Basic", "Basic !!!", "Basic " + btoa("no colon"), "Basic " + btoa("\xff:x")]
    ) {
      assert.equal(failure(await basic.check(input(bad))).reason, "malformed Basic credentials");
    }
    // The user name is case-sensitive; the password is the whole rest after the first colon.
    failure(await basic.check(input(basicHeader("Alice", "a-pass"))));
    assert.equal((await basic.check(input(basicHeader("bob", "b")))).kind, "ok");
    assert.equal(JSON.stringify(f.logs).includes("a-pass"), false);
    basic.close?.();
  });

  test("a success is cached (no bcrypt) for cacheMs; equal concurrent checks share one bcrypt", async () => {
    const f = fakeIo(await htpasswd("alice", "a-pass"));
    let calls = 0;
    const basic = await createBasicAuth({
      file: "/htpasswd",
      realm: "r",
      cacheMs: 10_000,
      verify: (p, h) => (calls++, bcryptVerify(p, h)),
    }, f.io);
    const good = basicHeader("alice", "a-pass");
    const all = await Promise.all([1, 2, 3].map(() => basic.check(input(good))));
    assert.deepEqual(all.map((o) => o.kind), ["ok", "ok", "ok"]);
    assert.equal(calls, 1, "one bcrypt for three concurrent checks");
    assert.equal((await basic.check(input(good, "198.51.100.7"))).kind, "ok");
    assert.equal(calls, 1, "cached");
    failure(await basic.check(input(basicHeader("alice", "a-pasS"))));
    assert.equal(calls, 2, "another password is not the cached one");
    f.advance(10_001);
    assert.equal((await basic.check(input(good))).kind, "ok");
    assert.equal(calls, 3, "expired from the cache");
    basic.close?.();
  });

  test("repeated failures from one address: 429 with Retry-After, doubling; others unaffected", async () => {
    const f = fakeIo(await htpasswd("alice", "a-pass"));
    let calls = 0;
    const basic = await createBasicAuth({
      file: "/htpasswd",
      realm: "r",
      freeFailures: 3,
      maxLockMs: 8000,
      clients: 2,
      verify: (p, h) => (calls++, bcryptVerify(p, h)),
    }, f.io);
    const bad = input(basicHeader("alice", "guess"));
    const good = input(basicHeader("alice", "a-pass"));
    for (let i = 0; i < 2; i++) assert.equal(failure(await basic.check(bad)).status, 401);
    assert.equal(failure(await basic.check(bad)).status, 401, "the third failure locks");
    calls = 0;
    let locked = failure(await basic.check(good));
    assert.equal(locked.status, 429, "even the right password waits: no guessing through");
    assert.equal(locked.headers?.["retry-after"], "1");
    assert.equal(calls, 0, "no bcrypt while locked");
    assert.equal(
      (await basic.check(input(basicHeader("alice", "a-pass"), "192.0.2.99"))).kind,
      "ok",
      "another address",
    );
    f.advance(1000);
    assert.equal(failure(await basic.check(bad)).status, 401, "the window is over");
    locked = failure(await basic.check(bad));
    assert.equal(locked.headers?.["retry-after"], "2", "doubled");
    f.advance(2000);
    failure(await basic.check(bad));
    f.advance(4000);
    failure(await basic.check(bad));
    assert.equal(failure(await basic.check(bad)).headers?.["retry-after"], "8", "capped");
    f.advance(8000);
    assert.equal((await basic.check(good)).kind, "ok", "a success clears the count");
    assert.equal(failure(await basic.check(bad)).status, 401);
    assert.equal(failure(await basic.check(bad)).status, 401, "two failures: one short of a lock");
    // The table is bounded (clients: 2): more addresses push out the oldest.
    for (const addr of ["10.0.0.1", "10.0.0.2"]) {
      for (let i = 0; i < 3; i++) failure(await basic.check(input(basicHeader("a", "b"), addr)));
    }
    assert.equal(failure(await basic.check(input(basicHeader("a", "b"), "10.0.0.2"))).status, 429);
    assert.equal(failure(await basic.check(bad)).status, 401);
    assert.equal(failure(await basic.check(bad)).status, 401, "192.0.2.1 was pushed out");
    basic.close?.();
  });

  test("the file is polled and re-read on reload(); a bad re-read keeps the users and says why", async () => {
    const alice = await htpasswd("alice", "a-pass");
    const bob = await htpasswd("bob", "b-pass");
    const f = fakeIo(alice);
    const basic = await createBasicAuth({ file: "/htpasswd", realm: "r" }, f.io);
    const asAlice = input(basicHeader("alice", "a-pass"));
    const asBob = input(basicHeader("bob", "b-pass"));
    assert.equal((await basic.check(asAlice)).kind, "ok");
    f.files.set("/htpasswd", bob);
    await basic.reload?.();
    assert.equal((await basic.check(asBob)).kind, "ok", "an added user works");
    assert.equal(
      failure(await basic.check(asAlice)).status,
      401,
      "a removed one fails, cached or not",
    );
    assert.ok(f.logs.some((l) => l.event === "auth_basic_file_reloaded" && l.users === 1));

    const md5 = await htpasswd("carol", "x", ["-m"]);
    f.files.set("/htpasswd", `${alice}\n${md5}\n`);
    assert.equal(f.timers.length, 1, "one poll timer");
    await f.poll();
    const invalid = f.logs.find((l) => l.event === "auth_basic_file_invalid");
    assert.ok(invalid, JSON.stringify(f.logs));
    assert.match(JSON.stringify(invalid.errors), /line 2 \(user \\"carol\\"\)/);
    assert.equal((await basic.check(asBob)).kind, "ok", "the users read before are kept");
    f.files.delete("/htpasswd");
    await basic.reload?.();
    assert.ok(f.logs.some((l) => l.event === "auth_basic_file_unreadable"));
    assert.equal((await basic.check(asBob)).kind, "ok");
    f.files.set("/htpasswd", `${alice}\n${bob}\n`);
    await f.poll();
    assert.equal((await basic.check(asAlice)).kind, "ok", "the poll picked up the change");
    const logged = JSON.stringify(f.logs);
    for (const secret of ["a-pass", "b-pass", alice.slice(7), bob.slice(7), md5.slice(6)]) {
      assert.ok(!logged.includes(secret), "nothing secret in the log");
    }
    basic.close?.();
    await f.poll();
    assert.equal(f.timers.length, 0, "closed: no more polls");
  });
});
