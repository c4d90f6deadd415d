// The sink of formats "image" and "partition" (their records: image.ts): per device, a copy of the base image (or of just the selected
// partition) with the bundle written into the partition's file system by debugfs/mtools, every
// file read back before the device counts as done. The base image is only ever read.
import { rename, rm, stat } from 'node:fs/promises'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import { CredbakeError, ImageError, OutputError, isCredbakeError } from '../errors.js'
import { bmapPathFor, writeBmapFile, type BmapSummary } from '../image/bmap.js'
import { compressFile, prepareBaseImage, type PreparedBase } from '../image/compress.js'
import { DEFAULT_CACHE_LIMIT, ImageCopier } from '../image/copy.js'
import { isExt } from '../image/fs.js'
import { runTool } from '../image/exec.js'
import { readDiskLayout, selectPartition, type Partition } from '../image/table.js'
import { checkWritable, describePartition, writeBundle } from '../image/write.js'
import { examineTarget, type TargetFindings } from '../image/target.js'
import type { PreexistingFile, ReviewWarning, SinkOutput } from '../shapes/output.js'
import type { DirState } from '../image/paths.js'
import type { Device } from '../manifest/types.js'
import type { Settings } from '../settings/types.js'
import { ensureFolder } from '../util/confined.js'
import { sha256File, tempSibling } from '../util/fsx.js'
import { createFileHasher, type FileHasher } from '../image/hash-pool.js'
import { wrapWriteError } from './errors.js'
import { fileMatches } from './files.js'
import type { OutputFormat, Sink, SinkContext, WriteHooks } from './types.js'

/**
 * Devices in flight at once: while earlier devices' outputs are hashed (worker threads), the next
 * are copied and written by debugfs (another process), so both cores work. The bake keeps this many
 * devices in flight and starts the next as soon as the oldest has landed. The work copies in
 * flight take disk room until they land (compressed outputs: until compressed), so there are at
 * most about WORK_COPIES_BUDGET bytes of them, never fewer than 2 devices or more than 32 (a
 * 256 MiB base with 64 MiB of data: 28).
 */
const WORK_COPIES_BUDGET = 2 * 1024 ** 3

export function imageWritesInFlight(bytesPerCopy: number): number {
  return Math.max(2, Math.min(32, Math.floor(WORK_COPIES_BUDGET / Math.max(1, bytesPerCopy))))
}

/** CREDBAKE_IMAGE_IN_FLIGHT (1-64) overrides the number (tests make a small window slide). */
function inFlightOverride(): number | undefined {
  const value = Number(process.env.CREDBAKE_IMAGE_IN_FLIGHT)
  return Number.isInteger(value) && value >= 1 && value <= 64 ? value : undefined
}

/** One hashing thread per core. */
const HASH_THREADS = Math.max(1, Math.min(4, availableParallelism()))

/**
 * Bases whose data is at most this many bytes are kept in memory for the per-device copies; larger
 * ones are streamed (bounded buffers), so a 4 GiB base with 1.5 GiB of data stays far below
 * 512 MiB of memory. CREDBAKE_IMAGE_CACHE_LIMIT (bytes) overrides it (tests take the streaming
 * path with 0).
 */
function imageCacheLimit(): number {
  const value = Number(process.env.CREDBAKE_IMAGE_CACHE_LIMIT)
  return process.env.CREDBAKE_IMAGE_CACHE_LIMIT !== undefined && Number.isSafeInteger(value) && value >= 0 ? value : DEFAULT_CACHE_LIMIT
}

export class ImageSink implements Sink {
  readonly format: string
  readonly writesInFlight: number
  readonly space: { bytesPerOutput?: number; transientBytes: number; basis: string }
  readonly ostree?: TargetFindings['ostree']
  readonly warnings: readonly ReviewWarning[]
  readonly preexisting: readonly PreexistingFile[]
  private readonly probeCache = new Map<string, DirState>()

