// Partition tables read in TypeScript: MBR (with the EBR chain of logical partitions), GPT (CRCs
// checked, backup header when the primary is damaged), protective/hybrid MBR, 512- and
// 4096-byte sectors, and bare file systems. Only the sectors needed are read.
//
// Why not a library: the `partition` input uses Linux's numbering (5 is the first logical MBR
// partition, GPT entries keep their slot number), and the npm readers (partitioninfo, gpt, and
// balena-image-fs over them) skip empty GPT entries, so their 2 can be Linux's /dev/sdX3. The
// checks a reader of an untrusted image needs (CRCs, the backup GPT, EBR chains that loop) are
// most of the code either way.
import { open, type FileHandle } from 'node:fs/promises'
import { ImageError, messageOf } from '../errors.js'
import type { PartitionSelector } from '../settings/types.js'
import { isExt, isFat, looksLikeFatBootSector, probeFileSystem, type FileSystemInfo } from './fs.js'
import { crc32 } from 'node:zlib'
import { readAt } from './io.js'

export type { FileSystemInfo, FileSystemType } from './fs.js'

export type TableType = 'gpt' | 'mbr' | 'none'

export interface Partition {
  /** Linux numbering: GPT entry index + 1; MBR primaries 1-4, logicals from 5; 0 for a bare file system. */
  number: number
  /** Byte offset in the image. */
  start: number
  /** Bytes. */
  size: number
  /** MBR: the type byte as "0x83"; GPT: the type GUID, upper-case; "" for a bare file system. */
  type: string
  /** "Linux filesystem", "EFI System", ...; null when not a common type. */
  typeName: string | null
  /** GPT partition name; null on MBR and bare file systems. */
  name: string | null
  kind: 'gpt' | 'primary' | 'extended' | 'logical' | 'whole'
  fileSystem: FileSystemInfo
}

export interface DiskLayout {
  path: string
  /** Bytes. */
  size: number
  table: TableType
  sectorSize: 512 | 4096
  /** What sector 0 holds next to a GPT: a protective MBR, a hybrid MBR, or none. */
  mbr?: 'protective' | 'hybrid' | 'none'
  /** GPT disk GUID or MBR disk signature ("0x1234abcd"). */
  diskId?: string
  /** Which GPT header was used. */
  gptHeader?: 'primary' | 'backup'
  partitions: Partition[]
  /** Problems that did not stop reading (e.g. damaged primary GPT, backup used). */
  warnings: string[]
}

export interface ReadLayoutOptions {
  /** Called for each warning as it is found (they are also returned in `warnings`). */
  onWarning?: (message: string) => void
}

const MBR_TYPES: Record<number, string> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x05: 'Extended',
  0x06: 'FAT16',
  0x07: 'HPFS/NTFS/exFAT',
  0x0b: 'W95 FAT32',
  0x0c: 'W95 FAT32 (LBA)',
  0x0e: 'W95 FAT16 (LBA)',
  0x0f: "W95 Ext'd (LBA)",
  0x82: 'Linux swap',
  0x83: 'Linux',
  0x85: 'Linux extended',
  0x8e: 'Linux LVM',
  0xda: 'Non-FS data',
  0xee: 'GPT',
  0xef: 'EFI (FAT-12/16/32)',
  0xfd: 'Linux raid autodetect'
}
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85])

const GPT_TYPES: Record<string, string> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  '44479540-F297-41B2-9AF7-D131D5F0458A': 'Linux root (x86)',
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': 'Linux root (x86-64)',
  '69DAD710-2CE4-4E3C-B16C-21A1D49ABED3': 'Linux root (ARM)',
  'B921B045-1DF0-41C3-AF44-4C6F280D3FAE': 'Linux root (ARM-64)',
  '8DA63339-0007-60C0-C436-083AC8230908': 'Linux reserved',
  '933AC7E1-2EB4-4F13-B844-0E14E2AEF915': 'Linux home',
  '3B8F8425-20E0-4F3B-907F-1A25A76F98E8': 'Linux server data',
  'BC13C2FF-59E6-4262-A352-B275FD6F7172': 'Linux extended boot',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'Linux RAID',
  'CA7D7CCB-63ED-4C53-861C-1742536059CC': 'Linux LUKS'
}

