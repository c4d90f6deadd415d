// Sinks "image" and "partition": per device, a copy of the base image (or of just the selected
// partition) with the bundle written into the partition's file system by debugfs/mtools, every
// file read back before the device counts as done. The base image is only ever read.
import { createHash, type Hash } from 'node:crypto'
import { open, mkdir, rename, rm, stat } from 'node:fs/promises'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import { CredbakeError, ImageError, isCredbakeError } from '../errors.js'
import { compressFile, compressionExtension, prepareBaseImage, type PreparedBase } from '../image/compress.js'
import { ImageCopier } from '../image/copy.js'
import { isExt } from '../image/fs.js'
import { runTool } from '../image/exec.js'
import { readDiskLayout, selectPartition, type Partition } from '../image/table.js'
import { describePartition, writeBundle } from '../image/write.js'
import type { DirState } from '../image/paths.js'
import type { Device } from '../manifest/types.js'
import type { Settings } from '../settings/types.js'
import { sha256File, tempSibling } from '../util/fsx.js'
import type { SinkContext } from './create.js'
import { wrapWriteError } from './errors.js'
import { fileMatches } from './files.js'
import type { Sink, SinkOutput } from './types.js'

const IMAGE_EXTENSIONS = ['.img', '.wic', '.sdimg', '.rpi-sdimg', '.raw', '.bin', '.iso', '.hddimg']

export class ImageSink implements Sink {
  readonly format: 'image' | 'partition'
  private readonly probeCache = new Map<string, DirState>()

  private constructor(
    private readonly settings: Settings,
    private readonly context: SinkContext,
    private readonly prepared: PreparedBase,
    private readonly partition: Partition,
    private readonly copier: ImageCopier,
    readonly base: { sha256: string; partition: string },
    /** SHA-256 state after the bytes before the partition, which no device changes. */
    private readonly prefixHash: Hash | undefined
  ) {
    this.format = settings.format === 'partition' ? 'partition' : 'image'
  }

  static async open(settings: Settings, context: SinkContext): Promise<ImageSink> {
    const image = settings.image as string
    const baseSha256 = await sha256File(image).catch((error: unknown) => {
      throw new ImageError(`Cannot read the base image ${image}: ${(error as Error).message}`, { file: image, cause: error })
    })
    const prepared = await prepareBaseImage(image, context.secrets.dir)
    try {
      const layout = await readDiskLayout(prepared.path, { onWarning: (message) => context.reporter.warning(message, { file: image }) })
      const partition = selectPartition(layout, settings.partition)
      // Fail before the first certificate is issued, not after: the tool must be there.
      if (isExt(partition.fileSystem.type)) await runTool('debugfs', ['-V'])
      else for (const tool of ['mmd', 'mcopy']) await runTool(tool, ['--version'])
      const copier = await ImageCopier.open(prepared.path, prepared.map ? { map: prepared.map } : {})
      const prefixHash =
        settings.format === 'image' && settings.compress === 'none' ? await hashPrefix(prepared.path, partition.start) : undefined
      const described = `${partition.number}${settings.partition ? ` (${settings.partition.kind === 'number' ? 'number' : `${settings.partition.kind}=${settings.partition.value}`})` : ''}`
      context.reporter.info(`Base image ${image}: writing into ${describePartition(partition)}, ${partition.fileSystem.type}`)
      return new ImageSink(settings, context, prepared, partition, copier, { sha256: baseSha256, partition: described }, prefixHash)
    } catch (error) {
      await prepared.cleanup()
      throw error
    }
  }

  async write(device: Device, files: BundleFile[]): Promise<SinkOutput> {
    const folder = path.join(this.settings.outputDir, this.format === 'image' ? 'images' : 'partitions')
    const target = path.join(folder, `${device.serial}${this.outputExtension()}`)
    const work = tempSibling(target)
    const packed = tempSibling(target)
    try {
      await mkdir(folder, { recursive: true })
      // For "partition" the work file is the partition alone: the file system starts at byte 0.
      const partition = this.format === 'image' ? this.partition : { ...this.partition, start: 0 }
      if (this.format === 'image') await this.copier.copyTo(work)
      else await this.copier.extractTo(work, this.partition.start, this.partition.size)
      const installed = await writeBundle({
        image: work,
        partition,
        files,
        tempDir: this.context.secrets.dir,
        serial: device.serial,
        probeCache: this.probeCache
      })
      let final = work
      let sha256: string
      if (this.settings.compress !== 'none') {
        await compressFile(work, packed, this.settings.compress)
        await rm(work, { force: true })
        final = packed
        sha256 = await sha256File(final)
      } else {
        sha256 = this.prefixHash ? await hashFrom(this.prefixHash, final, this.partition.start) : await sha256File(final)
      }
      const { size } = await stat(final)
      await rename(final, target)
      return {
        path: path.relative(this.settings.outputDir, target).split(path.sep).join('/'),
        size,
        sha256,
        partition: {
          number: this.partition.number,
          offset: this.partition.start,
          size: this.partition.size,
          fileSystem: this.partition.fileSystem.type,
          ...(this.partition.fileSystem.label ? { label: this.partition.fileSystem.label } : {})
        },
        files: installed
      }
    } catch (error) {
      await rm(work, { force: true })
      await rm(packed, { force: true })
      throw wrapWriteError(this.aboutBase(error, [work, packed], device), device, target)
    }
  }

  /**
   * The tools report the per-device work copy, a temporary file that is gone by now: name the
   * base image (what the user gave) and the device instead.
   */
  private aboutBase(error: unknown, temporary: string[], device: Device): unknown {
    if (!isCredbakeError(error)) return error
    const image = this.settings.image as string
    const shown = `${image} (copy for device ${device.serial})`
    let message = error.message
    for (const file of temporary) message = message.split(file).join(shown)
    const file = error.file !== undefined && temporary.includes(error.file) ? image : error.file
    if (message === error.message && file === error.file) return error
    return new CredbakeError(error.kind, message, { input: error.input, file, line: error.line, serial: error.serial ?? device.serial, cause: error })
  }

  verify(output: { path: string; sha256: string }): Promise<boolean> {
    return fileMatches(path.join(this.settings.outputDir, output.path), output.sha256)
  }

  async close(): Promise<void> {
    this.copier.release()
    await this.prepared.cleanup()
  }

  private outputExtension(): string {
    const compressed = compressionExtension(this.settings.compress)
    if (this.format === 'partition') return `.img${compressed}`
    const name = path.basename(this.settings.image as string).replace(/\.(gz|xz|zst|zstd)$/i, '')
    const ext = path.extname(name).toLowerCase()
    return `${IMAGE_EXTENSIONS.includes(ext) ? ext : '.img'}${compressed}`
  }
}

/** SHA-256 state after the first `length` bytes of `file`. */
async function hashPrefix(file: string, length: number): Promise<Hash> {
  const hash = createHash('sha256')
  await feed(hash, file, 0, length)
  return hash
}

/** Finish a copy of `prefix` with the bytes of `file` from `offset` on. */
async function hashFrom(prefix: Hash, file: string, offset: number): Promise<string> {
  const hash = prefix.copy()
  await feed(hash, file, offset, Infinity)
  return hash.digest('hex')
}

async function feed(hash: Hash, file: string, from: number, length: number): Promise<void> {
  const handle = await open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(8 << 20)
    let offset = from
    const end = from + length
    while (offset < end) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, end - offset), offset)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
      offset += bytesRead
    }
  } finally {
    await handle.close()
  }
}
