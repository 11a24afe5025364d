/**
 * `deno task keys`: issues, lists and removes the proxy's own S3 keys in `AUTH_SIGV4_KEYS_FILE`
 * (the `sigv4` access-control method). The proxy re-reads the file within a few seconds of a
 * change, and on SIGHUP.
 *
 * ```sh
 * deno task keys add ci-nightly --prefix artifacts/nightly/ --file /etc/s3proxy/keys
 * # AWS_ACCESS_KEY_ID=AKPX...
 * # AWS_SECRET_ACCESS_KEY=...
 * deno task keys list --file /etc/s3proxy/keys
 * deno task keys remove AKPX... --file /etc/s3proxy/keys
 * ```
 *
 * The logic is {@linkcode main}: a function of the arguments, the environment and a
 * {@linkcode KeysIo} (the file, randomness, the clock), so that tests run it on an in-memory
 * file; the shell at the bottom gives it Deno's file system.
 *
 * @module
 */

import {
  formatKeyLine,
  formatPrefix,
  keysFileModeProblem,
  newKeyPair,
  parseKeysFile,
  parsePrefix,
} from "../auth/sigv4_keys.ts";
import { type Env, setting } from "../env.ts";
import { messageOf } from "../text.ts";
import { type FlagSpec, parseFlags } from "./flags.ts";
import { type CliResult, runCli, usageError } from "./shell.ts";

export type { CliResult } from "./shell.ts";

/** Usage text, printed by `--help` and after a usage error. */
export const USAGE =
  `Usage: deno task keys add NAME [--prefix BUCKET/PREFIX ...] | list | remove ACCESS_KEY_ID [--file FILE]

Manages the proxy-issued S3 keys of AUTH_SIGV4_KEYS_FILE (lines "ACCESS_KEY_ID SECRET [PREFIX ...]").
The proxy re-reads the file within a few seconds of a change, and on SIGHUP.

  add NAME              print a new random key pair (shown this once) and append it to the file,
                        under a "# NAME" line; the file is created with mode 0600 if missing
  list                  the key ids, names and prefixes (never a secret)
  remove ACCESS_KEY_ID  remove the key (and the "# NAME" line right above it)

  -p, --prefix P        with add: the key may read and list only under BUCKET/KEY-PREFIX P
                        (repeatable); without any, everything on the route
  -f, --file FILE       the keys file (default: $AUTH_SIGV4_KEYS_FILE)
  -h, --help            print this help

Exit codes: 0 ok, 1 a problem with the file, 2 bad usage.
`;

/** The file, randomness and the clock, for {@linkcode main}. */
export interface KeysIo {
  /** The file's text and `st_mode`, or undefined when it does not exist; throws otherwise. */
  read(path: string): Promise<{ text: string; mode?: number } | undefined>;
  /** Appends text, creating the file with mode 0600 when it is missing. */
  append(path: string, text: string): Promise<void>;
  /** Replaces an existing file's content in place (its owner and mode stay). */
  write(path: string, text: string): Promise<void>;
  /** `n` random bytes (crypto.getRandomValues). */
  random(n: number): Uint8Array;
  now(): Date;
}

const FLAGS: FlagSpec = {
  values: { "-p": "prefix", "--prefix": "prefix", "-f": "file", "--file": "file" },
  booleans: { "-h": "help", "--help": "help" },
  stopAt: "help",
  repeatable: ["prefix"],
};

const COMMANDS: Record<string, string | undefined> = {
  add: "NAME",
  list: undefined,
  remove: "ACCESS_KEY_ID",
};

function usage(message: string): CliResult {
  return usageError("keys", USAGE, message);
}

function failure(message: string): CliResult {
  return { code: 1, stdout: "", stderr: `keys: ${message}\n` };
}

/**
 * Runs the keys CLI. Prints a new pair on stdout for `add` (the only time a secret is
 * printed), the keys for `list`; messages on stderr. Never prints a secret of the file.
 *
 * @example
 * ```ts
 * const r = await main(["add", "ci", "--prefix", "artifacts/nightly/"],
 *   { AUTH_SIGV4_KEYS_FILE: "/etc/s3proxy/keys" }, io);
 * r.stdout; // "AWS_ACCESS_KEY_ID=AKPX...\nAWS_SECRET_ACCESS_KEY=...\n"
 * ```
 */
