/**
 * Pre-derived signing keys, which are valid for one UTC day: a single key from the environment
 * (`AWS_SIGNING_KEY` + `AWS_KEY_SCOPE`), or a file of `BASE64KEY SCOPE` lines
 * (`AWS_SIGNING_KEY_FILE`, what `deno task signing-key --days N` prints) from which the line for
 * today's UTC date is used. The file is re-read when it changes (cheap polling of its content) and
 * on `reload()`; the log warns hours ahead when it has no key for the next UTC day. No message
 * or log line ever holds key material: lines are named by number only.
 *
 * @module
 */

import {
  decodeSigningKey,
  parseScope,
  SCOPE_FORMAT,
  type ScopeParts,
  utcDate,
} from "../s3/scope.ts";
import type { SigningKeyCredentials } from "../s3/sigv4.ts";
import {
  type CredentialProvider,
  CredentialSourceError,
  CredentialsUnavailableError,
  errorMessage,
} from "./provider.ts";

const DAY_MS = 86_400_000;

/** One usable line of a signing-key file. */
export interface SigningKeyEntry extends ScopeParts {
  readonly signingKey: Uint8Array;
  readonly scope: string;
  /** 1-based line number of the key. */
  readonly line: number;
}

/** A parsed signing-key file: its keys, and one message per bad line (no key material). */
export interface SigningKeyFile {
  readonly entries: readonly SigningKeyEntry[];
  readonly errors: readonly string[];
}

/**
 * Parses a signing-key file: lines `BASE64KEY SCOPE` separated by blanks or tabs, as
 * `deno task signing-key --days N` prints them. A key alone on a line followed by its scope alone
 * on the next (the output without `--days`) is accepted too. Blank lines and lines starting with
 * `#` are ignored. Bad lines are reported by number, never by content.
 *
 * @example
 * ```ts
 * parseSigningKeyFile("L4vRLWAO92X5L3Sqk5QydUSdB0nC9+1wfqLMOKLbRp4= 20160902/us-east-1/s3/aws4_request\n")
 *   .entries[0].date; // "20160902"
 * ```
 */
export function parseSigningKeyFile(text: string): SigningKeyFile {
  const lines = text.split(/\r?\n/);
  const entries: SigningKeyEntry[] = [];
  const errors: string[] = [];
  const entry = (keyText: string, scope: string, line: number): boolean => {
    const signingKey = decodeSigningKey(keyText);
    const parts = parseScope(scope);
    if (!signingKey) errors.push(`line ${line}: the key is not 32 bytes of base64 (or hex)`);
    else if (!parts) {
      errors.push(`line ${line}: the scope is not ${SCOPE_FORMAT}`);
    } else entries.push({ ...parts, signingKey, scope, line });
    return signingKey !== undefined && parts !== undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const trimmed = lines[i].trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    const tokens = trimmed.split(/[ \t]+/);
    if (tokens.length === 2) {
      entry(tokens[0], tokens[1], i + 1);
    } else if (tokens.length === 1 && decodeSigningKey(tokens[0])) {
      const next = (lines[i + 1] ?? "").trim();
      if (next !== "" && !/[ \t]/.test(next) && parseScope(next)) {
        entry(tokens[0], next, i + 1);
        i++;
      } else errors.push(`line ${i + 1}: a key without a scope`);
    } else {
      errors.push(`line ${i + 1}: expected BASE64KEY SCOPE`);
    }
  }
  return { entries, errors };
}

/**
 * The entry for a UTC date; with several for that date, the one for `region` when there is one.
 *
 * @example
 * ```ts
 * selectSigningKey(parseSigningKeyFile(text).entries, utcDate(Date.now()), "us-east-1");
 * ```
 */
export function selectSigningKey(
  entries: readonly SigningKeyEntry[],
  date: string,
  region?: string,
): SigningKeyEntry | undefined {
  let found: SigningKeyEntry | undefined;
  for (const e of entries) {
    if (e.date !== date) continue;
    if (region === undefined || e.region === region) return e;
    found ??= e;
  }
  return found;
}

