// The review's companion files, read in step with the manifest's devices without holding them:
// certificates.pem and superseded.pem (one CERTIFICATE block per entry, in manifest order) and
// SHA256SUMS (one line per output file, in manifest order). Each is read in chunks; a reader hands
// out the next block or line when asked, so verify compares entry i with block i as it goes.
import { constants } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { messageOf } from '../errors.js'
import { sha256Hex } from '../util/hash.js'

const CHUNK = 256 << 10
/** A line or block longer than this is not one credbake writes. */
const MAX_PIECE = 1 << 20

/** Lines of a text file, one at a time (without their "\n"). */
export class LineReader {
  private carry = ''
  private lines: string[] = []
  private next = 0
  private position = 0
  private done = false
  /** Lines handed out so far. */
  count = 0

  private constructor(
    private readonly handle: FileHandle,
    private readonly buffer = Buffer.allocUnsafe(CHUNK)
  ) {}

  /** The reader, or a sentence saying why the file cannot be read. */
  static async open(file: string): Promise<LineReader | string> {
    let handle: FileHandle | undefined
    try {
      // O_NONBLOCK: a FIFO in its place is refused, not waited on.
      handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK)
      if (!(await handle.stat()).isFile()) {
        await handle.close()
        return 'is not a regular file'
      }
      return new LineReader(handle)
    } catch (error) {
      await handle?.close().catch(() => undefined)
      return (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'is missing' : `cannot be read (${messageOf(error)})`
    }
  }

  /** The next line; null at the end. A last line without "\n" is a line too. */
  async line(): Promise<string | null> {
    while (this.next >= this.lines.length) {
      if (this.done) return null
      await this.fill()
    }
    this.count++
    return this.lines[this.next++] as string
  }

  private async fill(): Promise<void> {
    const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, this.position)
    this.position += bytesRead
    this.next = 0
    if (bytesRead === 0) {
      this.done = true
      this.lines = this.carry === '' ? [] : [this.carry]
      this.carry = ''
      return
    }
    const text = this.carry + this.buffer.toString('latin1', 0, bytesRead)
    const cut = text.lastIndexOf('\n')
    if (cut === -1) {
      if (text.length > MAX_PIECE) throw new Error(`a line is longer than ${MAX_PIECE} bytes`)
      this.carry = text
      this.lines = []
      return
    }
    this.lines = text.slice(0, cut).split('\n')
    this.carry = text.slice(cut + 1)
  }

  async close(): Promise<void> {
    await this.handle.close()
  }
}

export type PemItem = { sha256: string; der: Buffer; line: number } | { problem: string; line: number }

const BEGIN = '-----BEGIN CERTIFICATE-----'
const END = '-----END CERTIFICATE-----'
const BASE64_LINE = /^[A-Za-z0-9+/]*={0,2}$/

/**
 * CERTIFICATE blocks of a PEM file, one at a time, as credbake writes them: blocks one after
 * another, nothing else but blank lines (and \r) between them. Anything else is a problem.
 */
export class PemReader {
  /** Blocks handed out so far. */
  count = 0
  private lineNumber = 0

  private constructor(private readonly lines: LineReader) {}

  static async open(file: string): Promise<PemReader | string> {
    const lines = await LineReader.open(file)
    return typeof lines === 'string' ? lines : new PemReader(lines)
  }

  /** The next block, a problem (the file is then not read further), or null at the end. */
  async block(): Promise<PemItem | null> {
    let line: string | null
    do {
      line = await this.read()
      if (line === null) return null
    } while (line.trim() === '')
    const start = this.lineNumber
    if (line.trim() !== BEGIN) return { problem: `line ${start} is not "${BEGIN}"`, line: start }
    let body = ''
    for (;;) {
      line = await this.read()
      if (line === null) return { problem: `the block at line ${start} has no "${END}" line (cut off?)`, line: start }
      const trimmed = line.trim()
      if (trimmed === END) break
      if (!BASE64_LINE.test(trimmed)) return { problem: `line ${this.lineNumber} of the block at line ${start} is not base64`, line: start }
      body += trimmed
      if (body.length > MAX_PIECE) return { problem: `the block at line ${start} is larger than ${MAX_PIECE} bytes`, line: start }
    }
    const der = Buffer.from(body, 'base64')
    if (der.length === 0) return { problem: `the block at line ${start} is empty`, line: start }
    this.count++
    return { sha256: sha256Hex(der), der, line: start }
  }

  private async read(): Promise<string | null> {
    const line = await this.lines.line()
    if (line !== null) this.lineNumber++
    return line === null ? null : line.endsWith('\r') ? line.slice(0, -1) : line
  }

  async close(): Promise<void> {
    await this.lines.close()
  }
}
