// JSON and JSONL manifests. JSON.parse does the parsing; a small scanner over the (then known to
// be valid) text finds where each device object starts, because JSON.parse keeps no positions.
import type { DeviceCollector } from './rows.js'
import { LineIndex } from './lines.js'

type Empty = { line: number; message: string }
const NO_DEVICES = 'the manifest lists no devices'

export function readJson(text: string, rows: DeviceCollector): Empty {
  const lines = new LineIndex(text)
  if (text.trim() === '') return { line: 1, message: `the manifest is empty; ${NO_DEVICES}` }
  let root: unknown
  try {
    root = JSON.parse(text)
  } catch (error) {
    const { line, message } = describeJsonError(text, error, lines)
    rows.problem(line, `not valid JSON: ${message}`)
    return { line, message: NO_DEVICES }
  }

  const start = skipWs(text, 0)
  let list: unknown[]
  let listAt: number
  if (Array.isArray(root)) {
    list = root
    listAt = start
  } else if (isObject(root) && Object.hasOwn(root, 'devices')) {
    // JSON.parse keeps the last of duplicate keys; so does the scanner.
    const member = objectMembers(text, start)
      .filter((m) => m.key === 'devices')
      .pop()
    listAt = member?.valueAt ?? start
    const devices = root.devices
    if (!Array.isArray(devices)) {
      const line = lines.lineOf(listAt)
      rows.problem(line, `"devices" must be an array of device objects, not ${kind(devices)}`)
      return { line, message: NO_DEVICES }
    }
    list = devices
  } else {
    const hint = isObject(root) && Object.hasOwn(root, 'serial') ? ' (this looks like one device: put it in [ ])' : ''
    const line = lines.lineOf(start)
    rows.problem(line, `expected a JSON array of device objects or an object with a "devices" array, found ${kind(root)}${hint}`)
    return { line, message: NO_DEVICES }
  }

  const starts = arrayElements(text, listAt)
  list.forEach((item, index) => {
    const at = starts[index] ?? listAt
    const line = lines.lineOf(at)
    addJsonRow(item, line, rows, (key) => {
      // Only on errors: find the line of the field inside a multi-line object.
      const member = objectMembers(text, at)
        .filter((m) => m.key === key)
        .pop()
      return member === undefined ? line : new LineIndex(text).lineOf(member.keyAt)
    })
  })
  return { line: lines.lineOf(listAt), message: NO_DEVICES }
}

export function readJsonl(text: string, rows: DeviceCollector): Empty {
  let lastContent = 1
  text.split('\n').forEach((raw, index) => {
    const line = index + 1
    if (raw.trim() === '') return
    lastContent = line
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch (error) {
      rows.problem(line, `not valid JSON: ${describeJsonError(raw, error, new LineIndex(raw)).message}`)
      return
    }
    addJsonRow(value, line, rows, () => line)
  })
  return { line: lastContent, message: `${NO_DEVICES} (JSON Lines: one device object per line)` }
}

function addJsonRow(item: unknown, line: number, rows: DeviceCollector, fieldLine: (key: string) => number): void {
  if (!isObject(item)) {
    rows.problem(line, `a device must be an object like {"serial": "..."}, found ${kind(item)}`)
    return
  }
  const entries: Array<[string, string]> = []
  for (const [key, value] of Object.entries(item)) {
    const text = valueText(value)
    if (typeof text === 'string') entries.push([key, text])
    else rows.problem(fieldLine(key), `field ${JSON.stringify(key)} ${text.problem}`)
  }
  rows.row(line, entries)
}

/**
 * A JSON/YAML value as manifest text, or why it cannot be one. Strings are taken as written (not
 * trimmed): the rules on values refuse white space at the ends where it would mislead.
 */
