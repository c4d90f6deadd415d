// Small I/O helpers shared by the image modules: positional reads (images can be GBs, so we never
// read a whole file), and the zero-block test that keeps copies sparse. (CRC-32 is zlib.crc32.)
import type { FileHandle } from 'node:fs/promises'

/**
 * Read up to `length` bytes at `offset`; the result is shorter only at end of file. Offsets come
 * from on-disk values: one before the start or past any real file size reads nothing, like a read
 * past the end (Node 24 would throw ERR_OUT_OF_RANGE, Node 20 silently read at offset 0).
 */
export async function readAt(handle: FileHandle, offset: number, length: number): Promise<Buffer> {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(offset + length) || length <= 0) return Buffer.alloc(0)
  const buffer = Buffer.alloc(length)
  let done = 0
  while (done < length) {
    const { bytesRead } = await handle.read(buffer, done, length - done, offset + done)
    if (bytesRead === 0) break
    done += bytesRead
  }
  return done === length ? buffer : buffer.subarray(0, done)
}

/** Write all of `data` at `offset` (positional writes may be short on some file systems). */
export async function writeAt(handle: FileHandle, data: Uint8Array, offset: number): Promise<void> {
  let done = 0
  while (done < data.length) {
    const { bytesWritten } = await handle.write(data, done, data.length - done, offset + done)
    done += bytesWritten
  }
}

/** Granularity of hole detection: the usual file-system block size. */
export const ZERO_BLOCK = 4096
const ZEROS = Buffer.alloc(1 << 20)

/** True when `buffer[start, end)` is all zero bytes. Buffer.compare is a memcmp: fast. */
export function isZero(buffer: Buffer, start = 0, end = buffer.length): boolean {
  for (let at = start; at < end; at += ZEROS.length) {
    const stop = Math.min(end, at + ZEROS.length)
    if (buffer.compare(ZEROS, 0, stop - at, at, stop) !== 0) return false
  }
  return true
}

/**
 * Runs of non-zero `ZERO_BLOCK`s in `buffer[0, length)`, as [start, end) pairs relative to the
 * buffer. Writing only these runs (plus a final truncate) reproduces the bytes with holes.
 */
export function dataRuns(buffer: Buffer, length = buffer.length): Array<[number, number]> {
  const runs: Array<[number, number]> = []
  let runStart = -1
  for (let at = 0; at < length; at += ZERO_BLOCK) {
    const end = Math.min(length, at + ZERO_BLOCK)
    if (isZero(buffer, at, end)) {
      if (runStart >= 0) runs.push([runStart, at])
      runStart = -1
    } else if (runStart < 0) {
      runStart = at
    }
  }
  if (runStart >= 0) runs.push([runStart, length])
  return runs
}