  private constructor(
    /** imageFormat or partitionFormat (image.ts). */
    private readonly record: OutputFormat,
    /** The output is a copy of the whole base image (format image), else of the selected partition alone. */
    private readonly wholeImage: boolean,
    private readonly settings: Settings,
    private readonly context: SinkContext,
    private readonly prepared: PreparedBase,
    private readonly partition: Partition,
    private readonly copier: ImageCopier,
    readonly base: { sha256: string; partition: string },
    /** Digests of uncompressed outputs, resuming after the bytes before the partition (no device changes them). */
    private readonly hasher: FileHasher,
    /** Bytes the uncompressed base allocates on disk. */
    baseAllocated: number,
    findings: TargetFindings
  ) {
    this.format = record.name
    if (findings.ostree) this.ostree = findings.ostree
    this.warnings = findings.warnings
    this.preexisting = findings.preexisting
    // An uncompressed output allocates what the base (or its partition) allocates, plus the few
    // blocks the bundle adds; a compressed one is measured on the first output, and the
    // uncompressed work copies in flight need room beside it.
    const copy = this.wholeImage ? baseAllocated : Math.min(partition.size, baseAllocated)
    const perOutput = copy + 64 * 1024
    this.writesInFlight = inFlightOverride() ?? imageWritesInFlight(perOutput)
    this.space =
      settings.compress === 'none'
        ? { bytesPerOutput: perOutput, transientBytes: 0, basis: `the base ${this.wholeImage ? 'image' : 'partition'}'s allocated size` }
        : { transientBytes: perOutput * this.writesInFlight, basis: 'work copies in flight' }
  }

  static async open(record: OutputFormat, wholeImage: boolean, settings: Settings, context: SinkContext): Promise<ImageSink> {
    const image = settings.image as string
    const info = await stat(image).catch((error: unknown) => {
      const code = (error as NodeJS.ErrnoException).code
      throw new ImageError(`Cannot read the base image ${image}: ${code === 'ENOENT' ? 'it does not exist' : (error as Error).message}.`, { file: image, cause: error })
    })
    if (!info.isFile() && !info.isBlockDevice()) throw new ImageError(`Cannot read the base image ${image}: it is not a regular file.`, { file: image })
    const prepared = await prepareBaseImage(image, context.secrets.dir)
    // A compressed base is hashed as given; an uncompressed one in the copier's single read.
    const compressedSha256 =
      prepared.compression === 'none'
        ? undefined
        : await sha256File(image).catch((error: unknown) => {
            throw new ImageError(`Cannot read the base image ${image}: ${(error as Error).message}`, { file: image, cause: error })
          })
    try {
      const layout = await readDiskLayout(prepared.path, { onWarning: (message) => context.reporter.warning(message, { file: image }) })
      const partition = selectPartition(layout, settings.partition)
      checkWritable(partition, image)
      // Fail before the first certificate is issued, not after: the tool must be there.
      if (isExt(partition.fileSystem.type)) await runTool('debugfs', ['-V'])
      else for (const tool of ['mmd', 'mcopy']) await runTool(tool, ['--version'])
      // Where the files go (an OSTree stateroot's var?) and what the review must warn about.
      const findings = await examineTarget({
        image: prepared.path,
        shownImage: image,
        partitions: layout.partitions,
        partition,
        settings: {
          ...(settings.ostreeOs === undefined ? {} : { ostreeOs: settings.ostreeOs }),
          credentialsDir: settings.credentialsDir,
          layout: settings.layout,
          serverCa: settings.serverCa !== undefined,
          gatewayUrl: settings.gatewayUrl !== undefined
        },
        tempDir: context.secrets.dir
      })
      const copier = await ImageCopier.open(prepared.path, { ...(prepared.map ? { map: prepared.map } : {}), cacheLimit: imageCacheLimit() })
      const baseSha256 = compressedSha256 ?? copier.sha256 ?? (await sha256File(prepared.path))
      const sharesPrefix = wholeImage && settings.compress === 'none'
      const hasher = createFileHasher({ prefixFile: sharesPrefix ? prepared.path : undefined, prefixLength: sharesPrefix ? partition.start : 0 }, HASH_THREADS, {
        bmap: settings.bmap
      })
      const described = `${partition.number}${settings.partition ? ` (${settings.partition.kind === 'number' ? 'number' : `${settings.partition.kind}=${settings.partition.value}`})` : ''}`
      context.reporter.info(`Base image ${image}: writing into ${describePartition(partition)}, ${partition.fileSystem.type}`)
      for (const note of findings.notes) context.reporter.info(note)
      for (const warning of findings.warnings) context.reporter.warning(warning.message, { file: image })
      const baseAllocated = (await stat(prepared.path)).blocks * 512
      return new ImageSink(record, wholeImage, settings, context, prepared, partition, copier, { sha256: baseSha256, partition: described }, hasher, baseAllocated, findings)
    } catch (error) {
      await prepared.cleanup()
      throw error
    }
  }