const GPT_SIGNATURE = 'EFI PART'

function fail(path: string, message: string, cause?: unknown): never {
  throw new ImageError(message, { file: path, cause })
}

/** GUIDs are stored mixed-endian: the first three fields little-endian. */
function guid(bytes: Buffer): string {
  const h = (b: Buffer): string => b.toString('hex').toUpperCase()
  const le = (b: Buffer): string => h(Buffer.from(b).reverse())
  return `${le(bytes.subarray(0, 4))}-${le(bytes.subarray(4, 6))}-${le(bytes.subarray(6, 8))}-${h(bytes.subarray(8, 10))}-${h(bytes.subarray(10, 16))}`
}

function u64(buffer: Buffer, at: number): number {
  const value = buffer.readBigUInt64LE(at)
  return value > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(value)
}

interface GptHeader {
  myLba: number
  alternateLba: number
  firstUsable: number
  lastUsable: number
  diskGuid: string
  entriesLba: number
  entryCount: number
  entrySize: number
  entriesCrc: number
}

/** Parse and CRC-check a GPT header sector; returns a reason string when it is not usable. */
function parseGptHeader(sector: Buffer, expectedLba: number): GptHeader | string {
  if (sector.length < 92 || sector.toString('latin1', 0, 8) !== GPT_SIGNATURE) return 'no "EFI PART" signature'
  const headerSize = sector.readUInt32LE(12)
  if (headerSize < 92 || headerSize > sector.length) return `implausible header size ${headerSize}`
  const copy = Buffer.from(sector.subarray(0, headerSize))
  const stored = copy.readUInt32LE(16)
  copy.writeUInt32LE(0, 16)
  if (crc32(copy) !== stored) return 'header CRC32 mismatch'
  const header: GptHeader = {
    myLba: u64(sector, 24),
    alternateLba: u64(sector, 32),
    firstUsable: u64(sector, 40),
    lastUsable: u64(sector, 48),
    diskGuid: guid(sector.subarray(56, 72)),
    entriesLba: u64(sector, 72),
    entryCount: sector.readUInt32LE(80),
    entrySize: sector.readUInt32LE(84),
    entriesCrc: sector.readUInt32LE(88)
  }
  if (header.myLba !== expectedLba) return `header says it is at LBA ${header.myLba}, found at LBA ${expectedLba}`
  if (header.entrySize < 128 || header.entrySize % 8 !== 0) return `implausible entry size ${header.entrySize}`
  if (header.entryCount === 0 || header.entryCount * header.entrySize > 4 << 20) return `implausible entry count ${header.entryCount}`
  return header
}

interface GptRead {
  header: GptHeader
  entries: Buffer
}

async function readGptAt(handle: FileHandle, lba: number, sectorSize: number, fileSize: number): Promise<GptRead | string> {
  if (lba <= 0 || (lba + 1) * sectorSize > fileSize) return `LBA ${lba} is outside the image`
  const header = parseGptHeader(await readAt(handle, lba * sectorSize, sectorSize), lba)
  if (typeof header === 'string') return header
  const length = header.entryCount * header.entrySize
  const entries = await readAt(handle, header.entriesLba * sectorSize, length)
  if (entries.length < length) return 'partition entry array lies beyond the end of the image'
  if (crc32(entries) !== header.entriesCrc) return 'partition entry array CRC32 mismatch'
  return { header, entries }
}

