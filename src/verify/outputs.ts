// Reading a device's output as it is now, per format, for `credbake verify`: a "dir" tree, a
// .tar.gz overlay, an image or a partition (compressed ones decompressed into the secret temp
// folder first). Inside images the files are read by the same debugfs/mtools read-back the
// writers use to check what they wrote.
import { lstat, open, readFile, readdir, stat } from 'node:fs/promises'
import path from 'node:path'
import { Readable } from 'node:stream'
import { gunzipSync } from 'node:zlib'
import { extract as createTarExtract } from 'tar-stream'
import { messageOf } from '../errors.js'
import { prepareBaseImage } from '../image/compress.js'
import { readExtFiles } from '../image/debugfs.js'
import { isExt, isFat, probeFileSystem } from '../image/fs.js'
import { readFatFiles } from '../image/mtools.js'
import { readDiskLayout } from '../image/table.js'
import type { ManifestDevice, ManifestHeader } from '../review/types.js'
import { treeDigestOnDisk } from '../sink/files.js'
import { sha256File } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'

/** A file found in an output. Mode and owner are null where the medium has none (FAT). */
export interface FoundFile {
  mode: number | null
  uid: number | null
  gid: number | null
  content: Buffer
}

export interface OutputView {
  /** SHA-256 of the output as the manifest defines it (file bytes; tree digest for "dir"). */
  sha256: string
  /** Per requested device path: what is there (null: absent, or not a regular file). */
  files: Map<string, FoundFile | null>
  /** Names in the credentials directory; null when the directory is not there. */
  listing: string[] | null
}

/** The output cannot be read at all (missing, truncated, not an archive): one problem, the device fails. */
export class OutputUnreadable extends Error {}

export interface ReadContext {
  outputDir: string
  header: ManifestHeader
  /** 0700 folder for decompressed images and dumped files (they hold device keys). */
  tempDir: string
}

/**
 * Where a device path is inside the output: its recorded partitionPath (an OSTree sysroot path),
 * else the path itself. The credentials folder moves with the files in it.
 */
function placement(context: ReadContext, device: ManifestDevice): (devicePath: string) => string {
  const placed = new Map<string, string>()
  for (const file of [...device.files, ...(context.header.output.image?.preexisting ?? [])]) {
    if (file.path !== undefined && file.partitionPath !== undefined) placed.set(file.path, file.partitionPath)
  }
  const dir = context.header.layout.credentialsDir.replace(/\/+$/, '')
  for (const [devicePath, partitionPath] of placed) {
    if (path.posix.dirname(devicePath) === dir) placed.set(dir, path.posix.dirname(partitionPath))
  }
  return (devicePath) => placed.get(devicePath) ?? devicePath
}

export async function readOutput(context: ReadContext, device: ManifestDevice, devicePaths: readonly string[]): Promise<OutputView> {
  // Read where the files are stored; answer by device path.
  const at = placement(context, device)
  const view = await readPlaced(context, device, devicePaths.map(at), at(context.header.layout.credentialsDir.replace(/\/+$/, '') || '/'))
  return { ...view, files: new Map(devicePaths.map((p) => [p, view.files.get(at(p)) ?? null])) }
}

async function readPlaced(context: ReadContext, device: ManifestDevice, paths: readonly string[], credentialsDir: string): Promise<OutputView> {
  // A manifest is input to review, not trusted: nothing it names may lead outside output-dir or
  // outside the device's tree.
  const escapes = (p: string): boolean => p.split('/').some((part) => part === '..') || p.includes('\\') || p.includes('\0')
  if (escapes(device.output.path)) throw new OutputUnreadable(`output path ${JSON.stringify(device.output.path)} leaves output-dir; verify reads only inside it`)
  const outside = paths.find(escapes)
  if (outside !== undefined) throw new OutputUnreadable(`file path ${JSON.stringify(outside)} has a ".." part; verify reads only inside the device's output`)
  const target = path.join(context.outputDir, ...device.output.path.split('/'))
  let info
  try {
    info = await lstat(target)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new OutputUnreadable(`output ${device.output.path} is ${code === 'ENOENT' ? 'missing' : `unreadable (${messageOf(error)})`}`)
  }
  // An image shorter than recorded was cut off (a copy or upload that stopped): say so plainly
  // rather than report what a file system cut in half looks like.
  if ((context.header.output.format === 'image' || context.header.output.format === 'partition') && info.isFile() && info.size < device.output.size) {
    throw new OutputUnreadable(`output ${device.output.path} is truncated: ${info.size} bytes, the manifest records ${device.output.size}`)
  }
  switch (context.header.output.format) {
    case 'dir':
      return readDirOutput(target, paths, credentialsDir)
    case 'tar':
      return readTarOutput(target, device, paths, credentialsDir)
    case 'image':
    case 'partition':
      return readImageOutput(context, target, device, paths, credentialsDir)
    default:
      throw new OutputUnreadable(`output format ${context.header.output.format} is not one credbake verify reads`)
  }
}

