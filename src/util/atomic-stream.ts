// A file written in pieces and renamed into place only when complete: the review manifest and
// every review export (certificates.pem, SHA256SUMS, ...) stream through it, so memory stays flat
// in the fleet size.
import { open, rename, rm, type FileHandle } from 'node:fs/promises'
import { tempSibling, writeAll } from './fsx.js'

/** What a stream holds in memory before `flushIfFull` writes it out. */
export const FLUSH_AT = 1 << 18

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
