/**
 * The command-line flag parser of the CLIs: `-x VALUE`, `--name VALUE`, `--name=VALUE` and
 * boolean flags, against tables of every spelling. Strict: an unknown flag, a missing value, a
 * repeated flag or an unexpected argument is an error message, never a guess.
 *
 * @module
 */

/** The flags a CLI accepts. */
export interface FlagSpec {
  /** Flags that take a value: every spelling (`-k`, `--secret-key`) to its name. */
  readonly values: Readonly<Record<string, string>>;
  /** Flags without a value: every spelling to its name. */
  readonly booleans: Readonly<Record<string, string>>;
  /** The one positional argument allowed, as the usage names it; without it none is. */
  readonly positional?: string;
  /** A boolean flag's name that ends parsing when seen (`help`): later arguments are not read. */
  readonly stopAt?: string;
  /** Names of value flags that may be given more than once (every value is in `all`). */
  readonly repeatable?: readonly string[];
}

/**
 * Parsed flags by name (booleans as `""`; a repeatable flag's last value), every value of the
 * repeatable flags in order, and the positional argument when one was given.
 */
export type ParsedFlags =
  | {
    readonly flags: Map<string, string>;
    readonly all: ReadonlyMap<string, readonly string[]>;
    readonly positional?: string;
  }
  | { readonly error: string };

/**
 * Parses `args` against `spec`.
 *
 * @example
 * ```ts
 * parseFlags(["-r", "us-east-1", "--days=2"], {
 *   values: { "-r": "region", "--days": "days" },
 *   booleans: { "-h": "help" },
 * }); // { flags: Map { "region" => "us-east-1", "days" => "2" } }
 * ```
 */
export function parseFlags(args: readonly string[], spec: FlagSpec): ParsedFlags {
  const flags = new Map<string, string>();
  const all = new Map<string, string[]>();
  let positional: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const eq = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const spelled = eq === -1 ? arg : arg.slice(0, eq);
    let name: string;
    let value = "";
    if (Object.hasOwn(spec.values, spelled)) {
      name = spec.values[spelled];
      if (eq !== -1) value = arg.slice(eq + 1);
      else if (i + 1 < args.length) value = args[++i];
      else return { error: `${spelled} needs a value` };
    } else if (Object.hasOwn(spec.booleans, spelled) && eq === -1) {
      name = spec.booleans[spelled];
      if (name === spec.stopAt) return { flags: flags.set(name, ""), all, positional };
    } else if (arg.startsWith("-") && arg !== "-") {
      return { error: `unknown option ${spelled}` };
    } else if (spec.positional !== undefined && positional === undefined) {
      positional = arg;
      continue;
    } else {
      const hint = spec.positional === undefined ? "" : `: give one ${spec.positional}`;
      return { error: `unexpected argument "${arg}"${hint}` };
    }
    if (spec.repeatable?.includes(name)) {
      all.set(name, [...all.get(name) ?? [], value]);
    } else if (flags.has(name)) {
      return { error: `${spelled} given twice` };
    }
    flags.set(name, value);
  }
  return { flags, all, positional };
}
