// SHA-256 of whole image outputs (hundreds of MiB each) on worker threads, so a device's digest is
// computed while the next device is copied and written. The bytes before the selected partition
// are the base image's in every output, so each worker hashes them once and resumes from a copy
// of that state. From src/ (no bundle to start as a worker) the main thread does the same work.
import { createHash, type Hash } from 'node:crypto'
import { closeSync, fstatSync, openSync } from 'node:fs'
import { open } from 'node:fs/promises'
import { isMainThread } from 'node:worker_threads'
import { BMAP_BLOCK_SIZE, BmapBuilder, type BmapSummary } from './bmap.js'
import { fsmapAddonPath, loadFsmap, readRanges, readRangesSync } from '../util/fsmap.js'
import { RUNNING_BUNDLE, serveWorker, WorkerPool } from '../util/worker-pool.js'

export const HASHER_ROLE = 'credbake-hasher'

interface HasherInit {
  /** File whose first `prefixLength` bytes every hashed file shares. */
  prefixFile?: string
  prefixLength: number
}

type Request = { file: string; bmap?: boolean }

export interface HashResult {
  sha256: string
  /** With `{ bmap: true }`: the file's block map, from the same read. */
  bmap?: BmapSummary
}

export interface FileHasher {
  /** SHA-256 (hex) of `file`, whose first bytes equal the prefix file's. */
  hash(file: string): Promise<string>
  /** SHA-256 and, with `bmap`, the block map of `file` (src/image/bmap.ts), reading it once. */
  hashFile(file: string, options: { bmap: boolean }): Promise<HashResult>
  close(): Promise<void>
}

/**
 * `options.bmap: false` promises no block maps will be asked for: the threads are then small
 * scripts of their own (below) instead of the whole bundle, which each thread would otherwise
 * load and compile (about 0.2 s of CPU apiece).
 */
export function createFileHasher(init: HasherInit, threads: number, options: { bmap?: boolean } = {}): FileHasher {
  const light = threads >= 1 && options.bmap === false
  const spec = light
    ? { role: HASHER_ROLE, source: LIGHT_HASHER_SOURCE, data: { fsmap: fsmapAddonPath() }, what: 'a hashing thread' }
    : { role: HASHER_ROLE, what: 'a hashing thread' }
  const pool = new WorkerPool<HasherInit, Request, HashResult>({ spec, threads: light || RUNNING_BUNDLE.endsWith('.js') ? Math.max(0, threads) : 0, init, open: hasherHandler })
  const hashFile = (file: string, options: { bmap: boolean }): Promise<HashResult> => {
    if (options.bmap && light) return Promise.reject(new Error('This hasher was created without block maps (createFileHasher with bmap: false).'))
    return pool.callAny({ file, ...(options.bmap ? { bmap: true } : {}) })
  }
  return {
    hash: async (file) => (await hashFile(file, { bmap: false })).sha256,
    hashFile,
    close: () => pool.close()
  }
}

function hasherHandler(init: HasherInit): (request: Request) => Promise<HashResult> {
  const hasher = new PrefixHasher(init)
  return (request) => hasher.hashFile(request.file, { bmap: request.bmap === true })
}

/**
 * A hashing thread without block maps, as a self-contained CommonJS script (no bundle to load):
 * the same work as PrefixHasher.hashFile with bmap false, speaking the pool's protocol
 * (src/util/worker-pool.ts: { init }, then { call, request } answered in order).
 */
