// File-system detection from the superblock (ext2/3/4) or boot sector (FAT12/16/32), read with
// positional reads at the partition's offset.
import type { FileHandle } from 'node:fs/promises'
import { readAt } from './io.js'

export type FileSystemType = 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32' | 'unknown'

export interface ExtDetails {
  blockSize: number
  blocks: number
  freeBlocks: number
  compat: number
  incompat: number
  roCompat: number
  /** Feature names as e2fsprogs spells them; unknown bits as e.g. "incompat_0x800000". */
  features: string[]
}

export interface FatDetails {
  bytesPerSector: number
  sectorsPerCluster: number
  clusters: number
  totalSectors: number
}

export interface FileSystemInfo {
  type: FileSystemType
  /** Volume label; null when the file system has none. */
  label: string | null
  /** ext: the UUID; FAT: the volume serial "ABCD-1234". */
  uuid: string | null
  /** Bytes the file system claims (block count x block size); null when unknown. */
  size: number | null
  ext?: ExtDetails
  fat?: FatDetails
}

export const UNKNOWN_FS: FileSystemInfo = { type: 'unknown', label: null, uuid: null, size: null }

export function isExt(type: FileSystemType): type is 'ext2' | 'ext3' | 'ext4' {
  return type === 'ext2' || type === 'ext3' || type === 'ext4'
}

export function isFat(type: FileSystemType): type is 'fat12' | 'fat16' | 'fat32' {
  return type === 'fat12' || type === 'fat16' || type === 'fat32'
}

// ext feature bits (include/linux/ext2_fs.h in e2fsprogs).
const COMPAT: Record<number, string> = {
  0x1: 'dir_prealloc',
  0x2: 'imagic_inodes',
  0x4: 'has_journal',
  0x8: 'ext_attr',
  0x10: 'resize_inode',
  0x20: 'dir_index',
  0x40: 'lazy_bg',
  0x100: 'snapshot_bitmap',
  0x200: 'sparse_super2',
  0x400: 'fast_commit',
  0x800: 'stable_inodes',
  0x1000: 'orphan_file'
}
const RO_COMPAT: Record<number, string> = {
  0x1: 'sparse_super',
  0x2: 'large_file',
  0x4: 'btree_dir',
  0x8: 'huge_file',
  0x10: 'uninit_bg',
  0x20: 'dir_nlink',
  0x40: 'extra_isize',
  0x80: 'snapshot',
  0x100: 'quota',
  0x200: 'bigalloc',
  0x400: 'metadata_csum',
  0x800: 'replica',
  0x1000: 'read-only',
  0x2000: 'project',
  0x4000: 'shared_blocks',
  0x8000: 'verity',
  0x10000: 'orphan_present'
}
const INCOMPAT: Record<number, string> = {
  0x1: 'compression',
  0x2: 'filetype',
  0x4: 'needs_recovery',
  0x8: 'journal_dev',
  0x10: 'meta_bg',
  0x40: 'extent',
  0x80: '64bit',
  0x100: 'mmp',
  0x200: 'flex_bg',
  0x400: 'ea_inode',
  0x1000: 'dirdata',
  0x2000: 'metadata_csum_seed',
  0x4000: 'large_dir',
  0x8000: 'inline_data',
  0x10000: 'encrypt',
  0x20000: 'casefold'
}

export const EXT_INCOMPAT_RECOVER = 0x4
export const EXT_INCOMPAT_JOURNAL_DEV = 0x8

function featureNames(bits: number, names: Record<number, string>, kind: string): string[] {
  const out: string[] = []
  for (let bit = 1; bit !== 0 && bit <= 0x80000000; bit = bit * 2) {
    if ((bits & bit) === 0) continue
    out.push(names[bit] ?? `${kind}_0x${bit.toString(16)}`)
  }
  return out
}

/** Names of the features in `ext` (all three sets) that are incompatible or read-only compatible. */
export function extFeatureNames(compat: number, incompat: number, roCompat: number): string[] {
  return [...featureNames(compat, COMPAT, 'compat'), ...featureNames(incompat >>> 0, INCOMPAT, 'incompat'), ...featureNames(roCompat >>> 0, RO_COMPAT, 'ro_compat')]
}

/**
 * The e2fsprogs release that first could write each feature, for messages when the installed one
 * is older. Only features where that is well known are listed.
 */
