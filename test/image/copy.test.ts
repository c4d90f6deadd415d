import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync } from 'node:fs'
import { copyFile, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ImageError, ToolError } from '../../src/errors.js'
import { compressFile, decompressToSparse, detectCompression, prepareBaseImage, sha256File } from '../../src/image/compress.js'
import { compressionExtension } from '../../src/settings/types.js'
import { copyImage, extractRange, ImageCopier, mapData, scanBase, sliceMap } from '../../src/image/copy.js'
import { readDiskLayout, selectPartition } from '../../src/image/table.js'
import { writeBundle } from '../../src/image/write.js'
import {
  allocatedBytes,
  buildGptImage,
  cleanupScratch,
  compressWithTool,
  debugfsCat,
  e2fsck,
  extractBytes,
  MiB,
  pokeBytes,
  scratchDir,
  type BuiltImage
} from '../helpers/images.js'

let dir: string
let gpt: BuiltImage
let baseSha: string

function fileSha(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

beforeAll(async () => {
  dir = await scratchDir()
  // 1 MiB of random data in the rootfs so the image has real data besides metadata.
  const blob = Buffer.alloc(MiB)
  for (let i = 0; i < blob.length; i++) blob[i] = (i * 7919) % 251
  gpt = await buildGptImage(dir, { rootFiles: { 'etc/hostname': 'h\n', 'usr/lib/blob': blob } })
  baseSha = fileSha(gpt.path)
})
afterAll(async () => {
  // The base image is never modified by any of this.
  expect(fileSha(gpt.path)).toBe(baseSha)
  await cleanupScratch()
})

describe('data map and copies', () => {
  it('maps the non-zero blocks of a sparse image', async () => {
    const map = await mapData(gpt.path)
    expect(map.size).toBe(gpt.size)
    expect(map.dataBytes).toBeGreaterThan(MiB)
    expect(map.dataBytes).toBeLessThan(gpt.size / 4)
    for (const [s, e] of map.ranges) {
      expect(s % 4096).toBe(0)
      expect(e).toBeGreaterThan(s)
    }
    // Sorted and not touching (touching ranges are merged).
    map.ranges.slice(1).forEach(([s], i) => expect(s).toBeGreaterThan(map.ranges[i]![1]))
  })

  it('one read of the base gives the same map as mapData, the SHA-256 of the file, and its data when it fits', async () => {
    const map = await mapData(gpt.path)
    const sha = execFileSync('sha256sum', [gpt.path], { encoding: 'utf8' }).split(' ')[0]
    const kept = await scanBase(gpt.path, 256 * MiB)
    expect(kept.map).toEqual(map)
    expect(kept.sha256).toBe(sha)
    expect(kept.cache).toBeDefined()
    expect(kept.cache!.reduce((sum, c) => sum + c.data.length, 0)).toBe(map.dataBytes)
    for (const chunk of kept.cache!) expect(chunk.data.equals(readFileSync(gpt.path).subarray(chunk.offset, chunk.offset + chunk.data.length))).toBe(true)
    // Above the limit (as a 4 GiB base with 1.5 GiB of data is at the default): nothing kept.
    const streamed = await scanBase(gpt.path, 64 * 1024)
    expect(streamed.map).toEqual(map)
    expect(streamed.sha256).toBe(sha)
    expect(streamed.cache).toBeUndefined()
    const copier = await ImageCopier.open(gpt.path, { cacheLimit: 64 * 1024, noReflink: true })
    expect(copier.sha256).toBe(sha)
    expect(copier.cached).toBe(false)
    const dest = path.join(dir, 'streamed.img')
    await copier.copyTo(dest)
    expect(fileSha(dest)).toBe(baseSha)
  })

  for (const [label, options] of [
    ['from memory', {}],
    ['reading the base each time', { cacheLimit: 0 }]
  ] as const) {
    it(`sparse copies are identical and keep holes (${label})`, async () => {
      const copier = await ImageCopier.open(gpt.path, { ...options, noReflink: true })
      for (const n of [1, 2]) {
        const dest = path.join(dir, `sparse-${label.length}-${n}.img`)
        expect(await copier.copyTo(dest)).toBe('sparse')
        expect(fileSha(dest)).toBe(baseSha)
        expect(statSync(dest).size).toBe(gpt.size)
        // Allocated blocks are about the data, far below the size.
        expect(allocatedBytes(dest)).toBeLessThanOrEqual(copier.map.dataBytes + 64 * 1024)
        expect(allocatedBytes(dest)).toBeLessThan(gpt.size / 4)
      }
    })
  }

  it('tries a reflink first and falls back where the file system cannot (result identical either way)', async () => {
    const copier = await ImageCopier.open(gpt.path)
    const dest = path.join(dir, 'reflink-or-sparse.img')
    const method = await copier.copyTo(dest)
    expect(['reflink', 'sparse']).toContain(method)
    expect(fileSha(dest)).toBe(baseSha)
    expect(allocatedBytes(dest)).toBeLessThan(gpt.size / 4)
    // A second copy into the same folder does not retry a failed reflink, and is still right.
    expect(await copier.copyTo(path.join(dir, 'reflink-or-sparse-2.img'))).toBe(method)
    expect(await copyImage(gpt.path, path.join(dir, 'one-off.img'))).toBe(method)
    expect(fileSha(path.join(dir, 'one-off.img'))).toBe(baseSha)
  })

  it('replaces an existing destination', async () => {
    const dest = path.join(dir, 'existing.img')
    await writeFile(dest, Buffer.alloc(3 * MiB, 1))
    await (await ImageCopier.open(gpt.path, { noReflink: true })).copyTo(dest)
    expect(fileSha(dest)).toBe(baseSha)
  })

  it('a missing base image is an ImageError', async () => {
    await expect(ImageCopier.open(path.join(dir, 'nope.img'))).rejects.toThrow(ImageError)
  })

  it('extracts one partition sparsely, identical to dd, and it can be written as a bare file system', async () => {
    const layout = await readDiskLayout(gpt.path)
    const part = selectPartition(layout)
    const copier = await ImageCopier.open(gpt.path)
    const dest = path.join(dir, 'part.img')
    await copier.extractTo(dest, part.start, part.size)
    const reference = path.join(dir, 'part-dd.img')
    extractBytes(gpt.path, part.start, part.size, reference)
    expect(fileSha(dest)).toBe(fileSha(reference))
    expect(allocatedBytes(dest)).toBeLessThan(part.size / 4)
    const dest2 = path.join(dir, 'part2.img')
    await extractRange(gpt.path, dest2, part.start, part.size)
    expect(fileSha(dest2)).toBe(fileSha(reference))
    await expect(copier.extractTo(dest, part.start, gpt.size)).rejects.toThrow(/outside/)

    const bare = selectPartition(await readDiskLayout(dest))
    expect(bare).toMatchObject({ number: 0, fileSystem: { type: 'ext4', label: 'rootfs' } })
    const tmp = path.join(dir, 't')
    await mkdir(tmp, { mode: 0o700, recursive: true })
    const files = [{ path: '/var/sota/x.pem', content: Buffer.from('x'), mode: 0o600, uid: 0, gid: 0, secret: true }]
    await writeBundle({ image: dest, partition: bare, files, tempDir: tmp, serial: 'P' })
    expect(debugfsCat(dest, 0, '/var/sota/x.pem').toString()).toBe('x')
    expect(e2fsck(dest, 0).clean).toBe(true)
  })

  it('sliceMap clips ranges to a window', () => {
    const map = {
      size: 100,
      ranges: [
        [0, 10],
        [20, 30],
        [90, 100]
      ] as Array<[number, number]>,
      dataBytes: 30
    }
    expect(sliceMap(map, 5, 20)).toEqual({
      size: 20,
      ranges: [
        [0, 5],
        [15, 20]
      ],
      dataBytes: 10
    })
  })
})

describe('compressed base images', () => {
  for (const kind of ['gz', 'xz', 'zst'] as const) {
    it(`.${kind}: detected, decompressed once to identical bytes, sparse, with its data map`, async () => {
      const copy = path.join(dir, `base-${kind}.img`)
      await copyFile(gpt.path, copy)
      const compressed = compressWithTool(copy, kind)
      expect(await detectCompression(compressed)).toBe(kind)
      const tempDir = path.join(dir, `tmp-${kind}`)
      await mkdir(tempDir, { recursive: true })
      const base = await prepareBaseImage(compressed, tempDir)
      expect(base.compression).toBe(kind)
      expect(base.path).not.toBe(compressed)
      expect(path.basename(base.path)).toBe(`base-${kind}.img`)
      expect(fileSha(base.path)).toBe(baseSha)
      expect(allocatedBytes(base.path)).toBeLessThan(gpt.size / 4)
      expect(base.map).toEqual(await mapData(base.path))
      // The map feeds the copier directly.
      const copier = await ImageCopier.open(base.path, { map: base.map!, noReflink: true })
      await copier.copyTo(path.join(dir, `from-${kind}.img`))
      expect(fileSha(path.join(dir, `from-${kind}.img`))).toBe(baseSha)
      await base.cleanup()
      expect(existsSync(base.path)).toBe(false)
    })
  }

  it('an uncompressed base is used in place', async () => {
    const base = await prepareBaseImage(gpt.path, dir)
    expect(base).toMatchObject({ path: gpt.path, compression: 'none' })
    await base.cleanup()
    expect(existsSync(gpt.path)).toBe(true)
  })

  it('a damaged or truncated compressed image is an ImageError', async () => {
    const copy = path.join(dir, 'damaged.img')
    await copyFile(gpt.path, copy)
    for (const kind of ['gz', 'xz', 'zst'] as const) {
      const compressed = compressWithTool(copy, kind)
      const size = statSync(compressed).size
      pokeBytes(compressed, Math.floor(size / 2), Buffer.alloc(64, 0x55))
      const dest = path.join(dir, `damaged-out-${kind}`)
      const error = await decompressToSparse(compressed, dest, kind).catch((e: unknown) => e)
      expect(error, kind).toBeInstanceOf(ImageError)
      expect((error as Error).message).toContain(`Cannot decompress the base image ${compressed}`)
      expect(existsSync(dest)).toBe(false)
    }
  })

  it('names the package when xz is missing', async () => {
    const saved = process.env.PATH
    process.env.PATH = path.join(dir, 'empty-bin')
    try {
      const error = await decompressToSparse(path.join(dir, 'whatever.xz'), path.join(dir, 'w.out'), 'xz').catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ToolError)
      expect((error as Error).message).toContain('xz is in the Debian/Ubuntu package xz-utils')
    } finally {
      process.env.PATH = saved
    }
  })
})

describe('compressing outputs and hashing', () => {
  for (const kind of ['gz', 'xz', 'zst'] as const) {
    it(`compressFile ${kind} round-trips through the standard tool`, async () => {
      const dest = path.join(dir, `out.img${compressionExtension(kind)}`)
      await compressFile(gpt.path, dest, kind)
      expect(await detectCompression(dest)).toBe(kind)
      const tool = { gz: ['gzip', '-dc'], xz: ['xz', '-dc'], zst: ['zstd', '-dcq'] }[kind]
      const plain = execFileSync(tool[0]!, [...tool.slice(1), dest], { maxBuffer: 512 * MiB })
      expect(createHash('sha256').update(plain).digest('hex')).toBe(baseSha)
    })
  }

  it('sha256File equals sha256sum', async () => {
    expect(await sha256File(gpt.path)).toBe(execFileSync('sha256sum', [gpt.path]).toString().split(' ')[0])
  })
})
