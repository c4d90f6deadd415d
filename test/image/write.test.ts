import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { BundleFile } from '../../src/bundle/types.js'
import { ImageError, OutputError, ToolError } from '../../src/errors.js'
import { writeExtFiles } from '../../src/image/debugfs.js'
import { writeFatFiles } from '../../src/image/mtools.js'
import { readDiskLayout, selectPartition } from '../../src/image/table.js'
import { describePartition, writeBundle } from '../../src/image/write.js'
import {
  buildBareExt4,
  buildGpt4kImage,
  buildGptImage,
  buildMbrImage,
  cleanupScratch,
  debugfsCat,
  debugfsStat,
  e2fsck,
  fsckVfat,
  MiB,
  mcopyRead,
  readBytes,
  run,
  scratchDir,
  setExtFeatureBit,
  type BuiltImage
} from '../helpers/images.js'

let dir: string
let tmp: string
let gpt: BuiltImage
let mbr: BuiltImage
let gpt4k: BuiltImage

beforeAll(async () => {
  dir = await scratchDir()
  tmp = path.join(dir, 'secret-tmp')
  await mkdir(tmp, { mode: 0o700 })
  gpt = await buildGptImage(dir)
  mbr = await buildMbrImage(dir)
  gpt4k = await buildGpt4kImage(dir)
})
afterAll(cleanupScratch)

const savedPath = process.env.PATH
afterEach(() => {
  process.env.PATH = savedPath
})

function bundle(dirOnDevice = '/var/sota/import', seed = 'a'): BundleFile[] {
  const content = (n: number): Buffer => Buffer.concat([Buffer.from(`-----BEGIN ${seed}-----\n`), randomBytes(n)])
  return [
    { path: `${dirOnDevice}/pkey.pem`, content: content(241), mode: 0o600, uid: 0, gid: 0, secret: true },
    { path: `${dirOnDevice}/client.pem`, content: content(1300), mode: 0o644, uid: 0, gid: 0, secret: false },
    { path: `${dirOnDevice}/root.crt`, content: content(5000), mode: 0o644, uid: 0, gid: 0, secret: false }
  ]
}

let copies = 0
async function copyOf(image: BuiltImage): Promise<string> {
  const copy = path.join(dir, `copy${copies++}-${path.basename(image.path)}`)
  await copyFile(image.path, copy)
  return copy
}

function sha(file: string, offset: number, length: number): string {
  return createHash('sha256')
    .update(readBytes(file, offset, length))
    .digest('hex')
}

/** Everything outside [start, end) of the copy is byte-identical to the base. */
function expectOnlyRangeChanged(base: string, copy: string, size: number, start: number, end: number): void {
  expect(sha(copy, 0, start)).toBe(sha(base, 0, start))
  expect(sha(copy, end, size - end)).toBe(sha(base, end, size - end))
}

function expectExtHolds(image: string, offset: number, files: BundleFile[]): void {
  for (const file of files) {
    expect(debugfsCat(image, offset, file.path).equals(file.content), file.path).toBe(true)
    const stat = debugfsStat(image, offset, file.path)
    expect(stat).toMatchObject({ type: 'regular', mode: (file.mode & 0o7777).toString(8).padStart(4, '0'), uid: 0, gid: 0, size: file.content.length })
  }
}

