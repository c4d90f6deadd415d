// File helpers for outputs that must be complete or absent: write under a temporary name in the
// same folder, fsync, rename into place.
import { createHash } from 'node:crypto'
import { constants, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { O_NOFOLLOW } from './confined.js'
import { loadFsmap, readRanges } from './fsmap.js'
import { randomChunk } from './random.js'

/** A temporary sibling name: same folder (so rename is atomic), hidden, unique per call. */
export function tempSibling(target: string): string {
  return tempIn(path.dirname(target), path.basename(target))
}

/** tempSibling of `dir`/`name`, where `name` is one plain path component (no separator, not "." or ".."). */
export function tempIn(dir: string, name: string): string {
  return `${dir}${path.sep}.${name}${TEMP_MARKER}${process.pid}-${randomChunk(4).toString('hex')}`
}

export const TEMP_MARKER = '.tmp-'

/**
 * Append all of `bytes` at the handle's current position. A write can be short without an error
 * (a disk filling up): loop until every byte is out, and call a write of nothing a full disk.
 */
export async function writeAll(handle: FileHandle, bytes: Buffer): Promise<void> {
  for (let done = 0; done < bytes.length; ) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.length - done)
    if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
    done += bytesWritten
  }
}

/** writeAll for a file descriptor, synchronously (worker threads writing outputs). */
export function writeAllSync(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    const written = writeSync(fd, bytes, done, bytes.length - done)
    if (written === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })
    done += written
  }
}

/** Make a rename durable. Some file systems refuse fsync on a directory; that is not fatal. */
export async function syncDir(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r')
    try {
      await handle.sync()
    } finally {
      await handle.close()
    }
  } catch {
    // best effort
  }
}

/**
 * SHA-256 (hex) of a file. A small regular file is read whole; a large one's holes, where the
 * fsmap addon can tell them, are hashed from zeros instead of read (image outputs checked on
 * resume or by verify are mostly holes); anything else (a block device, no addon) is streamed.
 * `inside`: a file in output-dir, which must be a regular file reached without a link (else the
 * open or the check throws, ELOOP or EINVAL).
 */
export async function sha256File(file: string, options: { inside?: boolean } = {}): Promise<string> {
  const hash = createHash('sha256')
  const handle = await open(file, options.inside ? constants.O_RDONLY | constants.O_NONBLOCK | O_NOFOLLOW : 'r')
  try {
    const info = await handle.stat()
    if (options.inside && !info.isFile()) throw Object.assign(new Error(`${file} is not a regular file`), { code: 'EINVAL' })
    // A small file (a tar overlay is about 1.3 KiB): read whole, no 1 MiB stream buffer per file
    // (a resume checks 100,000 of them).
    if (info.isFile() && info.size < SPARSE_HASH_MIN) return hash.update(await handle.readFile()).digest('hex')
    const ranges = info.isFile() ? loadFsmap()?.dataRanges(handle.fd, 0, info.size) : undefined
    if (!ranges) {
      for await (const chunk of handle.createReadStream({ highWaterMark: 1 << 20, autoClose: false, start: 0 })) hash.update(chunk as Buffer)
      return hash.digest('hex')
    }
    // What it held is what is hashed, should it shrink meanwhile (as a stream would).
    await readRanges(handle, ranges, 0, info.size, Buffer.allocUnsafe(1 << 20), (chunk) => hash.update(chunk))
    return hash.digest('hex')
  } finally {
    await handle.close()
  }
}

/** Files below this size are read whole: one read costs less than asking for their holes. */
const SPARSE_HASH_MIN = 8 << 20

export function octalMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0')
}

/**
 * Flush the file system holding `dir` (syncfs through coreutils' `sync -f`): one call per run
 * instead of an fsync per output. Best effort: where `sync -f` is missing, a plain `sync`.
 */
export async function flushFileSystem(dir: string): Promise<void> {
  const { execFile } = await import('node:child_process')
  const run = (args: string[]): Promise<boolean> => new Promise((resolve) => execFile('sync', args, (error) => resolve(!error)))
  if (!(await run(['-f', dir]))) await run([])
}