/** Options of {@linkcode signingKeyProvider}. */
export interface SigningKeyOptions {
  readonly accessKeyId: string;
  readonly signingKey: Uint8Array;
  readonly scope: string;
  readonly sessionToken?: string;
  readonly now: () => number;
  readonly log: (event: Record<string, unknown>) => void;
  /** Default `"environment (signing key)"`. */
  readonly source?: string;
}

/**
 * A provider for one pre-derived signing key. On the scope's UTC day it answers the key; on any
 * other day it rejects with a {@linkcode CredentialsUnavailableError} that says the key has
 * expired (or is not valid yet), and logs that loudly once per day.
 *
 * @example
 * ```ts
 * const provider = signingKeyProvider({ accessKeyId: "AKID", signingKey, scope:
 *   "20160902/us-east-1/s3/aws4_request", now: Date.now, log: console.log });
 * ```
 */
export function signingKeyProvider(options: SigningKeyOptions): CredentialProvider {
  const parts = parseScope(options.scope);
  if (!parts) {
    throw new CredentialSourceError(`AWS_KEY_SCOPE is not ${SCOPE_FORMAT}`);
  }
  const credentials: SigningKeyCredentials = {
    accessKeyId: options.accessKeyId,
    signingKey: options.signingKey,
    scope: options.scope,
    ...(options.sessionToken ? { sessionToken: options.sessionToken } : {}),
  };
  const answer = Promise.resolve(credentials);
  const source = options.source ?? "environment (signing key)";
  let warnedFor = "";
  return {
    source,
    status() {
      const today = utcDate(options.now());
      const ok = today === parts.date;
      return {
        ok,
        ...(ok ? {} : { reason: `no signing key for ${today}: its scope is for ${parts.date}` }),
        expiration: dayEnd(parts.date),
        lastDay: parts.date,
      };
    },
    get() {
      const today = utcDate(options.now());
      if (today === parts.date) return answer;
      const message = today > parts.date
        ? `signing key expired: its scope is for ${parts.date} (UTC) and today is ${today}; ` +
          "a signing key is valid for one UTC day"
        : `signing key not valid yet: its scope is for ${parts.date} (UTC) and today is ${today}`;
      if (warnedFor !== today) {
        warnedFor = today;
        options.log({
          level: "error",
          event: "signing_key_expired",
          source,
          scope: options.scope,
          today,
          message,
        });
      }
      return Promise.reject(new CredentialsUnavailableError(message));
    },
  };
}

/** Options of {@linkcode signingKeyFileProvider}. */
export interface SigningKeyFileOptions {
  readonly path: string;
  readonly accessKeyId: string;
  readonly sessionToken?: string;
  /** Preferred region when the file has several keys for one day. */
  readonly region?: string;
  readonly readTextFile: (path: string) => Promise<string>;
  readonly now: () => number;
  readonly log: (event: Record<string, unknown>) => void;
  /** Timers for polling the file; without them it is re-read only on a miss and on `reload()`. */
  readonly setTimeout?: (fn: () => void, ms: number) => unknown;
  readonly clearTimeout?: (id: unknown) => void;
  /** Poll interval (default 10 s). */
  readonly pollMs?: number;
  /** Warn this long before UTC midnight when the next day has no key (default 6 h). */
  readonly warnAheadMs?: number;
  /** When today has no key, re-read the file first if the last read is older (default 1 s). */
  readonly missRereadMs?: number;
}

/**
 * A provider backed by a signing-key file. Reads it once now (rejecting with a
 * {@linkcode CredentialSourceError} when it cannot be read or has a bad line), then answers the
 * key for today's UTC date. When the file changes, the new content replaces the old unless it has
 * a bad line (a half-written file), in which case the old content stays and the log says so.
 * When today has no key, `get()` rejects with `no signing key for YYYYMMDD in FILE`.
 *
 * @example
 * ```ts
 * const provider = await signingKeyFileProvider({ path: "/etc/proxy/keys", accessKeyId: "AKID",
 *   readTextFile: (p) => Deno.readTextFile(p), now: Date.now, log: console.log,
 *   setTimeout, clearTimeout });
 * ```
 */