async function readGpt(
  path: string,
  handle: FileHandle,
  fileSize: number,
  sectorSize: 512 | 4096,
  warn: (message: string) => void
): Promise<{ gpt: GptRead; which: 'primary' | 'backup' }> {
  const lastLba = Math.floor(fileSize / sectorSize) - 1
  const primary = await readGptAt(handle, 1, sectorSize, fileSize)
  if (typeof primary !== 'string') {
    // Check the backup too: a damaged or misplaced backup is worth knowing before flashing.
    const backup = await readGptAt(handle, primary.header.alternateLba, sectorSize, fileSize)
    if (typeof backup === 'string') {
      warn(`The backup GPT header (LBA ${primary.header.alternateLba}) is not usable: ${backup}. The primary is fine and is used.`)
    } else if (primary.header.alternateLba !== lastLba) {
      warn(`The backup GPT header is at LBA ${primary.header.alternateLba}, not at the image's last LBA ${lastLba}: the image was resized after partitioning.`)
    }
    return { gpt: primary, which: 'primary' }
  }
  const backup = await readGptAt(handle, lastLba, sectorSize, fileSize)
  if (typeof backup === 'string') {
    fail(path, `The GPT of ${path} is damaged: primary header (LBA 1): ${primary}; backup header (LBA ${lastLba}): ${backup}. Rebuild the image or repair it with gdisk/sgdisk.`)
  }
  warn(`The primary GPT of ${path} is damaged (${primary}); using the backup GPT at LBA ${lastLba}. Repair the image (e.g. sgdisk -e or gdisk) before relying on it.`)
  return { gpt: backup, which: 'backup' }
}

function gptPartitions(gpt: GptRead, sectorSize: number, fileSize: number, path: string, warn: (m: string) => void): Array<Omit<Partition, 'fileSystem'>> {
  const out: Array<Omit<Partition, 'fileSystem'>> = []
  const { entryCount, entrySize } = gpt.header
  for (let index = 0; index < entryCount; index++) {
    const entry = gpt.entries.subarray(index * entrySize, (index + 1) * entrySize)
    const typeBytes = entry.subarray(0, 16)
    if (typeBytes.every((b) => b === 0)) continue // unused slot: keeps its number, like Linux
    const first = u64(entry, 32)
    const last = u64(entry, 40)
    if (last < first) fail(path, `GPT entry ${index + 1} ends (LBA ${last}) before it starts (LBA ${first}).`)
    const type = guid(typeBytes)
    const rawName = entry.subarray(56, 128)
    let end = 0
    while (end + 1 < rawName.length && (rawName[end] !== 0 || rawName[end + 1] !== 0)) end += 2
    const start = first * sectorSize
    const size = (last - first + 1) * sectorSize
    if (start + size > fileSize) warn(`Partition ${index + 1} ends at byte ${start + size}, beyond the end of the image (${fileSize} bytes): the image is truncated.`)
    out.push({
      number: index + 1,
      start,
      size,
      type,
      typeName: GPT_TYPES[type] ?? null,
      name: rawName.subarray(0, end).toString('utf16le'),
      kind: 'gpt'
    })
  }
  return out
}

interface MbrEntry {
  status: number
  type: number
  firstLba: number
  sectors: number
}

function mbrEntries(sector: Buffer): MbrEntry[] {
  const entries: MbrEntry[] = []
  for (let i = 0; i < 4; i++) {
    const at = 446 + i * 16
    entries.push({ status: sector[at]!, type: sector[at + 4]!, firstLba: sector.readUInt32LE(at + 8), sectors: sector.readUInt32LE(at + 12) })
  }
  return entries
}

function hasBootSignature(sector: Buffer): boolean {
  return sector.length >= 512 && sector.readUInt16LE(510) === 0xaa55
}

/** A plausible MBR: boot signature, status bytes 0x00/0x80, at least one non-empty entry. */
function looksLikeMbr(sector: Buffer): boolean {
  if (!hasBootSignature(sector)) return false
  const entries = mbrEntries(sector)
  if (entries.some((e) => e.status !== 0 && e.status !== 0x80)) return false
  return entries.some((e) => e.type !== 0 && e.sectors !== 0)
}

