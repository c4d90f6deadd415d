// Streams the review manifest, certificates.pem and superseded.pem: memory stays flat in the fleet
// size (the superseded list goes to a temporary file and is spliced into the manifest's footer),
// and the files appear (renamed into place) only when complete.
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { syncDir, tempSibling, writeAll } from '../util/fsx.js'
import { CERTIFICATES_FILE, MANIFEST_FILE, SUPERSEDED_FILE, type SupersededCertificate, type ManifestDevice, type ManifestFooter, type ManifestHeader } from './types.js'

/** What a stream holds in memory before `flushIfFull` writes it out. */
const FLUSH_AT = 1 << 18

/**
 * A file written in pieces under a temporary name, then fsync'd and renamed into place. Text is
 * encoded into one reused buffer (no string or Buffer per piece), written through a FileHandle
 * (errors are thrown where they happen, a full disk included) when it fills, so streaming 100,000
 * device entries costs few system calls and little memory.
 */
export class AtomicStream {
  readonly temp: string
  private handle: FileHandle | undefined
  private buffer = Buffer.allocUnsafe(FLUSH_AT * 2)
  private used = 0

  constructor(readonly target: string) {
    this.temp = tempSibling(target)
  }

  /**
   * Add text in memory (synchronous); `flushIfFull` or `commit` writes it out. `ascii`: the caller
   * knows the text is ASCII (then encoded as latin1, which is cheaper and the same bytes).
   */
  push(text: string, ascii = false): void {
    // At most 3 bytes per UTF-16 unit.
    if (this.used + text.length * 3 > this.buffer.length) this.grow(this.used + text.length * 3)
    this.used += this.buffer.write(text, this.used, ascii ? 'latin1' : 'utf8')
  }

  /** Add bytes in memory. */
  pushBytes(bytes: Buffer): void {
    if (this.used + bytes.length > this.buffer.length) this.grow(this.used + bytes.length)
    this.used += bytes.copy(this.buffer, this.used)
  }

  async write(text: string): Promise<void> {
    this.push(text)
    await this.flushIfFull()
  }

  async flushIfFull(): Promise<void> {
    if (this.used >= FLUSH_AT) await this.flush()
  }

  async commit(): Promise<void> {
    const handle = await this.flush()
    await handle.sync()
    await handle.close()
    this.handle = undefined
    await rename(this.temp, this.target)
  }

  async abandon(): Promise<void> {
    await this.handle?.close().catch(() => undefined)
    this.handle = undefined
    await rm(this.temp, { force: true })
  }

  /** Write out what is held; returns the open handle. */
  async flush(): Promise<FileHandle> {
    const handle = await this.open()
    if (this.used) await writeAll(handle, this.buffer.subarray(0, this.used))
    this.used = 0
    // A very long piece grew the buffer: do not keep it.
    if (this.buffer.length > FLUSH_AT * 8) this.buffer = Buffer.allocUnsafe(FLUSH_AT * 2)
    return handle
  }

  private grow(needed: number): void {
    const bigger = Buffer.allocUnsafe(Math.max(needed, this.buffer.length * 2))
    this.buffer.copy(bigger, 0, 0, this.used)
    this.buffer = bigger
  }

  private async open(): Promise<FileHandle> {
    if (!this.handle) {
      // A new file (O_EXCL): never an existing name, nor whatever a link there points to.
      const handle = await open(this.temp, 'wx+', 0o644)
      this.handle = handle
      await handle.chmod(0o644) // no secret inside: readable by reviewers whatever the umask
    }
    return this.handle
  }
}

const quote = JSON.stringify

/**
 * A device entry as it appears in the manifest: exactly `JSON.stringify(device, null, 2)` indented
 * by four spaces, written out by hand (several times faster). Anything not of the usual shape
 * goes through JSON.stringify itself.
 */
