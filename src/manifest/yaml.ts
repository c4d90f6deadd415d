// YAML manifests: a sequence of mappings, or a mapping with a `devices` sequence. Rows are read
// straight from the document's nodes so every row and field keeps its line.
//
// Memory: the yaml library needs several KiB per row for its syntax tree (100,000 rows: ~650 MiB,
// far past the 256 MiB budget). Plain block-style manifests, the usual shape, are therefore parsed
// a slice of items at a time; anything unusual (anchors, aliases, tags, flow style, several
// documents) is parsed whole, which is exact and fine at the sizes people write such files by hand.
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type YAMLMap } from 'yaml'
import type { DeviceCollector } from './rows.js'
import { valueText } from './json.js'

type Empty = { line: number; message: string }
const NO_DEVICES = 'the manifest lists no devices'
// `merge` lets a fleet share fields through `<<: *defaults`.
const OPTIONS = { merge: true, uniqueKeys: true, prettyErrors: true } as const

/**
 * Deeper nesting than any manifest needs. The yaml parser recurses per level: thousands of levels
 * overflow its stack, and on Node 20 a second parse of such text can abort the whole process
 * (V8 "RegExpCompiler Allocation failed"), which no try can catch. So depth is checked first.
 */
const MAX_NESTING = 64

/** Reads devices from YAML text. The options exist for tests: slice size, or no slicing at all. */
export function readYaml(text: string, rows: DeviceCollector, options: { itemsPerSlice?: number; slice?: boolean } = {}): Empty {
  const deep = tooDeep(text)
  if (deep !== undefined) {
    rows.problem(deep, `the YAML nests more than ${MAX_NESTING} levels deep here; a device manifest needs two (a list of mappings)`)
    return { line: deep, message: NO_DEVICES }
  }
  const plan = options.slice === false ? undefined : planSlices(text)
  return plan === undefined ? readWhole(text, rows) : readSliced(text, plan, rows, options.itemsPerSlice ?? 1000)
}

/**
 * First line whose block nesting (indentation and "- " / "? " indicators) or flow nesting
 * ("[", "{" outside quotes) exceeds MAX_NESTING; undefined when none does.
 */
function tooDeep(text: string): number | undefined {
  let line = 1
  let flow = 0
  let quote: string | undefined
  let atLineStart = true
  let indent = 0
  let indicators = 0
  // Where a "[" or "{" opens a flow collection rather than sitting inside plain text ("x[1]").
  let valueStart = true
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string
    if (c === '\n') {
      line++
      atLineStart = true
      indent = 0
      indicators = 0
      valueStart = true
      continue
    }
    if (atLineStart) {
      if (c === ' ') {
        // Indentation alone nests one level per extra space at most; a manifest needs few.
        if (++indent > MAX_NESTING * 16) return line
        continue
      }
      if ((c === '-' || c === '?') && (text[i + 1] === ' ' || text[i + 1] === '\t')) {
        if (++indicators > MAX_NESTING) return line
        i++
        continue
      }
      atLineStart = false
    }
    if (quote !== undefined) {
      if (c === quote) quote = undefined
      continue
    }
    if (c === ' ' || c === '\t') continue
    if (c === '#' && valueStart) {
      while (i + 1 < text.length && text[i + 1] !== '\n') i++
      continue
    }
    if ((c === '"' || c === "'") && valueStart) {
      quote = c
      valueStart = false
    } else if ((c === '[' || c === '{') && (valueStart || flow > 0)) {
      if (++flow > MAX_NESTING) return line
      valueStart = true
    } else if ((c === ']' || c === '}') && flow > 0) {
      flow--
      valueStart = false
    } else if (c === ',' && flow > 0) valueStart = true
    else if (c === ':' && (text[i + 1] === ' ' || text[i + 1] === '\n' || text[i + 1] === undefined || flow > 0)) valueStart = true
    else valueStart = false
  }
  return undefined
}

function readWhole(text: string, rows: DeviceCollector): Empty {
  const counter = new LineCounter()
  const lineAt = (node: Node | null | undefined): number => (node?.range ? counter.linePos(node.range[0]).line : 1)
  const doc = parseDocument(text, { ...OPTIONS, lineCounter: counter })
  if (reportErrors(doc, rows, 0)) return { line: 1, message: NO_DEVICES }

  const root = doc.contents
  let list: Node | null | undefined = root
  if (isMap(root)) {
    const pair = root.items.find((p) => isScalar(p.key) && p.key.value === 'devices')
    if (pair === undefined) {
      const hint = root.items.some((p) => isScalar(p.key) && p.key.value === 'serial') ? ' (this looks like one device: make it a list item with "- ")' : ''
      rows.problem(lineAt(root), `expected a list of devices or a mapping with a "devices" list${hint}`)
      return { line: 1, message: NO_DEVICES }
    }
    list = resolve(pair.value as Node | null, doc)
    if (list === null || list === undefined || (isScalar(list) && list.value === null)) {
      return { line: lineAt(pair.key as Node), message: NO_DEVICES }
    }
  }
  if (root === null || (isScalar(root) && root.value === null)) return { line: 1, message: `the manifest is empty; ${NO_DEVICES}` }
  if (!isSeq(list)) {
    rows.problem(lineAt(list), `expected a list of devices (a YAML sequence of mappings), found ${describe(list)}`)
    return { line: lineAt(list), message: NO_DEVICES }
  }
  readItems(list.items as Array<Node | null>, doc, rows, lineAt)
  return { line: lineAt(list), message: NO_DEVICES }
}