function hostPath(root: string, devicePath: string): string {
  return path.join(root, ...devicePath.split('/').filter(Boolean))
}

async function readDirOutput(root: string, paths: readonly string[], credentialsDir: string): Promise<OutputView> {
  if (!(await stat(root)).isDirectory()) throw new OutputUnreadable(`output ${root} is not a directory`)
  // A tree written by a non-root user cannot carry owner 0:0 (copying it as root restores it), so
  // owners are compared only when this runs as root, as the tree digest also assumes.
  const asRoot = process.getuid?.() === 0
  const files = new Map<string, FoundFile | null>()
  for (const p of paths) {
    const file = hostPath(root, p)
    const info = await lstat(file).catch(() => null)
    if (!info || !info.isFile()) {
      files.set(p, null)
      continue
    }
    files.set(p, { mode: info.mode & 0o7777, uid: asRoot ? info.uid : null, gid: asRoot ? info.gid : null, content: await readFile(file) })
  }
  const listing = await readdir(hostPath(root, credentialsDir)).catch(() => null)
  return { sha256: await treeDigestOnDisk(root), files, listing }
}

interface TarEntry {
  type: string
  mode: number
  uid: number
  gid: number
  content: Buffer
}

/** Entries of a tar archive by device path ("/var/sota/import/pkey.pem"), directories without the slash. */
async function tarEntries(archive: Buffer): Promise<Map<string, TarEntry>> {
  const entries = new Map<string, TarEntry>()
  const extractor = createTarExtract()
  const done = new Promise<void>((resolve, reject) => {
    extractor.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: unknown) => void chunks.push(chunk as Buffer))
      stream.on('end', () => {
        const name = `/${header.name.replace(/^\.?\/+/, '').replace(/\/+$/, '')}`
        entries.set(name, { type: header.type ?? 'file', mode: (header.mode ?? 0) & 0o7777, uid: header.uid ?? 0, gid: header.gid ?? 0, content: Buffer.concat(chunks) })
        next()
      })
      stream.on('error', reject)
    })
    extractor.on('finish', resolve)
    extractor.on('error', reject)
  })
  Readable.from([archive]).pipe(extractor)
  await done
  return entries
}

async function readTarOutput(file: string, device: ManifestDevice, paths: readonly string[], credentialsDir: string): Promise<OutputView> {
  const bytes = await readFile(file)
  let entries: Map<string, TarEntry>
  try {
    entries = await tarEntries(gunzipSync(bytes))
  } catch (error) {
    throw new OutputUnreadable(`output ${device.output.path} is not a readable .tar.gz (${messageOf(error)})`)
  }
  const files = new Map<string, FoundFile | null>()
  for (const p of paths) {
    const entry = entries.get(p)
    files.set(p, entry && entry.type === 'file' ? { mode: entry.mode, uid: entry.uid, gid: entry.gid, content: entry.content } : null)
  }
  const dir = credentialsDir.replace(/\/+$/, '')
  const listing = [...entries.keys()].filter((name) => path.posix.dirname(name) === dir).map((name) => path.posix.basename(name))
  return { sha256: sha256Hex(bytes), files, listing: entries.has(dir) || listing.length > 0 ? listing : null }
}

async function readImageOutput(context: ReadContext, file: string, device: ManifestDevice, paths: readonly string[], credentialsDir: string): Promise<OutputView> {
  const sha256 = await sha256File(file)
  // Compressed outputs (by content) are decompressed into the secret temp folder, removed after.
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
    const files = new Map<string, FoundFile | null>()
    let listing: string[] | null
    if (isExt(fs.type)) {
      const read = await readExtFiles(opts, paths, [credentialsDir])
      paths.forEach((p, i) => {
        const found = read.files[i]
        files.set(p, found && found.type === 'regular' && found.content ? { mode: found.mode & 0o7777, uid: found.uid, gid: found.gid, content: found.content } : null)
      })
      listing = read.listings.get(credentialsDir) ?? null
    } else if (isFat(fs.type)) {
      const read = await readFatFiles(opts, paths, [credentialsDir])
      paths.forEach((p, i) => {
        const content = read.files[i]
        files.set(p, content ? { mode: null, uid: null, gid: null, content } : null)
      })
      listing = read.listings.get(credentialsDir) ?? null
    } else {
      throw new OutputUnreadable(`output ${device.output.path} holds no ext or FAT file system at byte ${offset}`)
    }
    return { sha256, files, listing }
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