export function deviceEntryJson(device: ManifestDevice): string {
  const { certificate: c, output: o, files } = device
  if (!usualShape(device)) return JSON.stringify(device, null, 2).replace(/\n/g, '\n    ')
  let text =
    `{\n      "serial": ${quote(device.serial)},\n      "deviceId": ${quote(device.deviceId)},\n      "certificate": {` +
    `\n        "serialNumber": ${quote(c.serialNumber)},\n        "subject": ${quote(c.subject)},${c.san !== undefined ? `\n        "san": ${quote(c.san)},` : ''}\n        "sha256": ${quote(c.sha256)},` +
    `\n        "publicKeySha256": ${quote(c.publicKeySha256)},\n        "notBefore": ${quote(c.notBefore)},\n        "notAfter": ${quote(c.notAfter)},` +
    `\n        "keySource": ${quote(c.keySource)}\n      },\n      "output": {\n        "path": ${quote(o.path)},\n        "size": ${quote(o.size)},` +
    `\n        "sha256": ${quote(o.sha256)}`
  if (o.partition) text += `,\n        "partition": ${JSON.stringify(o.partition, null, 2).replace(/\n/g, '\n        ')}`
  if (o.bmap) text += `,\n        "bmap": ${JSON.stringify(o.bmap, null, 2).replace(/\n/g, '\n        ')}`
  text += '\n      },\n      "files": '
  if (files.length === 0) text += '[]'
  else {
    text += '['
    for (let i = 0; i < files.length; i++) {
      const file = files[i]!
      text += `${i ? ',' : ''}\n        {\n          "path": ${quote(file.path)},\n          "mode": ${quote(file.mode)},\n          "owner": ${quote(file.owner)},`
      if (!file.privateKey) text += `\n          "sha256": ${quote(file.sha256)},\n          "size": ${quote(file.size)},`
      text += `\n          "privateKey": ${file.privateKey}\n        }`
    }
    text += '\n      ]'
  }
  return `${text}\n    }`
}

const isText = (value: unknown): boolean => typeof value === 'string'
const isTextOrNull = (value: unknown): boolean => value === null || typeof value === 'string'
const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)

/** The keys deviceEntry() makes, each of the type written by hand above. */
function usualShape(device: ManifestDevice): boolean {
  const { certificate: c, output: o } = device
  if (Object.keys(device).length !== 5 || !isText(device.serial) || !isText(device.deviceId) || !c || !o || !Array.isArray(device.files)) return false
  if (
    Object.keys(c).length !== (c.san === undefined ? 7 : 8) ||
    (c.san !== undefined && !isText(c.san)) ||
    !isText(c.serialNumber) ||
    !isText(c.subject) ||
    !isText(c.sha256) ||
    !isText(c.publicKeySha256)
  )
    return false
  if (!isText(c.notBefore) || !isText(c.notAfter) || !isText(c.keySource)) return false
  const outputKeys = 3 + (o.partition ? 1 : 0) + (o.bmap ? 1 : 0)
  if (Object.keys(o).length !== outputKeys || !isText(o.path) || !isCount(o.size) || !isText(o.sha256)) return false
  for (const file of device.files) {
    if (!file || !isText(file.path) || !isTextOrNull(file.mode) || !isTextOrNull(file.owner)) return false
    if (file.privateKey === true) {
      if (Object.keys(file).length !== 4) return false
    } else if (file.privateKey !== false || Object.keys(file).length !== 6 || !isText(file.sha256) || !isCount(file.size)) return false
  }
  return true
}

export class ReviewWriter {
  private readonly manifest: AtomicStream
  private readonly certificates: AtomicStream
  private readonly supersededPems: AtomicStream
  /** The superseded list's entries, as they go into the manifest's footer (never kept in memory). */
  private readonly supersededList: AtomicStream
  private count = 0
  private supersededEntries = 0

  private constructor(private readonly outputDir: string) {
    this.manifest = new AtomicStream(path.join(outputDir, MANIFEST_FILE))
    this.certificates = new AtomicStream(path.join(outputDir, CERTIFICATES_FILE))
    this.supersededPems = new AtomicStream(path.join(outputDir, SUPERSEDED_FILE))
    // A temporary name in output-dir: a killed run's leftover is removed like any temp file.
    this.supersededList = new AtomicStream(path.join(outputDir, 'credbake-superseded-list'))
  }

