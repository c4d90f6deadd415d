// Sink "tar": output-dir/overlays/SERIAL.tar.gz, an overlay to extract over the root file system
// (`tar -xzpf SERIAL.tar.gz -C /mnt/rootfs`). Entries carry the device paths (relative), modes,
// uid/gid 0 and a directory entry for every parent, so extraction as root yields the right tree.
// TarWriter does the work synchronously, so issuance workers write overlays themselves (the sink's
// `writer`); TarSink.write is the same on the calling thread.
import { closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import { ensureFolderSync } from '../util/confined.js'
import { tempIn, writeAllSync } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { wrapWriteError } from './errors.js'
import { describeFiles, fileMatches, placedFiles } from './files.js'
import { overlayGzip } from './tar-gzip.js'
import type { SinkOutput } from '../shapes/output.js'
import type { OutputWriter, OutputWriterSpec, Sink, WriteHooks } from './types.js'

/** Allocated bytes of one overlay (measured: about 1.5 KiB of file in one 4 KiB block, rounded). */
const OVERLAY_BYTES = 8 * 1024

export class TarWriter implements OutputWriter {
  private readonly root: string
  /** `root` relative to output-dir with POSIX separators, as outputs are recorded. */
  private readonly recordedRoot: string
  private rootReady = false
  /**
   * This writer's own folder for archives being written (overlays/.staging.tmp-PID-RANDOM, a
   * temporary name that removeLeftoverTemps clears after a crash; inside overlays/, so the rename
   * never leaves its file system), made for a batch and removed by `idle`. Creating a file takes its folder's lock while the file system finds it
   * an inode: in a folder of their own, two workers do not queue for overlays/ (on ext4 after large
   * deletes a create costs ~0.1 ms there and waiters spin); only the rename into it is shared.
   */
  private staging: string | undefined

  constructor(
    outputDir: string,
    private readonly mtime: Date
  ) {
    this.root = path.join(outputDir, 'overlays')
    this.recordedRoot = path.relative(outputDir, this.root).split(path.sep).join('/')
  }

  write(device: Device, files: BundleFile[]): SinkOutput {
    // A serial is one plain file name (the manifest allows A-Z a-z 0-9 . _ -, no leading dot).
    const name = `${device.serial}.tar.gz`
    const target = `${this.root}${path.sep}${name}`
    let temp: string | undefined
    let archive: Buffer
    try {
      // The .tar.gz in one pass, without zlib's per-call set-up (tar-gzip.ts).
      // Entries at sysroot paths when the bundle has them (ostree-os), else at device paths.
      archive = overlayGzip(placedFiles(files), this.mtime)
      if (!this.rootReady) {
        // overlays/ is made here or checked to be a real folder: never a planted link.
        ensureFolderSync(this.root)
        this.rootReady = true
      }
      if (this.staging === undefined) {
        const staging = tempIn(this.root, 'staging')
        mkdirSync(staging, { mode: 0o700 })
        this.staging = staging
      }
      temp = tempIn(this.staging, name)
      // The archive holds the device key: 0600 from creation on, whatever the umask (which can
      // only narrow the mode given to open, so it is set again explicitly).
      const fd = openSync(temp, 'wx', 0o600)
      try {
        fchmodSync(fd, 0o600)
        writeAllSync(fd, archive)
      } finally {
        closeSync(fd)
      }
      renameSync(temp, target)
    } catch (error) {
      if (temp !== undefined) rmSync(temp, { force: true })
      throw wrapWriteError(error, device, target)
    }
    return {
      path: `${this.recordedRoot}/${name}`,
      size: archive.length,
      sha256: sha256Hex(archive),
      files: describeFiles(files, { modes: true, owners: true })
    }
  }

  /** Remove the staging folder (empty: every archive in it was renamed into place or removed). */
  idle(): void {
    if (this.staging === undefined) return
    const staging = this.staging
    this.staging = undefined
    rmSync(staging, { recursive: true, force: true })
  }
}

export class TarSink implements Sink {
  readonly format = 'tar'
  readonly space = { bytesPerOutput: OVERLAY_BYTES, basis: 'an overlay of a few KiB' }
  readonly writer: OutputWriterSpec
  /** With ostree-os: the overlays hold sysroot paths, to extract into a mounted otaroot. */
  readonly ostree?: { os: string; sysrootPaths: boolean }
  private readonly local: TarWriter

  /** `mtime` is the same for every entry of the run, so outputs differ only by what they hold. */
  constructor(
    private readonly outputDir: string,
    mtime: Date,
    ostreeOs?: string
  ) {
    this.writer = { kind: 'tar', outputDir, mtime: mtime.toISOString() }
    this.local = new TarWriter(outputDir, mtime)
    if (ostreeOs !== undefined) this.ostree = { os: ostreeOs, sysrootPaths: true }
  }

  async write(device: Device, files: BundleFile[], hooks: WriteHooks = {}): Promise<SinkOutput> {
    await hooks.beforeKeyWritten?.()
    try {
      return this.local.write(device, files)
    } finally {
      this.local.idle()
    }
  }

  verify(output: { path: string; sha256: string }): Promise<boolean> {
    return fileMatches(path.join(this.outputDir, output.path), output.sha256)
  }

  async close(): Promise<void> {}
}