function mbrPartition(number: number, kind: Partition['kind'], entry: MbrEntry, baseLba: number, sectorSize: number): Omit<Partition, 'fileSystem'> {
  return {
    number,
    start: (baseLba + entry.firstLba) * sectorSize,
    size: entry.sectors * sectorSize,
    type: `0x${entry.type.toString(16).padStart(2, '0')}`,
    typeName: MBR_TYPES[entry.type] ?? null,
    name: null,
    kind
  }
}

async function mbrPartitions(
  path: string,
  handle: FileHandle,
  mbr: Buffer,
  sectorSize: number,
  fileSize: number,
  warn: (m: string) => void
): Promise<Array<Omit<Partition, 'fileSystem'>>> {
  const out: Array<Omit<Partition, 'fileSystem'>> = []
  const entries = mbrEntries(mbr)
  let extended: MbrEntry | undefined
  entries.forEach((entry, index) => {
    if (entry.type === 0 || entry.sectors === 0) return // empty slot keeps its number
    const isExtended = EXTENDED_TYPES.has(entry.type)
    if (isExtended) {
      if (extended) warn(`${path}: more than one extended partition in the MBR; only the first is followed.`)
      else extended = entry
    }
    out.push(mbrPartition(index + 1, isExtended ? 'extended' : 'primary', entry, 0, sectorSize))
  })
  if (!extended) return out

  // Walk the EBR chain: each EBR holds one logical (relative to itself) and a link to the next
  // EBR (relative to the start of the extended partition).
  const extStart = extended.firstLba
  let ebrLba = extStart
  let number = 5
  const seen = new Set<number>()
  while (true) {
    if (seen.has(ebrLba) || seen.size >= 256) {
      warn(`${path}: the chain of extended boot records loops or is too long; stopped after ${seen.size}.`)
      break
    }
    seen.add(ebrLba)
    if ((ebrLba + 1) * sectorSize > fileSize) fail(path, `An extended boot record (LBA ${ebrLba}) lies beyond the end of the image: the image is truncated.`)
    const ebr = await readAt(handle, ebrLba * sectorSize, 512)
    if (!hasBootSignature(ebr)) {
      warn(`${path}: the extended boot record at LBA ${ebrLba} has no 0x55AA signature; logical partitions after it are ignored.`)
      break
    }
    let next: MbrEntry | undefined
    for (const entry of mbrEntries(ebr)) {
      if (entry.type === 0 || entry.sectors === 0) continue
      if (EXTENDED_TYPES.has(entry.type)) next ??= entry
      else out.push(mbrPartition(number++, 'logical', entry, ebrLba, sectorSize))
    }
    if (!next) break
    ebrLba = extStart + next.firstLba
  }
  return out
}

async function withFileSystems(handle: FileHandle, parts: Array<Omit<Partition, 'fileSystem'>>): Promise<Partition[]> {
  const out: Partition[] = []
  for (const part of parts) {
    const fileSystem: FileSystemInfo = part.kind === 'extended' ? { type: 'unknown', label: null, uuid: null, size: null } : await probeFileSystem(handle, part.start)
    out.push({ ...part, fileSystem })
  }
  return out
}

/** How messages name a partition of a table: "partition 2 (rootfs)". */
function partitionName(p: Omit<Partition, 'fileSystem'> & { fileSystem?: FileSystemInfo }): string {
  const names = [...new Set([p.name, p.fileSystem?.label].filter((n): n is string => !!n))]
  return `partition ${p.number}${names.length > 0 ? ` (${names.map((n) => JSON.stringify(n)).join(', ')})` : ''}`
}

/**
 * Pairs of partitions whose byte ranges overlap (an extended MBR partition is a container, so
 * its logical partitions inside it do not count). One sweep in start order, against the range
 * that reaches furthest so far: a table of thousands of entries costs no more than a sort.
 */
