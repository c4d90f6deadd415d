import { copyFile, mkdir } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImageError } from '../../src/errors.js'
import { formatPartitionTable, readDiskLayout, selectPartition, type DiskLayout } from '../../src/image/table.js'
import { writeBundle } from '../../src/image/write.js'
import {
  buildBareExt4,
  buildBareFat,
  buildGpt4kImage,
  buildGptImage,
  buildMbrImage,
  cleanupScratch,
  corruptPrimaryGptEntries,
  corruptPrimaryGptHeader,
  fdiskList,
  makeHybridMbr,
  MiB,
  nodeNumber,
  pokeBytes,
  readBytes,
  run,
  scratchDir,
  sfdiskJson,
  type BuiltImage
} from '../helpers/images.js'

let dir: string
let gpt: BuiltImage
let mbr: BuiltImage
let gpt4k: BuiltImage

beforeAll(async () => {
  dir = await scratchDir()
  ;[gpt, mbr, gpt4k] = [await buildGptImage(dir), await buildMbrImage(dir), await buildGpt4kImage(dir)]
})
afterAll(cleanupScratch)

function errorOf(fn: () => unknown): ImageError {
  try {
    fn()
  } catch (error) {
    expect(error).toBeInstanceOf(ImageError)
    return error as ImageError
  }
  throw new Error('expected an ImageError')
}

async function rejection(promise: Promise<unknown>): Promise<ImageError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(ImageError)
  return error as ImageError
}

