// Compressed base images (.gz, .xz, .zst) are decompressed once into a sparse temp file; outputs
// can be compressed the same three ways. gzip is Node's zlib; xz and zstd are the command-line
// tools, streamed (no whole-image buffers).
import { spawn } from 'node:child_process'
import { createReadStream } from 'node:fs'
import { chmod, mkdtemp, open, rm, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import { pipeline as pipelineStreams, type Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createGunzip, createGzip } from 'node:zlib'
import { ImageError, OutputError, ToolError, messageOf } from '../errors.js'
import type { Compression } from '../settings/types.js'
import { addRange, dataBytesOf, type DataMap } from './copy.js'
import { installHint } from './exec.js'
import { dataRuns, readAt, writeAt } from './io.js'

export type CompressedKind = Exclude<Compression, 'none'>

const MAGIC: Array<{ kind: CompressedKind; bytes: number[] }> = [
  { kind: 'gz', bytes: [0x1f, 0x8b] },
  { kind: 'xz', bytes: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00] },
  { kind: 'zst', bytes: [0x28, 0xb5, 0x2f, 0xfd] }
]

/** Compression of `file` by its magic bytes (the name may lie; the content does not). */
export async function detectCompression(file: string): Promise<Compression> {
  let handle
  try {
    handle = await open(file, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new ImageError(`Cannot read the base image ${file}: ${code === 'ENOENT' ? 'it does not exist' : messageOf(error)}.`, { file, cause: error })
  }
  try {
    const head = await readAt(handle, 0, 8)
    for (const { kind, bytes } of MAGIC) if (bytes.every((b, i) => head[i] === b)) return kind
    return 'none'
  } finally {
    await handle.close()
  }
}

interface ToolStream {
  stream: Readable
  done: Promise<void>
  kill(): void
}

/** Run `tool args` and expose its stdout; `done` rejects when it fails. */
function toolOutput(tool: string, args: string[], what: string): ToolStream {
  const child = spawn(tool, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => {
    if (stderr.length < 4096) stderr += chunk.toString('utf8')
  })
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'ENOENT'
          ? new ToolError(`${tool} was not found on PATH. ${installHint(tool)}`, { cause: error })
          : new ToolError(`Cannot run ${tool}: ${error.message}`, { cause: error })
      )
    })
    child.on('close', (code, signal) => {
      if (code === 0) resolve()
      else reject(new ImageError(`${what}: ${tool} ${signal ? `was killed by ${signal}` : `exited with ${code}`}${stderr.trim() ? `: ${stderr.trim()}` : ''}`))
    })
  })
  done.catch(() => undefined) // observed by the caller; avoid an unhandled rejection meanwhile
  return { stream: child.stdout, done, kill: () => void child.kill() }
}

const BLOCK_BUFFER = 4 << 20

/**
 * Decompress `src` (`kind`) into a new sparse `dest`: all-zero 4 KiB blocks become holes. Returns
 * the data map of the result, so copies need no second scan.
 */
