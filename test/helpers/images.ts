// Real disk images for tests, built with the standard tools (sfdisk, fdisk, mkfs.ext4, mkfs.vfat,
// mtools, dd), plus independent read-back helpers (debugfs, mcopy, e2fsck, fsck.vfat) that do not
// go through credbake's own code. Needs e2fsprogs, dosfstools, mtools, fdisk, xz, zstd, gzip.
//
// Builders (each returns a BuiltImage: path, size, sectorSize, table, partitions with byte
// start/size, GPT name and the FsSpec used; `img.part('rootfs' | 6)` finds one by name, label
// or number):
//   buildGptImage(dir, { rootSize?, rootFiles?, file? })  GPT/512: 1 "boot" FAT32 label BOOT,
//                                                         2 "rootfs" ext4 label rootfs (mkfs defaults:
//                                                         metadata_csum, 64bit, ...) holding ROOTFS_TREE
//   buildMbrImage(dir)        MBR: 1 FAT12 FW, 2 FAT16 BOOT, 3 ext2 data, 4 extended,
//                             5 ext3 factory, 6 ext4 config (logicals in an EBR chain)
//   buildGpt4kImage(dir)      GPT with 4096-byte sectors (fdisk -b 4096): 1 "boot" FAT16 with
//                             4096-byte sectors label BOOT4K, 2 "rootfs" ext4 (4 KiB blocks)
//   buildGptOf(dir, file, specs)  GPT/512 with the partitions given (name, size, fs, label, files)
//   buildMbrOf(dir, file, specs)  MBR/512 with up to four primaries given
//   buildBareExt4(dir, opts)  bare ext4 (no table); buildBareFat(dir, opts) bare FAT
//   compressWithTool(path, 'gz' | 'xz' | 'zst')  compressed copy next to it (original kept)
//   makeHybridMbr, corruptPrimaryGptHeader, corruptPrimaryGptEntries, setExtFeatureBit, pokeBytes
// Reference readers: sfdiskJson, fdiskList (4096-byte sectors), debugfsCat, debugfsStat, e2fsck,
// fsckVfat (copies the partition out first), mcopyRead, extractBytes, allocatedBytes.
//
// Usage:
//   const dir = await scratchDir()                    // all removed by cleanupScratch() in afterAll
//   const img = await buildGptImage(dir)
//   debugfsCat(img.path, img.part('rootfs').start, '/etc/hostname')   // Buffer 'device\n'
//
// File systems are made in a separate file and copied in with `dd conv=sparse,notrunc`, so the
// images stay sparse. Each builder is a handful of synchronous tool runs (well under a second).
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, openSync, readSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'

export const MiB = 1024 * 1024

/** Run a tool with an argument array; throws with its stderr when it exits non-zero. */
export function run(cmd: string, args: string[], options: { input?: string | Buffer; env?: NodeJS.ProcessEnv } = {}): string {
  return execFileSync(cmd, args, {
    input: options.input,
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1', ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
    maxBuffer: 256 * MiB
  }).toString('utf8')
}

/** Like run but returns stdout, stderr and exit status without throwing. */
export function runStatus(cmd: string, args: string[], env?: NodeJS.ProcessEnv): { status: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, { env: { ...process.env, MTOOLS_SKIP_CHECK: '1', ...env }, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * MiB })
    return { status: 0, stdout: stdout.toString('utf8'), stderr: '' }
  } catch (error) {
    const e = error as { status?: number; stdout?: Buffer; stderr?: Buffer }
    return { status: e.status ?? -1, stdout: e.stdout?.toString('utf8') ?? '', stderr: e.stderr?.toString('utf8') ?? '' }
  }
}

const scratch: string[] = []

/** A fresh temp folder; `cleanupScratch()` removes all of them (call it in afterAll). */
export async function scratchDir(prefix = 'credbake-img-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix))
  scratch.push(dir)
  return dir
}

export async function cleanupScratch(): Promise<void> {
  await Promise.all(scratch.splice(0).map((dir) => rm(dir, { recursive: true, force: true })))
}

export type FsKind = 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32'

/** Content put into a file system when it is made: device path -> bytes (directories implied). */
export type Tree = Record<string, string | Buffer>

