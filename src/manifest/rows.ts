// Turns rows (already text, from any format) into validated devices. One place for the rules so
// CSV, JSON, JSONL and YAML accept exactly the same things.
import path from 'node:path'
import { ManifestError } from '../errors.js'
import type { Device } from './types.js'
import { DeviceListBuilder, RowIndex, type DeviceList } from './list.js'
import { Problems, show } from './problems.js'

/** Field names that mean the device ID; the first is canonical. */
export const DEVICE_ID_KEYS = ['device-id', 'device_id', 'deviceId'] as const
export const MAX_NAME_LENGTH = 64

// The serial names output files and artifact entries: keep it to characters every file system
// and `actions/upload-artifact` accept. The device ID is a certificate CN, so `:` (MAC-style) is fine.
const SERIAL_CHARS = /^[A-Za-z0-9._-]*$/
const DEVICE_ID_CHARS = /^[A-Za-z0-9._:-]*$/

/** Why `value` is not a usable serial / device ID, or undefined when it is. */
export function nameProblem(what: 'serial' | 'device-id', value: string): string | undefined {
  const chars = what === 'serial' ? SERIAL_CHARS : DEVICE_ID_CHARS
  const allowed = what === 'serial' ? 'A-Z a-z 0-9 . _ -' : 'A-Z a-z 0-9 . _ - :'
  const why = what === 'serial' ? 'it names the output files' : 'it becomes the certificate CN'
  if (value === '') return `${what} is empty`
  if (!chars.test(value)) {
    const bad = [...new Set([...value].filter((c) => !chars.test(c)))].slice(0, 5)
    const listed = bad.map((c) => (c === ' ' ? 'space' : JSON.stringify(c))).join(', ')
    return `${what} ${show(value)} contains ${listed}; only ${allowed} are allowed (${why})`
  }
  if (value.startsWith('.')) return `${what} ${show(value)} must not start with "." (${why})`
  if (value.length > MAX_NAME_LENGTH) {
    return `${what} ${show(value)} is ${value.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`
  }
  return undefined
}

export class DeviceCollector {
  readonly problems: Problems
  private readonly manifestDir: string
  // Every row that reached the uniqueness checks, column by column (a rejected one too: it still
  // names lines in later messages, and any problem stops the manifest anyway).
  private rows: DeviceListBuilder
  // Serials that differ only in case would overwrite each other's output files on macOS and
  // Windows (and in artifact zips extracted there), so they count as duplicates: the accepted
  // serials are indexed case-folded (an exact duplicate is the folded match that is equal).
  private serialRows!: RowIndex
  private deviceIdRows!: RowIndex

  constructor(readonly file: string) {
    this.problems = new Problems(file)
    this.manifestDir = path.dirname(path.resolve(file))
    this.rows = new DeviceListBuilder(file)
    this.indexes()
  }

  private indexes(): void {
    const rows = this.rows
    this.serialRows = new RowIndex((row) => rows.serial(row), true)
    this.deviceIdRows = new RowIndex((row) => rows.deviceId(row))
  }

  /** Forgets every row and problem (a reader starting over a different way). */
  reset(): void {
    this.problems.clear()
    this.rows.clear()
    this.indexes()
  }

  problem(line: number, message: string): void {
    this.problems.add(line, message)
  }

  /** One manifest row: its fields as written (names and text values), and its line. */
  row(line: number, entries: ReadonlyArray<readonly [string, string]>): void {
    const before = this.problems.size
    const fields: Record<string, string> = {}
    let deviceIdKey: string | undefined
    for (const [key, value] of entries) {
      if (key === '') {
        if (value !== '') this.problem(line, `value ${show(value)} has no field name`)
        continue
      }
      if (key === '__proto__') {
        this.problem(line, 'field name "__proto__" is not allowed')
        continue
      }
      if ((DEVICE_ID_KEYS as readonly string[]).includes(key)) {
        const previous = deviceIdKey === undefined ? undefined : fields[deviceIdKey]
        if (previous !== undefined && previous !== '' && value !== '' && previous !== value) {
          this.problem(line, `${deviceIdKey} ${show(previous)} and ${key} ${show(value)} disagree; they are the same field, give one`)
        }
        if (deviceIdKey === undefined || previous === '') deviceIdKey = key
      }
      fields[key] = value
    }

    const serial = fields.serial
    if (serial === undefined) {
      const near = Object.keys(fields).find((key) => key.toLowerCase().replace(/[\s_-]/g, '') === 'serial')
      const hint = near === undefined ? '' : ` (found ${show(near)}; field names are case-sensitive)`
      this.problem(line, `no "serial" field; every device needs one${hint}`)
    } else {
      const bad = nameProblem('serial', serial)
      if (bad !== undefined) this.problem(line, bad)
    }

    // An empty device-id cell means "not given", so a CSV column can be filled for some rows only.
    const givenId = deviceIdKey === undefined ? '' : (fields[deviceIdKey] ?? '')
    const deviceId = givenId === '' ? (serial ?? '') : givenId
    if (givenId !== '') {
      const bad = nameProblem('device-id', givenId)
      if (bad !== undefined) this.problem(line, bad)
    }
    // Templates read `{device-id}`, so the canonical key always holds the effective ID.
    fields['device-id'] = deviceId

    const csrText = fields.csr ?? ''
    if (csrText.includes('\0')) this.problem(line, 'csr path contains a NUL character')

    if (this.problems.size !== before || serial === undefined) return
    const row = this.rows.add(serial, deviceId, line, fields, csrText === '' ? undefined : path.resolve(this.manifestDir, csrText))
    this.unique(row, line, serial, deviceId)
  }

  private unique(row: number, line: number, serial: string, deviceId: string): void {
    const rows = this.rows
    // Serials are checked to be ASCII by now: folding A-Z is all toLowerCase would do.
    const match = this.serialRows.find(serial)
    const seen = match !== -1 && rows.serial(match) === serial ? match : -1
    const folded = seen === -1 ? match : -1
    if (seen !== -1) {
      this.problem(line, `duplicate serial ${show(serial)} on lines ${rows.line(seen)} and ${line}; serials must be unique`)
    } else if (folded !== -1) {
      this.problem(
        line,
        `serial ${show(serial)} (line ${line}) and serial ${show(rows.serial(folded))} (line ${rows.line(folded)}) differ only in case; ` +
          'their output files would collide on case-insensitive file systems, make them unique'
      )
    } else {
      this.serialRows.add(row)
    }
    const seenId = this.deviceIdRows.find(deviceId)
    // A repeated serial whose ID is the serial itself would only repeat the same complaint.
    if (seenId !== -1 && !(seen !== -1 && deviceId === serial)) {
      this.problem(line, `duplicate device-id ${show(deviceId)} on lines ${rows.line(seenId)} and ${line}; device IDs must be unique`)
    } else if (seenId === -1) {
      this.deviceIdRows.add(row)
    }
  }

  /**
   * All devices, or the problems as one ManifestError. `empty` says where and how to report a
   * manifest that parsed but lists no device.
   */
  finish(empty: { line: number; message: string }): Device[] {
    return this.finishList(empty).toArray()
  }

  /** As `finish`, the devices held compactly (a bake's 100,000 cost a few megabytes). */
  finishList(empty: { line: number; message: string }): DeviceList {
    this.problems.throwIfAny()
    if (this.rows.length === 0) {
      throw new ManifestError(`${this.file}:${empty.line}: ${empty.message} (input "manifest")`, { file: this.file, line: empty.line })
    }
    // Without problems every row is a device, each serial in the index once.
    return this.rows.finish().withIndex(this.serialRows)
  }
}
