/**
 * A small parser for the AWS shared `credentials` and `config` files.
 *
 * Rules, as the AWS SDKs read these files: `[section]` headers; `key = value` (or `key=value`)
 * properties with white space trimmed around both; whole-line comments starting with `#` or
 * `;`, and inline comments where `#` or `;` follows white space; property names are
 * case-insensitive (kept lower-case); indented lines after a property with an empty value are its
 * sub-properties (`s3 =\n  addressing_style = path` gives `s3.addressing_style`); a section seen
 * twice is merged, later values winning; lines outside any section are ignored.
 *
 * @module
 */

/** Sections by name, each a map of lower-cased property names to values. */
export type IniData = Map<string, Map<string, string>>;

/**
 * Parses INI text.
 *
 * @example
 * ```ts
 * parseIni("[default]\naws_access_key_id = AKID # comment\n").get("default")?.get("aws_access_key_id");
 * // "AKID"
 * ```
 */
export function parseIni(text: string): IniData {
  const data: IniData = new Map();
  let section: Map<string, string> | undefined;
  let parent: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    const indented = /^[ \t]/.test(raw);
    const line = stripComment(raw).trim();
    if (line === "") continue;
    if (line.startsWith("[") && line.endsWith("]")) {
      const name = line.slice(1, -1).trim();
      section = data.get(name);
      if (!section) data.set(name, section = new Map());
      parent = undefined;
      continue;
    }
    if (!section) continue;
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (indented && parent !== undefined) {
      section.set(parent + "." + key, value);
      continue;
    }
    section.set(key, value);
    parent = value === "" ? key : undefined;
  }
  return data;
}

function stripComment(line: string): string {
  const m = /(^|[ \t])[#;]/.exec(line);
  return m ? line.slice(0, m.index) : line;
}
