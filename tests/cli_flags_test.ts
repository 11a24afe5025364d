/** The CLIs' flag parser (src/cli/flags.ts). */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type FlagSpec, parseFlags } from "../src/cli/flags.ts";

const SPEC: FlagSpec = {
  values: { "-r": "region", "--region": "region", "--days": "days" },
  booleans: { "-h": "help", "--help": "help", "-v": "verbose" },
};

describe("parseFlags", () => {
  test("short, long and --name=value spellings; booleans are empty strings", () => {
    const parsed = parseFlags(["-r", "us-east-1", "--days=2", "-v"], SPEC);
    assert.ok("flags" in parsed);
    assert.deepEqual([...parsed.flags], [["region", "us-east-1"], ["days", "2"], ["verbose", ""]]);
    assert.equal(parsed.positional, undefined);
  });

  test("errors: missing value, unknown, repeated under another spelling, stray argument", () => {
    assert.deepEqual(parseFlags(["-r"], SPEC), { error: "-r needs a value" });
    assert.deepEqual(parseFlags(["--bogus=1"], SPEC), { error: "unknown option --bogus" });
    assert.deepEqual(parseFlags(["-v=1"], SPEC), { error: "unknown option -v=1" });
    assert.deepEqual(parseFlags(["-r", "a", "--region", "b"], SPEC), {
      error: "--region given twice",
    });
    assert.deepEqual(parseFlags(["x"], SPEC), { error: 'unexpected argument "x"' });
    assert.deepEqual(parseFlags(["toString"], SPEC), { error: 'unexpected argument "toString"' });
  });

  test("one positional when the spec names it; stopAt ends parsing", () => {
    const spec = { ...SPEC, positional: "s3://BUCKET/KEY", stopAt: "help" };
    const parsed = parseFlags(["s3://b/k", "-v"], spec);
    assert.ok("flags" in parsed);
    assert.equal(parsed.positional, "s3://b/k");
    assert.deepEqual(parseFlags(["s3://b/k", "s3://b/j"], spec), {
      error: 'unexpected argument "s3://b/j": give one s3://BUCKET/KEY',
    });
    const help = parseFlags(["-h", "--bogus"], spec);
    assert.ok("flags" in help && help.flags.has("help"));
    assert.deepEqual(parseFlags(["--bogus", "-h"], spec), { error: "unknown option --bogus" });
  });
});