export function overlappingPartitions(partitions: readonly Partition[]): Array<[Partition, Partition]> {
  const ranges = partitions.filter((p) => p.kind !== 'extended' && p.size > 0).sort((a, b) => a.start - b.start || a.number - b.number)
  const pairs: Array<[Partition, Partition]> = []
  let furthest: Partition | undefined
  for (const p of ranges) {
    if (furthest && p.start < furthest.start + furthest.size) pairs.push([furthest, p])
    if (!furthest || p.start + p.size > furthest.start + furthest.size) furthest = p
  }
  return pairs
}

function overlapText([a, b]: [Partition, Partition]): string {
  const end = (p: Partition): number => p.start + p.size
  return `${partitionName(a)} (bytes ${a.start}-${end(a) - 1}) and ${partitionName(b)} (bytes ${b.start}-${end(b) - 1}) overlap`
}

/** Read the partition table (or bare file system) of an image file. */
export async function readDiskLayout(path: string, options: ReadLayoutOptions = {}): Promise<DiskLayout> {
  let handle: FileHandle
  try {
    handle = await open(path, 'r')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : messageOf(error)
    fail(path, `Cannot read the base image ${path}: ${why}.`, error)
  }
  try {
    const stat = await handle.stat()
    if (!stat.isFile()) fail(path, `The base image ${path} is not a regular file.`)
    const fileSize = stat.size
    if (fileSize < 2048) fail(path, `The base image ${path} is only ${fileSize} bytes: too small to hold a partition table or a file system.`)
    const warnings: string[] = []
    const warn = (message: string): void => {
      warnings.push(message)
      options.onWarning?.(message)
    }
    const head = await readAt(handle, 0, 4096 + 512)
    const sector0 = head.subarray(0, 512)
    const mbrLooksValid = looksLikeMbr(sector0)
    const mbrHasGptEntry = mbrLooksValid && mbrEntries(sector0).some((e) => e.type === 0xee)

    // GPT: "EFI PART" at LBA 1, with 512- or 4096-byte sectors. A protective MBR with no primary
    // signature still means GPT (primary header wiped): look for the backup.
    let sectorSize: 512 | 4096 | undefined
    if (head.toString('latin1', 512, 520) === GPT_SIGNATURE) sectorSize = 512
    else if (head.toString('latin1', 4096, 4104) === GPT_SIGNATURE) sectorSize = 4096
    else if (mbrHasGptEntry) {
      for (const size of [512, 4096] as const) {
        const last = await readAt(handle, (Math.floor(fileSize / size) - 1) * size, 8)
        if (last.toString('latin1') === GPT_SIGNATURE) {
          sectorSize = size
          break
        }
      }
      if (sectorSize === undefined) fail(path, `${path} has a protective MBR (type 0xEE) but neither a primary nor a backup GPT header: the GPT is destroyed. Rebuild the image.`)
    }
    if (sectorSize !== undefined) {
      const { gpt, which } = await readGpt(path, handle, fileSize, sectorSize, warn)
      let mbr: DiskLayout['mbr'] = 'none'
      if (mbrHasGptEntry) mbr = mbrEntries(sector0).some((e) => e.type !== 0 && e.type !== 0xee && e.sectors !== 0) ? 'hybrid' : 'protective'
      if (mbr === 'none') warn(`${path} has a GPT but no protective MBR; some tools will not see the GPT.`)
      if (mbr === 'hybrid') warn(`${path} has a hybrid MBR; the GPT is used, as Linux does.`)
      const parts = await withFileSystems(handle, gptPartitions(gpt, sectorSize, fileSize, path, warn))
      warnOverlaps(parts, warn)
      return { path, size: fileSize, table: 'gpt', sectorSize, mbr, diskId: gpt.header.diskGuid, gptHeader: which, partitions: parts, warnings }
    }

    // A FAT file system's boot sector also ends in 0x55AA (mkfs.fat leaves the partition-entry
    // area zero, so it rarely passes as an MBR). When both readings are plausible, an MBR whose
    // entries fit the file wins: boot loaders such as GRUB also start with a jump instruction.
    const entriesFit = mbrEntries(sector0)
      .filter((e) => e.type !== 0 && e.sectors !== 0)
      .every((e) => e.firstLba >= 1 && (e.firstLba + e.sectors) * 512 <= fileSize)
    if (!mbrLooksValid || (looksLikeFatBootSector(sector0) && !entriesFit)) {
      const fileSystem = await probeFileSystem(handle, 0)
      if (fileSystem.type === 'unknown') {
        fail(path, `${path} has no partition table (no MBR, no GPT) and no ext2/3/4 or FAT file system at its start. Pass a disk image or a file-system image.`)
      }
      const whole: Partition = { number: 0, start: 0, size: fileSize, type: '', typeName: null, name: null, kind: 'whole', fileSystem }
      return { path, size: fileSize, table: 'none', sectorSize: 512, partitions: [whole], warnings }
    }

    // MBR. LBAs are in logical sectors; 4096-byte-sector MBR disks exist (4Kn), so pick the size
    // under which the partitions fit the file and hold file systems.
    const diskId = `0x${sector0.readUInt32LE(440).toString(16).padStart(8, '0')}`
    let best: { size: 512 | 4096; parts: Partition[]; score: number; notes: string[] } | undefined
    for (const size of [512, 4096] as const) {
      const notes: string[] = []
      let parts: Partition[]
      try {
        parts = await withFileSystems(handle, await mbrPartitions(path, handle, sector0, size, fileSize, (m) => notes.push(m)))
      } catch (error) {
        if (size === 512) throw error
        continue
      }
      const fits = parts.every((p) => p.start + p.size <= fileSize)
      const score = (fits ? 1000 : 0) + parts.filter((p) => p.fileSystem.type !== 'unknown').length
      if (!best || score > best.score) best = { size, parts, score, notes }
      if (size === 512 && fits && parts.some((p) => p.fileSystem.type !== 'unknown')) break
    }
    const chosen = best!
    chosen.notes.forEach(warn)
    for (const p of chosen.parts) {
      if (p.start + p.size > fileSize) warn(`Partition ${p.number} ends at byte ${p.start + p.size}, beyond the end of the image (${fileSize} bytes): the image is truncated.`)
    }
    warnOverlaps(chosen.parts, warn)
    return { path, size: fileSize, table: 'mbr', sectorSize: chosen.size, diskId, partitions: chosen.parts, warnings }
  } finally {
    await handle.close()
  }
}