export interface FsSpec {
  fs: FsKind
  size: number
  label?: string
  /** GPT partition name. */
  name?: string
  files?: Tree
  /** ext: block size (1024/2048/4096); FAT: logical sector size (512/4096). */
  blockSize?: number
  /** Extra mkfs arguments. */
  mkfsArgs?: string[]
  /** ext: a host folder to copy in whole (`mkfs.ext4 -d`), owners and modes as they are there. */
  contentDir?: string
}

export interface BuiltPartition {
  number: number
  /** Bytes. */
  start: number
  /** Bytes. */
  size: number
  name?: string
  spec?: FsSpec
}

export interface BuiltImage {
  path: string
  size: number
  sectorSize: 512 | 4096
  table: 'gpt' | 'mbr' | 'none'
  partitions: BuiltPartition[]
  /** The partition holding `spec.fs` for a GPT name / label / number. */
  part(key: string | number): BuiltPartition
}

function withPart(image: Omit<BuiltImage, 'part'>): BuiltImage {
  return {
    ...image,
    part(key) {
      const found = image.partitions.find((p) => (typeof key === 'number' ? p.number === key : p.name === key || p.spec?.label === key))
      if (!found) throw new Error(`test image ${image.path} has no partition ${key}`)
      return found
    }
  }
}

function writeTree(root: string, tree: Tree): void {
  for (const [file, content] of Object.entries(tree)) {
    const target = path.join(root, file)
    mkdirSync(path.dirname(target), { recursive: true })
    writeFileSync(target, content)
  }
}

/** Make a file system of `spec` in a new file `file` (sparse). */
export function makeFileSystem(file: string, spec: FsSpec): void {
  rmSync(file, { force: true })
  if (spec.fs.startsWith('ext')) {
    const args = ['-F', '-q', '-t', spec.fs, '-E', 'nodiscard']
    if (spec.label) args.push('-L', spec.label)
    if (spec.blockSize) args.push('-b', String(spec.blockSize))
    let content: string | undefined
    if (spec.files) {
      content = `${file}.d`
      rmSync(content, { recursive: true, force: true })
      mkdirSync(content)
      writeTree(content, spec.files)
      args.push('-d', content)
    }
    if (spec.contentDir) args.push('-d', spec.contentDir)
    args.push(...(spec.mkfsArgs ?? []), file, `${Math.floor(spec.size / 1024)}k`)
    // mke2fs -d takes the host owner and mode; root-owned content is what images have.
    run('mkfs.ext4', args, { env: { E2FSPROGS_FAKE_TIME: '1700000000' } })
    if (content) rmSync(content, { recursive: true, force: true })
    return
  }
  const bits = spec.fs.slice(3)
  const args = ['-C', '-F', bits]
  if (spec.label) args.push('-n', spec.label)
  if (spec.blockSize) args.push('-S', String(spec.blockSize))
  args.push(...(spec.mkfsArgs ?? []), file, String(Math.floor(spec.size / 1024)))
  run('mkfs.vfat', args)
  for (const [device, content] of Object.entries(spec.files ?? {})) {
    const parts = device.split('/').filter(Boolean)
    for (let i = 1; i < parts.length; i++) {
      runStatus('mmd', ['-D', 's', '-i', file, `::/${parts.slice(0, i).join('/')}`])
    }
    const host = `${file}.tmp`
    writeFileSync(host, content)
    run('mcopy', ['-o', '-i', file, host, `::/${parts.join('/')}`])
    rmSync(host)
  }
}

