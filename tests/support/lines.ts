/**
 * Reading a child process's output line by line, for the test helpers that start one.
 *
 * @module
 */

/**
 * Split a byte stream into text lines, calling `onLine` for each; resolves at EOF. A last line
 * without a newline is passed on too.
 *
 * @example
 * ```ts
 * const lines: string[] = [];
 * const child = new Deno.Command("echo", { args: ["hi"], stdout: "piped" }).spawn();
 * await readLines(child.stdout, (line) => lines.push(line));
 * // lines: ["hi"]
 * ```
 */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    rest += chunk;
    let nl;
    while ((nl = rest.indexOf("\n")) >= 0) {
      onLine(rest.slice(0, nl));
      rest = rest.slice(nl + 1);
    }
  }
  if (rest) onLine(rest);
}
