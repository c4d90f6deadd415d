// `credbake inspect IMAGE`: what credbake sees in an image — the table, and each partition's
// number, offset, size, type, GPT name, file system and label, and the stateroots and deployments
// of an OSTree sysroot — so a user can pick `partition` (and `ostree-os`). With --files, the files
// of the credentials folder (modes, owners, sizes) of an image or partition output, read without
// mounting, so a reviewer can look inside.
import { type Stats, statSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { EXIT_CODES, InputError } from '../errors.js'
import { prepareBaseImage } from '../image/compress.js'
import { fileType, listExtDirs, type ExtReadOptions } from '../image/debugfs.js'
import { isExt, isFat } from '../image/fs.js'
import { listFat, readFatFiles } from '../image/mtools.js'
import { chooseStateroot, detectOstreeSysroot, type OstreeSysroot } from '../image/ostree.js'
import { formatPartitionTable, readDiskLayout, selectPartition, type DiskLayout, type Partition } from '../image/table.js'
import { describePartition } from '../image/write.js'
import { ostreePathRefusal, sysrootPath } from '../placement/ostree.js'
import { defaultOf, parsePartitionSelector } from '../settings/parse.js'
import { escapeText } from '../util/log-text.js'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

export const INSPECT_HELP = `Usage: credbake inspect IMAGE [--json] [--files[=DIR]] [--partition P] [--ostree-os NAME]

Shows the partition table of IMAGE (MBR, GPT or none, sector size) and, for each partition, its
number (Linux numbering: logical MBR partitions from 5), start offset in bytes, size, type, GPT
name, file system (ext2/3/4, FAT12/16/32) and label, and for a partition holding an OSTree sysroot
its stateroots and their deployments. Use a number, label=LABEL or name=NAME from here as the
partition input of bake, and a stateroot as its ostree-os. Compressed images (.gz, .xz, .zst) are
decompressed to a temporary file first.

--files[=DIR]   Also list the files in DIR (a device path; default the credentials-dir default,
                ${defaultOf('credentials-dir')}) of the partition bake writes into (--partition as bake
                takes it; a partition output is one file system): type and mode, owner, size,
                name. On an OSTree sysroot a DIR under /var is read below the stateroot's var
                (--ostree-os when there are several). Nothing is mounted or changed.
`

/** One entry of a listed folder. Mode and owner are null on FAT (it has none). */
interface ListedFile {
  name: string
  type: 'file' | 'dir' | 'symlink' | 'other'
  mode: string | null
  owner: string | null
  size: number | null
}

interface FilesListing {
  partition: number
  /** The folder asked for, as a device path. */
  devicePath: string
  /** Where it is in the partition (a sysroot path on OSTree). */
  path: string
  ostree?: string
  /** null when the folder is not there. */
  entries: ListedFile[] | null
}

export const INSPECT_FLAGS: FlagSpec = {
  command: 'inspect',
  strings: ['partition', 'ostree-os'],
  booleans: ['json'],
  // `--files` alone means the default folder; another one is given as --files=DIR.
  optionalValues: ['files'],
  positionals: { max: 1, name: 'IMAGE' }
}

export async function inspectCommand(parsed: ParsedFlags, out: Console): Promise<number> {
  const image = parsed.positionals[0]
  if (image === undefined) throw new InputError('inspect needs the image to read: credbake inspect IMAGE', { input: 'image' })
  checkImageFile(path.resolve(image))
  // A compressed image (.gz/.xz/.zst, by content) is decompressed to a temporary sparse file first;
  // files copied out of FAT land there too (0700).
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'credbake-inspect-'))
  try {
    const prepared = await prepareBaseImage(path.resolve(image), scratch)
    const layout = { ...(await readDiskLayout(prepared.path, { onWarning: (message) => out.stderr(`warning: ${message}\n`) })), path: path.resolve(image) }
    const read = (p: Partition): ExtReadOptions => ({ image: prepared.path, offset: p.start, partition: describePartition(p), tempDir: scratch, serial: 'inspect' })
    const sysroots = new Map<number, OstreeSysroot>()
    for (const p of layout.partitions) {
      if (p.kind === 'extended' || !isExt(p.fileSystem.type) || p.start + p.size > layout.size) continue
      const sysroot = await detectOstreeSysroot(read(p))
      if (sysroot) sysroots.set(p.number, sysroot)
    }
    const files = parsed.values.files === undefined ? undefined : await listFiles(layout, parsed.values, sysroots, read)
    if (parsed.values.json === 'true') {
      const partitions = layout.partitions.map((p) => (sysroots.has(p.number) ? { ...p, ostree: sysroots.get(p.number) } : p))
      out.stdout(`${JSON.stringify({ ...layout, partitions, ...(files ? { files } : {}) }, null, 2)}\n`)
      return EXIT_CODES.ok
    }
    const table =
      layout.table === 'none'
        ? 'no partition table (a bare file system)'
        : `${layout.table.toUpperCase()}${layout.mbr && layout.mbr !== 'none' ? ` (${layout.mbr} MBR)` : ''}${layout.diskId ? `, disk id ${layout.diskId}` : ''}`
    const size = prepared.compression === 'none' ? `${layout.size} bytes` : `${layout.size} bytes once decompressed (${prepared.compression})`
    // Names and labels are bytes the image's maker chose: printed escaped (escapedLayout).
    const shown = escapedLayout(layout)
    out.stdout(`${shown.path}: ${size}, ${table}, ${layout.sectorSize}-byte sectors\n\n${formatPartitionTable(shown)}\n`)
    for (const [number, sysroot] of sysroots) out.stdout(`\n${ostreeText(shown, number, sysroot)}`)
    if (files) out.stdout(`\n${filesText(shown, files)}`)
    return EXIT_CODES.ok
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
}

