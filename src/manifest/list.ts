// The devices of a manifest, held compactly: a column per property instead of three objects per
// row (the Device, its fields and its source), so 100,000 devices cost a few megabytes of arrays
// and strings that live through the whole bake. A Device object is made on demand, for the few
// devices being issued at a time, and dropped with them.
import type { Device } from './types.js'

/** FNV-1a over the UTF-16 units, with A-Z folded to a-z when `fold`. */
function hashOf(text: string, fold: boolean): number {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    let unit = text.charCodeAt(i)
    if (fold && unit >= 0x41 && unit <= 0x5a) unit += 0x20
    hash = Math.imul(hash ^ unit, 0x01000193)
  }
  return hash | 0
}

/** Whether two strings are equal with A-Z and a-z taken as the same letters (and nothing else folded). */
function equalFolded(a: string, b: string): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    let x = a.charCodeAt(i)
    let y = b.charCodeAt(i)
    if (x === y) continue
    if (x >= 0x41 && x <= 0x5a) x += 0x20
    if (y >= 0x41 && y <= 0x5a) y += 0x20
    if (x !== y) return false
  }
  return true
}

/**
 * Row numbers by a string key the rows already hold (serial, device ID): an open-addressing table
 * of one Int32Array (row + 1; the keys are compared where the rows hold them) instead of a Map
 * holding a copy of every key. `fold`: keys that differ only in the case of A-Z are the same key.
 */
export class RowIndex {
  private rows = new Int32Array(1024)
  private used = 0

  constructor(
    private readonly keyOf: (row: number) => string,
    private readonly fold = false
  ) {}

  get size(): number {
    return this.used
  }

  /** The first row added under `key`, or -1. */
  find(key: string): number {
    const hash = hashOf(key, this.fold)
    const mask = this.rows.length - 1
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const row = this.rows[slot]! - 1
      if (row < 0) return -1
      if (this.same(this.keyOf(row), key)) return row
    }
  }

  /** Points the key `row` holds at `row` instead of the row it was added with; adds it if new. */
  replace(row: number): void {
    const key = this.keyOf(row)
    const mask = this.rows.length - 1
    for (let slot = hashOf(key, this.fold) & mask; ; slot = (slot + 1) & mask) {
      const held = this.rows[slot]! - 1
      if (held < 0) break
      if (this.same(this.keyOf(held), key)) {
        this.rows[slot] = row + 1
        return
      }
    }
    this.add(row)
  }

  /** Adds `row` under its key (the caller has checked that the key is new). */
  add(row: number): void {
    if ((this.used + 1) * 2 > this.rows.length) this.grow()
    this.place(row, hashOf(this.keyOf(row), this.fold))
    this.used++
  }

  private same(a: string, b: string): boolean {
    return this.fold ? equalFolded(a, b) : a === b
  }

  private place(row: number, hash: number): void {
    const mask = this.rows.length - 1
    let slot = hash & mask
    while (this.rows[slot] !== 0) slot = (slot + 1) & mask
    this.rows[slot] = row + 1
  }

  private grow(): void {
    const rows = this.rows
    this.rows = new Int32Array(rows.length * 2)
    for (let slot = 0; slot < rows.length; slot++) {
      const row = rows[slot]! - 1
      if (row >= 0) this.place(row, hashOf(this.keyOf(row), this.fold))
    }
  }
}

/**
 * The rows' columns. `fields` holds, per row, the JSON of its fields record only when it is not
 * just `{ serial, "device-id" }` (a manifest with no other column needs none).
 */
interface Columns {
  file: string
  serials: string[]
  /** Only once a device ID differs from its serial (until then every ID is the serial). */
  deviceIds?: string[]
  lines: number[]
  fields?: Array<string | undefined>
  csrs?: Map<number, string>
}

/** Devices in manifest order; `device(i)` makes the i-th as a Device object. */
export class DeviceList implements Iterable<Device> {
  private index?: RowIndex

  constructor(private readonly columns: Columns) {}

  get length(): number {
    return this.columns.serials.length
  }

  get file(): string {
    return this.columns.file
  }

  serial(row: number): string {
    return this.columns.serials[row] as string
  }

  /** Line of the row in the manifest. */
  line(row: number): number {
    return this.columns.lines[row] as number
  }

  /** [row, csr path] of every row that names a CSR, in manifest order. */
  csrPaths(): Array<[number, string]> {
    return [...(this.columns.csrs ?? new Map<number, string>())].sort((a, b) => a[0] - b[0])
  }

