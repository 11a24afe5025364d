/**
 * Log lines batched into few writes: a synchronous write per request line was the largest cost
 * of a redirect under Deno (`op_write_sync`, 41% of the server's busy time in a CPU profile).
 * Lines are kept in order and written together `delayMs` after the first of a batch, at once when
 * the batch reaches `maxBytes`, and whenever {@linkcode LineWriter.flush} is called: the shell
 * calls it before every exit (shutdown on SIGTERM/SIGINT included), so no line is lost.
 *
 * Whenever no request is in flight the shell calls {@linkcode LineWriter.idle} and sends the
 * answer only after what it returns, so that a request's line is out before its answer when the
 * proxy is not busy (tests and people read the log right after an answer). Under load a quick
 * answer still leaves nothing in flight until the next request starts (Deno runs them one after
 * the other), so writing at every idle moment was a write per request: ~7 us of a redirect's
 * ~45 us of CPU in Deno, against ~1 us for the same write in a loop. So an idle moment writes at
 * once only when nothing was written for `idleGapMs`; within that gap it joins one write made by
 * a timer a millisecond later, and those answers wait for it. A lone client (one request at a
 * time, each a loopback round trip apart) is never held; under load, answers are held up to a
 * millisecond and lines go out in batches.
 *
 * @module
 */

/** Writes lines in batches. */
export interface LineWriter {
  /** Adds one line (without its newline). */
  line(text: string): void;
  /** Writes every line held, now. */
  flush(): void;
  /**
   * No request is in flight: writes what is held, now or within a millisecond; the answers that
   * wait for their lines wait for what this returns (`undefined`: written, or nothing held).
   */
  idle(): Promise<void> | undefined;
}

/** How a {@linkcode LineWriter} batches. */
export interface BatchOptions {
  /** Milliseconds a line may wait for others (default 20). */
  readonly delayMs?: number;
  /** Characters held before a write is forced (default 64 Ki). */
  readonly maxChars?: number;
  /** Milliseconds without a write after which an idle moment writes at once (default 0.1). */
  readonly idleGapMs?: number;
  /** The clock in milliseconds (default `performance.now`): for tests. */
  readonly now?: () => number;
  /** The timer (default `setTimeout`): for tests. */
  readonly schedule?: (run: () => void, ms: number) => unknown;
}

/**
 * A writer that batches lines for `write`.
 *
 * @example
 * ```ts
 * const out = batchedLines((text) => Deno.stdout.writeSync(new TextEncoder().encode(text)));
 * out.line(JSON.stringify({ event: "request" }));
 * out.flush(); // before exiting
 * ```
 */
export function batchedLines(
  write: (text: string) => void,
  options: BatchOptions = {},
): LineWriter {
  const delayMs = options.delayMs ?? 20;
  const maxChars = options.maxChars ?? 64 * 1024;
  const idleGapMs = options.idleGapMs ?? 0.1;
  const now = options.now ?? (() => performance.now());
  const schedule = options.schedule ?? ((run, ms) => setTimeout(run, ms));
  let held = "";
  let pending = false;
  let lastWrite = -Infinity;
  /** The write that idle moments within the gap wait for, while one is scheduled. */
  let idleWrite: Promise<void> | undefined;
  const flush = () => {
    if (held === "") return;
    const text = held;
    held = "";
    lastWrite = now();
    write(text);
  };
  const onTimer = () => {
    pending = false;
    flush();
  };
  return {
    line(text) {
      held += text + "\n";
      if (held.length >= maxChars) flush();
      else if (!pending) {
        pending = true;
        schedule(onTimer, delayMs);
      }
    },
    flush,
    idle() {
      if (idleWrite !== undefined) return idleWrite;
      if (held === "") return undefined;
      if (now() - lastWrite >= idleGapMs) {
        flush();
        return undefined;
      }
      return idleWrite = new Promise<void>((resolve) =>
        schedule(() => {
          idleWrite = undefined;
          try {
            flush();
          } finally {
            resolve();
          }
        }, 1)
      );
    },
  };
}
