// Turns rows (already text, from any format) into validated devices. One place for the rules so
// CSV, JSON, JSONL and YAML accept exactly the same things.
import path from 'node:path'
import { ManifestError } from '../errors.js'
import { escapeText } from '../util/log-text.js'
import { edgeSpaceOf, misleadingCharIn } from '../util/text-class.js'
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

/**
 * What the rows of one manifest may hold in all, field names and values counted after YAML
 * aliases and merges are expanded (docs/input-limits.md). 100,000 devices of 40 fields with 600
 * characters each stay inside; a few KB of YAML that merges a large mapping into every row, or a
 * CSV whose long header is repeated into every row, do not.
 */
export const DEVICE_DATA_LIMITS = { fields: 4_000_000, characters: 64 * 1024 * 1024 } as const

/**
 * Names Windows reserves for devices, whatever the extension: `NUL.tar.gz` cannot be extracted
 * there (where artifacts are often opened). COM¹²³/LPT¹²³ are reserved too, but the serial
 * character set (ASCII) already excludes them.
 */
const WINDOWS_RESERVED = /^(?:CON|PRN|AUX|NUL|COM[0-9]|LPT[0-9])(?:\.|$)/i

/** Why `value` is not a usable serial / device ID, or undefined when it is. */
export function nameProblem(what: 'serial' | 'device-id', value: string): string | undefined {
  const chars = what === 'serial' ? SERIAL_CHARS : DEVICE_ID_CHARS
  const allowed = what === 'serial' ? 'A-Z a-z 0-9 . _ -' : 'A-Z a-z 0-9 . _ - :'
  const why = what === 'serial' ? 'it names the output files' : 'it becomes the certificate CN'
  if (value === '') return `${what} is empty`
  const edge = edgeSpaceOf(value)
  if (edge !== undefined) return `${what} ${show(value)} has ${edge} white space; values are taken as written, not trimmed: remove it`
  if (!chars.test(value)) {
    const bad = [...new Set([...value].filter((c) => !chars.test(c)))].slice(0, 5)
    const listed = bad.map((c) => (c === ' ' ? 'space' : JSON.stringify(c))).join(', ')
    return `${what} ${show(value)} contains ${listed}; only ${allowed} are allowed (${why})`
  }
  if (value.startsWith('.')) return `${what} ${show(value)} must not start with "." (${why})`
  if (value.length > MAX_NAME_LENGTH) {
    return `${what} ${show(value)} is ${value.length} characters long; at most ${MAX_NAME_LENGTH} are allowed`
  }
  if (what === 'serial' && WINDOWS_RESERVED.test(value)) {
    const stem = value.split('.')[0] ?? value
    return `serial ${show(value)} is a device name Windows reserves (${stem.toUpperCase()}); its output files could not be extracted there, choose another serial`
  }
  return undefined
}

/**
 * Why a value a subject or SAN template uses (or the csr path) is text a reviewer could misread,
 * or undefined: control and format characters are refused, and so is white space at either end
 * (values are taken as written, never trimmed, and such a space is invisible in a review).
 */
export function textProblem(what: string, value: string, use: string): string | undefined {
  const hidden = misleadingCharIn(value)
  if (hidden !== undefined) return `${what} ${show(value)} contains ${hidden}; ${use}, so it must be plain visible text`
  const edge = edgeSpaceOf(value)
  if (edge !== undefined) {
    return `${what} ${show(value)} has ${edge} white space; ${use}, and values are taken as written: remove the space (or fix the quoting)`
  }
  return undefined
}

export interface CollectorOptions {
  /** Fields a subject or SAN template uses: their values must pass textProblem. */
  textFields?: Iterable<string>
  /**
   * Fields a DNS name of the SAN template uses: a `*` in their values would make a wildcard
   * certificate, so it is refused here, before any device is issued.
   */
  dnsNameFields?: Iterable<string>
  /**
   * What registries asked for (the exports input) require of a device ID: a row that breaks one
   * is refused here, before any device is issued.
   */
  deviceIdRules?: readonly DeviceIdRule[]
}

