/**
 * What the methods that watch something (`basic`'s htpasswd file, `jwt`'s key set, `sigv4`'s keys
 * file) share: a timer that runs one check, waits for it, then arms itself again, until the
 * method is closed.
 *
 * @module
 */

import type { AuthIo } from "./method.ts";

/** A poll in progress: its timer, and whether it was stopped. */
export interface Poll {
  readonly io: Pick<AuthIo, "setTimeout" | "clearTimeout">;
  /** The delay before the next check, asked each time the timer is armed. */
  readonly delayMs: () => number;
  /** One check; the next is armed only when it has settled, so checks never overlap. */
  readonly tick: () => Promise<void>;
  timer?: unknown;
  closed: boolean;
}

/**
 * Arms the first check after `delayMs()`. Without `io.setTimeout` nothing is ever armed: the
 * method is then re-checked only on `reload()`.
 *
 * @example
 * ```ts
 * const poll = startPoll(io, () => 5000, () => reread("changed"));
 * // on close():
 * stopPoll(poll);
 * ```
 */
export function startPoll(
  io: Poll["io"],
  delayMs: () => number,
  tick: () => Promise<void>,
): Poll {
  const poll: Poll = { io, delayMs, tick, closed: false };
  armPoll(poll);
  return poll;
}

function armPoll(poll: Poll): void {
  if (poll.closed || !poll.io.setTimeout) return;
  poll.timer = poll.io.setTimeout(async () => {
    await poll.tick();
    armPoll(poll);
  }, poll.delayMs());
}

/**
 * Stops a poll: the armed timer is cleared, and a check running now arms no other.
 *
 * @example
 * ```ts
 * stopPoll(startPoll(io, () => 3000, check));
 * ```
 */
export function stopPoll(poll: Poll): void {
  poll.closed = true;
  if (poll.timer !== undefined) poll.io.clearTimeout?.(poll.timer);
  poll.timer = undefined;
}