const LIGHT_HASHER_SOURCE = `'use strict'
const { parentPort, workerData } = require('node:worker_threads')
const { createHash } = require('node:crypto')
const { openSync, readSync, closeSync, fstatSync } = require('node:fs')
const buffer = Buffer.allocUnsafe(8 << 20)
const zeros = Buffer.alloc(1 << 20)
let dataRanges
try {
  if (workerData.fsmap) dataRanges = require(workerData.fsmap).dataRanges
} catch {}
let init
let prefix
function feed(hash, file, from, length) {
  const fd = openSync(file, 'r')
  try {
    const end = Math.min(from + length, fstatSync(fd).size)
    // Holes are zeros: hash them from memory (as readRangesSync in src/util/fsmap.ts).
    const ranges = dataRanges ? dataRanges(fd, from, end) : [from, end]
    let at = from
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      const start = Math.max(at, ranges[i])
      const stop = Math.min(end, ranges[i + 1])
      if (stop <= start) continue
      for (let left = start - at; left > 0; left -= zeros.length) hash.update(left >= zeros.length ? zeros : zeros.subarray(0, left))
      for (let offset = start; offset < stop; ) {
        const n = readSync(fd, buffer, 0, Math.min(buffer.length, stop - offset), offset)
        if (n === 0) return
        hash.update(buffer.subarray(0, n))
        offset += n
      }
      at = stop
    }
    for (let left = end - at; left > 0; left -= zeros.length) hash.update(left >= zeros.length ? zeros : zeros.subarray(0, left))
  } finally {
    closeSync(fd)
  }
}
parentPort.on('message', (message) => {
  if ('init' in message) {
    init = message.init
    return
  }
  const { call, request } = message
  try {
    if (request.bmap) throw new Error('this hashing thread makes no block maps')
    if (!prefix) {
      prefix = createHash('sha256')
      if (init.prefixFile && init.prefixLength > 0) feed(prefix, init.prefixFile, 0, init.prefixLength)
    }
    const hash = prefix.copy()
    feed(hash, request.file, init.prefixLength, Infinity)
    if (call >= 0) parentPort.postMessage({ call, result: { sha256: hash.digest('hex') } })
  } catch (error) {
    if (call >= 0) parentPort.postMessage({ call, error: { kind: 'internal', message: error.message, plain: true, code: error.code } })
  }
})
`

class PrefixHasher {
  private prefix: Promise<Hash> | undefined
  private prefixMap: Promise<{ hash: Hash; bmap: BmapBuilder }> | undefined

  constructor(private readonly init: HasherInit) {}

  async hash(file: string): Promise<string> {
    return (await this.hashFile(file, { bmap: false })).sha256
  }

  async hashFile(file: string, options: { bmap: boolean }): Promise<HashResult> {
    if (!options.bmap) {
      this.prefix ??= this.hashPrefix(this.init.prefixLength).then(({ hash }) => hash)
      const hash = (await this.prefix).copy()
      await feed(hash, undefined, file, this.init.prefixLength, Infinity)
      return { sha256: hash.digest('hex') }
    }
    // The block map resumes at a block boundary: the block that straddles the prefix's end is
    // read from the file itself.
    const start = this.init.prefixLength - (this.init.prefixLength % BMAP_BLOCK_SIZE)
    this.prefixMap ??= this.hashPrefix(start)
    const prefix = await this.prefixMap
    const hash = prefix.hash.copy()
    const bmap = prefix.bmap.copy()
    await feed(hash, bmap, file, start, Infinity)
    return { sha256: hash.digest('hex'), bmap: bmap.finish() }
  }

  private async hashPrefix(length: number): Promise<{ hash: Hash; bmap: BmapBuilder }> {
    const hash = createHash('sha256')
    const bmap = new BmapBuilder()
    if (this.init.prefixFile && length > 0) await feed(hash, bmap, this.init.prefixFile, 0, length)
    return { hash, bmap }
  }
}

/** When this thread is a hashing worker, serve requests and return true; else false. */
export function runIfHasherWorker(): boolean {
  return serveWorker(HASHER_ROLE, hasherHandler)
}

/** One read buffer per thread, reused for every file. */
let feedBuffer: Buffer | undefined

/**
 * Hash (and map) bytes [from, from + length) of `file`, clipped to its size. Holes, where the
 * fsmap addon can tell them, are hashed from zeros in memory instead of read (src/util/fsmap.ts).
 */
async function feed(hash: Hash, bmap: BmapBuilder | undefined, file: string, from: number, length: number): Promise<void> {
  const fsmap = loadFsmap()
  const update = (chunk: Buffer): void => {
    hash.update(chunk)
    bmap?.update(chunk)
  }
  if (!isMainThread) {
    const buffer = (feedBuffer ??= Buffer.allocUnsafe(8 << 20))
    // A hashing thread does nothing else: blocking reads save a hop through the libuv pool per chunk.
    const fd = openSync(file, 'r')
    try {
      const end = Math.min(from + length, fstatSync(fd).size)
      readRangesSync(fd, fsmap?.dataRanges(fd, from, end), from, end, buffer, update)
    } finally {
      closeSync(fd)
    }
    return
  }
  const handle = await open(file, 'r')
  try {
    const end = Math.min(from + length, (await handle.stat()).size)
    // Concurrent calls on the main thread each need their own buffer.
    await readRanges(handle, fsmap?.dataRanges(handle.fd, from, end), from, end, Buffer.allocUnsafe(8 << 20), update)
  } finally {
    await handle.close()
  }
}