/** Converts sequence items to rows, dropping each from the tree once read. */
function readItems(items: Array<Node | null>, doc: Document, rows: DeviceCollector, lineAt: (node: Node | null | undefined) => number): void {
  for (let index = 0; index < items.length; index++) {
    const written = items[index] ?? null
    const item = resolve(written, doc)
    const line = lineAt(written)
    if (!isMap(item)) {
      rows.problem(line, `a device must be a mapping like "serial: ...", found ${describe(item)}`)
      continue
    }
    rows.row(line, mapEntries(item, doc, rows, lineAt, new Set(), new Map()))
    items[index] = null
  }
}

/** Adds the document's parse errors (lines shifted by `lineShift`); true if there were any. */
function reportErrors(doc: Document, rows: DeviceCollector, lineShift: number): boolean {
  for (const error of doc.errors) {
    const line = (error.linePos?.[0].line ?? 1) + lineShift
    const message = error.message.split('\n')[0]?.replace(/ at line \d+, column \d+:?$/, '') ?? error.message
    rows.problem(line, `not valid YAML: ${message}`)
  }
  return doc.errors.length > 0
}

// ---- slicing large block-style files ------------------------------------------------------------

interface SlicePlan {
  /** Offsets where the device items start (a "-" at the list's indentation), and their lines. */
  starts: number[]
  lines: number[]
  /** End of the last item. */
  end: number
  /** For `devices:` under a mapping: the file with the items blanked out (same line numbers). */
  skeleton?: string
}

/**
 * Where the items of a block-style device list are, or undefined when the file needs a whole
 * parse. In valid YAML a "-" at the list's own indentation always starts a new item: block
 * scalars, multi-line plain/quoted scalars and flow collections inside an item must be indented
 * further, so cutting there never splits a value.
 */
