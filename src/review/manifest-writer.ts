// Streams the review manifest and certificates.pem: memory stays flat in the fleet size, and
// both files appear (renamed into place) only when complete.
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { syncDir, tempSibling, writeAll } from '../util/fsx.js'
import {
  CERTIFICATES_FILE,
  MANIFEST_FILE,
  SUPERSEDED_FILE,
  type SupersededCertificate,
  type ManifestDevice,
  type ManifestFooter,
  type ManifestHeader
} from './types.js'

/**
 * A file written in pieces under a temporary name, then fsync'd and renamed into place. Writes go
 * through a FileHandle (errors are thrown where they happen, a full disk included) and are
 * buffered, so streaming 100,000 device entries costs few system calls and little memory.
 */
export class AtomicStream {
  readonly temp: string
  private handle: FileHandle | undefined
  private pending: string[] = []
  private pendingLength = 0

  constructor(readonly target: string) {
    this.temp = tempSibling(target)
  }

  async write(text: string): Promise<void> {
    this.pending.push(text)
    this.pendingLength += text.length
    if (this.pendingLength >= 1 << 16) await this.flush()
  }

  async commit(): Promise<void> {
    await this.flush()
    const handle = await this.open()
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

  private async open(): Promise<FileHandle> {
    if (!this.handle) {
      const handle = await open(this.temp, 'w', 0o644)
      this.handle = handle
      await handle.chmod(0o644) // no secret inside: readable by reviewers whatever the umask
    }
    return this.handle
  }

  private async flush(): Promise<void> {
    const handle = await this.open()
    const bytes = Buffer.from(this.pending.join(''), 'utf8')
    this.pending = []
    this.pendingLength = 0
    await writeAll(handle, bytes)
  }
}

export class ReviewWriter {
  private readonly manifest: AtomicStream
  private readonly certificates: AtomicStream
  private readonly supersededPems: AtomicStream
  private readonly superseded: SupersededCertificate[] = []
  private count = 0

  private constructor(private readonly outputDir: string) {
    this.manifest = new AtomicStream(path.join(outputDir, MANIFEST_FILE))
    this.certificates = new AtomicStream(path.join(outputDir, CERTIFICATES_FILE))
    this.supersededPems = new AtomicStream(path.join(outputDir, SUPERSEDED_FILE))
  }

  static async open(outputDir: string, header: ManifestHeader): Promise<ReviewWriter> {
    const writer = new ReviewWriter(outputDir)
    const head = JSON.stringify(header, null, 2)
    await writer.manifest.write(`${head.slice(0, -2)},\n  "devices": [`)
    return writer
  }

  async add(device: ManifestDevice, certificatePem: string): Promise<void> {
    const entry = JSON.stringify(device, null, 2).replace(/\n/g, '\n    ')
    await this.manifest.write(`${this.count === 0 ? '\n    ' : ',\n    '}${entry}`)
    await this.certificates.write(certificatePem.endsWith('\n') ? certificatePem : `${certificatePem}\n`)
    this.count++
  }

  /** A certificate that is no longer its device's active one: listed for revocation. */
  async supersede(entry: SupersededCertificate, certificatePem: string): Promise<void> {
    this.superseded.push(entry)
    await this.supersededPems.write(certificatePem.endsWith('\n') ? certificatePem : `${certificatePem}\n`)
  }

  get devices(): number {
    return this.count
  }

  get supersededCount(): number {
    return this.superseded.length
  }

  /** Finish the files and rename them into place; returns their paths. */
  async commit(): Promise<{ manifest: string; certificates: string; superseded: string }> {
    const footer: ManifestFooter = {
      counts: { devices: this.count, superseded: this.superseded.length },
      certificates: CERTIFICATES_FILE,
      superseded: this.superseded,
      supersededCertificates: SUPERSEDED_FILE
    }
    const tail = JSON.stringify(footer, null, 2).slice(1)
    await this.manifest.write(`${this.count === 0 ? '' : '\n  '}],${tail}\n`)
    await this.certificates.commit()
    await this.supersededPems.commit()
    // The manifest last: its presence says the run is complete.
    await this.manifest.commit()
    await syncDir(this.outputDir)
    return { manifest: this.manifest.target, certificates: this.certificates.target, superseded: this.supersededPems.target }
  }

  async abandon(): Promise<void> {
    await Promise.all([this.manifest.abandon(), this.certificates.abandon(), this.supersededPems.abandon()])
  }
}
