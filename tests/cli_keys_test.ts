/**
 * `deno task keys` (src/cli/keys.ts): its main on an in-memory file (add, list, remove, every
 * refusal; never a secret of the file in its output), and the deno task itself, run as a
 * subprocess with deno.json's permissions, on a real file that the proxy's parser then reads.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { AwsV4Signer } from "aws4fetch";
import { type KeysIo, main } from "../src/cli/keys.ts";
import { parseKeysFile } from "../src/auth/sigv4_keys.ts";
import { createSigv4Auth } from "../src/auth/sigv4.ts";
import { parseFlags } from "../src/cli/flags.ts";

const OLD_SECRET = "existing-secret-0123456789abcdefghijklmn";
const EXISTING = `# old\nAKPXOLDOLDOLDOLDOLD2 ${OLD_SECRET} bk/\n`;

/** An in-memory file system of one directory. */
function memory(files: Record<string, { text: string; mode?: number }> = {}) {
  let counter = 0;
  const io: KeysIo = {
    read: (path) => Promise.resolve(files[path]),
    append(path, text) {
      files[path] = { text: (files[path]?.text ?? "") + text, mode: files[path]?.mode ?? 0o100600 };
      return Promise.resolve();
    },
    write(path, text) {
      assert.ok(files[path], "write replaces an existing file");
      files[path] = { ...files[path], text };
      return Promise.resolve();
    },
    // Deterministic "randomness": each call different.
    random: (n) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + counter++ * 13) & 255),
    now: () => new Date("2026-12-01T10:00:00Z"),
  };
  return { files, io };
}

const ENV = { AUTH_SIGV4_KEYS_FILE: "/keys" };

describe("keys main()", () => {
  test("add prints a new pair and appends it under a # NAME line; the file is created", async () => {
    const m = memory();
    const r = await main(
      ["add", "ci nightly", "--prefix", "artifacts/nightly builds/", "-p", "logs/"],
      ENV,
      m.io,
    );
    assert.equal(r.code, 0, r.stderr);
    const [, id, secret] =
      /^AWS_ACCESS_KEY_ID=(AKPX[A-Z2-7]{16})\nAWS_SECRET_ACCESS_KEY=([A-Za-z0-9+/]{40})\n$/
        .exec(r.stdout)!;
    assert.ok(id && secret, r.stdout);
    assert.equal(
      m.files["/keys"].text,
      `# ci nightly (added 2026-12-01)\n${id} ${secret} artifacts/nightly%20builds/ logs/\n`,
    );
    assert.match(r.stderr, new RegExp(`added ${id} \\(ci nightly\\) to /keys, limited to`));
    assert.ok(!r.stderr.includes(secret));
    const parsed = parseKeysFile(m.files["/keys"].text);
    assert.deepEqual(parsed.errors, []);
    assert.deepEqual(parsed.keys[0].prefixes, ["artifacts/nightly builds/", "logs/"]);

    const second = await main(["add", "other", "--file", "/keys"], {}, m.io);
    assert.equal(second.code, 0, second.stderr);
    const keys = parseKeysFile(m.files["/keys"].text).keys;
    assert.equal(keys.length, 2);
    assert.notEqual(keys[0].id, keys[1].id);
    assert.equal(keys[1].prefixes, undefined);
  });

  test("add to a file without a final newline, and never to an exposed or broken file", async () => {
    const m = memory({ "/keys": { text: EXISTING.trimEnd(), mode: 0o100600 } });
    assert.equal((await main(["add", "x"], ENV, m.io)).code, 0);
    assert.equal(parseKeysFile(m.files["/keys"].text).keys.length, 2);

    const exposed = memory({ "/keys": { text: EXISTING, mode: 0o100644 } });
    const r = await main(["add", "x"], ENV, exposed.io);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /not adding a key: .*mode 0644.*chmod 600 \/keys/);
    assert.equal(r.stdout, "");
    assert.equal(exposed.files["/keys"].text, EXISTING);

    const broken = memory({ "/keys": { text: EXISTING + `AKPXBROKEN ${OLD_SECRET}\n` } });
    const b = await main(["add", "x"], ENV, broken.io);
    assert.equal(b.code, 1);
    assert.match(b.stderr, /line 3: .*fix them first/);
    assert.ok(!b.stderr.includes(OLD_SECRET));
  });

  test("list: ids, names and prefixes, never a secret; problems on stderr", async () => {
    const m = memory({
      "/keys": { text: EXISTING + `# two\nAKPXTWOTWOTWOTWOTWO2 ${OLD_SECRET}x\n` },
    });
    const r = await main(["list"], ENV, m.io);
    assert.deepEqual(r, {
      code: 0,
      stdout: "AKPXOLDOLDOLDOLDOLD2\told\tbk/\nAKPXTWOTWOTWOTWOTWO2\ttwo\t(everything)\n",
      stderr: "",
    });
    m.files["/keys"] = { text: EXISTING + `${OLD_SECRET}\n`, mode: 0o100640 };
    const bad = await main(["list"], ENV, m.io);
    assert.equal(bad.code, 1);
    assert.equal(bad.stdout, "AKPXOLDOLDOLDOLDOLD2\told\tbk/\n");
    assert.match(bad.stderr, /warning: .*mode 0640/);
    assert.match(bad.stderr, /\/keys: line 3: expected/);
    for (const out of [r.stdout + r.stderr, bad.stdout + bad.stderr]) {
      assert.ok(!out.includes(OLD_SECRET));
    }
  });

  test("remove: the key and its # NAME line; the rest untouched", async () => {
    const text = `# header comment\n\n${EXISTING}\n# two\nAKPXTWOTWOTWOTWOTWO2 ${OLD_SECRET}\n`;
    const m = memory({ "/keys": { text } });
    const r = await main(["remove", "AKPXOLDOLDOLDOLDOLD2"], ENV, m.io);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /removed AKPXOLDOLDOLDOLDOLD2 \(old\) from \/keys/);
    assert.equal(
      m.files["/keys"].text,
      `# header comment\n\n\n# two\nAKPXTWOTWOTWOTWOTWO2 ${OLD_SECRET}\n`,
    );
    const missing = await main(["remove", "AKPXOLDOLDOLDOLDOLD2"], ENV, m.io);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /no key AKPXOLDOLDOLDOLDOLD2 in \/keys/);
    assert.equal((await main(["remove", "X"], ENV, memory().io)).code, 1, "no file");
  });

  test("usage errors (exit 2) and help", async () => {
    const m = memory();
    for (
      const [args, env, pattern] of [
        [[], ENV, /missing a command/],
        [["make"], ENV, /unknown command "make"/],
        [["add"], ENV, /missing NAME/],
        [["add", "x"], {}, /no keys file: give --file FILE or set AUTH_SIGV4_KEYS_FILE/],
        [["add", "x", "--prefix", "nobucket"], ENV, /--prefix: .*not BUCKET\/KEY-PREFIX/],
        [["add", "x", "--prefix", "bk/a\nb"], ENV, /control character/],
        [["add", "x\u0007"], ENV, /control characters/],
        [["list", "--prefix", "bk/"], ENV, /--prefix goes with add only/],
        [["list", "extra"], ENV, /unexpected argument "extra"/],
        [["remove", "A", "--file", "/a", "--file", "/b"], ENV, /--file given twice/],
        [["add", "x", "--bogus"], ENV, /unknown option --bogus/],
      ] as const
    ) {
      const r = await main(args, env, m.io);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, pattern);
      assert.match(r.stderr, /^Usage: deno task keys/m);
    }
    assert.deepEqual(m.files, {}, "nothing written");
    for (const args of [["--help"], ["add", "-h"]]) {
      const r = await main(args, ENV, m.io);
      assert.equal(r.code, 0);
      assert.match(r.stdout, /^Usage: deno task keys add NAME/);
    }
  });

  test("parseFlags: a repeatable flag collects every value in order", () => {
    const r = parseFlags(["-p", "a/", "--prefix=b/", "-p", "c/"], {
      values: { "-p": "prefix", "--prefix": "prefix" },
      booleans: {},
      repeatable: ["prefix"],
    });
    assert.ok(!("error" in r));
    assert.deepEqual(r.all.get("prefix"), ["a/", "b/", "c/"]);
  });
});

