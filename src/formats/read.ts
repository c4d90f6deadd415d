// What verify reads of an output, and the helpers every format's reader shares. An output is
// evidence, not trusted: nothing is reached through a symbolic link (a link anywhere in a tree is
// reported, never followed, so a link to / cannot make verify walk the host), a file is read only up
// to the size the manifest gives it, and a tree is walked only up to MAX_TREE_ENTRIES. Each format's
// reader (its record's `read`) lives in the format's own file.
import { constants, closeSync, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import path from 'node:path'
import { messageOf } from '../errors.js'
import type { ManifestDevice, ManifestHeader } from '../shapes/review.js'

/** A file found in an output. Mode and owner are null where the medium has none (FAT). */
export interface FoundFile {
  mode: number | null
  uid: number | null
  gid: number | null
  /** null: larger than may be read (see `size`). */
  content: Buffer | null
  size: number
}

export interface FoundFolder {
  mode: number
  uid: number | null
  gid: number | null
}

/** What verify asks of an output: files by their path inside it, and folders to list. */
export interface OutputRequest {
  /** Path inside the output (the device path, or the partition path where it differs) → the most bytes to read. */
  files: Map<string, number>
  /** Folders whose entries are listed (images; tar and dir report every entry not asked for instead). */
  listings: readonly string[]
}

export interface OutputView {
  /** SHA-256 of the output as the manifest defines it (file bytes; tree digest for "dir"); null when it could not be computed. */
  sha256: string | null
  /** Per requested path: what is there (null: absent, or not a regular file). */
  files: Map<string, FoundFile | null>
  /** Images: names in each listed folder; null when the folder is not there. */
  listings: Map<string, string[] | null>
  /** tar and dir: every folder above a requested file (null: not in the output). */
  folders?: Map<string, FoundFolder | null>
  /** tar and dir: what is in the output besides the requested files and the folders above them. */
  extras?: string[]
  /** What reading found wrong beyond the files (links, special files, sizes). */
  problems: string[]
  /** False when the output was hashed but not opened (too large, or it decompresses past its cap): its files are not checked. */
  opened?: boolean
}

/** The output cannot be read at all (missing, truncated, not an archive): one problem, the device fails. */
export class OutputUnreadable extends Error {}

export interface ReadContext {
  outputDir: string
  header: ManifestHeader
  /** 0700 folder for decompressed images and dumped files (they hold device keys). */
  tempDir: string
}

/** Entries a "dir" tree may have before verify stops walking it (credbake writes about eight). */
export const MAX_TREE_ENTRIES = 4096
/** A private key's size is not recorded: at most this is read of one. */
export const MAX_KEY_BYTES = 64 << 10
/** No file of an output is read beyond this, whatever size the manifest gives it. */
export const MAX_FILE_BYTES = 16 << 20

/** Whether folders and files may carry owners other than the user running verify (owners are compared only then). */
export const asRoot = (): boolean => process.getuid?.() === 0

/** Where a device's output is on disk. */
export function outputTarget(context: ReadContext, device: ManifestDevice): string {
  return path.join(context.outputDir, ...device.output.path.split('/'))
}

/** lstat of an output that must be there and not a link (file and tree outputs). */
export function lstatOutput(target: string, device: ManifestDevice): Stats {
  let info: Stats
  try {
    // Synchronous: a verify thread does nothing else meanwhile, and a hop through libuv's pool per
    // call costs more than the call.
    info = lstatSync(target)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new OutputUnreadable(`output ${device.output.path} is ${code === 'ENOENT' ? 'missing' : `unreadable (${messageOf(error)})`}`)
  }
  if (info.isSymbolicLink()) throw new OutputUnreadable(`output ${device.output.path} is a symbolic link (to ${linkTarget(target)}); verify does not follow links`)
  return info
}

export function linkTarget(file: string): string {
  try {
    return JSON.stringify(readlinkSync(file))
  } catch {
    return 'somewhere'
  }
}

/** Every folder above `devicePath` ("/var/sota/import/x" → "/", "/var", "/var/sota", "/var/sota/import"). */
export function foldersAbove(devicePath: string): readonly string[] {
  // Every device's bundle has the same few paths.
  let folders = foldersCache.get(devicePath)
  if (!folders) {
    const parts = devicePath.split('/').filter(Boolean)
    folders = ['/']
    for (let depth = 1; depth < parts.length; depth++) folders.push(`/${parts.slice(0, depth).join('/')}`)
    if (foldersCache.size > 1024) foldersCache.clear()
    foldersCache.set(devicePath, folders)
  }
  return folders
}

const foldersCache = new Map<string, string[]>()

export function hostPath(root: string, devicePath: string): string {
  return path.join(root, ...devicePath.split('/').filter(Boolean))
}

/** Read at most `limit` bytes of a regular file, refusing a link (O_NOFOLLOW) and anything but a file. */
export function readCapped(file: string, limit: number): { content: Buffer | null; size: number } {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
  try {
    const stats = fstatSync(fd)
    if (!stats.isFile()) throw Object.assign(new Error(`it is ${kindOf(stats)}`), { code: 'ENOTFILE' })
    const size = stats.size
    if (size > limit) return { content: null, size }
    const content = Buffer.allocUnsafe(size)
    let done = 0
    while (done < size) {
      const n = readSync(fd, content, done, size - done, done)
      if (n === 0) break
      done += n
    }
    return { content: done === size ? content : content.subarray(0, done), size: done }
  } finally {
    closeSync(fd)
  }
}

export interface TreeEntry {
  kind: 'file' | 'folder' | 'link' | 'other'
  stats: Stats
}

/** Every entry of the tree under `root` by device path, never following a link; throws past MAX_TREE_ENTRIES. */
export function walkTree(root: string): Map<string, TreeEntry> {
  const entries = new Map<string, TreeEntry>()
  const pending = ['/']
  while (pending.length > 0) {
    const folder = pending.pop() as string
    for (const dirent of readdirSync(hostPath(root, folder), { withFileTypes: true })) {
      const devicePath = folder === '/' ? `/${dirent.name}` : `${folder}/${dirent.name}`
      const stats = lstatSync(hostPath(root, devicePath))
      const kind = stats.isSymbolicLink() ? 'link' : stats.isDirectory() ? 'folder' : stats.isFile() ? 'file' : 'other'
      entries.set(devicePath, { kind, stats })
      if (entries.size > MAX_TREE_ENTRIES)
        throw new OutputUnreadable(`the tree holds more than ${MAX_TREE_ENTRIES} entries: not an output credbake wrote (verify stops walking it)`)
      if (kind === 'folder') pending.push(devicePath)
    }
  }
  return entries
}

export function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder'
  if (stats.isFIFO()) return 'a named pipe'
  if (stats.isSocket()) return 'a socket'
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'a device node'
  return 'not a regular file'
}