/** Copy `fsFile` into `image` at byte `offset`, leaving zero blocks as holes. */
export function placeAt(image: string, offset: number, fsFile: string): void {
  run('dd', [`if=${fsFile}`, `of=${image}`, 'bs=1M', `seek=${offset}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none'])
}

/** The partition table as `sfdisk --json` reports it (512-byte-sector images only). */
export interface SfdiskTable {
  label: 'gpt' | 'dos'
  sectorsize: number
  partitions: Array<{ node: string; start: number; size: number; type: string; name?: string }>
}

export function sfdiskJson(image: string): SfdiskTable {
  return (JSON.parse(run('sfdisk', ['--json', image])) as { partitiontable: SfdiskTable }).partitiontable
}

/** Partition number from an sfdisk/fdisk node name like "disk.img6". */
export function nodeNumber(node: string): number {
  return Number(/(\d+)$/.exec(node)?.[1])
}

/** `fdisk -b SIZE -l` parsed (works for 4096-byte sectors on a plain file, unlike sfdisk 2.38). */
export function fdiskList(image: string, sectorSize: number): Array<{ number: number; start: number; sectors: number; type: string; name: string }> {
  const out = run('fdisk', ['-b', String(sectorSize), '-l', '-o', 'Device,Start,End,Sectors,Type-UUID,Name', image])
  const rows: Array<{ number: number; start: number; sectors: number; type: string; name: string }> = []
  for (const line of out.split('\n')) {
    if (!line.startsWith(image)) continue
    const [device, start, , sectors, type, ...name] = line.trim().split(/\s+/)
    rows.push({ number: nodeNumber(device!), start: Number(start), sectors: Number(sectors), type: type!, name: name.join(' ') })
  }
  return rows
}

function sparseFile(file: string, size: number): void {
  rmSync(file, { force: true })
  run('truncate', ['-s', String(size), file])
}

function fillPartitions(image: string, dir: string, parts: BuiltPartition[]): void {
  for (const part of parts) {
    if (!part.spec) continue
    const fsFile = path.join(dir, `p${part.number}.fs`)
    makeFileSystem(fsFile, { ...part.spec, size: Math.min(part.spec.size, part.size) })
    placeAt(image, part.start, fsFile)
    rmSync(fsFile)
  }
}

/** Default content of a root file system: a few files and dirs a real rootfs has. */
export const ROOTFS_TREE: Tree = {
  'etc/hostname': 'device\n',
  'etc/os-release': 'ID=test\n',
  'var/lib/.keep': '',
  'usr/bin/app': Buffer.alloc(64 * 1024, 7)
}

/**
 * GPT, 512-byte sectors: 1 "boot" FAT32 (label BOOT), 2 "rootfs" ext4 (label rootfs, mkfs
 * defaults incl. metadata_csum and 64bit). `rootSize` makes the rootfs larger or smaller.
 */
export async function buildGptImage(dir: string, options: { rootSize?: number; rootFiles?: Tree; file?: string } = {}): Promise<BuiltImage> {
  const rootSize = options.rootSize ?? 48 * MiB
  const bootSize = 40 * MiB
  const image = path.join(dir, options.file ?? 'gpt.img')
  const size = MiB + bootSize + rootSize + MiB
  sparseFile(image, size)
  run('sfdisk', ['-q', image], { input: `label: gpt\nsize=${bootSize / 512}, type=U, name=boot\nsize=${rootSize / 512}, type=L, name=rootfs\n` })
  const specs: FsSpec[] = [
    // 1 sector per cluster makes 40 MiB hold > 65525 clusters: a real FAT32.
    { fs: 'fat32', size: bootSize, label: 'BOOT', name: 'boot', files: { 'config.txt': 'enable_uart=1\n', 'overlays/a.dtbo': 'dtbo' }, mkfsArgs: ['-s', '1'] },
    { fs: 'ext4', size: rootSize, label: 'rootfs', name: 'rootfs', files: options.rootFiles ?? ROOTFS_TREE }
  ]
  const partitions = sfdiskJson(image).partitions.map(
    (p, i): BuiltPartition => ({ number: nodeNumber(p.node), start: p.start * 512, size: p.size * 512, name: p.name!, spec: specs[i]! })
  )
  fillPartitions(image, dir, partitions)
  return withPart({ path: image, size, sectorSize: 512, table: 'gpt', partitions })
}

/**
 * GPT, 512-byte sectors, with the partitions given, in order: each `size` bytes, GPT name `name`,
 * file system `fs` (ext partitions typed "Linux filesystem", FAT ones "Microsoft basic data").
 * For A/B layouts (rootfsA, rootfsB, data) and other shapes a test needs.
 */
export async function buildGptOf(dir: string, file: string, specs: FsSpec[]): Promise<BuiltImage> {
  const image = path.join(dir, file)
  const size = MiB + specs.reduce((sum, spec) => sum + spec.size, 0) + MiB
  sparseFile(image, size)
  const rows = specs.map(
    (spec) => `size=${spec.size / 512}, type=${spec.fs.startsWith('fat') ? 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7' : 'L'}${spec.name ? `, name=${spec.name}` : ''}`
  )
  run('sfdisk', ['-q', image], { input: `label: gpt\n${rows.join('\n')}\n` })
  const partitions = sfdiskJson(image).partitions.map(
    (p, i): BuiltPartition => ({ number: nodeNumber(p.node), start: p.start * 512, size: p.size * 512, ...(p.name ? { name: p.name } : {}), spec: specs[i]! })
  )
  fillPartitions(image, dir, partitions)
  return withPart({ path: image, size, sectorSize: 512, table: 'gpt', partitions })
}

/** MBR, 512-byte sectors, with up to four primary partitions given, in order (ext 0x83, FAT 0x0c). */
export async function buildMbrOf(dir: string, file: string, specs: FsSpec[]): Promise<BuiltImage> {
  if (specs.length > 4) throw new Error('buildMbrOf makes primary partitions only')
  const image = path.join(dir, file)
  const size = MiB + specs.reduce((sum, spec) => sum + spec.size, 0) + MiB
  sparseFile(image, size)
  const rows = specs.map((spec) => `size=${spec.size / 512}, type=${spec.fs.startsWith('fat') ? 'c' : '83'}`)
  run('sfdisk', ['-q', image], { input: `label: dos\n${rows.join('\n')}\n` })
  const partitions = sfdiskJson(image).partitions.map((p, i): BuiltPartition => ({ number: nodeNumber(p.node), start: p.start * 512, size: p.size * 512, spec: specs[i]! }))
  fillPartitions(image, dir, partitions)
  return withPart({ path: image, size, sectorSize: 512, table: 'mbr', partitions })
}

/**
 * MBR: 1 FAT12 "FW", 2 FAT16 "BOOT", 3 ext2 "data", 4 extended holding 5 ext3 "factory" and
 * 6 ext4 "config". Three ext partitions, so the default selector must refuse it.
 */
export async function buildMbrImage(dir: string, file = 'mbr.img'): Promise<BuiltImage> {
  const image = path.join(dir, file)
  const size = 64 * MiB
  sparseFile(image, size)
  run('sfdisk', ['-q', image], {
    input: ['label: dos', 'size=2MiB, type=1', 'size=16MiB, type=6', 'size=8MiB, type=83', 'type=5', 'size=8MiB, type=83', 'size=16MiB, type=83', ''].join('\n')
  })
  const specs: Record<number, FsSpec> = {
    1: { fs: 'fat12', size: 2 * MiB, label: 'FW' },
    2: { fs: 'fat16', size: 16 * MiB, label: 'BOOT', files: { 'cmdline.txt': 'console=ttyS0\n' } },
    3: { fs: 'ext2', size: 8 * MiB, label: 'data', files: { readme: 'data\n' } },
    5: { fs: 'ext3', size: 8 * MiB, label: 'factory', files: { serial: 'none\n' } },
    6: { fs: 'ext4', size: 16 * MiB, label: 'config', files: { 'etc/config.yaml': 'a: 1\n' } }
  }
  const partitions = sfdiskJson(image).partitions.map((p): BuiltPartition => {
    const number = nodeNumber(p.node)
    const spec = specs[number]
    return spec ? { number, start: p.start * 512, size: p.size * 512, spec } : { number, start: p.start * 512, size: p.size * 512 }
  })
  fillPartitions(image, dir, partitions)
  return withPart({ path: image, size, sectorSize: 512, table: 'mbr', partitions })
}

/**
 * GPT with 4096-byte logical sectors (fdisk -b 4096 works on a plain file; sfdisk 2.38 cannot):
 * 1 "boot" FAT16 with 4096-byte sectors (label BOOT4K, 32 MiB), 2 "rootfs" ext4 with 4 KiB blocks.
 */
export async function buildGpt4kImage(dir: string, file = 'gpt4k.img'): Promise<BuiltImage> {
  const image = path.join(dir, file)
  const size = 64 * MiB
  sparseFile(image, size)
  // g: new GPT; n: partition (number, first, last); x/n/r: expert mode to set the name.
  const script = ['g', 'n', '1', '', '+32M', 't', '1', 'x', 'n', 'boot', 'r', 'n', '2', '', '', 'x', 'n', '2', 'rootfs', 'r', 'w', ''].join('\n')
  run('fdisk', ['-b', '4096', image], { input: script })
  const specs: FsSpec[] = [
    { fs: 'fat16', size: 32 * MiB, label: 'BOOT4K', name: 'boot', blockSize: 4096, files: { 'boot.scr': 'script' }, mkfsArgs: ['-s', '1'] },
    { fs: 'ext4', size: 31 * MiB, label: 'rootfs', name: 'rootfs', blockSize: 4096, files: ROOTFS_TREE }
  ]
  const partitions = fdiskList(image, 4096).map((p, i): BuiltPartition => ({ number: p.number, start: p.start * 4096, size: p.sectors * 4096, name: p.name, spec: specs[i]! }))
  fillPartitions(image, dir, partitions)
  return withPart({ path: image, size, sectorSize: 4096, table: 'gpt', partitions })
}

/** A bare ext4 file system image (no partition table): partition 0 covers the file. */
export async function buildBareExt4(dir: string, options: { size?: number; label?: string; file?: string; files?: Tree } = {}): Promise<BuiltImage> {
  const image = path.join(dir, options.file ?? 'rootfs.ext4')
  const size = options.size ?? 32 * MiB
  const spec: FsSpec = { fs: 'ext4', size, label: options.label ?? 'rootfs', files: options.files ?? ROOTFS_TREE }
  makeFileSystem(image, spec)
  return withPart({ path: image, size, sectorSize: 512, table: 'none', partitions: [{ number: 0, start: 0, size, spec }] })
}

/** A bare FAT image. */
export async function buildBareFat(dir: string, options: { fs?: 'fat12' | 'fat16' | 'fat32'; size?: number; label?: string; file?: string } = {}): Promise<BuiltImage> {
  const image = path.join(dir, options.file ?? 'boot.vfat')
  const size = options.size ?? 16 * MiB
  const spec: FsSpec = { fs: options.fs ?? 'fat16', size, label: options.label ?? 'BOOT' }
  makeFileSystem(image, spec)
  return withPart({ path: image, size, sectorSize: 512, table: 'none', partitions: [{ number: 0, start: 0, size, spec }] })
}

/** Compress `image` next to itself with the real tool; returns the new path (`.gz`, `.xz`, `.zst`). */
export function compressWithTool(image: string, kind: 'gz' | 'xz' | 'zst'): string {
  if (kind === 'gz') run('gzip', ['-k', '-f', '-1', image])
  if (kind === 'xz') run('xz', ['-k', '-f', '-0', '-T0', image])
  if (kind === 'zst') run('zstd', ['-q', '-f', '-1', image])
  return `${image}.${kind}`
}

/** Make the MBR of a GPT image hybrid: keep the 0xEE entry, add partition `p` as FAT32 LBA. */
export function makeHybridMbr(image: BuiltImage, p: BuiltPartition): void {
  const fd = openSync(image.path, 'r+')
  try {
    const mbr = Buffer.alloc(512)
    readSync(fd, mbr, 0, 512, 0)
    const s = image.sectorSize
    // Entry 1 becomes the FAT partition; the protective entry moves to slot 2 and covers LBA 1
    // up to the partition (hybrid layouts vary; any 0xEE entry makes it hybrid).
    const entry = (slot: number, type: number, first: number, sectors: number): void => {
      const at = 446 + slot * 16
      mbr.fill(0, at, at + 16)
      mbr[at + 4] = type
      mbr.writeUInt32LE(first, at + 8)
      mbr.writeUInt32LE(sectors, at + 12)
    }
    entry(0, 0x0c, p.start / s, p.size / s)
    entry(1, 0xee, 1, p.start / s - 1)
    writeSync(fd, mbr, 0, 512, 0)
  } finally {
    closeSync(fd)
  }
}

/** Overwrite bytes at `offset` (positional write; the rest of the file is untouched). */
export function pokeBytes(file: string, offset: number, bytes: Buffer | number[]): void {
  const fd = openSync(file, 'r+')
  try {
    const data = Buffer.from(bytes)
    writeSync(fd, data, 0, data.length, offset)
  } finally {
    closeSync(fd)
  }
}

export function readBytes(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r')
  try {
    const data = Buffer.alloc(length)
    const n = readSync(fd, data, 0, length, offset)
    return data.subarray(0, n)
  } finally {
    closeSync(fd)
  }
}

const CRC32C_TABLE = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC32C as ext4 uses it for metadata_csum: initial ~0, no final inversion. */
function ext4Crc32c(data: Buffer): number {
  let crc = 0xffffffff
  for (const byte of data) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8)
  return crc >>> 0
}

/**
 * Set a feature bit in the ext superblock of the file system at `fsOffset` and re-seal the
 * superblock checksum (metadata_csum), so tools see a valid superblock with that feature. This is
 * how the "feature the installed e2fsprogs cannot write" case is simulated: e2fsprogs 1.47 knows
 * every feature mkfs can make, so an unassigned bit stands in for a future feature.
 */
export function setExtFeatureBit(image: string, fsOffset: number, set: 'compat' | 'incompat' | 'ro_compat', bit: number): void {
  const superblock = readBytes(image, fsOffset + 1024, 1024)
  const at = { compat: 0x5c, incompat: 0x60, ro_compat: 0x64 }[set]
  superblock.writeUInt32LE((superblock.readUInt32LE(at) | bit) >>> 0, at)
  if ((superblock.readUInt32LE(0x64) & 0x400) !== 0) superblock.writeUInt32LE(ext4Crc32c(superblock.subarray(0, 0x3fc)), 0x3fc)
  pokeBytes(image, fsOffset + 1024, superblock)
}

/** Damage the primary GPT header's CRC-covered bytes (the disk GUID) of a 512- or 4096-sector image. */
export function corruptPrimaryGptHeader(image: string, sectorSize: number): void {
  const at = sectorSize + 56
  const old = readBytes(image, at, 1)
  pokeBytes(image, at, [old[0]! ^ 0xff])
}

/** Damage one byte of the primary GPT partition entry array (LBA 2). */
export function corruptPrimaryGptEntries(image: string, sectorSize: number): void {
  const at = 2 * sectorSize + 56 // the first entry's name
  const old = readBytes(image, at, 1)
  pokeBytes(image, at, [old[0]! ^ 0xff])
}

// ---- independent read-back -------------------------------------------------------------------

/** File content from an ext file system at `offset`, via `debugfs -R 'cat PATH'`. */
export function debugfsCat(image: string, offset: number, file: string): Buffer {
  return execFileSync('debugfs', ['-R', `cat "${file}"`, `${image}?offset=${offset}`], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * MiB })
}