describe('ext4 via debugfs', () => {
  it('writes into label=rootfs of a GPT image: fsck clean, byte-identical, modes and owner, table unchanged', async () => {
    const image = await copyOf(gpt)
    const layout = await readDiskLayout(image)
    const part = selectPartition(layout, { kind: 'label', value: 'rootfs' })
    const files = bundle()
    const installed = await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-1' })
    expect(installed).toEqual([
      { path: '/var/sota/import/pkey.pem', mode: '0600', owner: '0:0', sha256: null, size: files[0]!.content.length, secret: true },
      {
        path: '/var/sota/import/client.pem',
        mode: '0644',
        owner: '0:0',
        sha256: createHash('sha256').update(files[1]!.content).digest('hex'),
        size: files[1]!.content.length,
        secret: false
      },
      expect.objectContaining({ path: '/var/sota/import/root.crt', mode: '0644', owner: '0:0' })
    ])
    const e = e2fsck(image, part.start)
    expect(e.clean, e.output).toBe(true)
    expectExtHolds(image, part.start, files)
    for (const d of ['/var/sota', '/var/sota/import']) expect(debugfsStat(image, part.start, d)).toMatchObject({ type: 'directory', mode: '0755', uid: 0, gid: 0 })
    expect(debugfsStat(image, part.start, '/var')).toMatchObject({ type: 'directory' })
    // Only the rootfs partition changed: the GPT (both copies) and the boot partition did not.
    expectOnlyRangeChanged(gpt.path, image, gpt.size, part.start, part.start + part.size)
    expect(debugfsCat(image, part.start, '/etc/hostname').toString()).toBe('device\n')
  })

  it('replaces existing files when written twice, and leaves existing directories alone', async () => {
    const image = await copyOf(gpt)
    const part = gpt.part('rootfs')
    const first = bundle('/etc/credbake', 'first')
    await writeExtFiles({ image, offset: part.start, files: first, tempDir: tmp, serial: 'SN-2', partition: 'rootfs' })
    const second = bundle('/etc/credbake', 'second').map((f) => ({ ...f, mode: f.mode === 0o600 ? 0o640 : 0o600 }))
    await writeExtFiles({ image, offset: part.start, files: second, tempDir: tmp, serial: 'SN-2', partition: 'rootfs' })
    expectExtHolds(image, part.start, second)
    expect(debugfsStat(image, part.start, '/etc')).toMatchObject({ mode: '0755' })
    expect(e2fsck(image, part.start).clean).toBe(true)
  })

  it('replaces a file that exists in the base image', async () => {
    const base = path.join(dir, 'with-placeholder.img')
    const built = await buildGptImage(dir, { file: 'with-placeholder.img', rootFiles: { 'var/sota/import/pkey.pem': 'placeholder', 'etc/hostname': 'x' } })
    const image = await copyOf(built)
    const files = bundle()
    await writeExtFiles({ image, offset: built.part('rootfs').start, files, tempDir: tmp, serial: 'SN-3', partition: 'rootfs' })
    expectExtHolds(image, built.part('rootfs').start, files)
    expect(e2fsck(image, built.part('rootfs').start).clean).toBe(true)
    expect(debugfsCat(base, built.part('rootfs').start, '/var/sota/import/pkey.pem').toString()).toBe('placeholder')
  })

  it('reads back in a second debugfs process when asked (or when the image path cannot be quoted)', async () => {
    const quoted = path.join(dir, 'odd "name".img')
    await copyFile(gpt.path, quoted)
    const files = bundle()
    for (const [image, separateReadBack] of [
      [await copyOf(gpt), true],
      [quoted, false]
    ] as const) {
      await writeExtFiles({ image, offset: gpt.part('rootfs').start, files, tempDir: tmp, serial: 'SN-R', partition: 'rootfs', separateReadBack })
      expectExtHolds(image, gpt.part('rootfs').start, files)
      expect(e2fsck(image, gpt.part('rootfs').start).clean).toBe(true)
    }
  })

  it('shares the directory probe across devices through probeCache', async () => {
    const cache = new Map()
    const part = gpt.part('rootfs')
    for (const serial of ['A', 'B']) {
      const image = await copyOf(gpt)
      const files = bundle()
      await writeExtFiles({ image, offset: part.start, files, tempDir: tmp, serial, partition: 'rootfs', probeCache: cache })
      expectExtHolds(image, part.start, files)
    }
    expect([...cache.keys()]).toEqual(['/var', '/var/sota', '/var/sota/import', ...bundle().map((f) => f.path)])
    expect(cache.get('/var')).toEqual({ kind: 'dir' })
    expect(cache.get('/var/sota')).toEqual({ kind: 'missing' })
  })

  it('writes into logical partition 6 of an MBR image', async () => {
    const image = await copyOf(mbr)
    const layout = await readDiskLayout(image)
    const part = selectPartition(layout, { kind: 'number', number: 6 })
    const files = bundle()
    await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-6', probeCache: new Map() })
    expect(e2fsck(image, part.start).clean).toBe(true)
    expectExtHolds(image, part.start, files)
    expectOnlyRangeChanged(mbr.path, image, mbr.size, part.start, part.start + part.size)
    expect(describePartition(part)).toBe('partition 6 (config)')
  })

  it('writes into a GPT image with 4096-byte sectors', async () => {
    const image = await copyOf(gpt4k)
    const part = selectPartition(await readDiskLayout(image))
    const files = bundle()
    await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-4K' })
    expect(e2fsck(image, part.start).clean).toBe(true)
    expectExtHolds(image, part.start, files)
    expectOnlyRangeChanged(gpt4k.path, image, gpt4k.size, part.start, part.start + part.size)
  })

  it('writes into a bare ext4 image, uid/gid other than 0 as given, and a file in /', async () => {
    const bare = await buildBareExt4(dir, { file: 'bare-w.ext4' })
    const image = await copyOf(bare)
    const part = selectPartition(await readDiskLayout(image))
    const files: BundleFile[] = [
      { path: '/device.crt', content: Buffer.from('cert'), mode: 0o444, uid: 0, gid: 0, secret: false },
      { path: '/home/app/.config/key with space.pem', content: randomBytes(100), mode: 0o400, uid: 1000, gid: 1000, secret: true }
    ]
    const installed = await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-B' })
    expect(installed.map((f) => [f.mode, f.owner])).toEqual([
      ['0444', '0:0'],
      ['0400', '1000:1000']
    ])
    expect(debugfsStat(image, 0, '/home/app/.config/key with space.pem')).toMatchObject({ mode: '0400', uid: 1000, gid: 1000 })
    expect(e2fsck(image, 0).clean).toBe(true)
  })

  it('fails naming the device and partition when the partition is too full', async () => {
    const bare = await buildBareExt4(dir, { file: 'tiny.ext4', size: 2 * MiB, files: {} })
    const image = await copyOf(bare)
    const files: BundleFile[] = [{ path: '/creds/blob', content: randomBytes(4 * MiB), mode: 0o600, uid: 0, gid: 0, secret: true }]
    const part = selectPartition(await readDiskLayout(image))
    const error = await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-FULL' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OutputError)
    expect((error as OutputError).serial).toBe('SN-FULL')
    expect((error as OutputError).message).toMatch(/^Device SN-FULL: the file system \(no partition table\) is too full for the credentials \(debugfs: .*Could not allocate block/)
  })

  it('names the Debian package when debugfs is missing', async () => {
    const image = await copyOf(gpt)
    process.env.PATH = path.join(dir, 'empty-bin')
    const error = await writeExtFiles({ image, offset: gpt.part('rootfs').start, files: bundle(), tempDir: tmp, serial: 'SN', partition: 'rootfs' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect((error as Error).message).toBe(
      'debugfs was not found on PATH. debugfs is in the Debian/Ubuntu package e2fsprogs; install it in a workflow step before credbake runs: `sudo apt-get install -y e2fsprogs mtools`'
    )
  })

  it('names features the installed e2fsprogs cannot write (unknown incompat bit, superblock checksum re-sealed)', async () => {
    const image = await copyOf(gpt)
    const part = gpt.part('rootfs')
    setExtFeatureBit(image, part.start, 'incompat', 0x800000)
    const layout = await readDiskLayout(image)
    expect(layout.partitions[1]!.fileSystem.ext!.features).toContain('incompat_0x800000')
    const error = await writeBundle({ image, partition: selectPartition(layout), files: bundle(), tempDir: tmp, serial: 'SN' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImageError)
    const banner = spawnSync('debugfs', ['-V'], { encoding: 'utf8' })
    const version = /debugfs (\S+)/.exec(banner.stdout + banner.stderr)![1]!
    expect((error as Error).message).toContain(`uses features the installed e2fsprogs ${version} cannot write`)
    expect((error as Error).message).toContain('Features it does not know: incompat_0x800000.')
  })

  it('a read-only-compatible unknown feature is refused as well', async () => {
    const image = await copyOf(gpt)
    const part = gpt.part('rootfs')
    setExtFeatureBit(image, part.start, 'ro_compat', 0x80000000)
    const error = await writeExtFiles({ image, offset: part.start, files: bundle(), tempDir: tmp, serial: 'SN', partition: 'partition 2 (rootfs)' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImageError)
    expect((error as Error).message).toContain('ro_compat_0x80000000')
  })

  it('refuses a file system that needs journal recovery', async () => {
    const image = await copyOf(gpt)
    setExtFeatureBit(image, gpt.part('rootfs').start, 'incompat', 0x4)
    const error = await writeExtFiles({ image, offset: gpt.part('rootfs').start, files: bundle(), tempDir: tmp, serial: 'SN', partition: 'p2' }).catch((e: unknown) => e)
    expect((error as Error).message).toContain('needs recovery')
  })

  it('refuses a symlinked credentials directory, naming its target', async () => {
    const built = await buildGptImage(dir, { file: 'symlink.img', rootFiles: { 'data/sota/.keep': '', 'var/lib/.keep': '' } })
    const image = await copyOf(built)
    const offset = built.part('rootfs').start
    run('debugfs', ['-w', '-R', 'symlink /var/sota /data/sota', `${image}?offset=${offset}`])
    const error = await writeExtFiles({ image, offset, files: bundle(), tempDir: tmp, serial: 'SN', partition: 'p2' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImageError)
    expect((error as Error).message).toContain('/var/sota is a symbolic link to /data/sota')
  })

  it('refuses a credentials directory below an existing file (ext4 and FAT)', async () => {
    const image = await copyOf(gpt)
    const ext = await writeExtFiles({ image, offset: gpt.part('rootfs').start, files: bundle('/etc/hostname/creds'), tempDir: tmp, serial: 'S', partition: 'p2' }).catch(
      (e: unknown) => e
    )
    expect(ext).toBeInstanceOf(ImageError)
    expect((ext as Error).message).toBe('/etc/hostname exists in p2 but is not a directory; choose another credentials directory.')
    const fat = await writeFatFiles({ image, offset: gpt.part('boot').start, files: bundle('/config.txt/creds'), tempDir: tmp, serial: 'S', partition: 'p1' }).catch(
      (e: unknown) => e
    )
    expect(fat).toBeInstanceOf(ImageError)
    expect((fat as Error).message).toBe('/config.txt exists in p1 but is not a directory; choose another credentials directory.')
    const dirAsFile = await writeExtFiles({
      image,
      offset: gpt.part('rootfs').start,
      files: bundle('/var').map((f, i) => (i === 0 ? { ...f, path: '/var/lib' } : f)),
      tempDir: tmp,
      serial: 'S',
      partition: 'p2'
    }).catch((e: unknown) => e)
    expect((dirAsFile as Error).message).toBe('/var/lib is a directory in p2; a credential file cannot replace it.')
  })

  it('treats any stderr line other than the banner as failure, though debugfs exits 0', async () => {
    const bin = path.join(dir, 'fake-bin')
    await mkdir(bin, { recursive: true })
    const fake = path.join(bin, 'debugfs')
    // Passes read-only runs through; "fails" writes the way debugfs does: message on stderr, exit 0.
    await writeFile(
      fake,
      `#!/bin/sh\ncase "$1" in -w) echo "debugfs 1.47.0 (5-Feb-2023)" >&2; echo "write: Ext2 inode is not a directory " >&2; exit 0;; esac\nexec ${run('sh', ['-c', 'command -v debugfs']).trim()} "$@"\n`
    )
    await chmod(fake, 0o755)
    process.env.PATH = `${bin}:${savedPath}`
    const image = await copyOf(gpt)
    const error = await writeExtFiles({ image, offset: gpt.part('rootfs').start, files: bundle(), tempDir: tmp, serial: 'SN-X', partition: 'p2' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect((error as Error).message).toBe('debugfs failed while writing for device SN-X in p2: write: Ext2 inode is not a directory')
  })

  it('catches a write that debugfs reports as done but did not happen (read-back)', async () => {
    const bin = path.join(dir, 'lazy-bin')
    await mkdir(bin, { recursive: true })
    const fake = path.join(bin, 'debugfs')
    await writeFile(fake, `#!/bin/sh\ncase "$1" in -w) echo "debugfs 1.47.0 (5-Feb-2023)" >&2; exit 0;; esac\nexec ${run('sh', ['-c', 'command -v debugfs']).trim()} "$@"\n`)
    await chmod(fake, 0o755)
    process.env.PATH = `${bin}:${savedPath}`
    const image = await copyOf(gpt)
    const error = await writeExtFiles({ image, offset: gpt.part('rootfs').start, files: bundle('/etc/x'), tempDir: tmp, serial: 'SN-Y', partition: 'p2' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect((error as Error).message).toMatch(/^Device SN-Y: read-back of p2 failed/)
  })

  it('rejects paths the script syntax cannot carry', async () => {
    const image = await copyOf(gpt)
    for (const bad of ['relative/x', '/a/../b', '/a/"q"', '/a/b\n', '/a//b', '/dir/']) {
      const files: BundleFile[] = [{ path: bad, content: Buffer.from('x'), mode: 0o600, uid: 0, gid: 0, secret: false }]
      await expect(writeExtFiles({ image, offset: gpt.part('rootfs').start, files, tempDir: tmp, serial: 'S', partition: 'p' })).rejects.toThrow(ImageError)
    }
  })
})

describe('FAT via mtools', () => {
  it('writes into name=boot (FAT32) of a GPT image: fsck.vfat clean, byte-identical, no modes', async () => {
    const image = await copyOf(gpt)
    const layout = await readDiskLayout(image)
    const part = selectPartition(layout, { kind: 'name', value: 'boot' })
    const files = bundle('/credbake/device')
    const installed = await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-F' })
    expect(installed.map((f) => [f.path, f.mode, f.owner, f.sha256 === null])).toEqual([
      ['/credbake/device/pkey.pem', null, null, true],
      ['/credbake/device/client.pem', null, null, false],
      ['/credbake/device/root.crt', null, null, false]
    ])
    const check = fsckVfat(image, part.start, part.size, path.join(dir, 'fsck.vfat'))
    expect(check.clean, check.output).toBe(true)
    for (const f of files) expect(mcopyRead(image, part.start, f.path).equals(f.content)).toBe(true)
    expect(mcopyRead(image, part.start, '/config.txt').toString()).toBe('enable_uart=1\n')
    expectOnlyRangeChanged(gpt.path, image, gpt.size, part.start, part.start + part.size)
  })

  it('replaces files when written twice, into an existing directory (case-insensitive)', async () => {
    const image = await copyOf(gpt)
    const part = gpt.part('boot')
    await writeFatFiles({ image, offset: part.start, files: bundle('/OVERLAYS', 'one'), tempDir: tmp, serial: 'S', partition: 'boot' })
    const second = bundle('/overlays', 'two')
    await writeFatFiles({ image, offset: part.start, files: second, tempDir: tmp, serial: 'S', partition: 'boot' })
    for (const f of second) expect(mcopyRead(image, part.start, f.path).equals(f.content)).toBe(true)
    expect(mcopyRead(image, part.start, '/overlays/a.dtbo').toString()).toBe('dtbo')
    expect(fsckVfat(image, part.start, part.size, path.join(dir, 'fsck2.vfat')).clean).toBe(true)
  })

  it('writes into FAT16 with 4096-byte sectors and into a FAT12 primary of an MBR image', async () => {
    for (const [built, select] of [
      [gpt4k, 'boot'],
      [mbr, 'FW']
    ] as const) {
      const image = await copyOf(built)
      const layout = await readDiskLayout(image)
      const part = built === gpt4k ? selectPartition(layout, { kind: 'name', value: select }) : selectPartition(layout, { kind: 'label', value: select })
      const files = bundle('/certs')
      await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'S' })
      for (const f of files) expect(mcopyRead(image, part.start, f.path).equals(f.content)).toBe(true)
      const check = fsckVfat(image, part.start, part.size, path.join(dir, 'fsck3.vfat'))
      expect(check.clean, check.output).toBe(true)
      expectOnlyRangeChanged(built.path, image, built.size, part.start, part.start + part.size)
    }
  })

  it('fails naming the device when the FAT partition is too full', async () => {
    const image = await copyOf(mbr)
    const part = selectPartition(await readDiskLayout(image), { kind: 'number', number: 1 }) // 2 MiB FAT12
    const files: BundleFile[] = [{ path: '/big.bin', content: randomBytes(3 * MiB), mode: 0o600, uid: 0, gid: 0, secret: true }]
    const error = await writeBundle({ image, partition: part, files, tempDir: tmp, serial: 'SN-FAT' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OutputError)
    expect((error as Error).message).toMatch(/^Device SN-FAT: partition 1 \(FW\) is too full for the credentials \(mcopy: .*Disk full/)
  })

  it('names the Debian package when mtools is missing', async () => {
    const image = await copyOf(gpt)
    process.env.PATH = path.join(dir, 'empty-bin')
    const error = await writeFatFiles({ image, offset: gpt.part('boot').start, files: bundle(), tempDir: tmp, serial: 'S', partition: 'boot' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ToolError)
    expect((error as Error).message).toContain('mdir was not found on PATH. mdir is in the Debian/Ubuntu package mtools')
    expect((error as Error).message).toContain('sudo apt-get install -y e2fsprogs mtools')
  })
})

it('refuses a file system larger than its partition', async () => {
  const image = await copyOf(gpt)
  const layout = await readDiskLayout(image)
  const part = { ...selectPartition(layout), size: 8 * MiB }
  await expect(writeBundle({ image, partition: part, files: bundle(), tempDir: tmp, serial: 'S' })).rejects.toThrow(/claims \d+ bytes but the partition has 8388608/)
})
