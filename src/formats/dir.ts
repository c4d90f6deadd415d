// Sink "dir": output-dir/devices/SERIAL/<device paths>, modes applied, built under a temporary
// name and renamed into place only when complete. The tree is what `cp -a`/rsync puts on the
// device, so its modes are the bundle's whatever the umask: folders 0755 (SERIAL/ itself stands
// for the root file system), files as the layout says (keys 0600, created so). DirWriter does the
// work synchronously, so issuance workers write trees themselves (the sink's `writer`).
import { chmodSync, chownSync, closeSync, fchmodSync, lstatSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import type { Device } from '../manifest/types.js'
import { ensureFolderSync } from '../util/confined.js'
import { tempSibling, writeAllSync } from '../util/fsx.js'
import { describeFiles, placedFiles, treeDigest, treeDigestOnDisk } from './files.js'
import { wrapWriteError } from './errors.js'
import type { SinkOutput } from '../shapes/output.js'
import { messageOf } from '../errors.js'
import type { TreeEntry } from './read.js'
import {
  asRoot,
  foldersAbove,
  hostPath,
  kindOf,
  linkTarget,
  lstatOutput,
  OutputUnreadable,
  outputTarget,
  readCapped,
  walkTree,
  type FoundFile,
  type FoundFolder,
  type OutputRequest,
  type OutputView
} from './read.js'
import type { OutputFormat, OutputWriter, OutputWriterSpec, Sink } from './types.js'

/** output-dir/devices/SERIAL/ */
const FOLDER = 'devices'

export class DirWriter implements OutputWriter {
  private readonly root: string
  private rootReady = false

  constructor(private readonly outputDir: string) {
    this.root = path.join(outputDir, FOLDER)
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
  readonly format = dirFormat.name
  readonly writer: OutputWriterSpec
  /** With ostree-os: the trees hold sysroot paths, to copy into a mounted otaroot. */
  readonly ostree?: { os: string; sysrootPaths: boolean }

  constructor(
    private readonly outputDir: string,
    ostreeOs?: string
  ) {
    this.writer = { format: dirFormat.name, outputDir, mtime: new Date(0).toISOString() }
    if (ostreeOs !== undefined) this.ostree = { os: ostreeOs, sysrootPaths: true }
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

// ---- verify: a tree as it is now -------------------------------------------------------------------

function readDirOutput(root: string, request: OutputRequest): OutputView {
  const owners = asRoot()
  const rootStats = lstatSync(root)
  let entries: Map<string, TreeEntry>
  try {
    entries = walkTree(root)
  } catch (error) {
    if (error instanceof OutputUnreadable) throw error
    throw new OutputUnreadable(`the tree cannot be read (${messageOf(error)})`)
  }
  const problems: string[] = []
  const files = new Map<string, FoundFile | null>()
  const wantedFolders = new Set<string>()
  for (const [wanted, limit] of request.files) {
    for (const folder of foldersAbove(wanted)) wantedFolders.add(folder)
    const entry = entries.get(wanted)
    if (entry?.kind !== 'file') {
      files.set(wanted, null)
      continue
    }
    let read: { content: Buffer | null; size: number }
    try {
      read = readCapped(hostPath(root, wanted), limit)
    } catch (error) {
      problems.push(`${wanted} cannot be read (${messageOf(error)})`)
      files.set(wanted, null)
      continue
    }
    const { stats } = entry
    files.set(wanted, { mode: stats.mode & 0o7777, uid: owners ? stats.uid : null, gid: owners ? stats.gid : null, ...read })
  }
  const folders = new Map<string, FoundFolder | null>()
  for (const folder of wantedFolders) {
    const stats = folder === '/' ? rootStats : entries.get(folder)?.kind === 'folder' ? entries.get(folder)!.stats : undefined
    folders.set(folder, stats ? { mode: stats.mode & 0o7777, uid: owners ? stats.uid : null, gid: owners ? stats.gid : null } : null)
  }
  const extras: string[] = []
  for (const [devicePath, entry] of entries) {
    if (entry.kind === 'link')
      problems.push(`${devicePath} is a symbolic link (to ${linkTarget(hostPath(root, devicePath))}); verify does not follow links, and credbake writes none`)
    else if (entry.kind === 'other') problems.push(`${devicePath} is ${kindOf(entry.stats)}`)
    else if (entry.kind === 'folder' ? !wantedFolders.has(devicePath) : !request.files.has(devicePath)) extras.push(entry.kind === 'folder' ? `${devicePath}/` : devicePath)
  }
  // The tree digest covers every file: with anything more or less in the tree it is a different
  // tree, and each difference is already a problem of its own (nothing unasked is read).
  const complete = extras.length === 0 && problems.length === 0 && [...files.values()].every((file) => file?.content)
  const sha256 = complete ? treeDigest([...files].map(([file, found]) => ({ path: file, mode: found!.mode!, uid: 0, gid: 0, content: found!.content! }))) : null
  return { sha256, files, listings: new Map(), folders, extras, problems }
}

export const dirFormat: OutputFormat = {
  name: 'dir',
  summary: 'a tree',
  folder: FOLDER,
  takesImage: false,
  tree: true,
  noun: 'tree',
  largeOutputs: false,
  outputPath: (serial) => `${FOLDER}/${serial}`,
  lookInside: (output) => [`  Look inside one device's folder:     ls -lR ${output}`],
  open: async (settings) => new DirSink(settings.outputDir, settings.ostreeOs),
  workerWriter: (spec) => new DirWriter(spec.outputDir),
  read: async (context, device, request) => {
    const target = outputTarget(context, device)
    if (!lstatOutput(target, device).isDirectory()) throw new OutputUnreadable(`output ${device.output.path} is not a folder`)
    return readDirOutput(target, request)
  }
}
