// Text that came from inputs (file-system labels, partition names, manifest values, file names,
// tool and signer output) on its way to a log. A GitHub runner reads every line a step prints to
// stdout or stderr as a possible workflow command: `::name ...::data` once leading whitespace is
// trimmed, and the legacy `##[name ...]data` anywhere in the line. A base image whose label holds
// "\n::add-mask::..." or "##[stop-commands]x" could otherwise steer the job's log. Everything
// printed goes through neutraliseOutput (the CLI console, the action's reporter, error printing);
// values embedded in messages go through escapeText/quoteText so their control characters show as
// escapes instead of breaking or hiding lines. docs/input-limits.md describes the rules.

/**
 * Characters that must never reach a log raw: C0 controls (except the tab and the line feed, which
 * output itself uses), DEL, C1 controls (U+0085 is a line break to some readers), Unicode format
 * characters (bidi embeddings, overrides and isolates, zero-width characters, U+FEFF, tags), line
 * and paragraph separators, and lone surrogates.
 */
const UNSAFE_IN_OUTPUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/gu
/** The same plus the tab and the line feed: what a value embedded in a message may not carry raw. */
const UNSAFE_IN_VALUE = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/gu

const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' }

/**
 * `\n`, `\r`, `\t`, else `\uXXXX` (a surrogate pair beyond the BMP): visible, and valid JSON
 * escapes, so JSON output that goes through neutraliseOutput still parses to the same data.
 */
export function escapeChar(char: string): string {
  const named = NAMED[char]
  if (named !== undefined) return named
  let escaped = ''
  for (let i = 0; i < char.length; i++) escaped += `\\u${char.charCodeAt(i).toString(16).padStart(4, '0')}`
  return escaped
}

/** Whether `text` holds a character escapeText would escape. */
export function hasUnsafeText(text: string): boolean {
  UNSAFE_IN_VALUE.lastIndex = 0
  return UNSAFE_IN_VALUE.test(text)
}

/** A value for the inside of a message: every control and format character escaped visibly. */
export function escapeText(value: string): string {
  return value.replace(UNSAFE_IN_VALUE, escapeChar)
}

/**
 * A value quoted for a message, as `"…"`: control and format characters escaped, `"` and `\`
 * escaped as in JSON, long values shortened (the full value is in the file the message names).
 */
export function quoteText(value: string, max = 70): string {
  const short = [...value].length > max ? `${[...value].slice(0, max - 6).join('')}…` : value
  return `"${escapeText(short.replace(/[\\"]/g, (c) => `\\${c}`))}"`
}

/**
 * Output text (one or more lines) made safe for a runner's log: unsafe characters escaped, every
 * line that would start a workflow command (`::` after leading whitespace) gets a `\` in front of
 * the colons, and every legacy `##[` becomes `##\u005b`. Text without any of these is returned as
 * is. JSON stays valid and means the same: its strings only gain `\uXXXX` escapes (and no line of
 * JSON starts with `::`).
 */
export function neutraliseOutput(text: string): string {
  let safe = text.replace(UNSAFE_IN_OUTPUT, escapeChar)
  if (safe.includes('##[')) safe = safe.replace(/##\[/g, '##\\u005b')
  if (safe.includes('::')) safe = safe.replace(/^(\s*)::/gm, '$1\\::')
  return safe
}

/**
 * A message that is one line by design (progress, info, warnings): as neutraliseOutput, and a line
 * break inside it (from a label, a file name, a tool's output) shows as `\n` instead of starting
 * a new line.
 */
export function neutraliseLine(text: string): string {
  return neutraliseOutput(text.includes('\n') ? text.replace(/\n/g, '\\n') : text)
}