export async function signingKeyFileProvider(
  options: SigningKeyFileOptions,
): Promise<CredentialProvider> {
  const { path } = options;
  let text: string;
  try {
    text = await options.readTextFile(path);
  } catch (error) {
    throw new CredentialSourceError(`cannot read ${path}: ${errorMessage(error)}`);
  }
  const first = parseSigningKeyFile(text);
  if (first.errors.length > 0) {
    throw new CredentialSourceError(`${path}: ${first.errors.join("; ")}`);
  }
  if (first.entries.length === 0) throw new CredentialSourceError(`${path} holds no keys`);

  const file: KeyFile = {
    options,
    source: `signing key file ${path}`,
    missRereadMs: options.missRereadMs ?? 1000,
    entries: first.entries,
    text,
    readAt: options.now(),
    readError: "",
    version: 0,
    closed: false,
    missLoggedFor: "",
    warnedFor: "",
  };
  logKeyFile(file, "info", "signing_key_file_loaded", describeKeys(file.entries));
  checkTomorrow(file, options.now());
  schedulePoll(file);
  return {
    source: file.source,
    get: () => keyFor(file),
    async reload() {
      const changed = await reread(file);
      if (!changed) logKeyFile(file, "info", "signing_key_file_checked", { changed: false });
      checkTomorrow(file, options.now());
    },
    status: () => keyFileStatus(file, options.now()),
    close() {
      file.closed = true;
      if (file.timer !== undefined) options.clearTimeout?.(file.timer);
      file.timer = undefined;
    },
  };
}

/** A signing-key file as last read, and what its provider remembers between calls. */
interface KeyFile {
  readonly options: SigningKeyFileOptions;
  readonly source: string;
  readonly missRereadMs: number;
  /** The keys in use: those of the last good read. */
  entries: readonly SigningKeyEntry[];
  /** The text of the last read, good or bad (an unchanged file is not parsed again). */
  text: string;
  readAt: number;
  readError: string;
  /** Bumped when the keys change; the cached answer and the once-a-day logs are per version. */
  version: number;
  reading?: Promise<boolean>;
  timer?: unknown;
  closed: boolean;
  /** The answer for the UTC day starting at `dayStart`, from keys of version `version`. */
  answer?: {
    readonly version: number;
    readonly dayStart: number;
    readonly credentials: Promise<SigningKeyCredentials>;
  };
  missLoggedFor: string;
  warnedFor: string;
}

function logKeyFile(
  file: KeyFile,
  level: string,
  event: string,
  fields: Record<string, unknown> = {},
): void {
  file.options.log({ level, event, source: file.source, file: file.options.path, ...fields });
}

function describeKeys(entries: readonly SigningKeyEntry[]) {
  const dates = [...new Set(entries.map((e) => e.date))].sort();
  return { keys: entries.length, from: dates[0], to: dates[dates.length - 1] };
}

/** Today's key; on a miss the file is re-read first unless it was read a moment ago. */
async function keyFor(file: KeyFile): Promise<SigningKeyCredentials> {
  let t = file.options.now();
  checkTomorrow(file, t);
  const hit = select(file, t);
  if (hit) return hit;
  if (file.reading || t - file.readAt >= file.missRereadMs) {
    await reread(file);
    t = file.options.now();
    const again = select(file, t);
    if (again) return again;
  }
  throw missing(file, t);
}

/** Re-reads the file (one read at a time); true when its keys changed. */
function reread(file: KeyFile): Promise<boolean> {
  file.reading ??= readAgain(file).finally(() => file.reading = undefined);
  return file.reading;
}

async function readAgain(file: KeyFile): Promise<boolean> {
  const { path, now } = file.options;
  let fresh: string;
  try {
    fresh = await file.options.readTextFile(path);
  } catch (error) {
    file.readAt = now();
    const message = errorMessage(error);
    if (message !== file.readError) {
      file.readError = message;
      logKeyFile(file, "error", "signing_key_file_unreadable", {
        error: message,
        action: "keeping the keys read before",
      });
    }
    return false;
  }
  file.readAt = now();
  file.readError = "";
  if (fresh === file.text) return false;
  file.text = fresh;
  const parsed = parseSigningKeyFile(fresh);
  if (parsed.errors.length > 0 || parsed.entries.length === 0) {
    // A half-written file: keep the keys we have.
    logKeyFile(file, "error", "signing_key_file_invalid", {
      errors: parsed.errors.length > 0 ? parsed.errors : ["no keys"],
      action: "keeping the keys read before",
    });
    return false;
  }
  file.entries = parsed.entries;
  file.version++;
  logKeyFile(file, "info", "signing_key_file_reloaded", describeKeys(file.entries));
  return true;
}

