// Sink "dir": output-dir/devices/SERIAL/<device paths>, modes applied, built under a temporary
// name and renamed into place only when complete. The tree is what `cp -a`/rsync puts on the
// device, so its modes are the bundle's whatever the umask: folders 0755 (SERIAL/ itself stands
// for the root file system), files as the layout says (keys 0600, created so). DirWriter does the
// work synchronously, so issuance workers write trees themselves (the sink's `writer`).
import { chmodSync, chownSync, closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import { ensureFolderSync } from '../util/confined.js'
import { tempSibling, writeAllSync } from '../util/fsx.js'
import { describeFiles, placedFiles, treeDigest, treeDigestOnDisk } from './files.js'
import { wrapWriteError } from './errors.js'
import type { SinkOutput } from '../shapes/output.js'
import type { OutputWriter, OutputWriterSpec, Sink, WriteHooks } from './types.js'

export class DirWriter implements OutputWriter {
  private readonly root: string
  private rootReady = false

  constructor(private readonly outputDir: string) {
    this.root = path.join(outputDir, 'devices')
  }

  write(device: Device, files: BundleFile[]): SinkOutput {
    const target = path.join(this.root, device.serial)
    const temp = tempSibling(target)
    const placed = placedFiles(files)
    try {
      if (!this.rootReady) {
        // devices/ is made here or checked to be a real folder: never a planted link.
        ensureFolderSync(this.root)
        this.rootReady = true
      }
      makeFolder(temp)
      const made = new Set<string>([temp])
      // At sysroot paths when the bundle has them (ostree-os), else at device paths.
      for (const file of placed) writeOne(temp, file, made)
      rmSync(target, { recursive: true, force: true })
      renameSync(temp, target)
    } catch (error) {
      rmSync(temp, { recursive: true, force: true })
      throw wrapWriteError(error, device, target)
    }
    return {
      path: path.relative(this.outputDir, target).split(path.sep).join('/'),
      size: files.reduce((sum, file) => sum + file.content.length, 0),
      sha256: treeDigest(placed),
      files: describeFiles(files, { modes: true, owners: true })
    }
  }
}

export class DirSink implements Sink {
  readonly format = 'dir'
  readonly writer: OutputWriterSpec
  /** With ostree-os: the trees hold sysroot paths, to copy into a mounted otaroot. */
  readonly ostree?: { os: string; sysrootPaths: boolean }
  private readonly local: DirWriter

  constructor(
    private readonly outputDir: string,
    ostreeOs?: string
  ) {
    this.writer = { kind: 'dir', outputDir, mtime: new Date(0).toISOString() }
    this.local = new DirWriter(outputDir)
    if (ostreeOs !== undefined) this.ostree = { os: ostreeOs, sysrootPaths: true }
  }

  async write(device: Device, files: BundleFile[], hooks: WriteHooks = {}): Promise<SinkOutput> {
    await hooks.beforeKeyWritten?.()
    return this.local.write(device, files)
  }

  async verify(output: { path: string; sha256: string }): Promise<boolean> {
    try {
      return (await treeDigestOnDisk(path.join(this.outputDir, output.path))) === output.sha256
    } catch {
      return false
    }
  }

  async close(): Promise<void> {}
}

/** A new folder of the tree, 0755 whatever the umask (which would narrow it to 0700 under 077). */
function makeFolder(folder: string): void {
  mkdirSync(folder, { mode: 0o755 })
  chmodSync(folder, 0o755)
}

function writeOne(root: string, file: BundleFile, made: Set<string>): void {
  const parts = file.path.split('/').filter(Boolean)
  const destination = path.join(root, ...parts)
  let folder = root
  for (const part of parts.slice(0, -1)) {
    folder = path.join(folder, part)
    if (made.has(folder)) continue
    makeFolder(folder)
    made.add(folder)
  }
  // Create with the final mode so a key is never readable by others, even for a moment.
  const fd = openSync(destination, 'wx', file.mode)
  try {
    writeAllSync(fd, file.content)
    fchmodSync(fd, file.mode) // umask may have narrowed the mode given to open
  } finally {
    closeSync(fd)
  }
  // Only root can give files to uid 0; others get a tree to copy with `cp -a`/rsync as root.
  if (process.getuid?.() === 0) chownSync(destination, file.uid, file.gid)
}