/** A rule a device ID must meet for a registry (src/exports/registration.ts deviceIdRulesOf). */
export interface DeviceIdRule {
  /** The registry's name in the exports input, e.g. "azure-dps". */
  name: string
  /** Why `deviceId` breaks the rule, or null. */
  problem(deviceId: string): string | null
  /** When the registry compares IDs ignoring case: what it calls them (device IDs that differ only in case are refused). */
  ignoresCase?: string
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
  private readonly textFields: string[]
  private readonly dnsNameFields: string[]
  private readonly deviceIdRules: readonly DeviceIdRule[]
  /** With a rule that ignores case: the accepted device IDs, case-folded. */
  private foldedDeviceIdRows: RowIndex | undefined
  // What the rows hold so far, against DEVICE_DATA_LIMITS.
  private spentFields = 0
  private spentCharacters = 0
  /** Said once the manifest is read (the caller prints them): device IDs that differ only in case. */
  readonly warnings: string[] = []

  constructor(
    readonly file: string,
    options: CollectorOptions = {}
  ) {
    const names = new Set<string>(DEVICE_ID_KEYS)
    names.add('serial')
    // serial and device-id have their own, stricter character rules.
    this.textFields = [...new Set(options.textFields ?? [])].filter((field) => !names.has(field))
    this.dnsNameFields = [...new Set(options.dnsNameFields ?? [])]
    this.deviceIdRules = options.deviceIdRules ?? []
    this.problems = new Problems(file)
    this.manifestDir = path.dirname(path.resolve(file))
    this.rows = new DeviceListBuilder(file)
    this.indexes()
  }

  private indexes(): void {
    const rows = this.rows
    this.serialRows = new RowIndex((row) => rows.serial(row), true)
    this.deviceIdRows = new RowIndex((row) => rows.deviceId(row))
    this.foldedDeviceIdRows = this.deviceIdRules.some((rule) => rule.ignoresCase) ? new RowIndex((row) => rows.deviceId(row), true) : undefined
  }

  /** Forgets every row and problem (a reader starting over a different way). */
  reset(): void {
    this.problems.clear()
    this.rows.clear()
    this.indexes()
    this.spentFields = 0
    this.spentCharacters = 0
  }

  /**
   * Counts a row's fields against DEVICE_DATA_LIMITS; past them the manifest is refused at once
   * (reading on is what costs).
   */
  spend(line: number, entries: ReadonlyArray<readonly [string, string]>): void {
    this.spentFields += entries.length
    for (const [key, value] of entries) this.spentCharacters += key.length + value.length
    const { fields, characters } = DEVICE_DATA_LIMITS
    if (this.spentFields <= fields && this.spentCharacters <= characters) return
    const what =
      this.spentFields > fields
        ? `more than ${fields.toLocaleString('en-US')} fields`
        : `more than ${(characters / (1024 * 1024)).toLocaleString('en-US')} Mi characters of field names and values`
    throw new ManifestError(
      `${escapeText(this.file)}:${line}: the devices up to this row hold ${what}, the most a manifest may hold (counted after YAML aliases and merges are expanded, and with every CSV row repeating the header's names); see docs/input-limits.md (input "manifest")`,
      { file: this.file, line }
    )
  }

  problem(line: number, message: string): void {
    this.problems.add(line, message)
  }