/** Warns once per version, `warnAheadMs` before UTC midnight, when tomorrow has no key. */
function checkTomorrow(file: KeyFile, t: number): void {
  const { path, region } = file.options;
  const midnight = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
  if (t < midnight - (file.options.warnAheadMs ?? 6 * 3_600_000)) return;
  const tomorrow = utcDate(midnight);
  const key = tomorrow + "#" + file.version;
  if (file.warnedFor === key) return;
  file.warnedFor = key;
  if (selectSigningKey(file.entries, tomorrow, region)) return;
  logKeyFile(file, "warn", "signing_key_missing_tomorrow", {
    date: tomorrow,
    hoursLeft: Math.round((midnight - t) / 360_000) / 10,
    message: `${path} has no signing key for ${tomorrow} (UTC); ` +
      "requests will be answered 503 from UTC midnight unless the file is updated",
  });
}

/** The answer for the day of `t`, cached for that day and version of the keys. */
function select(file: KeyFile, t: number): Promise<SigningKeyCredentials> | undefined {
  const dayStart = Math.floor(t / DAY_MS) * DAY_MS;
  const cached = file.answer;
  if (cached && cached.version === file.version && cached.dayStart === dayStart) {
    return cached.credentials;
  }
  const { accessKeyId, sessionToken, region } = file.options;
  const found = selectSigningKey(file.entries, utcDate(t), region);
  if (!found) return undefined;
  const credentials = Promise.resolve({
    accessKeyId,
    signingKey: found.signingKey,
    scope: found.scope,
    ...(sessionToken ? { sessionToken } : {}),
  });
  file.answer = { version: file.version, dayStart, credentials };
  return credentials;
}

/** The end (next midnight UTC) of a `YYYYMMDD` day, in epoch milliseconds. */
function dayEnd(date: string): number {
  const y = Number(date.slice(0, 4));
  return Date.UTC(y, Number(date.slice(4, 6)) - 1, Number(date.slice(6))) + DAY_MS;
}

/**
 * The file's keys now: usable when today has one; they expire at the end of the last day
 * covered without a gap from today.
 */
function keyFileStatus(file: KeyFile, t: number) {
  const { region, path } = file.options;
  const { to } = describeKeys(file.entries);
  let day = Math.floor(t / DAY_MS) * DAY_MS;
  if (!selectSigningKey(file.entries, utcDate(day), region)) {
    return { ok: false, reason: `no signing key for ${utcDate(t)} in ${path}`, lastDay: to };
  }
  while (selectSigningKey(file.entries, utcDate(day + DAY_MS), region)) day += DAY_MS;
  return { ok: true, expiration: day + DAY_MS, lastDay: to };
}

/** The error for a day without a key, logged once per day and version. */
function missing(file: KeyFile, t: number): CredentialsUnavailableError {
  const today = utcDate(t);
  const { from, to } = describeKeys(file.entries);
  const message = `no signing key for ${today} in ${file.options.path}` +
    (from ? ` (its keys are for ${from === to ? from : from + " to " + to})` : "");
  const key = today + "#" + file.version;
  if (file.missLoggedFor !== key) {
    file.missLoggedFor = key;
    logKeyFile(file, "error", "signing_key_missing", { date: today, message });
  }
  return new CredentialsUnavailableError(message);
}

function schedulePoll(file: KeyFile): void {
  const { setTimeout } = file.options;
  if (file.closed || !setTimeout) return;
  file.timer = setTimeout(async () => {
    await reread(file);
    checkTomorrow(file, file.options.now());
    schedulePoll(file);
  }, file.options.pollMs ?? 10_000);
}