function planSlices(text: string): SlicePlan | undefined {
  // Anchors/aliases/tags can reach across items; directives and document markers change the parse.
  if (/(?:^|[\s,[{])[&*!][^\s,\]}]/m.test(text) || /^(?:---|\.\.\.|%)/m.test(text)) return undefined
  const starts: number[] = []
  const lines: number[] = []
  let state: 'before' | 'devices' | 'items' | 'after' = 'before'
  let wrapped = false
  let indentOfItems = 0
  let end = text.length
  let pos = 0
  for (let line = 1; pos < text.length; line++) {
    const nl = text.indexOf('\n', pos)
    const lineEnd = nl === -1 ? text.length : nl
    let i = pos
    while (text.charCodeAt(i) === 0x20) i++
    const indent = i - pos
    const c = text[i]
    const blank = i >= lineEnd || c === '#' || (c === '\r' && i + 1 >= lineEnd)
    if (!blank) {
      const next = text[i + 1]
      const dash = c === '-' && (i + 1 >= lineEnd || next === ' ' || next === '\t' || next === '\r')
      if (state === 'items') {
        if (dash && indent === indentOfItems) {
          starts.push(pos)
          lines.push(line)
        } else if (indent <= indentOfItems) {
          if (!wrapped) return undefined
          state = 'after'
          end = pos
        }
      } else if (state === 'devices') {
        if (!dash) return undefined
        state = 'items'
        indentOfItems = indent
        starts.push(pos)
        lines.push(line)
      } else if (state === 'before' && indent === 0) {
        if (dash && !wrapped && starts.length === 0 && pos === firstContent(text)) {
          state = 'items'
          starts.push(pos)
          lines.push(line)
        } else if (dash) return undefined
        else {
          wrapped = true
          if (/^devices:[ \t]*(?:#.*)?\r?$/.test(text.slice(pos, lineEnd))) state = 'devices'
        }
      }
    }
    pos = lineEnd + 1
  }
  if (starts.length === 0) return undefined
  const plan: SlicePlan = { starts, lines, end }
  if (wrapped) {
    const first = starts[0] ?? 0
    plan.skeleton = text.slice(0, first) + text.slice(first, end).replace(/[^\n]+/g, '') + text.slice(end)
  }
  return plan
}

function firstContent(text: string): number {
  const match = /^[ \t]*(?:#[^\n]*)?\r?(?:\n|$)/my
  let pos = 0
  for (;;) {
    match.lastIndex = pos
    const m = match.exec(text)
    if (m === null || m[0] === '') return pos
    pos += m[0].length
  }
}

function readSliced(text: string, plan: SlicePlan, rows: DeviceCollector, itemsPerSlice: number): Empty {
  const firstLine = plan.lines[0] ?? 1
  if (plan.skeleton !== undefined) {
    // The rest of the mapping (other keys, a duplicate `devices`) is checked on its own.
    const doc = parseDocument(plan.skeleton, OPTIONS)
    if (reportErrors(doc, rows, 0)) return { line: 1, message: NO_DEVICES }
    const devices = isMap(doc.contents) ? doc.contents.get('devices', true) : undefined
    if (devices !== null && !(isScalar(devices) && devices.value === null)) return readWhole(text, rows)
  }
  for (let k = 0; k < plan.starts.length; k += itemsPerSlice) {
    const from = plan.starts[k] ?? 0
    const to = plan.starts[k + itemsPerSlice] ?? plan.end
    const shift = (plan.lines[k] ?? 1) - 1
    const counter = new LineCounter()
    const lineAt = (node: Node | null | undefined): number => (node?.range ? counter.linePos(node.range[0]).line : 1) + shift
    const doc = parseDocument(text.slice(from, to), { ...OPTIONS, lineCounter: counter })
    const list = doc.contents
    if (doc.errors.length > 0 || !isSeq(list)) {
      // A broken file: report exactly what a whole parse reports (memory matters less here).
      rows.reset()
      return readWhole(text, rows)
    }
    readItems(list.items as Array<Node | null>, doc, rows, lineAt)
  }
  return { line: firstLine, message: NO_DEVICES }
}

function mapEntries(
  map: YAMLMap,
  doc: Document,
  rows: DeviceCollector,
  lineAt: (node: Node | null | undefined) => number,
  visiting: Set<YAMLMap>,
  // Each merged mapping is flattened once: "<<: [*a, *a]" chains would otherwise cost 2^depth.
  flattened: Map<YAMLMap, Array<[string, string]>>
): Array<[string, string]> {
  const done = flattened.get(map)
  if (done) return done
  const entries: Array<[string, string]> = []
  const merged: Array<[string, string]> = []
  visiting.add(map)
  for (const pair of map.items) {
    const keyNode = pair.key as Node | null
    const valueNode = resolve(pair.value as Node | null, doc)
    const line = lineAt(keyNode)
    if (isScalar(keyNode) && typeof keyNode.value === 'symbol') {
      // `<<: *defaults` or `<<: [*a, *b]`: fields written in the row itself win.
      const sources = isSeq(valueNode) ? valueNode.items.map((n) => resolve(n as Node | null, doc)) : [valueNode]
      for (const source of sources) {
        if (isMap(source) && !visiting.has(source)) merged.push(...mapEntries(source, doc, rows, lineAt, visiting, flattened))
        else rows.problem(line, 'a "<<" merge needs a mapping (or a list of mappings) to merge')
      }
      continue
    }
    if (!isScalar(keyNode) || keyNode.value === null || typeof keyNode.value === 'object') {
      rows.problem(line, 'field names must be plain text')
      continue
    }
    const key = typeof keyNode.value === 'string' ? keyNode.value : (keyNode.source ?? String(keyNode.value))
    if (valueNode === undefined && pair.value !== null && isAlias(pair.value)) {
      rows.problem(line, `field "${key}" refers to an anchor (*${pair.value.source}) that is not defined`)
      continue
    }
    if (isMap(valueNode) || isSeq(valueNode)) {
      rows.problem(line, `field "${key}" is ${isSeq(valueNode) ? 'a list' : 'a mapping'}; values must be text, numbers or booleans`)
      continue
    }
    const value: unknown = isScalar(valueNode) ? valueNode.value : null
    if (isScalar(valueNode) && (typeof value === 'number' || typeof value === 'boolean')) {
      // As written: `serial: 00123` stays "00123", `1.50` stays "1.50".
      entries.push([key, (valueNode.source ?? String(value)).trim()])
      continue
    }
    const text = valueText(value)
    if (typeof text === 'string') entries.push([key, text])
    else rows.problem(line, `field "${key}" ${text.problem}`)
  }
  visiting.delete(map)
  // Own fields win over merged ones; among merged mappings the first wins (YAML merge rules).
  const seen = new Set(entries.map(([key]) => key))
  for (const [key, value] of merged) {
    if (seen.has(key)) continue
    seen.add(key)
    entries.push([key, value])
  }
  flattened.set(map, entries)
  return entries
}

function resolve(node: Node | null | undefined, doc: Document): Node | null | undefined {
  return isAlias(node) ? (node.resolve(doc) as Node | undefined) : node
}

function describe(node: Node | null | undefined): string {
  if (node === null || node === undefined) return 'nothing'
  if (isMap(node)) return 'a mapping'
  if (isSeq(node)) return 'a list'
  if (isScalar(node)) return node.value === null ? 'an empty value' : `the value ${JSON.stringify(String(node.value))}`
  return 'an unsupported node'
}