  async write(device: Device, files: BundleFile[], hooks: WriteHooks = {}): Promise<SinkOutput> {
    const folder = path.join(this.settings.outputDir, this.record.folder)
    const target = path.join(this.settings.outputDir, ...(this.record.outputPath(device.serial, this.settings) as string).split('/'))
    const work = tempSibling(target)
    const packed = tempSibling(target)
    // For "partition" the work file is the partition alone: the file system starts at byte 0.
    const partition = this.wholeImage ? this.partition : { ...this.partition, start: 0 }
    // Copy and write one device after another, in the order write() was called (the turn is taken
    // before the first await), and none after one failed; only compression and hashing of earlier
    // devices overlap with this. (Two debugfs at once would start the next device's key before
    // the one before it is known to have landed: test/robustness/faults.test.ts holds the order.)
    const written = this.inTurn(device, async () => {
      // images/ (partitions/) is made here or checked to be a real folder: never a planted link.
      await ensureFolder(folder)
      await hooks.beforeKeyWritten?.()
      // The work copy, its compressed form and so the output are 0600 from creation on (the
      // copier and compressFile make them so): they hold the device key once debugfs/mtools ran.
      if (this.wholeImage) await this.copier.copyTo(work)
      else await this.copier.extractTo(work, this.partition.start, this.partition.size)
      return writeBundle({
        image: work,
        partition,
        files,
        tempDir: this.context.secrets.dir,
        serial: device.serial,
        probeCache: this.probeCache
      })
    })
    try {
      const installed = await written
      let final = work
      let map: BmapSummary | undefined
      let sha256: string
      if (this.settings.compress !== 'none') {
        // The bmap describes the uncompressed image (bmaptool decompresses, then maps): read on a
        // hashing thread while the compressor reads the same, freshly written, file.
        const [mapped] = await Promise.all([this.settings.bmap ? this.hasher.hashFile(work, { bmap: true }) : undefined, compressFile(work, packed, this.settings.compress)])
        map = mapped?.bmap
        await rm(work, { force: true })
        final = packed
        sha256 = await this.hasher.hash(final)
      } else {
        // One read gives the output's SHA-256 and its block map.
        const hashed = await this.hasher.hashFile(final, { bmap: this.settings.bmap })
        sha256 = hashed.sha256
        map = hashed.bmap
      }
      const { size } = await stat(final)
      const relative = path.relative(this.settings.outputDir, target).split(path.sep).join('/')
      // The bmap lands first: an output in place always has its bmap beside it.
      const bmap = map ? { path: bmapPathFor(relative), sha256: await writeBmapFile(path.join(this.settings.outputDir, bmapPathFor(relative)), map) } : undefined
      await rename(final, target)
      return {
        path: relative,
        size,
        sha256,
        ...(bmap ? { bmap } : {}),
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

  private turn: Promise<void> = Promise.resolve()
  private failedDevice: string | undefined
  private inTurn<T>(device: Device, step: () => Promise<T>): Promise<T> {
    const result = this.turn.then(async () => {
      if (this.failedDevice !== undefined) {
        throw new OutputError(`Device ${device.serial} was not written because device ${this.failedDevice} failed before it.`, {
          serial: device.serial
        })
      }
      try {
        return await step()
      } catch (error) {
        this.failedDevice ??= device.serial
        throw error
      }
    })
    this.turn = result.then(
      () => undefined,
      () => undefined
    )
    return result
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

  async verify(output: { path: string; sha256: string; bmap?: { path: string; sha256: string } }): Promise<boolean> {
    // A run with bmap needs the bmap beside a kept output, unchanged.
    if (this.settings.bmap && !output.bmap) return false
    if (output.bmap && !(await fileMatches(path.join(this.settings.outputDir, output.bmap.path), output.bmap.sha256))) return false
    return fileMatches(path.join(this.settings.outputDir, output.path), output.sha256)
  }

  async close(): Promise<void> {
    await this.hasher.close()
    this.copier.release()
    await this.prepared.cleanup()
  }
}
