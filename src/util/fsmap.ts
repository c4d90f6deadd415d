// Where a sparse file keeps its data: credbake's small Node-API addon (native/fsmap) around
// lseek(SEEK_DATA/SEEK_HOLE), which Node lacks. Hashing an image output needs every byte, but a
// hole is zeros by definition: knowing the holes, the hasher feeds zeros from memory instead of
// reading them. On ext4 reading a hole is not free: the kernel fills page-cache pages with zeros,
// which measured 0.1-0.45 s of system time per 256 MiB output here, more than the SHA-256 itself.
// Without the addon (a platform no binary ships for) callers read the whole file, as before.
import { existsSync, readSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { createRequire } from 'node:module'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface FsmapBinding {
  /** [start0, end0, start1, end1, ...]: the data ranges of the open file `fd` within [start, end). */
  dataRanges(fd: number, start: number, end: number): Float64Array
}

/**
 * The addon's file: beside the bundle in dist/native/<platform>/, or node_modules under src/.
 * CREDBAKE_NO_FSMAP=1 turns it off (benchmarks compare both ways; tests take the fallback).
 */
export function fsmapAddonPath(): string | undefined {
  if (process.env.CREDBAKE_NO_FSMAP === '1') return undefined
  const here = fileURLToPath(import.meta.url)
  if (here.endsWith('.ts')) {
    try {
      return createRequire(import.meta.url).resolve('credbake-fsmap/build/Release/fsmap.node')
    } catch {
      return undefined
    }
  }
  const file = path.join(path.dirname(here), 'native', `${process.platform}-${process.arch}`, 'fsmap.node')
  return existsSync(file) ? file : undefined
}

let loaded: FsmapBinding | null | undefined

/** The addon, or undefined where it is not shipped or cannot be loaded (then read everything). */
export function loadFsmap(): FsmapBinding | undefined {
  if (loaded !== undefined) return loaded ?? undefined
  loaded = null
  const file = fsmapAddonPath()
  if (!file) return undefined
  try {
    loaded = createRequire(import.meta.url)(file) as FsmapBinding
  } catch {
    loaded = null
  }
  return loaded ?? undefined
}

/**
 * Walk [from, end) in order: `read` each data range, `zeros` for the holes between them. Without a
 * map (no addon), all of it is one data range. A short read (the file shrank) ends the walk.
 */
export function feedRanges(ranges: Float64Array | undefined, from: number, end: number, read: (start: number, stop: number) => boolean, zeros: (length: number) => void): void {
  if (!ranges) {
    read(from, end)
    return
  }
  let at = from
  for (let i = 0; i + 1 < ranges.length; i += 2) {
    const start = Math.max(at, ranges[i] as number)
    const stop = Math.min(end, ranges[i + 1] as number)
    if (stop <= start) continue
    if (start > at) zeros(start - at)
    if (!read(start, stop)) return
    at = stop
  }
  if (end > at) zeros(end - at)
}

/** Zeros fed in place of holes, one block for every caller (calloc'd: untouched pages cost no memory). */
let zeroBlock: Buffer | undefined

function zeroChunks(length: number, update: (chunk: Buffer) => void): void {
  const zeros = (zeroBlock ??= Buffer.alloc(1 << 20))
  for (let left = length; left > 0; left -= zeros.length) update(left >= zeros.length ? zeros : zeros.subarray(0, left))
}

/**
 * Bytes [from, end) of the open file `fd` to `update`, in order: its data ranges (`ranges`, from
 * dataRanges; undefined: all of it) read into `buffer`, zeros for the holes between them. A short
 * read (the file shrank) ends it early.
 */
export function readRangesSync(fd: number, ranges: Float64Array | undefined, from: number, end: number, buffer: Buffer, update: (chunk: Buffer) => void): void {
  const read = (start: number, stop: number): boolean => {
    for (let offset = start; offset < stop; ) {
      const bytesRead = readSync(fd, buffer, 0, Math.min(buffer.length, stop - offset), offset)
      if (bytesRead === 0) return false
      update(buffer.subarray(0, bytesRead))
      offset += bytesRead
    }
    return true
  }
  feedRanges(ranges, from, end, read, (length) => zeroChunks(length, update))
}

/** readRangesSync through a FileHandle, without blocking the thread. */
export async function readRanges(handle: FileHandle, ranges: Float64Array | undefined, from: number, end: number, buffer: Buffer, update: (chunk: Buffer) => void): Promise<void> {
  const pieces: Array<[number, number] | number> = []
  feedRanges(
    ranges,
    from,
    end,
    (start, stop) => (pieces.push([start, stop]), true),
    (length) => void pieces.push(length)
  )
  for (const piece of pieces) {
    if (typeof piece === 'number') {
      zeroChunks(piece, update)
      continue
    }
    for (let offset = piece[0]; offset < piece[1]; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, piece[1] - offset), offset)
      if (bytesRead === 0) return
      update(buffer.subarray(0, bytesRead))
      offset += bytesRead
    }
  }
}
