// Two table and file-system facts of issue 18 item 8, on images made with sfdisk and mkfs.vfat:
// a FAT32 below the specification's 65,525 clusters (what `mkfs.vfat -F 32` makes on a small
// partition) is FAT32, so its label is found and files go where FAT32 keeps them; and a table
// whose partitions overlap is refused, naming both.
import { mkdtemp } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImageError } from '../../src/errors.js'
import { overlappingPartitions, readDiskLayout, selectPartition } from '../../src/image/table.js'
import { writeBundle } from '../../src/image/write.js'
import { buildBareFat, buildGptOf, cleanupScratch, MiB, pokeBytes, readBytes, run, runStatus, scratchDir, type BuiltImage } from '../helpers/images.js'

let dir: string
let small: BuiltImage

/** blkid's view of the file system at a byte offset. */
function blkid(image: string, offset: number, size: number): Record<string, string> {
  const out = run('blkid', ['-p', '-O', String(offset), '-S', String(size), '-o', 'export', image])
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((l) => l.split('=', 2) as [string, string])
  )
}

beforeAll(async () => {
  dir = await scratchDir('credbake-fat32-')
  small = await buildGptOf(dir, 'small-fat32.img', [
    { fs: 'fat32', size: 16 * MiB, label: 'CREDS', name: 'creds' },
    { fs: 'ext4', size: 8 * MiB, label: 'rootfs', name: 'rootfs' }
  ])
})
afterAll(cleanupScratch)

describe('a small FAT32 (fewer than 65,525 clusters)', () => {
  it('is FAT32 as blkid says, though its cluster count is that of a FAT16', async () => {
    const part = small.part('creds')
    const reference = blkid(small.path, part.start, part.size)
    expect(reference.VERSION).toBe('FAT32')
    const layout = await readDiskLayout(small.path)
    const fs = layout.partitions[0]!.fileSystem
    expect(fs.type).toBe('fat32')
    expect(fs.fat!.clusters).toBeLessThan(65525)
    expect(fs.label).toBe('CREDS')
    expect(fs.uuid).toBe(reference.UUID)
  })

  it('label= finds it; writing into it is refused before anything is written, saying why', async () => {
    // mtools 4.0 types FAT by cluster count: it takes this FAT32 for FAT16 (checked here, so the
    // refusal stays tied to what the tool really does).
    const probe = path.join(dir, 'mtools-probe.img')
    const part = small.part('creds')
    run('dd', [`if=${small.path}`, `of=${probe}`, 'bs=1M', `skip=${part.start}`, `count=${part.size}`, 'iflag=skip_bytes,count_bytes', 'status=none'])
    const mmd = runStatus('mmd', ['-i', probe, '::/sota'])
    expect(mmd.status).not.toBe(0)
    const layout = await readDiskLayout(small.path)
    const partition = selectPartition(layout, { kind: 'label', value: 'CREDS' })
    expect(partition.number).toBe(1)
    const copy = path.join(dir, 'small-copy.img')
    run('cp', ['--sparse=always', small.path, copy])
    const before = readBytes(copy, part.start, part.size)
    const temp = await mkdtemp(path.join(dir, 'tmp-'))
    const files = [{ path: '/sota/import/client.pem', content: Buffer.from('certificate\n'), mode: 0o644, uid: 0, gid: 0, secret: false }]
    const error = await writeBundle({ image: copy, partition, files, tempDir: temp, serial: 'SN-1' }).then(
      () => undefined,
      (e: unknown) => e
    )
    expect(error).toBeInstanceOf(ImageError)
    expect((error as ImageError).message).toMatch(/FAT32 file system with \d+ clusters, fewer than the 65525/)
    expect((error as ImageError).message).toContain('mkfs.vfat -F 32 -s 1')
    expect(readBytes(copy, part.start, part.size).equals(before)).toBe(true)
  })

  it('as a bare file system, too', async () => {
    const bare = await buildBareFat(dir, { fs: 'fat32', size: 20 * MiB, label: 'SMALL32', file: 'bare32.vfat' })
    const layout = await readDiskLayout(bare.path)
    expect(layout.table).toBe('none')
    expect(layout.partitions[0]!.fileSystem).toMatchObject({ type: 'fat32', label: 'SMALL32' })
    expect(selectPartition(layout, { kind: 'label', value: 'small32' }).number).toBe(0)
  })
})

describe('overlapping partitions', () => {
  /** An MBR image whose second primary partition starts inside the first (sfdisk refuses to make one). */
  async function overlappingMbr(): Promise<string> {
    const image = path.join(dir, 'overlap-mbr.img')
    run('truncate', ['-s', String(32 * MiB), image])
    run('sfdisk', ['-q', image], { input: 'label: dos\nstart=2048, size=16384, type=83\nstart=20480, size=16384, type=83\n' })
    run('mkfs.ext4', ['-F', '-q', '-L', 'one', '-E', `offset=${2048 * 512}`, image, '8M'])
    // Entry 2 now starts at LBA 10240, inside partition 1 (2048-18431).
    const entry2 = 446 + 16
    const mbr = readBytes(image, 0, 512)
    mbr.writeUInt32LE(10240, entry2 + 8)
    pokeBytes(image, 0, mbr)
    return image
  }

  it('are named, both, in a warning and in the refusal to write', async () => {
    const image = await overlappingMbr()
    const warnings: string[] = []
    const layout = await readDiskLayout(image, { onWarning: (m) => warnings.push(m) })
    expect(overlappingPartitions(layout.partitions).map(([a, b]) => [a.number, b.number])).toEqual([[1, 2]])
    expect(warnings.join('\n')).toMatch(/partition 1 \("one"\) \(bytes 1048576-9437183\) and partition 2 \(bytes 5242880-13631487\) overlap/)
    let error: unknown
    try {
      selectPartition(layout, { kind: 'number', number: 1 })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ImageError)
    expect((error as ImageError).message).toMatch(/inconsistent: partition 1 .* and partition 2 .* overlap/)
    expect((error as ImageError).message).toContain('fix the table')
  })

  it('logical partitions inside their extended partition do not count', async () => {
    const image = path.join(dir, 'logicals.img')
    run('truncate', ['-s', String(32 * MiB), image])
    run('sfdisk', ['-q', image], { input: 'label: dos\nsize=8MiB, type=83\ntype=5\nsize=8MiB, type=83\nsize=8MiB, type=83\n' })
    const layout = await readDiskLayout(image)
    expect(layout.partitions.map((p) => p.kind)).toEqual(['primary', 'extended', 'logical', 'logical'])
    expect(overlappingPartitions(layout.partitions)).toEqual([])
    expect(layout.warnings).toEqual([])
  })
})