export const EXT_FEATURE_SINCE: Record<string, string> = {
  metadata_csum: '1.43',
  metadata_csum_seed: '1.43',
  inline_data: '1.43',
  encrypt: '1.43',
  project: '1.43',
  ea_inode: '1.44',
  large_dir: '1.44',
  casefold: '1.45',
  fast_commit: '1.46',
  orphan_file: '1.47',
  orphan_present: '1.47'
}

function hex(bytes: Buffer): string {
  return bytes.toString('hex')
}

function formatUuid(bytes: Buffer): string {
  const h = hex(bytes)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

function cString(bytes: Buffer, encoding: BufferEncoding): string {
  const nul = bytes.indexOf(0)
  return bytes.subarray(0, nul < 0 ? bytes.length : nul).toString(encoding)
}

function probeExt(superblock: Buffer): FileSystemInfo | null {
  if (superblock.length < 1024 || superblock.readUInt16LE(56) !== 0xef53) return null
  const logBlockSize = superblock.readUInt32LE(24)
  if (logBlockSize > 6) return null // block sizes 1 KiB..64 KiB
  const blockSize = 1024 << logBlockSize
  const compat = superblock.readUInt32LE(0x5c)
  const incompat = superblock.readUInt32LE(0x60)
  const roCompat = superblock.readUInt32LE(0x64)
  const is64 = (incompat & 0x80) !== 0
  const blocks = superblock.readUInt32LE(4) + (is64 ? superblock.readUInt32LE(0x150) * 2 ** 32 : 0)
  const freeBlocks = superblock.readUInt32LE(0xc) + (is64 ? superblock.readUInt32LE(0x158) * 2 ** 32 : 0)
  // Same rule as blkid: anything beyond what ext3 knew makes it ext4; a journal makes it ext3.
  const EXT3_INCOMPAT = 0x2 | 0x4 | 0x10 // filetype, needs_recovery, meta_bg
  const EXT3_RO_COMPAT = 0x1 | 0x2 | 0x4 // sparse_super, large_file, btree_dir
  let type: FileSystemType
  if ((incompat & ~EXT3_INCOMPAT) !== 0 || (roCompat & ~EXT3_RO_COMPAT) !== 0) type = 'ext4'
  else if ((compat & 0x4) !== 0) type = 'ext3'
  else type = 'ext2'
  const label = cString(superblock.subarray(0x78, 0x88), 'utf8')
  return {
    type,
    label: label === '' ? null : label,
    uuid: formatUuid(superblock.subarray(0x68, 0x78)),
    size: blocks * blockSize,
    ext: { blockSize, blocks, freeBlocks, compat, incompat, roCompat, features: extFeatureNames(compat, incompat, roCompat) }
  }
}

interface Bpb {
  bytesPerSector: number
  sectorsPerCluster: number
  reserved: number
  fats: number
  rootEntries: number
  totalSectors: number
  fatSize: number
  rootCluster: number
  isFat32Layout: boolean
}

function parseBpb(boot: Buffer): Bpb | null {
  if (boot.length < 512) return null
  const jump = boot[0]
  if (!(jump === 0xeb || jump === 0xe9)) return null
  if (boot.readUInt16LE(510) !== 0xaa55) return null
  const bytesPerSector = boot.readUInt16LE(11)
  const sectorsPerCluster = boot[13]!
  const reserved = boot.readUInt16LE(14)
  const fats = boot[16]!
  const rootEntries = boot.readUInt16LE(17)
  const total16 = boot.readUInt16LE(19)
  const media = boot[21]!
  const fatSize16 = boot.readUInt16LE(22)
  const total32 = boot.readUInt32LE(32)
  const powerOfTwo = (n: number): boolean => n > 0 && (n & (n - 1)) === 0
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) return null
  if (!powerOfTwo(sectorsPerCluster) || reserved === 0 || fats === 0 || fats > 4) return null
  if (!(media === 0xf0 || media >= 0xf8)) return null
  const totalSectors = total16 !== 0 ? total16 : total32
  const isFat32Layout = fatSize16 === 0
  const fatSize = isFat32Layout ? boot.readUInt32LE(36) : fatSize16
  if (totalSectors === 0 || fatSize === 0) return null
  return {
    bytesPerSector,
    sectorsPerCluster,
    reserved,
    fats,
    rootEntries,
    totalSectors,
    fatSize,
    rootCluster: isFat32Layout ? boot.readUInt32LE(44) : 0,
    isFat32Layout
  }
}