export async function main(args: readonly string[], env: Env, io: KeysIo): Promise<CliResult> {
  const [command, ...rest] = args;
  if (command === "-h" || command === "--help") return { code: 0, stdout: USAGE, stderr: "" };
  if (command === undefined) return usage("missing a command: add, list or remove");
  if (!Object.hasOwn(COMMANDS, command)) {
    return usage(`unknown command "${command}": expected add, list or remove`);
  }
  const operand = COMMANDS[command];
  const parsed = parseFlags(rest, { ...FLAGS, positional: operand });
  if ("error" in parsed) return usage(parsed.error);
  const { flags, all, positional } = parsed;
  if (flags.has("help")) return { code: 0, stdout: USAGE, stderr: "" };
  if (operand !== undefined && positional === undefined) return usage(`missing ${operand}`);
  const prefixes = all.get("prefix") ?? [];
  if (command !== "add" && prefixes.length > 0) return usage("--prefix goes with add only");
  const path = flags.get("file") ?? setting(env, "AUTH_SIGV4_KEYS_FILE");
  if (!path) return usage("no keys file: give --file FILE or set AUTH_SIGV4_KEYS_FILE");

  let file;
  try {
    file = await io.read(path);
  } catch (e) {
    return failure(`cannot read ${path}: ${messageOf(e)}`);
  }
  if (command === "add") return await add(path, file, positional!, prefixes, io);
  if (file === undefined) return failure(`${path} does not exist`);
  const warning = keysFileModeProblem(path, file.mode);
  const warn = warning ? `keys: warning: ${warning}\n` : "";
  const { keys, errors } = parseKeysFile(file.text);
  const problems = errors.map((e) => `keys: ${path}: ${e}\n`).join("");
  if (command === "list") {
    const stdout = keys.map((k) =>
      [k.id, k.label ?? "-", k.prefixes?.map(formatPrefix).join(" ") ?? "(everything)"].join("\t") +
      "\n"
    ).join("");
    return { code: errors.length > 0 ? 1 : 0, stdout, stderr: warn + problems };
  }
  const found = keys.find((k) => k.id === positional);
  if (found === undefined) return failure(`no key ${positional} in ${path}`);
  const lines = file.text.split("\n");
  const drop = found.label !== undefined ? [found.line - 2, found.line - 1] : [found.line - 1];
  const text = lines.filter((_, i) => !drop.includes(i)).join("\n");
  try {
    await io.write(path, text);
  } catch (e) {
    return failure(`cannot write ${path}: ${messageOf(e)}`);
  }
  const name = found.label !== undefined ? ` (${found.label})` : "";
  return { code: 0, stdout: "", stderr: `${warn}keys: removed ${found.id}${name} from ${path}\n` };
}

async function add(
  path: string,
  file: { text: string; mode?: number } | undefined,
  name: string,
  rawPrefixes: readonly string[],
  io: KeysIo,
): Promise<CliResult> {
  const label = name.trim();
  // deno-lint-ignore no-control-regex
  if (label === "" || label.length > 200 || /[\u0000-\u001f\u007f]/.test(label)) {
    return usage("NAME must be 1 to 200 characters, with no control characters");
  }
  const prefixes: string[] = [];
  for (const raw of rawPrefixes) {
    const parsed = parsePrefix(formatPrefix(raw));
    if ("error" in parsed) return usage(`--prefix: ${parsed.error}`);
    prefixes.push(parsed.prefix);
  }
  let ids = new Set<string>();
  if (file !== undefined) {
    const problem = keysFileModeProblem(path, file.mode);
    if (problem) return failure(`not adding a key: ${problem}`);
    const { keys, errors } = parseKeysFile(file.text);
    if (errors.length > 0) {
      return failure(
        `not adding a key: ${path} has bad lines (${errors.join("; ")}); fix them first`,
      );
    }
    ids = new Set(keys.map((k) => k.id));
  }
  let pair = newKeyPair((n) => io.random(n));
  while (ids.has(pair.id)) pair = newKeyPair((n) => io.random(n));
  const separator = file === undefined || file.text === "" || file.text.endsWith("\n") ? "" : "\n";
  const added = io.now().toISOString().slice(0, 10);
  const text = `${separator}# ${label} (added ${added})\n${
    formatKeyLine(pair.id, pair.secret, prefixes)
  }\n`;
  try {
    await io.append(path, text);
  } catch (e) {
    return failure(`cannot write ${path}: ${messageOf(e)}`);
  }
  const limited = prefixes.length > 0
    ? `, limited to ${prefixes.map(formatPrefix).join(" ")}`
    : ", for everything on its routes";
  return {
    code: 0,
    stdout: `AWS_ACCESS_KEY_ID=${pair.id}\nAWS_SECRET_ACCESS_KEY=${pair.secret}\n`,
    stderr:
      `keys: added ${pair.id} (${label}) to ${path}${limited}; the secret is not shown again\n`,
  };
}

/** Deno's file system for {@linkcode main}; the file is created 0600 (and chmod-ed so). */
function denoIo(): KeysIo {
  return {
    async read(path) {
      try {
        const text = await Deno.readTextFile(path);
        return { text, mode: (await Deno.stat(path)).mode ?? undefined };
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) return undefined;
        throw e;
      }
    },
    async append(path, text) {
      let created = false;
      try {
        await Deno.stat(path);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
        created = true;
      }
      await Deno.writeTextFile(path, text, { append: true, create: true, mode: 0o600 });
      if (created) await Deno.chmod(path, 0o600);
    },
    write: (path, text) => Deno.writeTextFile(path, text, { create: false }),
    random: (n) => crypto.getRandomValues(new Uint8Array(n)),
    now: () => new Date(),
  };
}

if (import.meta.main) {
  runCli((args) => {
    if (typeof Deno === "undefined") {
      return { code: 1, stdout: "", stderr: "keys: run it with Deno: deno task keys ...\n" };
    }
    // Only the one variable: the task is granted --allow-env=AUTH_SIGV4_KEYS_FILE.
    return main(args, { AUTH_SIGV4_KEYS_FILE: Deno.env.get("AUTH_SIGV4_KEYS_FILE") }, denoIo());
  });
}
