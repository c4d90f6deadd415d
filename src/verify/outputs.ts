// Reading a device's output as it is now, per format, for `credbake verify`: a "dir" tree, a
// .tar.gz overlay, an image or a partition (compressed ones decompressed into the secret temp
// folder first, streamed to a sparse file). Inside images the files are read by the same
// debugfs/mtools read-back the writers use to check what they wrote.
//
// An output is evidence, not trusted: nothing is reached through a symbolic link (a link anywhere
// in a tree is reported, never followed, so a link to / cannot make verify walk the host), a file
// is read only up to the size the manifest gives it, a tree is walked only up to MAX_TREE_ENTRIES,
// and an overlay is decompressed in memory only up to what the files it should hold can take.
import { constants, closeSync, fstatSync, lstatSync, openSync, readSync, readdirSync, readlinkSync, type Stats } from 'node:fs'
import { open, stat } from 'node:fs/promises'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import { messageOf } from '../errors.js'
import { prepareBaseImage } from '../image/compress.js'
import { readExtFiles } from '../image/debugfs.js'
import { isExt, isFat, probeFileSystem } from '../image/fs.js'
import { readFatFiles } from '../image/mtools.js'
import { readDiskLayout } from '../image/table.js'
import type { ManifestDevice, ManifestHeader } from '../review/types.js'
import { treeDigest } from '../formats/files.js'
import { sha256File } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { tarEntries, TarFormatError, type TarEntry } from './tar-read.js'

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
/** Most bytes an overlay may decompress to on top of the files it should hold. */
const OVERLAY_SLACK = 1 << 20
/** A private key's size is not recorded: at most this is read of one. */
export const MAX_KEY_BYTES = 64 << 10
/** No file of an output is read beyond this, whatever size the manifest gives it. */
export const MAX_FILE_BYTES = 16 << 20
/** However large the manifest says the files are, an overlay is not decompressed beyond this. */
const MAX_OVERLAY_BYTES = 64 << 20

/** Whether folders and files may carry owners other than the user running verify (owners are compared only then). */
const asRoot = (): boolean => process.getuid?.() === 0

export async function readOutput(context: ReadContext, device: ManifestDevice, request: OutputRequest): Promise<OutputView> {
  const target = path.join(context.outputDir, ...device.output.path.split('/'))
  // The folder holding the outputs is output-dir's; a link there would lead every read elsewhere.
  refuseLinkedParent(context.outputDir, device.output.path)
  const format = context.header.output.format
  // An overlay is opened without following a link and read at once (no separate lstat).
  if (format === 'tar') return readTarOutput(target, device, request)
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
  // An image shorter than recorded was cut off (a copy or upload that stopped): say so plainly
  // rather than report what a file system cut in half looks like.
  if ((format === 'image' || format === 'partition') && info.isFile() && info.size < device.output.size) {
    throw new OutputUnreadable(`output ${device.output.path} is truncated: ${info.size} bytes, the manifest records ${device.output.size}`)
  }
  switch (format) {
    case 'dir':
      if (!info.isDirectory()) throw new OutputUnreadable(`output ${device.output.path} is not a folder`)
      return readDirOutput(target, request)
    case 'image':
    case 'partition':
      if (!info.isFile()) throw new OutputUnreadable(`output ${device.output.path} is not a file`)
      return readImageOutput(context, target, device, request)
    default:
      throw new OutputUnreadable(`output format ${format} is not one credbake verify reads`)
  }
}

const checkedParents = new Map<string, string | undefined>()

/** The folders between output-dir and the output (overlays/, devices/, ...) must not be links. */
function refuseLinkedParent(outputDir: string, relative: string): void {
  const problem = linkedFolderProblem(outputDir, relative)
  if (problem) throw new OutputUnreadable(problem)
}

/**
 * Why a file at `relative` in output-dir would be reached through a symbolic link (a folder on the
 * way, such as images/, is one), or undefined. A finding for the device, never followed: checked
 * before anything of a device is read, its bmap included.
 */
export function linkedFolderProblem(outputDir: string, relative: string): string | undefined {
  const parts = relative.split('/').slice(0, -1)
  for (let depth = 1; depth <= parts.length; depth++) {
    const folder = path.join(outputDir, ...parts.slice(0, depth))
    let problem = checkedParents.get(folder)
    if (!checkedParents.has(folder)) {
      let info: Stats | undefined
      try {
        info = lstatSync(folder)
      } catch {
        info = undefined
      }
      problem = info?.isSymbolicLink() ? `${parts.slice(0, depth).join('/')}/ in output-dir is a symbolic link (to ${linkTarget(folder)}); verify does not follow links` : undefined
      checkedParents.set(folder, problem)
    }
    if (problem) return problem
  }
  return undefined
}

