/**
 * Reading a whole HTTP body with a size cap (and optionally a time limit), never holding more
 * than the cap: for S3 error and listing documents, small objects, and credential answers.
 *
 * @module
 */

/** The body stalled past its time limit. */
export class BodyTimeoutError extends Error {
  override name = "BodyTimeoutError";
}

/**
 * The whole body of `res` if it is at most `max` bytes, else `undefined` (the body is then
 * cancelled, at once when its Content-Length already says so). With `timeoutMs`, a body not read
 * within it is cancelled and a {@linkcode BodyTimeoutError} thrown; a stream error is rethrown.
 *
 * @example
 * ```ts
 * const bytes = await readAtMost(await fetch(url), 64 * 1024, 5000);
 * if (bytes === undefined) throw new Error("too large");
 * ```
 */
export async function readAtMost(
  res: Response,
  max: number,
  timeoutMs?: number,
): Promise<Uint8Array | undefined> {
  if (!res.body) return new Uint8Array();
  if (Number(res.headers.get("content-length") ?? 0) > max) {
    res.body.cancel().catch(() => {});
    return undefined;
  }
  const reader = res.body.getReader();
  let timedOut = false;
  const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
    timedOut = true;
    reader.cancel().catch(() => {});
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.length;
      if (size > max) {
        reader.cancel().catch(() => {});
        return undefined;
      }
      chunks.push(value);
    }
  } catch (e) {
    if (timedOut) throw new BodyTimeoutError(`no body within ${timeoutMs} ms`);
    throw e;
  } finally {
    clearTimeout(timer);
  }
  // A cancel by the timer ends a pending read as `done`, not as an error.
  if (timedOut) throw new BodyTimeoutError(`no body within ${timeoutMs} ms`);
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}