describe('GPT, 512-byte sectors', () => {
  let layout: DiskLayout
  beforeAll(async () => {
    layout = await readDiskLayout(gpt.path)
  })

  it('matches sfdisk --json: numbers, starts, sizes, names, types', () => {
    const reference = sfdiskJson(gpt.path)
    expect(layout.table).toBe('gpt')
    expect(layout.sectorSize).toBe(512)
    expect(layout.mbr).toBe('protective')
    expect(layout.gptHeader).toBe('primary')
    expect(layout.warnings).toEqual([])
    expect(layout.partitions.map((p) => ({ number: p.number, start: p.start / 512, size: p.size / 512, name: p.name, type: p.type }))).toEqual(
      reference.partitions.map((p) => ({ number: nodeNumber(p.node), start: p.start, size: p.size, name: p.name, type: p.type }))
    )
    expect(layout.partitions.map((p) => p.typeName)).toEqual(['EFI System', 'Linux filesystem'])
  })

  it('detects FAT32 and ext4 with their labels', () => {
    const [boot, root] = layout.partitions
    expect(boot!.fileSystem).toMatchObject({ type: 'fat32', label: 'BOOT' })
    expect(root!.fileSystem).toMatchObject({ type: 'ext4', label: 'rootfs' })
    expect(root!.fileSystem.ext!.features).toEqual(expect.arrayContaining(['metadata_csum', '64bit', 'extent', 'has_journal']))
    expect(root!.fileSystem.size).toBeLessThanOrEqual(root!.size)
  })

  it('selects by default, by number, label= and name=', () => {
    expect(selectPartition(layout).number).toBe(2)
    expect(selectPartition(layout, { kind: 'number', number: 1 }).number).toBe(1)
    expect(selectPartition(layout, { kind: 'label', value: 'rootfs' }).number).toBe(2)
    expect(selectPartition(layout, { kind: 'label', value: 'boot' }).number).toBe(1) // FAT labels: case-insensitive
    expect(selectPartition(layout, { kind: 'name', value: 'boot' }).number).toBe(1)
  })

  it('a selector that matches nothing lists the partitions', () => {
    const error = errorOf(() => selectPartition(layout, { kind: 'label', value: 'nope' }))
    expect(error.input).toBe('partition')
    expect(error.message).toContain('No partition of')
    expect(error.message).toContain('label=nope')
    expect(error.message).toMatch(/#\s+start\s+size\s+type\s+name\s+fs\s+label/)
    expect(error.message).toMatch(/2\s+\d+\s+48 MiB\s+Linux filesystem\s+rootfs\s+ext4\s+rootfs/)
    expect(errorOf(() => selectPartition(layout, { kind: 'number', number: 3 })).message).toContain('partition number 3')
  })
})

describe('GPT damage', () => {
  it('uses the backup header when the primary header CRC is bad, with a warning', async () => {
    const copy = path.join(dir, 'bad-header.img')
    await copyFile(gpt.path, copy)
    corruptPrimaryGptHeader(copy, 512)
    const warnings: string[] = []
    const layout = await readDiskLayout(copy, { onWarning: (m) => warnings.push(m) })
    expect(layout.gptHeader).toBe('backup')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/primary GPT .* damaged \(header CRC32 mismatch\); using the backup GPT/)
    expect(layout.warnings).toEqual(warnings)
    expect(layout.partitions.map((p) => [p.number, p.start, p.size, p.name])).toEqual(gpt.partitions.map((p) => [p.number, p.start, p.size, p.name]))
  })

  it('detects a bad entry-array CRC and falls back to the backup', async () => {
    const copy = path.join(dir, 'bad-entries.img')
    await copyFile(gpt.path, copy)
    corruptPrimaryGptEntries(copy, 512)
    const layout = await readDiskLayout(copy)
    expect(layout.gptHeader).toBe('backup')
    expect(layout.warnings[0]).toContain('partition entry array CRC32 mismatch')
    expect(layout.partitions[0]!.name).toBe('boot')
  })

  it('uses the backup when the primary header is wiped, and fails when both are damaged', async () => {
    const copy = path.join(dir, 'wiped.img')
    await copyFile(gpt.path, copy)
    pokeBytes(copy, 512, Buffer.alloc(512))
    const layout = await readDiskLayout(copy)
    expect(layout.gptHeader).toBe('backup')
    expect(layout.warnings[0]).toContain('no "EFI PART" signature')
    corruptPrimaryGptHeader(copy, 512)
    pokeBytes(copy, gpt.size - 512 + 20, [1, 2, 3, 4]) // reserved bytes of the backup header, CRC-covered
    const error = await rejection(readDiskLayout(copy))
    expect(error.message).toMatch(/GPT of .* is damaged: primary header .*; backup header \(LBA \d+\): header CRC32 mismatch/)
  })

  it('warns when the backup is damaged but the primary is fine', async () => {
    const copy = path.join(dir, 'bad-backup.img')
    await copyFile(gpt.path, copy)
    pokeBytes(copy, gpt.size - 512 + 20, [1, 2, 3, 4])
    const layout = await readDiskLayout(copy)
    expect(layout.gptHeader).toBe('primary')
    expect(layout.warnings[0]).toMatch(/backup GPT header .* not usable: header CRC32 mismatch/)
  })

  it('reads a hybrid MBR as GPT', async () => {
    const copy = path.join(dir, 'hybrid.img')
    await copyFile(gpt.path, copy)
    makeHybridMbr({ ...gpt, path: copy }, gpt.part(1))
    expect(sfdiskJson(copy).label).toBe('gpt')
    const layout = await readDiskLayout(copy)
    expect(layout.table).toBe('gpt')
    expect(layout.mbr).toBe('hybrid')
    expect(layout.partitions.map((p) => p.number)).toEqual([1, 2])
  })
})