  static async open(outputDir: string, header: ManifestHeader): Promise<ReviewWriter> {
    const writer = new ReviewWriter(outputDir)
    const head = JSON.stringify(header, null, 2)
    writer.manifest.push(`${head.slice(0, -2)},\n  "devices": [`)
    return writer
  }

  /** A device's entry and certificate, held in memory until `drain` (synchronous). */
  addNow(device: ManifestDevice, certificatePem: string): void {
    this.addText(deviceEntryJson(device), certificatePem)
  }

  /** A device's entry as its manifest text (see deviceEntryJson), and its certificate; `ascii`: both are. */
  addText(entryJson: string, certificatePem: string, ascii = false): void {
    this.manifest.push(this.count === 0 ? '\n    ' : ',\n    ', true)
    this.manifest.push(entryJson, ascii)
    if (ascii) {
      this.certificates.push(certificatePem, true)
      if (!certificatePem.endsWith('\n')) this.certificates.push('\n', true)
      this.count++
      return
    }
    this.certificates.push(certificatePem.endsWith('\n') ? certificatePem : `${certificatePem}\n`)
    this.count++
  }

  /** A certificate that is no longer its device's active one: listed for revocation (synchronous). */
  supersedeNow(entry: SupersededCertificate, certificatePem: string): void {
    this.supersededList.push(`${this.supersededEntries === 0 ? '\n    ' : ',\n    '}${JSON.stringify(entry, null, 2).replace(/\n/g, '\n    ')}`)
    this.supersededEntries++
    this.supersededPems.push(certificatePem.endsWith('\n') ? certificatePem : `${certificatePem}\n`)
  }

  async add(device: ManifestDevice, certificatePem: string): Promise<void> {
    this.addNow(device, certificatePem)
    await this.drain()
  }

  async supersede(entry: SupersededCertificate, certificatePem: string): Promise<void> {
    this.supersedeNow(entry, certificatePem)
    await this.drain()
  }

  /** Write out whatever stream holds much. */
  async drain(): Promise<void> {
    await this.manifest.flushIfFull()
    await this.certificates.flushIfFull()
    await this.supersededPems.flushIfFull()
    await this.supersededList.flushIfFull()
  }

  get devices(): number {
    return this.count
  }

  get supersededCount(): number {
    return this.supersededEntries
  }

  /** Finish the files and rename them into place; returns their paths. */
  async commit(): Promise<{ manifest: string; certificates: string; superseded: string }> {
    const footer: ManifestFooter = {
      counts: { devices: this.count, superseded: this.supersededEntries },
      certificates: CERTIFICATES_FILE,
      superseded: [],
      supersededCertificates: SUPERSEDED_FILE
    }
    const tail = JSON.stringify(footer, null, 2).slice(1)
    const list = '"superseded": []'
    const at = tail.indexOf(list) + list.length - 1
    this.manifest.push(`${this.count === 0 ? '' : '\n  '}],${tail.slice(0, at)}`)
    if (this.supersededEntries) {
      await this.spliceSupersededList()
      this.manifest.push('\n  ')
    }
    this.manifest.push(`${tail.slice(at)}\n`)
    await this.certificates.commit()
    await this.supersededPems.commit()
    // The manifest last: its presence says the run is complete.
    await this.manifest.commit()
    await this.supersededList.abandon()
    await syncDir(this.outputDir)
    return { manifest: this.manifest.target, certificates: this.certificates.target, superseded: this.supersededPems.target }
  }

  /** Copy the superseded list from its temporary file into the manifest, a chunk at a time. */
  private async spliceSupersededList(): Promise<void> {
    const list = await this.supersededList.flush()
    const chunk = Buffer.allocUnsafe(FLUSH_AT)
    for (let position = 0; ; ) {
      const { bytesRead } = await list.read(chunk, 0, chunk.length, position)
      if (bytesRead === 0) break
      position += bytesRead
      this.manifest.pushBytes(chunk.subarray(0, bytesRead))
      await this.manifest.flushIfFull()
    }
  }

  async abandon(): Promise<void> {
    await Promise.all([this.manifest.abandon(), this.certificates.abandon(), this.supersededPems.abandon(), this.supersededList.abandon()])
  }
}