describe("deno task keys (deno.json's permissions)", () => {
  async function task(args: string[], env: Record<string, string> = {}) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["task", "-q", "keys", ...args],
      cwd: new URL("../", import.meta.url).pathname,
      clearEnv: true,
      env: {
        PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
        HOME: Deno.env.get("HOME") ?? "/",
        ...env,
      },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
  }

  test("add creates a 0600 file the proxy accepts; list and remove; a signed request verifies", async () => {
    const dir = await Deno.makeTempDir({ prefix: "keys-cli-" });
    try {
      const file = `${dir}/keys`;
      const added = await task(["add", "ci", "--prefix", "artifacts/nightly/"], {
        AUTH_SIGV4_KEYS_FILE: file,
      });
      assert.equal(added.code, 0, added.stderr);
      const id = /AWS_ACCESS_KEY_ID=(\S+)/.exec(added.stdout)![1];
      const secret = /AWS_SECRET_ACCESS_KEY=(\S+)/.exec(added.stdout)![1];
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600);

      const io = {
        readTextFile: (p: string) => Deno.readTextFile(p),
        fileMode: async (p: string) => (await Deno.stat(p)).mode ?? undefined,
        fetch,
        now: Date.now,
        log: () => {},
      };
      const auth = await createSigv4Auth({ file, region: "us-east-1" }, io);
      const signed = await new AwsV4Signer({
        url: "http://127.0.0.1:1/artifacts/nightly/a.tgz",
        accessKeyId: id,
        secretAccessKey: secret,
        service: "s3",
        region: "us-east-1",
      }).sign();
      const headers = new Headers(signed.headers);
      headers.set("host", "127.0.0.1:1");
      const req = new Request(signed.url, { headers });
      assert.deepEqual(await auth.check({ req, method: "GET", url: req.url }), {
        kind: "ok",
        principal: id,
        prefixes: ["artifacts/nightly/"],
      });

      const listed = await task(["list", "--file", file]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(
        listed.stdout,
        new RegExp(`^${id}\tci \\(added \\d{4}-\\d\\d-\\d\\d\\)\tartifacts/nightly/\n$`),
      );
      assert.ok(!(listed.stdout + listed.stderr).includes(secret));

      const removed = await task(["remove", id, "--file", file]);
      assert.equal(removed.code, 0, removed.stderr);
      assert.equal((await Deno.readTextFile(file)).trim(), "");
      assert.equal((await Deno.stat(file)).mode! & 0o777, 0o600, "mode kept");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
});