/** A few overlaps are named; a table that is all overlaps says how many more there are. */
function warnOverlaps(parts: readonly Partition[], warn: (message: string) => void): void {
  const pairs = overlappingPartitions(parts)
  for (const pair of pairs.slice(0, 4)) warn(`The partition table is inconsistent: ${overlapText(pair)}. Writing into either could destroy the other.`)
  if (pairs.length > 4) warn(`${pairs.length - 4} more pairs of partitions overlap.`)
}

function humanSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

/** The partitions as an aligned text table, for messages and `credbake inspect`. */
export function formatPartitionTable(layout: DiskLayout): string {
  const header = ['#', 'start', 'size', 'type', 'name', 'fs', 'label']
  const rows = layout.partitions.map((p) => [
    String(p.number),
    String(p.start),
    humanSize(p.size),
    p.kind === 'whole' ? '(no table)' : (p.typeName ?? p.type),
    p.name ?? '',
    p.kind === 'extended' ? '(extended)' : p.fileSystem.type,
    p.fileSystem.label ?? ''
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(header), ...rows.map(line)].join('\n')
}

function describeSelector(selector: PartitionSelector): string {
  switch (selector.kind) {
    case 'number':
      return `partition number ${selector.number}`
    case 'label':
      return `label=${selector.value}`
    case 'name':
      return `name=${selector.value}`
  }
}

/** True when credbake can write into the partition's file system. */
export function isWritable(partition: Partition): boolean {
  return isExt(partition.fileSystem.type) || isFat(partition.fileSystem.type)
}

/**
 * The partition to write into: by number, `label=` (file-system label; FAT labels compare
 * case-insensitively, as FAT stores them upper-case) or `name=` (GPT partition name). Without a
 * selector, the only ext2/3/4 partition.
 */
export function selectPartition(layout: DiskLayout, selector?: PartitionSelector): Partition {
  const table = formatPartitionTable(layout)
  const err = (message: string): never => {
    throw new ImageError(`${message}\nPartitions of ${layout.path}:\n${table}`, { input: 'partition', file: layout.path })
  }
  let matches: Partition[]
  if (!selector) {
    matches = layout.partitions.filter((p) => isExt(p.fileSystem.type))
    if (matches.length === 0) err(`${layout.path} has no ext2/3/4 partition to write into; choose one with the partition input (a number, label=LABEL or name=NAME).`)
    if (matches.length > 1)
      err(
        `${layout.path} has ${matches.length} ext2/3/4 partitions (${matches.map((p) => p.number).join(', ')}); choose one with the partition input (a number, label=LABEL or name=NAME).`
      )
  } else {
    matches = layout.partitions.filter((p) => {
      switch (selector.kind) {
        case 'number':
          return p.number === selector.number
        case 'label': {
          const label = p.fileSystem.label
          if (label === null) return false
          return isFat(p.fileSystem.type) ? label.toUpperCase() === selector.value.toUpperCase() : label === selector.value
        }
        case 'name':
          return p.name === selector.value
      }
    })
    const what = describeSelector(selector)
    if (selector.kind === 'name' && layout.table !== 'gpt')
      err(`name= selects GPT partition names, but ${layout.path} has ${layout.table === 'mbr' ? 'an MBR' : 'no partition table'}; use a number or label=.`)
    if (matches.length === 0) err(`No partition of ${layout.path} matches ${what}.`)
    if (matches.length > 1) err(`${matches.length} partitions of ${layout.path} match ${what} (${matches.map((p) => p.number).join(', ')}); select by number instead.`)
  }
  const chosen = matches[0]!
  // A table whose partitions overlap is broken: whichever of them is written, the other may
  // lose data, and an image made from it would carry the damage to every device.
  const overlaps = overlappingPartitions(layout.partitions)
  if (overlaps.length > 0) {
    const shown = overlaps.slice(0, 3).map(overlapText).join('; ')
    throw new ImageError(
      `The partition table of ${layout.path} is inconsistent: ${shown}${overlaps.length > 3 ? ` (and ${overlaps.length - 3} more pairs)` : ''}. credbake does not write into an image whose partitions overlap: fix the table (sfdisk, gdisk) or rebuild the image.\nPartitions of ${layout.path}:\n${table}`,
      { input: 'image', file: layout.path }
    )
  }
  if (chosen.kind === 'extended') err(`Partition ${chosen.number} is an extended partition (a container for logical partitions 5 and up); select one of the logical partitions.`)
  if (!isWritable(chosen)) {
    err(
      `Partition ${chosen.number} of ${layout.path} has ${chosen.fileSystem.type === 'unknown' ? 'no file system credbake recognizes' : `a ${chosen.fileSystem.type} file system`}; credbake writes into ext2/3/4 and FAT12/16/32.`
    )
  }
  if (chosen.start + chosen.size > layout.size) {
    err(
      `Partition ${chosen.number} ends at byte ${chosen.start + chosen.size}, past the end of ${layout.path} (${layout.size} bytes): the image is truncated. Rebuild or re-download it.`
    )
  }
  return chosen
}
