/**
 * The process-level operations settings: the admin listener (`ADMIN_PORT`, `ADMIN_HOST`) and
 * the log (`LOG_LEVEL`, `ACCESS_LOG`), and the drain before shutdown (`SHUTDOWN_DELAY`). Every problem at once, each naming its variable. Pure.
 *
 * @module
 */

import { type Env, setting } from "../env.ts";

/** Log levels, least severe first. */
export const LOG_LEVELS = ["info", "warn", "error"] as const;
export type LogLevel = typeof LOG_LEVELS[number];

/** The operations settings. */
export interface OpsSettings {
  /** Undefined: no admin listener. */
  readonly adminPort?: number;
  readonly adminHost: string;
  /** Lines below this level are not written. */
  readonly logLevel: LogLevel;
  /** Whether the one line per request is written. */
  readonly accessLog: boolean;
  /**
   * `SHUTDOWN_DELAY`: milliseconds between a SIGTERM and the closing of the main listener, while
   * readiness already answers 503 (so a load balancer stops sending first).
   */
  readonly shutdownDelayMs: number;
}

/** Result of {@linkcode parseOpsSettings}. */
export type OpsResult =
  | { readonly ok: true; readonly settings: OpsSettings }
  | { readonly ok: false; readonly errors: string[] };

/**
 * Reads the operations settings.
 *
 * @example
 * ```ts
 * parseOpsSettings({ ADMIN_PORT: "9090", LOG_LEVEL: "warn" });
 * // { ok: true, settings: { adminPort: 9090, adminHost: "127.0.0.1", logLevel: "warn", ... } }
 * ```
 */
export function parseOpsSettings(env: Env): OpsResult {
  const errors: string[] = [];
  const rawPort = setting(env, "ADMIN_PORT");
  let adminPort: number | undefined;
  if (rawPort !== undefined) {
    if (/^\d{1,5}$/.test(rawPort) && Number(rawPort) <= 65535) adminPort = Number(rawPort);
    else errors.push(`ADMIN_PORT: "${rawPort}" is not a whole number from 0 to 65535`);
  }
  const adminHost = setting(env, "ADMIN_HOST") ?? "127.0.0.1";
  if (rawPort !== undefined && setting(env, "PORT") === rawPort && rawPort !== "0") {
    errors.push(`ADMIN_PORT: "${rawPort}" is the main PORT too; give the admin port its own`);
  }
  const rawLevel = (setting(env, "LOG_LEVEL") ?? "info").toLowerCase();
  const logLevel = LOG_LEVELS.find((l) => l === rawLevel);
  if (!logLevel) errors.push(`LOG_LEVEL: "${rawLevel}" must be one of ${LOG_LEVELS.join(", ")}`);
  const rawAccess = (setting(env, "ACCESS_LOG") ?? "on").toLowerCase();
  const accessLog = ["on", "true", "1", "yes"].includes(rawAccess);
  if (!accessLog && !["off", "false", "0", "no"].includes(rawAccess)) {
    errors.push(`ACCESS_LOG: "${rawAccess}" must be on or off`);
  }
  const rawDelay = setting(env, "SHUTDOWN_DELAY") ?? "0";
  const delay = Number(rawDelay);
  if (!/^\d+(\.\d+)?$/.test(rawDelay) || delay > 300) {
    errors.push(`SHUTDOWN_DELAY: "${rawDelay}" is not a number of seconds from 0 to 300`);
  }
  if (errors.length > 0) return { ok: false, errors };
  const shutdownDelayMs = Math.round(delay * 1000);
  return {
    ok: true,
    settings: { adminPort, adminHost, logLevel: logLevel!, accessLog, shutdownDelayMs },
  };
}

/**
 * A filter for log entries by these settings: true when the entry is to be written.
 *
 * @example
 * ```ts
 * const keep = logFilter({ logLevel: "warn", accessLog: false });
 * keep({ level: "error", event: "request" }); // false: the access log is off
 * ```
 */
export function logFilter(
  settings: Pick<OpsSettings, "logLevel" | "accessLog">,
): (entry: Record<string, unknown>) => boolean {
  const min = LOG_LEVELS.indexOf(settings.logLevel);
  return (entry) => {
    if (entry.event === "request") return settings.accessLog;
    // Where it listens is always said: a supervisor (and the tests) read the ports from it.
    if (entry.event === "listening" || entry.event === "admin_listening") return true;
    const level = LOG_LEVELS.indexOf(entry.level as LogLevel);
    return (level < 0 ? 0 : level) >= min;
  };
}
