/**
 * Reading settings from an environment (the process's, a Worker's bindings, a route's settings).
 * One rule everywhere: a value is trimmed, and a blank value is the same as an unset one.
 *
 * @module
 */

/** An environment: names to values, as `Deno.env.toObject()` or `process.env` give it. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * The trimmed value of `name`, or `undefined` when it is unset or blank.
 *
 * @example
 * ```ts
 * setting({ PORT: " 9000 " }, "PORT"); // "9000"
 * setting({ PORT: "  " }, "PORT"); // undefined
 * ```
 */
export function setting(env: Env, name: string): string | undefined {
  const v = env[name];
  if (v === undefined) return undefined;
  const trimmed = v.trim();
  return trimmed === "" ? undefined : trimmed;
}

/** The region from `AWS_REGION`, then `AWS_DEFAULT_REGION`, then `us-east-1`. */
export function regionOf(env: Env): string {
  return setting(env, "AWS_REGION") ?? setting(env, "AWS_DEFAULT_REGION") ?? "us-east-1";
}