export interface ExtStat {
  type: string
  /** Permission bits as octal text, e.g. "0600". */
  mode: string
  uid: number
  gid: number
  size: number
}

/** `debugfs -R 'stat PATH'`, parsed; null when the path does not exist. */
export function debugfsStat(image: string, offset: number, file: string): ExtStat | null {
  const out = execFileSync('debugfs', ['-R', `stat "${file}"`, `${image}?offset=${offset}`], {
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ...process.env, DEBUGFS_PAGER: '__none__' }
  }).toString('utf8')
  const m = /Type:\s+(\S+)\s+Mode:\s+(\d+)[\s\S]*?User:\s+(\d+)\s+Group:\s+(\d+)[\s\S]*?Size:\s+(\d+)/.exec(out)
  if (!m) return null
  return { type: m[1]!, mode: m[2]!, uid: Number(m[3]), gid: Number(m[4]), size: Number(m[5]) }
}

/** `e2fsck -fn` on the file system at `offset`; `clean` is exit status 0. */
export function e2fsck(image: string, offset: number): { clean: boolean; output: string } {
  const r = runStatus('e2fsck', ['-fn', `${image}?offset=${offset}`])
  return { clean: r.status === 0, output: r.stdout + r.stderr }
}

/** Copy `size` bytes at `offset` out to `dest` (fsck.vfat has no offset option). */
export function extractBytes(image: string, offset: number, size: number, dest: string): void {
  run('dd', [`if=${image}`, `of=${dest}`, 'bs=1M', `skip=${offset}`, `count=${size}`, 'iflag=skip_bytes,count_bytes', 'conv=sparse', 'status=none'])
}

/** `fsck.vfat -n` on the FAT partition at `offset` (copied out first). */
export function fsckVfat(image: string, offset: number, size: number, scratchFile: string): { clean: boolean; output: string } {
  extractBytes(image, offset, size, scratchFile)
  const r = runStatus('fsck.vfat', ['-n', scratchFile])
  rmSync(scratchFile, { force: true })
  return { clean: r.status === 0 && !/differ|corrupt|invalid|mismatch/i.test(r.stdout), output: r.stdout + r.stderr }
}

/** File content from a FAT file system at `offset`, via `mcopy` to stdout (binary). */
export function mcopyRead(image: string, offset: number, file: string): Buffer {
  return execFileSync('mcopy', ['-n', '-i', `${image}@@${offset}`, `::${file}`, '-'], {
    env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 64 * MiB
  })
}

/** Bytes actually allocated on disk (st_blocks x 512), to check sparseness. */
export function allocatedBytes(file: string): number {
  return statSync(file).blocks * 512
}