describe('MBR with extended and logical partitions', () => {
  let layout: DiskLayout
  beforeAll(async () => {
    layout = await readDiskLayout(mbr.path)
  })

  it('matches sfdisk --json, logicals numbered from 5', () => {
    const reference = sfdiskJson(mbr.path)
    expect(layout.table).toBe('mbr')
    expect(layout.partitions.map((p) => ({ number: p.number, start: p.start / 512, size: p.size / 512, type: parseInt(p.type, 16) }))).toEqual(
      reference.partitions.map((p) => ({ number: nodeNumber(p.node), start: p.start, size: p.size, type: parseInt(p.type, 16) }))
    )
    expect(layout.partitions.map((p) => p.number)).toEqual([1, 2, 3, 4, 5, 6])
    expect(layout.partitions.map((p) => p.kind)).toEqual(['primary', 'primary', 'primary', 'extended', 'logical', 'logical'])
  })

  it('detects FAT12, FAT16, ext2, ext3, ext4 with labels', () => {
    expect(layout.partitions.map((p) => [p.fileSystem.type, p.fileSystem.label])).toEqual([
      ['fat12', 'FW'],
      ['fat16', 'BOOT'],
      ['ext2', 'data'],
      ['unknown', null],
      ['ext3', 'factory'],
      ['ext4', 'config']
    ])
  })

  it('refuses the default with several ext partitions, and selects 6 by number and label', () => {
    const error = errorOf(() => selectPartition(layout))
    expect(error.message).toContain('has 3 ext2/3/4 partitions (3, 5, 6)')
    expect(error.message).toMatch(/6\s+\d+\s+16 MiB\s+Linux\s+ext4\s+config/)
    expect(selectPartition(layout, { kind: 'number', number: 6 }).start).toBe(mbr.part(6).start)
    expect(selectPartition(layout, { kind: 'label', value: 'factory' }).number).toBe(5)
    expect(errorOf(() => selectPartition(layout, { kind: 'number', number: 4 })).message).toContain('extended partition')
    expect(errorOf(() => selectPartition(layout, { kind: 'name', value: 'x' })).message).toContain('name= selects GPT partition names')
  })

  it('an MBR whose boot code looks like a FAT BPB is still read as an MBR', async () => {
    const copy = path.join(dir, 'bpb-mbr.img')
    await copyFile(mbr.path, copy)
    const fat = await buildBareFat(dir, { file: 'bpb-source.vfat' })
    pokeBytes(copy, 0, readBytes(fat.path, 0, 90)) // jump + BPB; the partition entries stay
    const layout = await readDiskLayout(copy)
    expect(layout.table).toBe('mbr')
    expect(layout.partitions.map((p) => p.number)).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('keeps primary slots when an MBR entry is empty', async () => {
    const copy = path.join(dir, 'gap.img')
    await copyFile(mbr.path, copy)
    pokeBytes(copy, 446 + 16 * 2, Buffer.alloc(16)) // clear entry 3
    const layout = await readDiskLayout(copy)
    expect(layout.partitions.map((p) => p.number)).toEqual([1, 2, 4, 5, 6])
    expect(layout.partitions.map((p) => [p.number, p.start])).toEqual(sfdiskJson(copy).partitions.map((p) => [nodeNumber(p.node), p.start * 512]))
  })
})

describe('GPT, 4096-byte sectors', () => {
  it('matches fdisk -b 4096 and finds both file systems', async () => {
    const layout = await readDiskLayout(gpt4k.path)
    expect(layout.table).toBe('gpt')
    expect(layout.sectorSize).toBe(4096)
    expect(layout.partitions.map((p) => ({ number: p.number, start: p.start / 4096, size: p.size / 4096, name: p.name, type: p.type }))).toEqual(
      fdiskList(gpt4k.path, 4096).map((p) => ({ number: p.number, start: p.start, size: p.sectors, name: p.name, type: p.type }))
    )
    expect(layout.partitions.map((p) => [p.fileSystem.type, p.fileSystem.label])).toEqual([
      ['fat16', 'BOOT4K'],
      ['ext4', 'rootfs']
    ])
    expect(layout.partitions[0]!.fileSystem.fat!.bytesPerSector).toBe(4096)
  })

  it('uses the 4096-byte backup header when the primary is damaged', async () => {
    const copy = path.join(dir, 'bad4k.img')
    await copyFile(gpt4k.path, copy)
    corruptPrimaryGptHeader(copy, 4096)
    const layout = await readDiskLayout(copy)
    expect(layout.sectorSize).toBe(4096)
    expect(layout.gptHeader).toBe('backup')
    expect(layout.partitions.map((p) => p.name)).toEqual(['boot', 'rootfs'])
  })
})

describe('GPT numbering keeps empty slots', () => {
  it('numbers by entry index like Linux', async () => {
    const image = path.join(dir, 'holes.img')
    run('truncate', ['-s', String(8 * MiB), image])
    run('sfdisk', ['-q', image], { input: 'label: gpt\n2: start=2048, size=2048, type=L, name=two\n5: start=6144, size=2048, type=L, name=five\n' })
    const layout = await readDiskLayout(image)
    expect(layout.partitions.map((p) => [p.number, p.name])).toEqual([
      [2, 'two'],
      [5, 'five']
    ])
    expect(layout.partitions.map((p) => p.number)).toEqual(sfdiskJson(image).partitions.map((p) => nodeNumber(p.node)))
    const error = errorOf(() => selectPartition(layout))
    expect(error.message).toContain('has no ext2/3/4 partition')
  })
})

describe('bare file systems', () => {
  it('reads a bare ext4 image as partition 0', async () => {
    const bare = await buildBareExt4(dir, { label: 'bare-root' })
    const layout = await readDiskLayout(bare.path)
    expect(layout.table).toBe('none')
    expect(layout.partitions).toHaveLength(1)
    expect(layout.partitions[0]).toMatchObject({ number: 0, start: 0, size: bare.size, kind: 'whole', fileSystem: { type: 'ext4', label: 'bare-root' } })
    expect(selectPartition(layout).number).toBe(0)
    expect(selectPartition(layout, { kind: 'number', number: 0 }).number).toBe(0)
  })

  it('reads a bare FAT image (its boot sector is not an MBR)', async () => {
    const bare = await buildBareFat(dir, { fs: 'fat16', label: 'VFAT' })
    const layout = await readDiskLayout(bare.path)
    expect(layout.table).toBe('none')
    expect(layout.partitions[0]!.fileSystem).toMatchObject({ type: 'fat16', label: 'VFAT' })
    expect(errorOf(() => selectPartition(layout)).message).toContain('no ext2/3/4 partition')
    expect(selectPartition(layout, { kind: 'label', value: 'vfat' }).number).toBe(0)
  })

  it('a FAT file system without a label reports none', async () => {
    const image = path.join(dir, 'nolabel.vfat')
    run('mkfs.vfat', ['-C', image, '4096'])
    const layout = await readDiskLayout(image)
    expect(layout.partitions[0]!.fileSystem).toMatchObject({ type: 'fat12', label: null })
  })
})

describe('unusable inputs', () => {
  it('no table and no file system', async () => {
    const image = path.join(dir, 'zeros.img')
    run('truncate', ['-s', String(MiB), image])
    const error = await rejection(readDiskLayout(image))
    expect(error.message).toContain('has no partition table (no MBR, no GPT) and no ext2/3/4 or FAT file system')
    expect(error.input).toBe('image')
  })

  it('a missing file', async () => {
    const error = await rejection(readDiskLayout(path.join(dir, 'missing.img')))
    expect(error.message).toMatch(/Cannot read the base image .*missing\.img: it does not exist/)
  })

  it('a truncated image whose partitions reach past the end: warnings, and writing refuses', async () => {
    const copy = path.join(dir, 'short.img')
    await copyFile(mbr.path, copy)
    run('truncate', ['-s', String(40 * MiB), copy])
    const layout = await readDiskLayout(copy)
    expect(layout.warnings.join('\n')).toContain('Partition 6 ends at byte')
    const gptCopy = path.join(dir, 'short-gpt.img')
    await copyFile(gpt.path, gptCopy)
    run('truncate', ['-s', String(gpt.size - 4 * MiB), gptCopy])
    const gptLayout = await readDiskLayout(gptCopy)
    expect(gptLayout.gptHeader).toBe('primary')
    expect(gptLayout.warnings.join('\n')).toMatch(/backup GPT header .* not usable[\s\S]*Partition 2 ends at byte \d+, beyond the end of the image/)
    const tmp = path.join(dir, 'wtmp')
    await mkdir(tmp, { recursive: true })
    // Selection refuses it before any certificate is issued; writing refuses it too.
    expect(errorOf(() => selectPartition(gptLayout)).message).toMatch(/Partition 2 ends at byte \d+, past the end of .*truncated/)
    const error = await rejection(writeBundle({ image: gptCopy, partition: gptLayout.partitions[1]!, files: [], tempDir: tmp, serial: 'S' }))
    expect(error.message).toContain('partition 2 (rootfs) ends at byte')
  })

  it('an unknown file system in the selected partition', async () => {
    const copy = path.join(dir, 'wiped-fs.img')
    await copyFile(gpt.path, copy)
    pokeBytes(copy, gpt.part(2).start + 1024 + 56, [0, 0]) // ext magic
    const layout = await readDiskLayout(copy)
    expect(layout.partitions[1]!.fileSystem.type).toBe('unknown')
    expect(errorOf(() => selectPartition(layout, { kind: 'number', number: 2 })).message).toContain('has no file system credbake recognizes')
  })
})

it('formatPartitionTable is an aligned text table', async () => {
  const text = formatPartitionTable(await readDiskLayout(mbr.path))
  const lines = text.split('\n')
  expect(lines).toHaveLength(7)
  expect(lines[4]).toMatch(/^4\s+\d+\s+\S+ \S+\s+Extended\s+\(extended\)$/)
})
