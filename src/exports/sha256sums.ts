// output-dir/SHA256SUMS, a review export: one `sha256sum -c` line per output file, paths relative
// to output-dir, in manifest order (the order devices are added), so the same journal always gives
// the same file; then one line per file the exports before it wrote (registration files, ...).
// Streamed through an AtomicStream: memory stays flat in the fleet size and the file appears
// (temp, fsync, rename, 0644) only when complete.
//
// What is listed for each device is its format's rule (outputChecksums in src/formats/registry.ts):
// the output file itself, or one line per file of a tree output (dir) except private keys; then
// its bmap file, when one was written.
import path from 'node:path'
import { findFormat, outputChecksums } from '../formats/registry.js'
import type { ReviewExport } from './types.js'
import { AtomicStream } from '../util/atomic-stream.js'
import type { ManifestDevice } from '../shapes/review.js'

export const SHA256SUMS_FILE = 'SHA256SUMS'

const HEX64 = /^[0-9a-f]{64}$/

/**
 * One line in GNU coreutils' format: "HEX  NAME\n". A name holding a backslash, LF or CR is
 * escaped (\\, \n, \r) and the line starts with a backslash, as `sha256sum` itself writes it.
 */
export function sha256SumsLine(relativePath: string, sha256: string): string {
  if (!HEX64.test(sha256)) throw new Error(`SHA256SUMS: "${sha256}" is not a lower-case SHA-256 hex digest (for ${relativePath})`)
  if (relativePath === '' || relativePath.startsWith('/') || relativePath.split('/').includes('..')) {
    throw new Error(`SHA256SUMS: "${relativePath}" is not a path inside output-dir`)
  }
  if (!/[\\\n\r]/.test(relativePath)) return `${sha256}  ${relativePath}\n`
  const escaped = relativePath.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/\r/g, '\\r')
  return `\\${sha256}  ${escaped}\n`
}

/** The SHA256SUMS lines of one manifest device entry, as [path, sha256] pairs (its format's rule). */
export function deviceSums(device: ManifestDevice, format: string): Array<[string, string]> {
  return outputChecksums(findFormat(format) ?? { tree: false }, device)
}

export class Sha256SumsWriter {
  private lines = 0

  private constructor(private readonly stream: AtomicStream) {}

  /** Start `outputDir/SHA256SUMS` (under a temporary name until commit). */
  static open(outputDir: string): Sha256SumsWriter {
    return new Sha256SumsWriter(new AtomicStream(path.join(outputDir, SHA256SUMS_FILE)))
  }

  /** One file: `relativePath` relative to output-dir, POSIX separators. */
  async add(relativePath: string, sha256: string): Promise<void> {
    await this.stream.write(sha256SumsLine(relativePath, sha256))
    this.lines++
  }

  /** One file (see add), held in memory until `drain`. */
  addNow(relativePath: string, sha256: string): void {
    this.stream.push(sha256SumsLine(relativePath, sha256))
    this.lines++
  }

  /** Every file of one device's output (see addDevice), held in memory until `drain`. */
  addDeviceNow(device: ManifestDevice, format: string): void {
    for (const [file, sha256] of deviceSums(device, format)) {
      this.stream.push(sha256SumsLine(file, sha256))
      this.lines++
    }
  }

  async drain(): Promise<void> {
    await this.stream.flushIfFull()
  }

  /**
   * Every file of one device's output, as its manifest entry records it. `format` is the run's
   * output format (header.output.format); needed to tell a dir output from a file output.
   */
  async addDevice(device: ManifestDevice, format: string): Promise<void> {
    for (const [file, sha256] of deviceSums(device, format)) await this.add(file, sha256)
  }

  get count(): number {
    return this.lines
  }

  /** fsync and rename into place; returns the path. An empty fleet gives an empty file. */
  async commit(): Promise<string> {
    await this.stream.commit()
    return this.stream.target
  }

  async abandon(): Promise<void> {
    await this.stream.abandon()
  }
}

/** The export: every active device's output files, then the files of the exports committed before it. */
export const sha256sumsExport: ReviewExport = {
  name: SHA256SUMS_FILE,
  always: true,
  files: [SHA256SUMS_FILE],
  open(run) {
    const sums = Sha256SumsWriter.open(run.outputDir)
    const format = findFormat(run.header.output.format) ?? { tree: false }
    return {
      device: (device) => {
        // A file output is one line (and its bmap): no files read. A tree lists its files.
        if (!format.tree && device.output.bmap === undefined) sums.addNow(device.output.path, device.output.sha256)
        else for (const [file, sha256] of outputChecksums(format, { output: device.output, files: format.tree ? device.files() : [] })) sums.addNow(file, sha256)
      },
      drain: () => sums.drain(),
      commit: async (before) => {
        for (const file of before) sums.addNow(file.path, file.sha256)
        await sums.commit()
        return []
      },
      abandon: () => sums.abandon()
    }
  }
}