/** Label from a directory region: the entry with the volume-label attribute (not a long-name part). */
function volumeLabelEntry(dir: Buffer): string | null | undefined {
  for (let at = 0; at + 32 <= dir.length; at += 32) {
    const first = dir[at]!
    if (first === 0x00) return null // end of directory
    if (first === 0xe5) continue // deleted
    const attr = dir[at + 11]!
    if (attr === 0x0f) continue // long-name part
    if ((attr & 0x08) !== 0)
      return (
        dir
          .subarray(at, at + 11)
          .toString('latin1')
          .trimEnd() || null
      )
  }
  return undefined // not found in this piece; the caller may read on
}

async function probeFat(handle: FileHandle, start: number, boot: Buffer): Promise<FileSystemInfo | null> {
  const bpb = parseBpb(boot)
  if (!bpb) return null
  const { bytesPerSector: bps, sectorsPerCluster: spc } = bpb
  const rootDirSectors = Math.ceil((bpb.rootEntries * 32) / bps)
  const firstDataSector = bpb.reserved + bpb.fats * bpb.fatSize + rootDirSectors
  if (firstDataSector >= bpb.totalSectors) return null
  const clusters = Math.floor((bpb.totalSectors - firstDataSector) / spc)
  // FAT32 by its boot sector (a zero 16-bit FAT size, the FAT32 extended BPB), as Linux, blkid and
  // mtools decide: `mkfs.vfat -F 32` makes FAT32 below the specification's 65,525 clusters too,
  // and its label and root directory are where FAT32 keeps them. FAT12 and FAT16 by cluster count.
  const type: FileSystemType = bpb.isFat32Layout ? 'fat32' : clusters < 4085 ? 'fat12' : 'fat16'
  const ext = type === 'fat32' ? 28 : 0 // FAT32 extended BPB fields sit 28 bytes further on
  const hasExtBoot = boot[38 + ext] === 0x29
  const bpbLabel = hasExtBoot
    ? boot
        .subarray(43 + ext, 54 + ext)
        .toString('latin1')
        .trimEnd()
    : ''
  const serial = hasExtBoot ? boot.readUInt32LE(39 + ext) : null

  // The root directory's volume-label entry is what tools show (and what mlabel / Windows change).
  let dirLabel: string | null | undefined
  if (type !== 'fat32') {
    dirLabel = volumeLabelEntry(await readAt(handle, start + (bpb.reserved + bpb.fats * bpb.fatSize) * bps, rootDirSectors * bps))
  } else {
    let cluster = bpb.rootCluster
    const seen = new Set<number>()
    for (let hops = 0; hops < 64 && cluster >= 2 && cluster < clusters + 2 && !seen.has(cluster); hops++) {
      seen.add(cluster)
      const at = start + (firstDataSector + (cluster - 2) * spc) * bps
      dirLabel = volumeLabelEntry(await readAt(handle, at, spc * bps))
      if (dirLabel !== undefined) break
      const entry = await readAt(handle, start + bpb.reserved * bps + cluster * 4, 4)
      if (entry.length < 4) break
      cluster = entry.readUInt32LE(0) & 0x0fffffff
    }
  }
  let label: string | null = dirLabel ?? null
  if (dirLabel === undefined || dirLabel === null) label = bpbLabel !== '' && bpbLabel !== 'NO NAME' ? bpbLabel : null
  const serialText = serial === null ? null : serial.toString(16).toUpperCase().padStart(8, '0')
  return {
    type,
    label,
    uuid: serialText === null ? null : `${serialText.slice(0, 4)}-${serialText.slice(4)}`,
    size: bpb.totalSectors * bps,
    fat: { bytesPerSector: bps, sectorsPerCluster: spc, clusters, totalSectors: bpb.totalSectors }
  }
}

/** Detect the file system that starts at byte `start`. */
export async function probeFileSystem(handle: FileHandle, start: number): Promise<FileSystemInfo> {
  const head = await readAt(handle, start, 2048)
  const ext = probeExt(head.subarray(1024))
  if (ext) return ext
  const fat = await probeFat(handle, start, head.subarray(0, 512))
  return fat ?? UNKNOWN_FS
}

/** True when `sector` (the first 512 bytes of a file) is a FAT boot sector with a sane BPB. */
export function looksLikeFatBootSector(sector: Buffer): boolean {
  return parseBpb(sector) !== null
}