function linkTarget(file: string): string {
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

function hostPath(root: string, devicePath: string): string {
  return path.join(root, ...devicePath.split('/').filter(Boolean))
}

/** Read at most `limit` bytes of a regular file, refusing a link (O_NOFOLLOW) and anything but a file. */
function readCapped(file: string, limit: number): { content: Buffer | null; size: number } {
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

interface TreeEntry {
  kind: 'file' | 'folder' | 'link' | 'other'
  stats: Stats
}

/** Every entry of the tree under `root` by device path, never following a link; throws past MAX_TREE_ENTRIES. */
function walkTree(root: string): Map<string, TreeEntry> {
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

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return 'a folder'
  if (stats.isFIFO()) return 'a named pipe'
  if (stats.isSocket()) return 'a socket'
  if (stats.isBlockDevice() || stats.isCharacterDevice()) return 'a device node'
  return 'not a regular file'
}

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
    if (!entry || entry.kind !== 'file') {
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
    if (!entry || entry.type !== 'file') {
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

async function readImageOutput(context: ReadContext, file: string, device: ManifestDevice, request: OutputRequest): Promise<OutputView> {
  const sha256 = await sha256File(file)
  // Compressed outputs (by content) are decompressed into the secret temp folder (streamed into a
  // sparse file: zeros cost neither memory nor disk), removed after.
  const prepared = await prepareBaseImage(file, context.tempDir).catch((error: unknown) => {
    throw new OutputUnreadable(`output ${device.output.path} cannot be decompressed (${messageOf(error)})`)
  })
  try {
    const image = prepared.path
    const offset = await partitionOffset(context, image, device)
    const size = (await stat(image)).size
    const handle = await open(image, 'r')
    const fs = await probeFileSystem(handle, offset).finally(() => handle.close())
    if (fs.size !== null && offset + fs.size > size) {
      throw new OutputUnreadable(`output ${device.output.path} is truncated: its ${fs.type} file system ends at byte ${offset + fs.size}, the image has ${size} bytes`)
    }
    const where = device.output.partition ? `partition ${device.output.partition.number}` : 'the file system'
    const opts = { image, offset, partition: where, tempDir: context.tempDir, serial: device.serial }
    const paths = [...request.files.keys()]
    const files = new Map<string, FoundFile | null>()
    let listings: Map<string, string[] | null>
    if (isExt(fs.type)) {
      const read = await readExtFiles(opts, paths, request.listings)
      paths.forEach((p, i) => {
        const found = read.files[i]
        const content = found && found.type === 'regular' ? found.content : null
        files.set(
          p,
          found && content
            ? { mode: found.mode & 0o7777, uid: found.uid, gid: found.gid, content: content.length > request.files.get(p)! ? null : content, size: content.length }
            : null
        )
      })
      listings = read.listings
    } else if (isFat(fs.type)) {
      const read = await readFatFiles(opts, paths, request.listings)
      paths.forEach((p, i) => {
        const content = read.files[i]
        files.set(p, content ? { mode: null, uid: null, gid: null, content: content.length > request.files.get(p)! ? null : content, size: content.length } : null)
      })
      listings = read.listings
    } else {
      throw new OutputUnreadable(`output ${device.output.path} holds no ext or FAT file system at byte ${offset}`)
    }
    return { sha256, files, listings, problems: [] }
  } finally {
    await prepared.cleanup()
  }
}

/**
 * Where the file system starts: 0 in a partition output; in an image, the manifest entry's
 * partition offset, or (older manifests without it) the recorded partition number looked up in
 * the image's own partition table.
 */
async function partitionOffset(context: ReadContext, image: string, device: ManifestDevice): Promise<number> {
  if (context.header.output.format === 'partition') return 0
  if (device.output.partition) return device.output.partition.offset
  const number = Number(/^\d+/.exec(context.header.output.image?.partition ?? '')?.[0] ?? Number.NaN)
  const layout = await readDiskLayout(image)
  const found = layout.partitions.find((p) => p.number === number) ?? (layout.partitions.length === 1 ? layout.partitions[0] : undefined)
  if (!found) throw new OutputUnreadable(`output ${device.output.path}: the manifest does not say which partition holds the credentials`)
  return found.start
}