/**
 * A missing image, or a folder given as one, is a wrong argument (exit 2), as bake's `--image`
 * says; an image that is there but unreadable or not an image is an image problem (exit 4).
 */
function checkImageFile(file: string): void {
  let info: Stats
  try {
    info = statSync(file)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') return
    throw new InputError(`no image at ${escapeText(file)}: the file does not exist.`, { input: 'image' })
  }
  if (!info.isFile() && !info.isBlockDevice()) {
    throw new InputError(`${escapeText(file)} is not a regular file (a folder?); give the firmware image file.`, { input: 'image' })
  }
}

function ostreeText(layout: DiskLayout, number: number, sysroot: OstreeSysroot): string {
  const partition = layout.partitions.find((p) => p.number === number)!
  const where = describePartition(partition)
  const lines = [`${where.charAt(0).toUpperCase()}${where.slice(1)} holds an OSTree sysroot; stateroots (ostree-os) and deployments:`]
  for (const stateroot of sysroot.stateroots) {
    lines.push(`  ${escapeText(stateroot.name)}: ${stateroot.deployments.length > 0 ? stateroot.deployments.map(escapeText).join(', ') : '(no deployment)'}`)
  }
  if (sysroot.unusable.length > 0) lines.push(`  (not usable as ostree-os: ${sysroot.unusable.map((n) => escapeText(JSON.stringify(n))).join(', ')})`)
  return `${lines.join('\n')}\n`
}