  device(row: number): Device {
    const { file, serials, deviceIds, lines, fields, csrs } = this.columns
    const serial = serials[row] as string
    const deviceId = deviceIds ? (deviceIds[row] as string) : serial
    const json = fields?.[row]
    const device: Device = {
      serial,
      deviceId,
      fields: json === undefined ? { serial, 'device-id': deviceId } : (JSON.parse(json) as Record<string, string>),
      source: { file, line: lines[row] as number }
    }
    const csr = csrs?.get(row)
    if (csr !== undefined) device.csr = csr
    return device
  }

  /** The row of `serial`, or -1. */
  indexOf(serial: string): number {
    const serials = this.columns.serials
    if (!this.index) {
      // Case-folded, as the collector's: no two serials of a list differ only in case.
      const index = new RowIndex((row) => serials[row] as string, true)
      for (let row = 0; row < serials.length; row++) if (index.find(serials[row] as string) === -1) index.add(row)
      this.index = index
    }
    const row = this.index.find(serial)
    return row !== -1 && serials[row] === serial ? row : -1
  }

  has(serial: string): boolean {
    return this.indexOf(serial) !== -1
  }

  /** Used by the collector, which has built the (case-folded) serial index while checking for duplicates. */
  withIndex(index: RowIndex): this {
    this.index = index
    return this
  }

  /** The rows `rows` (ascending), as a list of their own. */
  select(rows: readonly number[]): DeviceList {
    const { file, serials, deviceIds, lines, fields, csrs } = this.columns
    const picked: Columns = { file, serials: [], lines: [] }
    if (fields) picked.fields = []
    if (deviceIds) picked.deviceIds = []
    for (const row of rows) {
      const at = picked.serials.length
      picked.serials.push(serials[row] as string)
      picked.deviceIds?.push(deviceIds![row] as string)
      picked.lines.push(lines[row] as number)
      if (fields) picked.fields!.push(fields[row])
      const csr = csrs?.get(row)
      if (csr !== undefined) (picked.csrs ??= new Map()).set(at, csr)
    }
    return new DeviceList(picked)
  }

  /** Every device as an object (for callers that want an array; a bake does not). */
  toArray(): Device[] {
    return Array.from({ length: this.length }, (_, row) => this.device(row))
  }

  *[Symbol.iterator](): Iterator<Device> {
    for (let row = 0; row < this.length; row++) yield this.device(row)
  }
}

/** Adds rows column by column; the collector decides which rows are devices. */
export class DeviceListBuilder {
  readonly columns: Columns

  constructor(file: string) {
    this.columns = { file, serials: [], lines: [] }
  }

  get length(): number {
    return this.columns.serials.length
  }

  serial(row: number): string {
    return this.columns.serials[row] as string
  }

  /** Whether some device ID differs from its serial (else every ID is its serial). */
  get hasOwnDeviceIds(): boolean {
    return this.columns.deviceIds !== undefined
  }

  deviceId(row: number): string {
    const { deviceIds, serials } = this.columns
    return (deviceIds ? deviceIds[row] : serials[row]) as string
  }

  line(row: number): number {
    return this.columns.lines[row] as number
  }

  /** Appends a row; returns its number. */
  add(serial: string, deviceId: string, line: number, fields: Record<string, string>, csr: string | undefined): number {
    const columns = this.columns
    const row = columns.serials.length
    columns.serials.push(serial)
    if (deviceId !== serial && !columns.deviceIds) columns.deviceIds = columns.serials.slice(0, row)
    columns.deviceIds?.push(deviceId)
    columns.lines.push(line)
    let json: string | undefined
    const keys = Object.keys(fields)
    if (!(keys.length === 2 && keys[0] === 'serial' && keys[1] === 'device-id' && fields.serial === serial && fields['device-id'] === deviceId)) {
      json = JSON.stringify(fields)
    }
    if (json !== undefined && !columns.fields) columns.fields = new Array<string | undefined>(row).fill(undefined)
    columns.fields?.push(json)
    if (csr !== undefined) (columns.csrs ??= new Map()).set(row, csr)
    return row
  }

  clear(): void {
    const { file } = this.columns
    Object.assign(this.columns, { file, serials: [], deviceIds: undefined, lines: [], fields: undefined, csrs: undefined })
  }

  finish(): DeviceList {
    return new DeviceList(this.columns)
  }
}