export async function decompressToSparse(src: string, dest: string, kind: CompressedKind): Promise<DataMap> {
  const what = `Cannot decompress the base image ${src}`
  let tool: ToolStream | undefined
  let input: Readable
  if (kind === 'gz') {
    // pipeline, not pipe: a read or inflate error reaches the loop below once, and no stream is
    // left emitting an 'error' nobody listens to (a corrupt .gz then crashed the process).
    input = pipelineStreams(createReadStream(src), createGunzip(), () => undefined)
  } else {
    tool = kind === 'xz' ? toolOutput('xz', ['-dc', '-T0', '--', src], what) : toolOutput('zstd', ['-dcq', '--', src], what)
    input = tool.stream
  }
  // The base holds no key, but every device copy is made from this file: keep it private too.
  const out = await openPrivate(dest)
  const ranges: Array<[number, number]> = []
  let offset = 0 // of buffer[0] in the output
  let fill = 0
  const buffer = Buffer.allocUnsafe(BLOCK_BUFFER)
  const flush = async (length: number): Promise<void> => {
    for (const [s, e] of dataRuns(buffer, length)) {
      await writeAt(out, buffer.subarray(s, e), offset + s)
      addRange(ranges, offset + s, offset + e)
    }
    offset += length
  }
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      let at = 0
      while (at < chunk.length) {
        const n = Math.min(chunk.length - at, BLOCK_BUFFER - fill)
        chunk.copy(buffer, fill, at, at + n)
        fill += n
        at += n
        if (fill === BLOCK_BUFFER) {
          await flush(fill)
          fill = 0
        }
      }
    }
    if (tool) await tool.done
    await flush(fill)
    await out.truncate(offset)
    await out.close()
  } catch (error) {
    await out.close().catch(() => undefined)
    await rm(dest, { force: true })
    if (tool) {
      tool.kill() // no-op when it already exited; never leave it blocked on a full pipe
      await tool.done.catch((e: unknown) => (error = e instanceof ToolError ? e : error))
    }
    if (error instanceof ImageError || error instanceof ToolError) throw error
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOSPC') throw new OutputError(`No space left to decompress ${src} into ${dest}.`, { file: dest, cause: error })
    throw new ImageError(`${what}: ${messageOf(error)}`, { file: src, cause: error })
  }
  return { size: offset, ranges, dataBytes: dataBytesOf(ranges) }
}

export interface PreparedBase {
  /** The uncompressed image to copy from (the original when it was not compressed). */
  path: string
  /** Compression of the original. */
  compression: Compression
  /** Data map when decompression produced one. */
  map?: DataMap
  /** Removes the decompressed temp file (no-op for an uncompressed base). */
  cleanup(): Promise<void>
}

/** Detect compression and, if needed, decompress once into a sparse file under `tempDir`. */
export async function prepareBaseImage(file: string, tempDir: string): Promise<PreparedBase> {
  const compression = await detectCompression(file)
  if (compression === 'none') return { path: file, compression, cleanup: async () => undefined }
  const dir = await mkdtemp(path.join(tempDir, 'base-'))
  await chmod(dir, 0o700)
  const dest = path.join(dir, path.basename(file).replace(/\.(gz|xz|zst|zstd)$/i, '') || 'base.img')
  try {
    const map = await decompressToSparse(file, dest, compression)
    return { path: dest, compression, map, cleanup: () => rm(dir, { recursive: true, force: true }) }
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
}

/** Mode of files made here: compressed outputs hold a device key, the decompressed base feeds them. */
export const PRIVATE_MODE = 0o600

/**
 * Open `file` for writing (created or truncated) at 0600 whatever the umask, which can only narrow
 * the mode given to open, and whatever mode an existing file had.
 */
async function openPrivate(file: string): Promise<FileHandle> {
  const handle = await open(file, 'w', PRIVATE_MODE)
  try {
    await handle.chmod(PRIVATE_MODE)
  } catch (error) {
    await handle.close().catch(() => undefined)
    throw error
  }
  return handle
}

/** Compress `src` into `dest` (replaced, 0600). xz and zstd use all cores. */
export async function compressFile(src: string, dest: string, kind: CompressedKind): Promise<void> {
  let out: FileHandle | undefined
  try {
    out = await openPrivate(dest)
    // The stream closes the handle when it finishes or fails.
    const sink = out.createWriteStream()
    if (kind === 'gz') {
      await pipeline(createReadStream(src), createGzip(), sink)
      return
    }
    const args = kind === 'xz' ? ['-c', '-T0', '--', src] : ['-c', '-q', '-T0', '--', src]
    const tool = kind === 'xz' ? 'xz' : 'zstd'
    const run = toolOutput(tool, args, `Cannot compress ${src}`)
    await pipeline(run.stream, sink)
    await run.done
  } catch (error) {
    await out?.close().catch(() => undefined)
    await rm(dest, { force: true })
    if (error instanceof ToolError) throw error
    if (error instanceof ImageError) throw new OutputError(error.message, { file: dest, cause: error })
    throw new OutputError(`Cannot write ${dest}: ${messageOf(error)}`, { file: dest, cause: error })
  }
}

/** SHA-256 of a file (one implementation for the whole project). */
export { sha256File } from '../util/fsx.js'
