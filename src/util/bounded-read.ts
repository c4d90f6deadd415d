// Reading an input file whole, within a budget. A path given as an input, or named by a manifest
// row, may be a FIFO (opening it for reading would wait for a writer forever), a device such as
// /dev/zero (reading never ends), or a file far larger than anything credbake needs (reading it
// exhausts memory, or ends in V8's "Cannot create a string longer than ..."). So: open without
// blocking, fstat the open descriptor (what is read is what was checked), refuse anything but a
// regular file, refuse a size over the cap before reading a byte, and stop reading at the cap
// even if the size was wrong (/proc files say 0, files grow).
//
// Errors are plain Errors with a `code` (ENOENT, EACCES, EISDIR from the system; ENOTREG and EFBIG
// from here) and a message that completes "X cannot be read: …", so every caller keeps its own
// message naming the input. docs/input-limits.md lists the caps.
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'

const KiB = 1024
const MiB = 1024 * KiB

/** The caps, in bytes. Each is documented (with its reason) in docs/input-limits.md. */
export const INPUT_LIMITS = {
  /** Device manifest: 100,000 devices are 3-30 MiB in any format. */
  manifest: 64 * MiB,
  /** A CSR named by a manifest row: an RSA-4096 CSR with `openssl req -text` is about 5 KiB. */
  csr: 16 * KiB,
  /** fleet-ca-cert, fleet-ca-key, server-ca (file or text): a chain or a CA bundle. */
  pem: 1 * MiB,
  /** credentials-zip: OTA Connect's are a few KiB. */
  credentialsZip: 16 * MiB,
  /** A review manifest (credbake-manifest.json) or a certificates.pem read whole by verify or merge. */
  reviewFile: 256 * MiB
} as const

export interface ReadLimit {
  /** Largest size accepted, in bytes. */
  maxBytes: number
  /** What the file is, for the message: "a device manifest", "a CSR". */
  what: string
}

export type ReadLimitCode = 'ENOTREG' | 'EFBIG' | 'EISDIR'

/** A file refused before or while it was read: not a regular file, or over its cap. */
export class ReadLimitError extends Error {
  constructor(
    readonly code: ReadLimitCode,
    message: string
  ) {
    super(message)
    this.name = 'ReadLimitError'
  }
}

/** 1.5 MiB, 16 KiB, 300 bytes. */
export function formatSize(bytes: number): string {
  if (bytes >= MiB) return `${Number.isInteger(bytes / MiB) ? bytes / MiB : (bytes / MiB).toFixed(1)} MiB`
  if (bytes >= KiB) return `${Number.isInteger(bytes / KiB) ? bytes / KiB : (bytes / KiB).toFixed(1)} KiB`
  return `${bytes} bytes`
}

/** Why a file of this type cannot be read as an input ("a FIFO (named pipe)"), or undefined for a regular file. */
function kindOf(info: Stats): string | undefined {
  if (info.isFile()) return undefined
  if (info.isDirectory()) return 'a directory'
  if (info.isFIFO()) return 'a FIFO (named pipe)'
  if (info.isCharacterDevice()) return 'a character device'
  if (info.isBlockDevice()) return 'a block device'
  if (info.isSocket()) return 'a socket'
  return 'not a regular file'
}

function check(info: Stats, limit: ReadLimit): void {
  const kind = kindOf(info)
  if (kind === 'a directory') throw new ReadLimitError('EISDIR', 'it is a directory, not a file')
  if (kind !== undefined) throw new ReadLimitError('ENOTREG', `it is ${kind}, not a regular file; ${limit.what} must be a regular file`)
  if (info.size > limit.maxBytes) throw tooBig(`it is ${info.size.toLocaleString('en-US')} bytes`, limit)
}

function tooBig(what: string, limit: ReadLimit): ReadLimitError {
  return new ReadLimitError('EFBIG', `${what}; ${limit.what} may be at most ${formatSize(limit.maxBytes)}`)
}

// O_NONBLOCK: opening a FIFO does not wait for a writer (fstat then refuses it). Reads of a
// regular file are not affected by it.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK

/** Opens, fstats and closes `file`: the checks of readBoundedSync without reading. Returns the size. */
export function checkBoundedFileSync(file: string, limit: ReadLimit): number {
  const fd = openSync(file, OPEN_FLAGS)
  try {
    const info = fstatSync(fd)
    check(info, limit)
    return info.size
  } finally {
    closeSync(fd)
  }
}

/** The whole of `file` if it is a regular file of at most `limit.maxBytes`. */
export function readBoundedSync(file: string, limit: ReadLimit): Buffer {
  const fd = openSync(file, OPEN_FLAGS)
  try {
    const info = fstatSync(fd)
    check(info, limit)
    const reader = new CappedBuffer(info.size, limit)
    for (;;) {
      const room = reader.room()
      const read = readSync(fd, reader.buffer, reader.length, room, null)
      if (read === 0) return reader.contents()
      reader.advance(read)
    }
  } finally {
    closeSync(fd)
  }
}

/**
 * The buffer a file is read into: sized by fstat, plus one byte that tells a file that grew past
 * the cap from one that ends there; grown (up to the cap) when the size was wrong (a /proc file, a
 * growing file).
 */
class CappedBuffer {
  buffer: Buffer
  length = 0

  constructor(
    size: number,
    private readonly limit: ReadLimit
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(limit.maxBytes, Math.max(size, 64 * KiB)) + 1)
  }

  /** Free bytes to read into; grows the buffer first when it is full. */
  room(): number {
    if (this.length === this.buffer.length) {
      if (this.length > this.limit.maxBytes) throw tooBig(`it holds more than ${formatSize(this.limit.maxBytes)}`, this.limit)
      const larger = Buffer.allocUnsafe(Math.min(this.limit.maxBytes + 1, this.buffer.length * 2))
      this.buffer.copy(larger, 0, 0, this.length)
      this.buffer = larger
    }
    return this.buffer.length - this.length
  }

  advance(read: number): void {
    this.length += read
    if (this.length > this.limit.maxBytes) throw tooBig(`it holds more than ${formatSize(this.limit.maxBytes)}`, this.limit)
  }

  contents(): Buffer {
    return this.buffer.subarray(0, this.length)
  }
}

/** As readBoundedSync, without blocking the thread. */
export async function readBounded(file: string, limit: ReadLimit): Promise<Buffer> {
  const handle: FileHandle = await open(file, OPEN_FLAGS)
  try {
    const info = await handle.stat()
    check(info, limit)
    const reader = new CappedBuffer(info.size, limit)
    for (;;) {
      const room = reader.room()
      const { bytesRead } = await handle.read(reader.buffer, reader.length, room, null)
      if (bytesRead === 0) return reader.contents()
      reader.advance(bytesRead)
    }
  } finally {
    await handle.close()
  }
}

/** readBounded as UTF-8 text. */
export async function readBoundedText(file: string, limit: ReadLimit): Promise<string> {
  return (await readBounded(file, limit)).toString('utf8')
}

/** readBoundedSync as UTF-8 text. */
export function readBoundedTextSync(file: string, limit: ReadLimit): string {
  return readBoundedSync(file, limit).toString('utf8')
}

/** The end of "FILE …" for an input file that cannot be read: "not found", "is a FIFO (named pipe), …". */
export function whyUnreadable(error: unknown): string {
  if (error instanceof ReadLimitError) return error.message.replace(/^it /, '')
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT') return 'not found'
  if (code === 'EISDIR') return 'is a directory, not a file'
  if (code === 'EACCES') return 'cannot be read (permission denied)'
  return `cannot be read: ${error instanceof Error ? error.message : String(error)}`
}