/** The folder's entries in the partition bake would write into, read-only. */
async function listFiles(
  layout: DiskLayout,
  values: Record<string, string | undefined>,
  sysroots: ReadonlyMap<number, OstreeSysroot>,
  read: (p: Partition) => ExtReadOptions
): Promise<FilesListing> {
  const devicePath = values.files || defaultOf('credentials-dir')
  if (!devicePath.startsWith('/') || /["\\\u0000-\u001f]/.test(devicePath) || devicePath.split('/').includes('..')) {
    throw new InputError(`--files takes an absolute folder on the device without quotes, backslashes or "..", e.g. --files=/var/sota/import; got ${JSON.stringify(devicePath)}.`, {
      input: 'files'
    })
  }
  const dir = path.posix.normalize(devicePath).replace(/(.)\/+$/, '$1')
  const partition = layout.table === 'none' ? layout.partitions[0]! : selectPartition(layout, parsePartitionSelector(values.partition))
  const sysroot = sysroots.get(partition.number)
  let placed = dir
  let stateroot: string | undefined
  if (sysroot && ostreePathRefusal(dir, 'x') === undefined) {
    stateroot = chooseStateroot(sysroot, values['ostree-os'], describePartition(partition)).name
    placed = sysrootPath(dir, stateroot)
  }
  const listing: FilesListing = { partition: partition.number, devicePath: dir, path: placed, ...(stateroot ? { ostree: stateroot } : {}), entries: null }
  const where = read(partition)
  if (isExt(partition.fileSystem.type)) {
    const entries = (await listExtDirs(where, [placed])).get(placed)
    listing.entries = entries?.map((e) => ({ name: e.name, type: fileType(e.mode), mode: octal(e.mode), owner: `${e.uid}:${e.gid}`, size: e.size })) ?? null
  } else if (isFat(partition.fileSystem.type)) {
    const { listed, missing } = await listFat(where, [placed])
    if (!missing.has(placed.toUpperCase())) {
      const inside = [...listed.values()].filter((e) => path.posix.dirname(e.path).toUpperCase() === placed.toUpperCase())
      const files = inside.filter((e) => e.state.kind === 'file')
      // FAT keeps no sizes mtools prints plainly: copy the (small) files out to count them.
      const bytes = (
        await readFatFiles(
          { ...where },
          files.map((e) => e.path)
        )
      ).files
      listing.entries = inside.map((e) => {
        const n = files.indexOf(e)
        return { name: path.posix.basename(e.path), type: e.state.kind === 'dir' ? 'dir' : 'file', mode: null, owner: null, size: n >= 0 ? (bytes[n]?.length ?? null) : null }
      })
    }
  } else {
    throw new InputError(`${describePartition(partition)} has no file system credbake reads (ext2/3/4, FAT); choose another with --partition.`, { input: 'partition' })
  }
  listing.entries?.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
  return listing
}

function octal(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0')
}

/** "-rw-------" for a 0600 file, as ls shows it; "?" for the type and "(FAT)" where there are no modes. */
function permissions(entry: ListedFile): string {
  const type = entry.type === 'dir' ? 'd' : entry.type === 'symlink' ? 'l' : entry.type === 'file' ? '-' : '?'
  if (entry.mode === null) return `${type}(FAT)    `
  const bits = parseInt(entry.mode, 8)
  return type + [0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 0o4, 0o2, 0o1].map((bit, i) => ((bits & bit) !== 0 ? 'rwx'[i % 3] : '-')).join('')
}

function filesText(layout: DiskLayout, listing: FilesListing): string {
  const partition = describePartition(layout.partitions.find((p) => p.number === listing.partition)!)
  const where = escapeText(listing.path === listing.devicePath ? listing.path : `${listing.path} (${listing.devicePath} on the device, stateroot ${listing.ostree})`)
  if (listing.entries === null) return `No folder ${where} in ${partition}.\n`
  const rows = listing.entries.map((e) => [permissions(e), e.owner ?? '-', e.size === null ? '-' : String(e.size), escapeText(e.name)])
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((r) => r[i]!.length)))
  const lines = rows.map((r) => `  ${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padEnd(widths[1]!)}  ${r[2]!.padStart(widths[2]!)}  ${r[3]}`)
  return `Files in ${where} of ${partition}${lines.length === 0 ? ': none' : ':'}\n${lines.join('\n')}${lines.length ? '\n' : ''}`
}

/**
 * The layout with its text from the image (GPT partition names, file-system labels) and the path
 * escaped for printing: a label is bytes the image's maker chose, and a line break or a bidi
 * override in it must show as an escape, not break or reorder the table. (--json prints the
 * values themselves, JSON-escaped; the console neutralises what JSON leaves raw.)
 */
function escapedLayout(layout: DiskLayout): DiskLayout {
  return {
    ...layout,
    path: escapeText(layout.path),
    partitions: layout.partitions.map((partition) => ({
      ...partition,
      ...(typeof partition.name === 'string' ? { name: escapeText(partition.name) } : {}),
      fileSystem: { ...partition.fileSystem, ...(typeof partition.fileSystem.label === 'string' ? { label: escapeText(partition.fileSystem.label) } : {}) }
    }))
  }
}
