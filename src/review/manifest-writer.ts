// Streams the review manifest: memory stays flat in the fleet size (the superseded list goes to a
// temporary file and is spliced into the manifest's footer), and the file appears (renamed into
// place) only when complete. The files beside it (certificates.pem, superseded.pem, SHA256SUMS, ...)
// are review exports (src/exports), fed the same devices in the same order.
import path from 'node:path'
import { AtomicStream, FLUSH_AT } from '../util/atomic-stream.js'
import { syncDir } from '../util/fsx.js'
import {
  CERTIFICATES_FILE,
  MANIFEST_FILE,
  SUPERSEDED_FILE,
  type ExportSummary,
  type ManifestCrl,
  type ManifestDevice,
  type ManifestFooter,
  type ManifestHeader,
  type RevokedCertificate,
  type SupersededCertificate
} from '../shapes/review.js'

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
  /** The superseded list's entries, as they go into the manifest's footer (never kept in memory). */
  private readonly supersededList: AtomicStream
  private count = 0
  private supersededEntries = 0

  private constructor(private readonly outputDir: string) {
    this.manifest = new AtomicStream(path.join(outputDir, MANIFEST_FILE))
    // A temporary name in output-dir: a killed run's leftover is removed like any temp file.
    this.supersededList = new AtomicStream(path.join(outputDir, 'credbake-superseded-list'))
  }

  static async open(outputDir: string, header: ManifestHeader): Promise<ReviewWriter> {
    const writer = new ReviewWriter(outputDir)
    const head = JSON.stringify(header, null, 2)
    writer.manifest.push(`${head.slice(0, -2)},\n  "devices": [`)
    return writer
  }

  /** A device's entry, held in memory until `drain` (synchronous). */
  addNow(device: ManifestDevice): void {
    this.addText(deviceEntryJson(device))
  }

  /** A device's entry as its manifest text (see deviceEntryJson); `ascii`: it is. */
  addText(entryJson: string, ascii = false): void {
    this.manifest.push(this.count === 0 ? '\n    ' : ',\n    ', true)
    this.manifest.push(entryJson, ascii)
    this.count++
  }

  /** A certificate that is no longer its device's active one: listed for revocation (synchronous). */
  supersedeNow(entry: SupersededCertificate): void {
    this.supersededList.push(`${this.supersededEntries === 0 ? '\n    ' : ',\n    '}${JSON.stringify(entry, null, 2).replace(/\n/g, '\n    ')}`)
    this.supersededEntries++
  }

  /** Write out whatever stream holds much. */
  async drain(): Promise<void> {
    await this.manifest.flushIfFull()
    await this.supersededList.flushIfFull()
  }

  get devices(): number {
    return this.count
  }

  get supersededCount(): number {
    return this.supersededEntries
  }

  /**
   * Finish the manifest and rename it into place (after the exports: its presence says the review is
   * complete); returns its path. `exported`: what the exports the header names wrote; `revocation`:
   * the certificates revoked with credbake revoke and the last CRL.
   */
  async commit(exported: readonly ExportSummary[] = [], revocation: { revoked?: readonly RevokedCertificate[]; crl?: ManifestCrl } = {}): Promise<string> {
    const revoked = revocation.revoked?.length ? [...revocation.revoked] : undefined
    const footer: ManifestFooter = {
      counts: { devices: this.count, superseded: this.supersededEntries, ...(revoked ? { revoked: revoked.length } : {}) },
      ...(exported.length ? { exported: [...exported] } : {}),
      certificates: CERTIFICATES_FILE,
      superseded: [],
      supersededCertificates: SUPERSEDED_FILE,
      ...(revoked ? { revoked } : {}),
      ...(revocation.crl ? { crl: revocation.crl } : {})
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
    await this.manifest.commit()
    await this.supersededList.abandon()
    await syncDir(this.outputDir)
    return this.manifest.target
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
    await Promise.all([this.manifest.abandon(), this.supersededList.abandon()])
  }
}
