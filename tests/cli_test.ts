/**
 * The signing-key and presign CLIs: their pure `main` functions, and the deno tasks run as
 * subprocesses with exactly the command line (and so the permissions) of deno.json's tasks:
 * signing-key with none, presign with --allow-env only. Expected keys and URLs come from the
 * staged AWS examples (tests/vectors, a copy of ../shared/vectors).
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { main as signingKey } from "../src/cli/signing_key.ts";
import { main as presignCli } from "../src/cli/presign.ts";
import { decodeStrict } from "../src/s3/encode.ts";
import { deriveSigningKey } from "../src/s3/sigv4.ts";
import { toHex } from "../src/crypto/sha256.ts";
import { signingKeyVectors, VECTORS } from "./support/vectors.ts";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const KEYS = signingKeyVectors();
const NGINX = KEYS.find((k) => k.name === "ngx_aws_auth-readme-20160902-s3")!;
const S3DOC = KEYS.find((k) => k.name === "s3-doc-examples-20130524-s3")!;
const PRESIGNED = JSON.parse(readFileSync(VECTORS + "s3-examples.json", "utf8"))
  .find((e: { name: string }) => e.name === "presigned-get-object");
const DOC_URL: string = PRESIGNED.expected.presigned_url;

const NOW = new Date("2024-02-29T23:59:59.500Z");
const EXAMPLE_ARGS = ["-k", NGINX.secret_access_key, "-r", "us-east-1", "-d", "20160902"];

const DOC_ENV = {
  AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
  AWS_SECRET_ACCESS_KEY: S3DOC.secret_access_key,
  AWS_ENDPOINT_HOST: "s3.amazonaws.com",
  S3_ADDRESSING_STYLE: "virtual",
};
const DOC_ARGS = [
  "s3://examplebucket/test.txt",
  "--expires",
  "86400",
  "--date",
  "20130524T000000Z",
];

function base64(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes));
}

function assertUsageError(
  result: { code: number; stdout: string; stderr: string },
  pattern: RegExp,
) {
  assert.equal(result.code, 2, result.stderr);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, pattern);
}

describe("signing-key main()", () => {
  test("the documented example: base64 key, then the scope", () => {
    const r = signingKey(EXAMPLE_ARGS, NOW);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `${NGINX.signing_key_base64}\n${NGINX.scope}\n`);
    assert.equal(
      r.stdout,
      "L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=\n" +
        "20160902/us-east-1/s3/aws4_request\n",
    );
    assert.equal(r.stderr, "");
  });

  test("every key of signing-keys.json, by long options, in base64 and in hex", () => {
    for (const k of KEYS) {
      const args = [
        `--secret-key=${k.secret_access_key}`,
        "--region",
        k.region,
        "--service",
        k.service,
        "--date",
        k.date,
      ];
      assert.equal(signingKey(args, NOW).stdout, `${k.signing_key_base64}\n${k.scope}\n`, k.name);
      assert.equal(
        signingKey([...args, "--no-base64"], NOW).stdout,
        `${k.signing_key_hex}\n${k.scope}\n`,
        k.name,
      );
    }
  });

  test("the date defaults to today in UTC", () => {
    const r = signingKey(["-k", "s", "-r", "eu-west-1"], NOW);
    assert.equal(r.stdout.split("\n")[1], "20240229/eu-west-1/s3/aws4_request");
    const next = signingKey(["-k", "s", "-r", "eu-west-1"], new Date("2024-03-01T00:00:00Z"));
    assert.equal(next.stdout.split("\n")[1], "20240301/eu-west-1/s3/aws4_request");
    assert.equal(
      next.stdout.split("\n")[0],
      base64(deriveSigningKey("s", "20240301", "eu-west-1", "s3")),
    );
  });

  test("--days 7 prints seven consecutive days, one KEY SCOPE line each", () => {
    const r = signingKey([...EXAMPLE_ARGS, "--days", "7"], NOW);
    assert.equal(r.code, 0);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 7);
    assert.equal(lines[0], `${NGINX.signing_key_base64} ${NGINX.scope}`);
    const days = [
      "20160902",
      "20160903",
      "20160904",
      "20160905",
      "20160906",
      "20160907",
      "20160908",
    ];
    lines.forEach((line, i) => {
      const [key, scope] = line.split(" ");
      assert.equal(scope, `${days[i]}/us-east-1/s3/aws4_request`);
      assert.equal(
        key,
        base64(deriveSigningKey(NGINX.secret_access_key, days[i], "us-east-1", "s3")),
      );
    });
  });

  test("--days crosses month, leap-day and year ends", () => {
    const scopes = (date: string, n: number) =>
      signingKey(["-k", "s", "-r", "us-east-1", "-d", date, "--days", String(n)], NOW).stdout
        .trimEnd().split("\n").map((l) => l.split(" ")[1].slice(0, 8));
    assert.deepEqual(scopes("20240227", 4), ["20240227", "20240228", "20240229", "20240301"]);
    assert.deepEqual(scopes("20231230", 3), ["20231230", "20231231", "20240101"]);
    assert.deepEqual(scopes("20230228", 2), ["20230228", "20230301"]);
  });

  test("--no-base64 prints hex; with --days too", () => {
    const r = signingKey([...EXAMPLE_ARGS, "--no-base64", "--days", "2"], NOW);
    const [first, second] = r.stdout.trimEnd().split("\n");
    assert.equal(first, `${NGINX.signing_key_hex} ${NGINX.scope}`);
    assert.match(second, /^[0-9a-f]{64} 20160903\/us-east-1\/s3\/aws4_request$/);
  });

  test("-v says what was chosen on stderr, never the secret; stdout is unchanged", () => {
    const r = signingKey([...EXAMPLE_ARGS, "-v"], NOW);
    assert.equal(r.stdout, signingKey(EXAMPLE_ARGS, NOW).stdout);
    assert.match(r.stderr, /region: us-east-1/);
    assert.match(r.stderr, /service: s3 \(default\)/);
    assert.match(r.stderr, /date: 20160902/);
    assert.match(r.stderr, /format: base64/);
    assert.ok(!r.stderr.includes(NGINX.secret_access_key));
    const today = signingKey(["-k", "s", "-r", "us-east-1", "--verbose"], NOW);
    assert.match(today.stderr, /date: 20240229 \(today, UTC\)/);
  });

  test("a bad date is exit code 2 with a message", () => {
    for (
      const date of ["2016-09-02", "201609021", "20230229", "20161301", "20160900", "today", ""]
    ) {
      assertUsageError(signingKey(["-k", "s", "-r", "us-east-1", "-d", date], NOW), /bad date/);
    }
  });

  test("a missing argument is exit code 2 with a message", () => {
    assertUsageError(signingKey(["-r", "us-east-1"], NOW), /missing -k\/--secret-key/);
    assertUsageError(signingKey(["-k", "s"], NOW), /missing -r\/--region/);
    assertUsageError(signingKey(["-k", "s", "-r"], NOW), /-r needs a value/);
    assertUsageError(signingKey([], NOW), /missing/);
  });

  test("an unknown flag, a stray argument or a repeated flag is exit code 2", () => {
    assertUsageError(signingKey([...EXAMPLE_ARGS, "--bogus"], NOW), /unknown option --bogus/);
    assertUsageError(signingKey([...EXAMPLE_ARGS, "-x"], NOW), /unknown option -x/);
    assertUsageError(signingKey([...EXAMPLE_ARGS, "--no-base64=yes"], NOW), /unknown option/);
    assertUsageError(signingKey([...EXAMPLE_ARGS, "extra"], NOW), /unexpected argument "extra"/);
    assertUsageError(signingKey([...EXAMPLE_ARGS, "-r", "eu-west-1"], NOW), /given twice/);
  });

  test("bad --days, region or service is exit code 2", () => {
    for (const days of ["0", "367", "1.5", "-1", "x"]) {
      assertUsageError(signingKey([...EXAMPLE_ARGS, "--days", days], NOW), /bad --days/);
    }
    assertUsageError(signingKey(["-k", "s", "-r", "us/east"], NOW), /bad region/);
    assertUsageError(signingKey(["-k", "s", "-r", "us-east-1", "-s", "S3"], NOW), /bad service/);
  });

  test("--help prints the usage on stdout", () => {
    const r = signingKey(["--help"], NOW);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /--days N/);
  });
});

describe("presign main()", () => {
  test("the documented example URL, exactly", () => {
    const r = presignCli(DOC_ARGS, DOC_ENV, NOW);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, DOC_URL + "\n");
    assert.match(
      r.stdout,
      /Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404\n$/,
    );
    assert.equal(r.stderr, "");
  });

  test("defaults: path style, s3.<region>.amazonaws.com, https, 3600 s, GET, now", () => {
    const env = { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret" };
    const url = new URL(presignCli(["s3://my-bucket/k.txt"], env, NOW).stdout.trim());
    assert.equal(url.origin, "https://s3.us-east-1.amazonaws.com");
    assert.equal(url.pathname, "/my-bucket/k.txt");
    assert.equal(url.searchParams.get("X-Amz-Expires"), "3600");
    assert.equal(url.searchParams.get("X-Amz-Date"), "20240229T235959Z");
    assert.equal(
      url.searchParams.get("X-Amz-Credential"),
      "AKID/20240229/us-east-1/s3/aws4_request",
    );
  });

  test("AWS_REGION wins over AWS_DEFAULT_REGION, which sets the default host", () => {
    const env = { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret" };
    const d = new URL(
      presignCli(["s3://my-bucket/k"], { ...env, AWS_DEFAULT_REGION: "eu-west-1" }, NOW).stdout
        .trim(),
    );
    assert.equal(d.host, "s3.eu-west-1.amazonaws.com");
    assert.match(d.searchParams.get("X-Amz-Credential")!, /\/eu-west-1\/s3\//);
    const r = new URL(
      presignCli(["s3://my-bucket/k"], {
        ...env,
        AWS_DEFAULT_REGION: "eu-west-1",
        AWS_REGION: "ap-south-1",
      }, NOW)
        .stdout.trim(),
    );
    assert.equal(r.host, "s3.ap-south-1.amazonaws.com");
    assert.match(r.searchParams.get("X-Amz-Credential")!, /\/ap-south-1\/s3\//);
  });

  test("endpoint host with a port, http scheme, virtual style", () => {
    const env = {
      AWS_ACCESS_KEY_ID: "AKID",
      AWS_SECRET_ACCESS_KEY: "secret",
      AWS_ENDPOINT_HOST: "127.0.0.1:9000",
      AWS_ENDPOINT_SCHEME: "http",
    };
    assert.ok(
      presignCli(["s3://my-bucket/k"], env, NOW).stdout.startsWith(
        "http://127.0.0.1:9000/my-bucket/k?",
      ),
    );
    const virtual = {
      ...env,
      AWS_ENDPOINT_HOST: "minio.local:9000",
      S3_ADDRESSING_STYLE: "virtual",
    };
    assert.ok(
      presignCli(["s3://my-bucket/k"], virtual, NOW).stdout.startsWith(
        "http://my-bucket.minio.local:9000/k?",
      ),
    );
  });

  test("the key is literal: #, ?, %, spaces and + are part of it", () => {
    const key = "dir/a b#c?d%20e+f&g=h/ü😀";
    const env = { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "secret" };
    const r = presignCli([`s3://my-bucket/${key}`], env, NOW);
    assert.equal(r.code, 0, r.stderr);
    const url = new URL(r.stdout.trim());
    assert.equal(url.pathname, "/my-bucket/dir/a%20b%23c%3Fd%2520e%2Bf%26g%3Dh/%C3%BC%F0%9F%98%80");
    assert.equal(decodeStrict(url.pathname), "/my-bucket/" + key);
    assert.equal(url.hash, "");
    assert.ok(url.search.startsWith("?X-Amz-Algorithm="));
  });

  test("credential values are trimmed as the proxy trims them", () => {
    for (const padded of [S3DOC.secret_access_key + " ", S3DOC.secret_access_key + "\n"]) {
      const r = presignCli(DOC_ARGS, { ...DOC_ENV, AWS_SECRET_ACCESS_KEY: padded }, NOW);
      assert.equal(r.stdout, DOC_URL + "\n", r.stderr);
    }
    const spaced = { ...DOC_ENV, AWS_ACCESS_KEY_ID: " AKIAIOSFODNN7EXAMPLE\n" };
    assert.equal(presignCli(DOC_ARGS, spaced, NOW).stdout, DOC_URL + "\n");
  });

  test("the session token is carried and signed", () => {
    const env = { ...DOC_ENV, AWS_SESSION_TOKEN: "token/with+chars=" };
    const r = presignCli(DOC_ARGS, env, NOW);
    const url = new URL(r.stdout.trim());
    assert.equal(url.searchParams.get("X-Amz-Security-Token"), "token/with+chars=");
    assert.notEqual(
      url.searchParams.get("X-Amz-Signature"),
      new URL(DOC_URL).searchParams.get("X-Amz-Signature"),
    );
  });

  test("--method HEAD gives a HEAD-signed URL; the method is case-insensitive", () => {
    const head = presignCli([...DOC_ARGS, "--method", "HEAD"], DOC_ENV, NOW).stdout;
    assert.notEqual(head, DOC_URL + "\n");
    assert.equal(presignCli([...DOC_ARGS, "--method=head"], DOC_ENV, NOW).stdout, head);
    assert.equal(presignCli([...DOC_ARGS, "--method", "GET"], DOC_ENV, NOW).stdout, DOC_URL + "\n");
  });

  test("a pre-derived signing key and scope sign like the secret, on their day", () => {
    const env = {
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SIGNING_KEY: S3DOC.signing_key_base64,
      AWS_KEY_SCOPE: S3DOC.scope,
      AWS_ENDPOINT_HOST: "s3.amazonaws.com",
      S3_ADDRESSING_STYLE: "virtual",
    };
    const r = presignCli(DOC_ARGS, env, NOW);
    assert.equal(r.stdout, DOC_URL + "\n", r.stderr);
    assert.equal(
      presignCli(DOC_ARGS, { ...env, AWS_SIGNING_KEY: S3DOC.signing_key_hex }, NOW).stdout,
      DOC_URL + "\n",
    );
    for (const out of [r.stdout, r.stderr]) assert.ok(!out.includes(S3DOC.signing_key_base64));
  });

  test("a signing key used on another day is exit code 1 naming both dates", () => {
    const env = {
      AWS_ACCESS_KEY_ID: "AKIAIOSFODNN7EXAMPLE",
      AWS_SIGNING_KEY: S3DOC.signing_key_base64,
      AWS_KEY_SCOPE: S3DOC.scope,
    };
    const r = presignCli(["s3://examplebucket/test.txt", "--date", "20130525T000000Z"], env, NOW);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /20130524/);
    assert.match(r.stderr, /20130525/);
    assert.ok(!r.stderr.includes(S3DOC.signing_key_base64));
    const region = presignCli(
      ["s3://examplebucket/test.txt", "--date", "20130524T120000Z"],
      { ...env, AWS_REGION: "eu-west-1" },
      NOW,
    );
    assert.equal(region.code, 1);
    assert.match(region.stderr, /eu-west-1/);
  });

  test("usage errors are exit code 2: bad date, missing argument, unknown flag, ...", () => {
    const run = (args: string[]) => presignCli(args, DOC_ENV, NOW);
    for (
      const date of ["20130524", "20130532T000000Z", "20130524T240000Z", "2013-05-24T00:00:00Z"]
    ) {
      assertUsageError(run(["s3://examplebucket/k", "--date", date]), /bad --date/);
    }
    assertUsageError(run([]), /missing s3:\/\/BUCKET\/KEY/);
    assertUsageError(run(["s3://examplebucket/k", "--date"]), /--date needs a value/);
    assertUsageError(run(["s3://examplebucket/k", "--bogus"]), /unknown option --bogus/);
    assertUsageError(run(["s3://examplebucket/k", "-x"]), /unknown option -x/);
    assertUsageError(run(["s3://examplebucket/k", "s3://examplebucket/j"]), /unexpected argument/);
    assertUsageError(run(["https://examplebucket/k"]), /not s3:\/\/BUCKET\/KEY/);
    assertUsageError(run(["s3://examplebucket"]), /missing the object key/);
    assertUsageError(run(["s3://examplebucket/"]), /missing the object key/);
    assertUsageError(run(["s3://Bad_Bucket!/k"]), /not a bucket name/);
    for (const expires of ["0", "604801", "1.5", "-1", "1e3", "x"]) {
      assertUsageError(run(["s3://examplebucket/k", "--expires", expires]), /bad --expires/);
    }
    assertUsageError(run(["s3://examplebucket/k", "--method", "PUT"]), /bad --method/);
    assertUsageError(run(["s3://examplebucket/k", "--expires", "1", "--expires", "2"]), /twice/);
  });

  test("expiry bounds 1 and 604800 are accepted", () => {
    for (const expires of ["1", "604800"]) {
      const r = presignCli(["s3://examplebucket/k", "--expires", expires], DOC_ENV, NOW);
      assert.equal(new URL(r.stdout.trim()).searchParams.get("X-Amz-Expires"), expires);
    }
  });

  test("environment errors are exit code 1 with a message naming the variable", () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{}, /AWS_ACCESS_KEY_ID is not set/],
      [{ AWS_ACCESS_KEY_ID: "AKID" }, /AWS_SECRET_ACCESS_KEY/],
      [{
        AWS_ACCESS_KEY_ID: "AKID",
        AWS_SECRET_ACCESS_KEY: "s",
        AWS_SIGNING_KEY: S3DOC.signing_key_base64,
      }, /only one/],
      [{ AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY: "notakey" }, /AWS_SIGNING_KEY is not/],
      [{ AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY: S3DOC.signing_key_base64 }, /AWS_KEY_SCOPE/],
      [{ AWS_ACCESS_KEY_ID: "AKID", AWS_SIGNING_KEY_FILE: "/keys" }, /AWS_SIGNING_KEY_FILE/],
      [
        { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", S3_ADDRESSING_STYLE: "dns" },
        /S3_ADDRESSING_STYLE/,
      ],
      [
        { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_SCHEME: "ftp" },
        /AWS_ENDPOINT_SCHEME/,
      ],
      [
        { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", AWS_ENDPOINT_HOST: "a/b" },
        /AWS_ENDPOINT_HOST/,
      ],
      [
        { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", AWS_REGION: "EU WEST" },
        /AWS_REGION/,
      ],
      [
        { AWS_ACCESS_KEY_ID: "AKID", AWS_SECRET_ACCESS_KEY: "s", S3_ADDRESSING_STYLE: "virtual" },
        /virtual/,
      ],
    ];
    for (const [env, pattern] of cases) {
      const target = env.S3_ADDRESSING_STYLE === "virtual"
        ? "s3://my.Bucket/k"
        : "s3://my-bucket/k";
      const r = presignCli([target], env, NOW);
      assert.equal(r.code, 1, JSON.stringify(env));
      assert.equal(r.stdout, "");
      assert.match(r.stderr, pattern, JSON.stringify(env));
      assert.ok(!r.stderr.includes(S3DOC.signing_key_base64));
    }
  });

  test("no output ever holds the secret", () => {
    const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
    for (const args of [DOC_ARGS, ["--bogus"], ["s3://examplebucket/k", "--date", "x"]]) {
      const r = presignCli(args, { ...DOC_ENV, AWS_SECRET_ACCESS_KEY: secret }, NOW);
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret));
      assert.ok(!r.stdout.includes(encodeURIComponent(secret)));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// The tasks themselves, as subprocesses.

const TASKS: Record<string, string> = JSON.parse(readFileSync(ROOT + "deno.json", "utf8")).tasks;

/** Runs a deno.json task's command line (with the running deno) plus `args`, in a clean env. */
async function runTask(
  task: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const words = TASKS[task].split(/\s+/);
  assert.equal(words[0], "deno", `task ${task} runs deno`);
  assert.equal(words[1], "run", `task ${task} is a deno run`);
  const base: Record<string, string> = { NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" };
  for (const name of ["PATH", "HOME", "DENO_DIR", "XDG_CACHE_HOME"]) {
    const value = Deno.env.get(name);
    if (value !== undefined) base[name] = value;
  }
  const output = await new Deno.Command(Deno.execPath(), {
    args: [...words.slice(1), ...args],
    cwd: ROOT,
    env: { ...base, ...env },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

describe("the tasks, run as deno.json defines them", () => {
  test("signing-key needs no permissions and prints the documented example", async () => {
    assert.doesNotMatch(TASKS["signing-key"], /--allow|-A\b/);
    const r = await runTask("signing-key", EXAMPLE_ARGS);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stdout,
      "L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4=\n20160902/us-east-1/s3/aws4_request\n",
    );
    assert.equal(r.stderr, "");
  });

  test("signing-key --days 7 --no-base64 -v", async () => {
    const r = await runTask("signing-key", [...EXAMPLE_ARGS, "--days", "7", "--no-base64", "-v"]);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 7);
    assert.equal(lines[0], `${NGINX.signing_key_hex} ${NGINX.scope}`);
    assert.equal(
      lines[6],
      toHex(deriveSigningKey(NGINX.secret_access_key, "20160908", "us-east-1", "s3")) +
        " 20160908/us-east-1/s3/aws4_request",
    );
    assert.match(r.stderr, /format: hex/);
    assert.ok(!r.stderr.includes(NGINX.secret_access_key));
  });

  test("signing-key: bad date, missing argument, unknown flag are exit code 2 on stderr", async () => {
    const runs: [string[], RegExp][] = [
      [["-k", "s", "-r", "us-east-1", "-d", "20230229"], /bad date "20230229"/],
      [["-k", "s"], /missing -r\/--region/],
      [[...EXAMPLE_ARGS, "--frobnicate"], /unknown option --frobnicate/],
    ];
    const results = await Promise.all(runs.map(([args]) => runTask("signing-key", args)));
    results.forEach((r, i) => {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, runs[i][1]);
    });
  });

  test("presign with --allow-env only prints the documented URL", async () => {
    assert.match(TASKS.presign, /--allow-env/);
    assert.doesNotMatch(TASKS.presign, /--allow-(?!env)|-A\b/);
    const r = await runTask("presign", DOC_ARGS, DOC_ENV);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, DOC_URL + "\n");
  });

  test("presign: bad date, missing argument, unknown flag are exit code 2; bad env is 1", async () => {
    const [date, missing, unknown, noKeys] = await Promise.all([
      runTask("presign", ["s3://examplebucket/k", "--date", "20130524"], DOC_ENV),
      runTask("presign", [], DOC_ENV),
      runTask("presign", ["s3://examplebucket/k", "--frobnicate"], DOC_ENV),
      runTask("presign", ["s3://examplebucket/k"], {}),
    ]);
    for (
      const [r, pattern] of [[date, /bad --date/], [missing, /missing s3:/], [
        unknown,
        /unknown option/,
      ]] as const
    ) {
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, pattern);
    }
    assert.equal(noKeys.code, 1);
    assert.match(noKeys.stderr, /AWS_ACCESS_KEY_ID is not set/);
  });
});
