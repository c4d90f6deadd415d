// An output format as one unit: the record every stage asks (OutputFormat), the sink the main thread
// writes through, the writer worker threads use, and what verify reads. Each format is one file of
// this folder exporting its record; src/formats/registry.ts lists them.
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import type { Settings } from '../settings/types.js'
import type { RunLog } from '../shapes/log.js'
import type { PreexistingFile, ReviewWarning, SinkOutput } from '../shapes/output.js'
import type { ManifestDevice, ManifestFile } from '../shapes/review.js'
import type { SecretTemp } from '../util/secret-temp.js'
import type { OutputRequest, OutputView, ReadContext } from './read.js'

/**
 * One output format. Everything the bake, the review, verify, merge, the settings and the demo
 * need to know about a format is here; nothing outside this folder decides by a format's name.
 */
export interface OutputFormat {
  /** The value of the `format` input, e.g. "tar". */
  readonly name: string
  /** What one device gets, for the `format` input's description (README, action.yml, --help). */
  readonly summary: string
  /** The folder of output-dir its per-device outputs go to (the trust boundary accepts only these). */
  readonly folder: string
  /** Bakes into a base image: `image` is required, `compress` and `bmap` apply, the base image's preexisting files are recorded. */
  readonly takesImage: boolean
  /**
   * Each output is a folder holding the device's files at their paths (not one file): SHA256SUMS
   * lists its files, merge links them one by one, and the host path holds the device paths.
   */
  readonly tree: boolean
  /** What one output is called in verify's messages: "archive", "tree", "image". */
  readonly noun: string
  /** Outputs are large (images): verify reads them one at a time rather than in batches. */
  readonly largeOutputs: boolean
  /**
   * The path credbake gives `serial`'s output, relative to output-dir (verify checks a manifest
   * names no other); undefined when `run` does not say enough (an image output without its base's name).
   */
  outputPath(serial: string, run: OutputRun): string | undefined
  /** The sink the main thread writes through (opened once per run; loads what it needs lazily). */
  open(settings: Settings, context: SinkContext): Promise<Sink>
  /**
   * When worker threads write this format's outputs themselves: the writer a worker makes from the
   * sink's `writer` spec. Absent: the main thread writes through the sink.
   */
  readonly workerWriter?: (spec: OutputWriterSpec) => OutputWriter
  /**
   * The shell commands, with a line saying what they show, that list what one output holds (the
   * demo's next steps): `output` is its path as typed, `credbake` how credbake is run,
   * `partition` the partition input.
   */
  lookInside(output: string, credbake: string, partition: string | undefined): string[]
  /** verify: one output as it is now (throws OutputUnreadable when it cannot be read at all). */
  read(context: ReadContext, device: ManifestDevice, request: OutputRequest): Promise<OutputView>
}

/** What decides an output's name besides the serial. */
export interface OutputRun {
  compress: string
  /** The base image's path as given (image formats take their extension from it). */
  image?: string
}

/** What SHA256SUMS lists of one device: its output, or (tree formats) the files in it. */
export type ChecksumSource = {
  output: Pick<ManifestDevice['output'], 'path' | 'sha256' | 'bmap'>
  files: ReadonlyArray<Pick<ManifestFile, 'path' | 'partitionPath' | 'sha256' | 'privateKey'>>
}

export interface WriteHooks {
  /**
   * Awaited right before the first byte of this device's key is written. Sinks that write several
   * devices at once call it in turn, so a device whose turn never comes is never recorded.
   */
  beforeKeyWritten?: () => Promise<void>
}

/**
 * What a worker thread needs to write a sink's outputs itself: plain data (it crosses threads by
 * structured clone). Sinks whose outputs are small self-contained files (tar, dir) offer one, so
 * issuance workers build and write outputs and the main thread only journals.
 */
export interface OutputWriterSpec {
  /** The format's name: the worker opens that format's `workerWriter`. */
  format: string
  outputDir: string
  /** ISO time: tar entry mtimes. */
  mtime: string
}

/** Writes one device's output synchronously, on whatever thread holds it. */
export interface OutputWriter {
  write(device: Device, files: BundleFile[]): SinkOutput
  /** After a batch of writes: release what the writer holds between them (a staging folder). */
  idle?(): void
}

export interface Sink {
  readonly format: string
  /**
   * How the outputs are written, the format's choice: `writer` when the device workers write them
   * (see OutputWriterSpec: tar, dir), else `write` on the main thread (images). A sink has one.
   */
  readonly writer?: OutputWriterSpec
  /** For image formats: the base image's SHA-256 and the selected partition, e.g. "2 (label=rootfs)". */
  readonly base?: { sha256: string; partition: string }
  /**
   * Set when the files go below an OSTree stateroot's var: the bundle then gives each file its
   * sysroot path (`partitionPath`) and the review records the stateroot (and, for images, its
   * deployments in the base image).
   */
  readonly ostree?: { os: string; sysrootPaths: boolean; deployments?: string[] }
  /** What the review must warn about (already reported in the log when the sink opened). */
  readonly warnings?: readonly ReviewWarning[]
  /** Files of the base image's credentials folder that every output keeps beside the bundle. */
  readonly preexisting?: readonly PreexistingFile[]
  /**
   * Without `writer`: write one device's files on the main thread; must leave no partial output
   * behind when it throws. Outputs are not fsync'd one by one: the journal is, resume re-verifies
   * every output's SHA-256, and the run flushes the output file system once before it writes the
   * manifest (flushOutputs).
   */
  write?(device: Device, files: BundleFile[], hooks?: WriteHooks): Promise<SinkOutput>
  /**
   * What the outputs will take on disk, for the preflight before the first certificate:
   * `bytesPerOutput` when it is known before writing (else it is measured on the first output),
   * `transientBytes` for work files that exist at once beside them (images in flight).
   */
  readonly space?: { bytesPerOutput?: number; transientBytes?: number; basis?: string }
  /** How many `write` calls may run at once (1: strictly one after another). */
  readonly writesInFlight?: number
  /** True when an earlier output is still in place and unchanged (for resume). */
  verify(output: { path: string; sha256: string }): Promise<boolean>
  /** Release shared resources (decompressed base image, …). */
  close(): Promise<void>
}

export interface SinkContext {
  /** 0700 folder for files a tool must read (key files for debugfs/mtools). */
  secrets: SecretTemp
  /** One timestamp for the whole run (tar entry mtimes). */
  mtime: Date
  reporter: RunLog
}