export function valueText(value: unknown): string | { problem: string } {
  if (typeof value === 'string') return value
  if (value === null || value === undefined) return ''
  if (typeof value === 'boolean' || typeof value === 'bigint') return String(value)
  if (typeof value === 'number') {
    // 12345678901234567890 parses as 12345678901234567000: refuse rather than bake the wrong serial.
    if (Number.isInteger(value) && !Number.isSafeInteger(value)) {
      return { problem: `is a number too large to keep every digit (${value}); write it as a string` }
    }
    return String(value)
  }
  return { problem: `is ${kind(value)}; values must be text, numbers or booleans` }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function kind(value: unknown): string {
  if (Array.isArray(value)) return 'a list'
  if (value === null) return 'null'
  if (typeof value === 'object') return 'an object'
  return `a ${typeof value}`
}

// ---- error position -------------------------------------------------------------------------

/**
 * Line (and a cleaned-up message) of a JSON.parse error. Node 22+ says "(line X column Y)",
 * Node 20 only "at position N", and both say nothing for "Unexpected token 'x', ..." — then our
 * own validator finds the offset.
 */
export function describeJsonError(text: string, error: unknown, lines: LineIndex): { line: number; message: string } {
  const raw = error instanceof Error ? error.message : String(error)
  const base = raw.replace(/ in JSON at position \d+.*$/s, '').replace(/, (?:\.\.\.)?".*"(?:\.\.\.)? is not valid JSON$/s, '')
  const lineCol = /\(line (\d+) column (\d+)\)/.exec(raw)
  const position = /at position (\d+)/.exec(raw)
  let offset = lineCol ? offsetOf(text, Number(lineCol[1]), Number(lineCol[2])) : position ? Number(position[1]) : jsonSyntaxErrorOffset(text)
  if (offset < 0) offset = 0
  // "Unexpected end" belongs to the last line with content, not to trailing blank lines.
  if (text.trim() === '') return { line: 1, message: 'the file is empty' }
  if (offset >= text.trimEnd().length) return { line: lines.lastContentLine(), message: base }
  const column = offset - text.lastIndexOf('\n', offset - 1)
  return { line: lines.lineOf(offset), message: `${base} (column ${column})` }
}

function offsetOf(text: string, line: number, column: number): number {
  let start = 0
  for (let k = 1; k < line && start !== -1; k++) {
    start = text.indexOf('\n', start)
    if (start !== -1) start++
  }
  return start === -1 ? text.length : start + column - 1
}

/**
 * Offset of the first syntax error in `text` (text.length when it ends too early), or -1 when it
 * is valid JSON. Iterative, so deeply nested input cannot overflow the stack.
 */
export function jsonSyntaxErrorOffset(text: string): number {
  const n = text.length
  const stack: Array<'[' | '{'> = []
  let expect: 'value' | 'valueOrClose' | 'key' | 'keyOrClose' | 'colon' | 'after' = 'value'
  let i = 0
  for (;;) {
    i = skipWs(text, i)
    if (expect === 'after' && stack.length === 0) return i === n ? -1 : i
    if (i >= n) return n
    const c = text[i]
    switch (expect) {
      case 'after': {
        const top = stack[stack.length - 1]
        if (c === ',') {
          expect = top === '[' ? 'value' : 'key'
          i++
        } else if ((c === ']' && top === '[') || (c === '}' && top === '{')) {
          stack.pop()
          i++
        } else return i
        continue
      }
      case 'colon':
        if (c !== ':') return i
        i++
        expect = 'value'
        continue
      case 'key':
      case 'keyOrClose': {
        if (c === '}' && expect === 'keyOrClose') {
          stack.pop()
          i++
          expect = 'after'
          continue
        }
        if (c !== '"') return i
        const end = scanString(text, i)
        if (end < 0) return ~end
        i = end
        expect = 'colon'
        continue
      }
      default: {
        if (c === ']' && expect === 'valueOrClose') {
          stack.pop()
          i++
          expect = 'after'
          continue
        }
        if (c === '[' || c === '{') {
          stack.push(c)
          i++
          expect = c === '[' ? 'valueOrClose' : 'keyOrClose'
          continue
        }
        let end: number
        if (c === '"') end = scanString(text, i)
        else if (text.startsWith('true', i)) end = i + 4
        else if (text.startsWith('false', i)) end = i + 5
        else if (text.startsWith('null', i)) end = i + 4
        else {
          NUMBER.lastIndex = i
          const m = NUMBER.exec(text)
          end = m ? i + m[0].length : ~i
        }
        if (end < 0) return ~end
        i = end
        expect = 'after'
      }
    }
  }
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y

/** End of the string starting at `i` (just past its closing quote), or ~offset of the error. */
function scanString(text: string, i: number): number {
  const n = text.length
  let j = i + 1
  while (j < n) {
    const c = text.charCodeAt(j)
    if (c === 0x22) return j + 1
    if (c < 0x20) return ~j
    if (c === 0x5c) {
      const e = text[j + 1]
      if (e === 'u') {
        if (!/^[0-9a-fA-F]{4}$/.test(text.slice(j + 2, j + 6))) return ~j
        j += 6
      } else if (e !== undefined && '"\\/bfnrt'.includes(e)) j += 2
      else return ~j
      continue
    }
    j++
  }
  return ~n
}

// ---- positions in valid JSON ------------------------------------------------------------------

function skipWs(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i)
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++
    else return i
  }
}

/** End of the (valid) value starting at `i`. */
function skipValue(text: string, i: number): number {
  const c = text[i]
  if (c === '"') return scanString(text, i)
  if (c === '[' || c === '{') {
    let depth = 0
    for (let j = i; j < text.length; j++) {
      const ch = text[j]
      if (ch === '"') j = scanString(text, j) - 1
      else if (ch === '[' || ch === '{') depth++
      else if (ch === ']' || ch === '}') {
        depth--
        if (depth === 0) return j + 1
      }
    }
    return text.length
  }
  let j = i
  while (j < text.length && !',]} \t\r\n'.includes(text[j] ?? '')) j++
  return j
}

/** Offsets where the elements of the (valid) array at `i` start. */
function arrayElements(text: string, i: number): number[] {
  const starts: number[] = []
  if (text[i] !== '[') return starts
  i = skipWs(text, i + 1)
  if (text[i] === ']') return starts
  for (;;) {
    starts.push(i)
    i = skipWs(text, skipValue(text, i))
    if (text[i] !== ',') return starts
    i = skipWs(text, i + 1)
  }
}

/** Members of the (valid) object at `i`: decoded key, where the key and the value start. */
function objectMembers(text: string, i: number): Array<{ key: string; keyAt: number; valueAt: number }> {
  const members: Array<{ key: string; keyAt: number; valueAt: number }> = []
  if (text[i] !== '{') return members
  i = skipWs(text, i + 1)
  while (text[i] === '"') {
    const keyEnd = scanString(text, i)
    const key = JSON.parse(text.slice(i, keyEnd)) as string
    const valueAt = skipWs(text, skipWs(text, keyEnd) + 1)
    members.push({ key, keyAt: i, valueAt })
    i = skipWs(text, skipValue(text, valueAt))
    if (text[i] !== ',') break
    i = skipWs(text, i + 1)
  }
  return members
}
