/**
 * Log lines batched into few writes: a synchronous write per request line was the largest cost
 * of a redirect under Deno (`op_write_sync`, 41% of the server's busy time in a CPU profile).
 * Lines are kept in order and written together `delayMs` after the first of a batch, at once when
 * the batch reaches `maxBytes`, and whenever {@linkcode LineWriter.flush} is called: the shell
 * calls it before every exit (shutdown on SIGTERM/SIGINT included), so no line is lost, and
 * whenever no request is in flight, so that a request's line is out before its answer when the
 * proxy is not busy (tests and people read the log right after an answer); under load, lines
 * are batched.
 *
 * @module
 */

/** Writes lines in batches. */
export interface LineWriter {
  /** Adds one line (without its newline). */
  line(text: string): void;
  /** Writes every line held, now. */
  flush(): void;
}

/** How a {@linkcode LineWriter} batches. */
export interface BatchOptions {
  /** Milliseconds a line may wait for others (default 20). */
  readonly delayMs?: number;
  /** Characters held before a write is forced (default 64 Ki). */
  readonly maxChars?: number;
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
  const schedule = options.schedule ?? ((run, ms) => setTimeout(run, ms));
  let held = "";
  let pending = false;
  const flush = () => {
    if (held === "") return;
    const text = held;
    held = "";
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
  };
}
