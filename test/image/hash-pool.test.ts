// The hashing threads of image outputs: the light ones (no bundle, no block maps) give every
// file's SHA-256 as sha256sum does, resuming from the shared prefix, and refuse block maps.
import { randomBytes } from 'node:crypto'
import { closeSync, ftruncateSync, openSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFileHasher } from '../../src/image/hash-pool.js'
import { cleanupScratch, MiB, run, scratchDir } from '../helpers/images.js'

let work: string
let base: string
const PREFIX = 3 * MiB + 512

function sha256sum(file: string): string {
  return run('sha256sum', [file]).split(' ')[0]!
}

/** A sparse file: `prefix` shared bytes, then `tail` bytes at `at`, `size` long in all. */
function sparseFile(name: string, prefix: Buffer, tail: Buffer, at: number, size: number): string {
  const file = path.join(work, name)
  const fd = openSync(file, 'w')
  try {
    writeSync(fd, prefix, 0, prefix.length, 0)
    writeSync(fd, tail, 0, tail.length, at)
    ftruncateSync(fd, size)
  } finally {
    closeSync(fd)
  }
  return file
}

beforeAll(async () => {
  work = await scratchDir('credbake-hash-pool-')
  base = path.join(work, 'base.img')
  writeFileSync(base, randomBytes(PREFIX + 4096))
})

afterAll(async () => {
  await cleanupScratch()
})

describe('light hashing threads (no block maps)', () => {
  it('hash files that share the prefix as sha256sum does, several at once, holes and all', async () => {
    const hasher = createFileHasher({ prefixFile: base, prefixLength: PREFIX }, 2, { bmap: false })
    try {
      const prefix = Buffer.from((await import('node:fs')).readFileSync(base).subarray(0, PREFIX))
      const files = Array.from({ length: 5 }, (_, i) => sparseFile(`out-${i}.img`, prefix, randomBytes(10_000 + i), PREFIX + i * 777_777, 20 * MiB + i))
      const sums = await Promise.all(files.map((file) => hasher.hash(file)))
      expect(sums).toEqual(files.map(sha256sum))
      // A file differing right after the prefix still hashes right (the prefix state is copied).
      const near = sparseFile('near.img', prefix, Buffer.from([1]), PREFIX, PREFIX + 1)
      expect(await hasher.hash(near)).toBe(sha256sum(near))
    } finally {
      await hasher.close()
    }
  })

  it('refuse a block map, and report a missing file', async () => {
    const hasher = createFileHasher({ prefixFile: base, prefixLength: PREFIX }, 1, { bmap: false })
    try {
      await expect(hasher.hashFile(base, { bmap: true })).rejects.toThrow(/without block maps/)
      await expect(hasher.hash(path.join(work, 'missing.img'))).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await hasher.close()
    }
  })
})
