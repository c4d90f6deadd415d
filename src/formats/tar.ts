// Sink "tar": output-dir/overlays/SERIAL.tar.gz, an overlay to extract over the root file system
// (`tar -xzpf SERIAL.tar.gz -C /mnt/rootfs`). Entries carry the device paths (relative), modes,
// uid/gid 0 and a directory entry for every parent, so extraction as root yields the right tree.
// TarWriter does the work synchronously, so the device workers write overlays themselves (the
// sink's `writer`).
//
// The .tar.gz is zlib's gzipSync at level 1 over the archive (tar-archive.ts). A hand-written
// fixed-Huffman DEFLATE encoder did this until 2026-12-07; it went because the tar floor holds
// without it. Measured that day in alternating `npm run bench` runs (tar only, 20,000 devices, a
// shared 2-core machine at load 8-11), tmpfs: own encoder 301 and 306 µs of CPU per device (all
// threads), node:zlib 360 and 376 µs (about 20% more), fflate 491 µs; floor (tmpfs bake against
// the node:crypto loop) own 1.67x and 0.91x, node:zlib 2.31x and 5.42x, fflate 0.75x: at that load
// the wall-time ratio follows the load, and by CPU node:zlib stays near 1.5x the loop on 1.6 busy
// cores. Per overlay: own 17-24 µs, gzipSync 40-91 µs (its ~256 KiB stream state set up per call),
// fflate 141-403 µs; overlays are about 1.0 KiB with zlib (1.5 KiB with the fixed codes).
import { closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import { gunzipSync, gzipSync } from 'node:zlib'
import { messageOf } from '../errors.js'
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import { ensureFolderSync } from '../util/confined.js'
import { sha256File, tempIn, writeAllSync } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { wrapWriteError } from './errors.js'
import { describeFiles, fileMatches, placedFiles } from './files.js'
import { tarArchive } from './tar-archive.js'
import type { SinkOutput } from '../shapes/output.js'
import type { ManifestDevice } from '../shapes/review.js'
import { foldersAbove, linkTarget, OutputUnreadable, outputTarget, readCapped, type FoundFile, type FoundFolder, type OutputRequest, type OutputView } from './read.js'
import { tarEntries, TarFormatError, type TarEntry } from './tar-read.js'
import type { OutputFormat, OutputWriter, OutputWriterSpec, Sink } from './types.js'

/** output-dir/overlays/SERIAL.tar.gz */
const FOLDER = 'overlays'
const EXTENSION = '.tar.gz'

/** zlib's level for overlays: for PEM text within a few percent of level 6 at half the cost. */
const GZIP_LEVEL = 1

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
    this.root = path.join(outputDir, FOLDER)
    this.recordedRoot = path.relative(outputDir, this.root).split(path.sep).join('/')
  }

  write(device: Device, files: BundleFile[]): SinkOutput {
    // A serial is one plain file name (the manifest allows A-Z a-z 0-9 . _ -, no leading dot).
    const name = `${device.serial}${EXTENSION}`
    const target = `${this.root}${path.sep}${name}`
    let temp: string | undefined
    let archive: Buffer
    try {
      // Entries at sysroot paths when the bundle has them (ostree-os), else at device paths.
      archive = gzipSync(tarArchive(placedFiles(files), this.mtime), { level: GZIP_LEVEL })
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
  readonly format = tarFormat.name
  readonly space = { bytesPerOutput: OVERLAY_BYTES, basis: 'an overlay of a few KiB' }
  readonly writer: OutputWriterSpec
  /** With ostree-os: the overlays hold sysroot paths, to extract into a mounted otaroot. */
  readonly ostree?: { os: string; sysrootPaths: boolean }
  /** `mtime` is the same for every entry of the run, so outputs differ only by what they hold. */
  constructor(
    private readonly outputDir: string,
    mtime: Date,
    ostreeOs?: string
  ) {
    this.writer = { format: tarFormat.name, outputDir, mtime: mtime.toISOString() }
    if (ostreeOs !== undefined) this.ostree = { os: ostreeOs, sysrootPaths: true }
  }

  verify(output: { path: string; sha256: string }): Promise<boolean> {
    return fileMatches(path.join(this.outputDir, output.path), output.sha256)
  }

  async close(): Promise<void> {}
}

// ---- verify: an overlay as it is now --------------------------------------------------------------

/** Most bytes an overlay may decompress to on top of the files it should hold. */
const OVERLAY_SLACK = 1 << 20
/** However large the manifest says the files are, an overlay is not decompressed beyond this. */
const MAX_OVERLAY_BYTES = 64 << 20

/** Most bytes an overlay holding these files may decompress to. */
function overlayCap(request: OutputRequest): number {
  let total = OVERLAY_SLACK
  for (const limit of request.files.values()) total += limit + 3 * 512
  return Math.min(total, MAX_OVERLAY_BYTES)
}

async function readTarOutput(file: string, device: ManifestDevice, request: OutputRequest): Promise<OutputView> {
  const cap = overlayCap(request)
  const where = `output ${device.output.path}`
  let read: { content: Buffer | null; size: number }
  try {
    read = readCapped(file, cap)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new OutputUnreadable(`${where} is missing`)
    if (code === 'ELOOP') throw new OutputUnreadable(`${where} is a symbolic link (to ${linkTarget(file)}); verify does not follow links`)
    throw new OutputUnreadable(code === 'ENOTFILE' ? `${where} is not a file (${messageOf(error)})` : `${where} cannot be read (${messageOf(error)})`)
  }
  if (!read.content) {
    // gzip never makes data much larger than it was: this is not an overlay of these files.
    const sha256 = await sha256File(file).catch(() => null)
    return {
      sha256,
      files: new Map(),
      listings: new Map(),
      problems: [`${where} is ${read.size} bytes, more than an overlay of the files the manifest lists can be (at most ${cap}); verify does not open it`],
      opened: false
    }
  }
  const sha256 = sha256Hex(read.content)
  let entries: TarEntry[]
  try {
    // Decompressed in memory only up to `cap`: a small file that inflates to gigabytes (a gzip
    // bomb) stops there, costing no more memory than a real overlay.
    entries = tarEntries(gunzipSync(read.content, { maxOutputLength: cap }))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
      return {
        sha256,
        files: new Map(),
        listings: new Map(),
        problems: [`${where} decompresses to more than ${cap} bytes, more than an overlay of the files the manifest lists can hold; verify stopped there`],
        opened: false
      }
    }
    const why = error instanceof TarFormatError ? `not a tar archive: ${error.message}` : messageOf(error)
    throw new OutputUnreadable(`${where} is not a readable .tar.gz (${why})`)
  }
  const problems: string[] = []
  const byPath = new Map<string, TarEntry>()
  for (const entry of entries) {
    if (byPath.has(entry.path)) problems.push(`${where} holds ${entry.path} twice (extraction keeps the last)`)
    byPath.set(entry.path, entry)
  }
  const files = new Map<string, FoundFile | null>()
  const wantedFolders = new Set<string>()
  for (const [wanted, limit] of request.files) {
    for (const folder of foldersAbove(wanted)) wantedFolders.add(folder)
    const entry = byPath.get(wanted)
    if (entry?.type !== 'file') {
      files.set(wanted, null)
      continue
    }
    const size = entry.content.length
    files.set(wanted, { mode: entry.mode, uid: entry.uid, gid: entry.gid, content: size > limit ? null : entry.content, size })
  }
  // The archive's root ("./") is not an entry credbake writes: extraction would apply its mode to
  // the folder it is extracted into.
  wantedFolders.delete('/')
  const folders = new Map<string, FoundFolder | null>()
  for (const folder of wantedFolders) {
    const entry = byPath.get(folder)
    folders.set(folder, entry?.type === 'directory' ? { mode: entry.mode, uid: entry.uid, gid: entry.gid } : null)
  }
  const extras: string[] = []
  for (const entry of byPath.values()) {
    if (entry.type === 'symlink' || entry.type === 'hardlink')
      problems.push(`${entry.path} is a ${entry.type === 'symlink' ? 'symbolic' : 'hard'} link (to ${JSON.stringify(entry.linkTarget ?? '')}); credbake writes none`)
    else if (entry.type === 'other') problems.push(`${entry.path} is a tar entry of type "${entry.flag}", not a file or folder`)
    else if (entry.type === 'directory' ? !wantedFolders.has(entry.path) : !request.files.has(entry.path)) extras.push(entry.type === 'directory' ? `${entry.path}/` : entry.path)
  }
  return { sha256, files, listings: new Map(), folders, extras, problems }
}

export const tarFormat: OutputFormat = {
  name: 'tar',
  summary: 'a .tar.gz overlay',
  folder: FOLDER,
  takesImage: false,
  tree: false,
  noun: 'archive',
  largeOutputs: false,
  // A serial is one plain file name (the manifest allows A-Z a-z 0-9 . _ -, no leading dot).
  outputPath: (serial) => `${FOLDER}/${serial}${EXTENSION}`,
  lookInside: (output) => [`  Look inside one device's overlay:    tar -tvzf ${output}`],
  open: async (settings, context) => new TarSink(settings.outputDir, context.mtime, settings.ostreeOs),
  workerWriter: (spec) => new TarWriter(spec.outputDir, new Date(spec.mtime)),
  // An overlay is opened without following a link and read at once (no separate lstat).
  read: async (context, device, request) => readTarOutput(outputTarget(context, device), device, request)
}