  /** One manifest row: its fields as written (names and text values), and its line. */
  row(line: number, entries: ReadonlyArray<readonly [string, string]>): void {
    this.spend(line, entries)
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
    this.registryRules(line, deviceId)

    const csrText = fields.csr ?? ''
    if (csrText !== '') {
      const bad = textProblem('csr path', csrText, 'it names a file')
      if (bad !== undefined) this.problem(line, bad)
    }
    for (const key of this.textFields) {
      const value = fields[key]
      if (value === undefined) continue
      const bad = textProblem(`field ${show(key)}: value`, value, 'the subject or SAN uses this field')
      if (bad !== undefined) this.problem(line, bad)
    }

    for (const key of this.dnsNameFields) {
      const value = fields[key]
      if (value?.includes('*')) {
        this.problem(
          line,
          `field ${show(key)}: value ${show(value)} puts "*" into a DNS name of the san template: a wildcard certificate is valid for every name of its domain, ` +
            'and credbake does not let a manifest value make one. Fix the row, or write the wildcard in the san template itself if every device is meant to have it'
        )
      }
    }

    if (this.problems.size !== before || serial === undefined) return
    const row = this.rows.add(serial, deviceId, line, fields, csrText === '' ? undefined : path.resolve(this.manifestDir, csrText))
    this.unique(row, line, serial, deviceId)
  }

  /** The rules of the registries asked for (exports), each naming the input and the registry. */
  private registryRules(line: number, deviceId: string): void {
    if (deviceId === '' || nameProblem('device-id', deviceId) !== undefined) return // said already
    for (const rule of this.deviceIdRules) {
      const why = rule.problem(deviceId)
      if (why !== null) this.problem(line, `device-id ${show(deviceId)} cannot be registered with ${rule.name} (input "exports"): ${why}`)
    }
  }

  /** With a registry that ignores case: device IDs that differ only in case would be one entry there. */
  private uniqueIgnoringCase(row: number, line: number, deviceId: string): void {
    const folded = this.foldedDeviceIdRows
    if (!folded) return
    const match = folded.find(deviceId)
    if (match === -1) {
      folded.add(row)
      return
    }
    const rows = this.rows
    if (rows.deviceId(match) === deviceId) return // an exact duplicate: said already
    for (const rule of this.deviceIdRules) {
      if (!rule.ignoresCase) continue
      this.problem(
        line,
        `device-id ${show(deviceId)} (line ${line}) and ${show(rows.deviceId(match))} (line ${rows.line(match)}) differ only in case; ${rule.ignoresCase} ignore case, so ${rule.name} (input "exports") would take them for one device: make them unique`
      )
    }
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
      this.uniqueIgnoringCase(row, line, deviceId)
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
      throw new ManifestError(`${escapeText(this.file)}:${empty.line}: ${empty.message} (input "manifest")`, { file: this.file, line: empty.line })
    }
    this.warnCaseOnlyDeviceIds()
    // Without problems every row is a device, each serial in the index once.
    return this.rows.finish().withIndex(this.serialRows)
  }

  /**
   * Device IDs that differ only in case are distinct here and in the certificates, but registries
   * that compare IDs case-insensitively would take them for one device: one warning with a few
   * pairs and the count. (Serials that differ only in case are refused: they name files.)
   */
  private warnCaseOnlyDeviceIds(): void {
    const rows = this.rows
    if (!rows.hasOwnDeviceIds) return
    const folded = new RowIndex((row) => rows.deviceId(row), true)
    const pairs: string[] = []
    let count = 0
    for (let row = 0; row < rows.length; row++) {
      const match = folded.find(rows.deviceId(row))
      if (match === -1) {
        folded.add(row)
        continue
      }
      count++
      if (pairs.length < 3) pairs.push(`${show(rows.deviceId(match))} (line ${rows.line(match)}) and ${show(rows.deviceId(row))} (line ${rows.line(row)})`)
    }
    if (count === 0) return
    this.warnings.push(
      `${escapeText(this.file)}: ${count === 1 ? 'two device IDs differ' : `${count} device IDs differ from an earlier one`} only in case: ${pairs.join(', ')}${count > pairs.length ? ', …' : ''}. ` +
        'They are different devices here, but a registry that compares IDs case-insensitively would take them for one.'
    )
  }
}
