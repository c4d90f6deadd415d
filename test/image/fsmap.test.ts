// The fsmap addon (native/fsmap, lseek SEEK_DATA/SEEK_HOLE) and the hashing that uses it: holes
// are hashed from zeros, not read, and every digest still equals sha256sum's.
import { randomBytes } from 'node:crypto'
import { closeSync, ftruncateSync, openSync, readFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { feedRanges, fsmapAddonPath, loadFsmap } from '../../src/util/fsmap.js'
import { createFileHasher } from '../../src/image/hash-pool.js'
import { cleanupScratch, MiB, run, scratchDir } from '../helpers/images.js'
import { NODES, ROOT } from '../helpers/run.js'
import { execFileSync } from 'node:child_process'

let work: string

beforeAll(async () => {
  work = await scratchDir('credbake-fsmap-')
})

afterAll(async () => {
  await cleanupScratch()
})

/** A sparse file of `size` bytes holding `pieces` ([offset, bytes]) and holes elsewhere. */
function sparse(name: string, size: number, pieces: Array<[number, Buffer]>): string {
  const file = path.join(work, name)
  const fd = openSync(file, 'w')
  try {
    for (const [at, bytes] of pieces) writeSync(fd, bytes, 0, bytes.length, at)
    ftruncateSync(fd, size)
  } finally {
    closeSync(fd)
  }
  return file
}

function sha256sum(file: string): string {
  return run('sha256sum', [file]).split(' ')[0]!
}

/** Bytes this process has read through read(2) and friends so far (all threads, and reaped children). */
function bytesRead(): number {
  return Number(/^rchar:\s*(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'))?.[1])
}

function pairs(ranges: Float64Array): Array<[number, number]> {
  const out: Array<[number, number]> = []
  for (let i = 0; i < ranges.length; i += 2) out.push([ranges[i]!, ranges[i + 1]!])
  return out
}

describe('the fsmap addon', () => {
  it('is built and loads', () => {
    expect(fsmapAddonPath()).toMatch(/fsmap\.node$/)
    expect(typeof loadFsmap()?.dataRanges).toBe('function')
  })

  it('gives the data ranges of a sparse file, clipped to the window asked for', () => {
    const fsmap = loadFsmap()!
    const file = sparse('map.img', 64 * MiB, [
      [0, randomBytes(4096)],
      [8 * MiB, randomBytes(3 * MiB)],
      [40 * MiB + 4096, randomBytes(8192)]
    ])
    const fd = openSync(file, 'r')
    try {
      const all = pairs(fsmap.dataRanges(fd, 0, 64 * MiB))
      // Each written piece lies inside a reported range; the holes between them are not data.
      for (const [at, length] of [
        [0, 4096],
        [8 * MiB, 3 * MiB],
        [40 * MiB + 4096, 8192]
      ] as const) {
        expect(all.some(([s, e]) => s <= at && at + length <= e)).toBe(true)
      }
      const data = all.reduce((sum, [s, e]) => sum + (e - s), 0)
      expect(data).toBeLessThan(8 * MiB)
      expect(all.some(([s, e]) => s < 20 * MiB && e > 12 * MiB)).toBe(false)
      // A window inside the file: ranges start and end within it.
      const window = pairs(fsmap.dataRanges(fd, 9 * MiB, 41 * MiB))
      expect(window[0]![0]).toBe(9 * MiB)
      expect(window[0]![1]).toBeGreaterThanOrEqual(11 * MiB)
      expect(window.at(-1)![1]).toBeLessThanOrEqual(41 * MiB)
      // A window that is all hole.
      expect(fsmap.dataRanges(fd, 20 * MiB, 30 * MiB).length).toBe(0)
      // Past the last data: nothing (ENXIO is the end, not an error).
      expect(fsmap.dataRanges(fd, 50 * MiB, 64 * MiB).length).toBe(0)
    } finally {
      closeSync(fd)
    }
  })

  it('reports a bad descriptor with its errno, and refuses bad arguments', () => {
    const fsmap = loadFsmap()!
    expect(() => fsmap.dataRanges(987_654, 0, 10)).toThrow(/lseek\(SEEK_DATA\): Bad file descriptor/)
    expect(() => fsmap.dataRanges(0, 10, 5)).toThrow(/bad range/)
    expect(() => (fsmap.dataRanges as unknown as (fd: string) => unknown)('x')).toThrow()
  })
})

describe.each(NODES)('the addon shipped in dist/ under %s', (_name, node) => {
  it('loads and maps a sparse file (Node-API: one binary for every Node)', () => {
    const file = sparse('shipped.img', 16 * MiB, [[4 * MiB, randomBytes(4096)]])
    const addon = path.join(ROOT, 'dist/native/linux-x64/fsmap.node')
    const script = `const m = require(${JSON.stringify(addon)}); const fd = require('fs').openSync(${JSON.stringify(file)}, 'r'); console.log(JSON.stringify(Array.from(m.dataRanges(fd, 0, ${16 * MiB}))))`
    const ranges = JSON.parse(execFileSync(node, ['-e', script], { encoding: 'utf8' })) as number[]
    expect(ranges.length).toBe(2)
    expect(ranges[0]).toBeLessThanOrEqual(4 * MiB)
    expect(ranges[1]).toBeGreaterThanOrEqual(4 * MiB + 4096)
    expect(ranges[1]! - ranges[0]!).toBeLessThan(MiB)
  })
})

describe('feedRanges', () => {
  it('walks data and holes in order, clipped to [from, end), and stops at a short read', () => {
    const seen: string[] = []
    const read = (s: number, e: number): boolean => (seen.push(`r${s}-${e}`), true)
    const zeros = (n: number): void => void seen.push(`z${n}`)
    feedRanges(Float64Array.from([0, 10, 20, 30, 50, 60]), 5, 55, read, zeros)
    expect(seen).toEqual(['r5-10', 'z10', 'r20-30', 'z20', 'r50-55'])
    seen.length = 0
    feedRanges(Float64Array.from([]), 0, 7, read, zeros)
    expect(seen).toEqual(['z7'])
    seen.length = 0
    feedRanges(undefined, 3, 9, read, zeros)
    expect(seen).toEqual(['r3-9'])
    seen.length = 0
    feedRanges(Float64Array.from([0, 4, 6, 8]), 0, 10, (s, e) => (seen.push(`r${s}-${e}`), false), zeros)
    expect(seen).toEqual(['r0-4'])
  })
})

describe('hashing sparse outputs', () => {
  const size = 96 * MiB
  const prefixLength = 2 * MiB + 100
  let base: string
  let files: string[]

  beforeAll(() => {
    const prefix = randomBytes(prefixLength)
    base = sparse('base.img', prefixLength, [[0, prefix]])
    files = [0, 1, 2].map((i) =>
      sparse(`out-${i}.img`, size + i * 4096, [
        [0, prefix],
        [prefixLength + 7, randomBytes(5000)],
        [30 * MiB + i * 123_457, randomBytes(300_000)],
        [size - 10, Buffer.from('tail bytes')]
      ])
    )
  })

  for (const [name, threads, bmap] of [
    ['light threads', 2, false],
    ['the main thread', 0, true]
  ] as const) {
    it(`${name}: holes are not read, and every digest equals sha256sum's`, async () => {
      const hasher = createFileHasher({ prefixFile: base, prefixLength }, threads, { bmap })
      try {
        const before = bytesRead()
        const sums = await Promise.all(files.map((file) => hasher.hash(file)))
        const read = bytesRead() - before
        expect(sums).toEqual(files.map(sha256sum))
        // About 1 MiB of data per file (plus the prefix once), not 96 MiB of holes each.
        expect(read).toBeLessThan(24 * MiB)
      } finally {
        await hasher.close()
      }
    })
  }

  it('without the addon (CREDBAKE_NO_FSMAP=1) the holes are read, and the digests are the same', async () => {
    process.env.CREDBAKE_NO_FSMAP = '1'
    try {
      const hasher = createFileHasher({ prefixFile: base, prefixLength }, 1, { bmap: false })
      try {
        const before = bytesRead()
        const sums = await Promise.all(files.map((file) => hasher.hash(file)))
        expect(bytesRead() - before).toBeGreaterThan(3 * (size - prefixLength))
        expect(sums).toEqual(files.map(sha256sum))
      } finally {
        await hasher.close()
      }
    } finally {
      delete process.env.CREDBAKE_NO_FSMAP
    }
  })
})

describe('sha256File', () => {
  it('hashes a large sparse file without reading its holes, a small one and a stream alike, as sha256sum does', async () => {
    const { sha256File } = await import('../../src/util/fsx.js')
    const large = sparse('large.img', 64 * MiB + 5, [
      [3, randomBytes(1000)],
      [33 * MiB, randomBytes(2 * MiB)]
    ])
    const small = sparse('small.bin', 100_000, [[10, randomBytes(50_000)]])
    // sha256sum first: a reaped child's reads count as this process's.
    const expected = sha256sum(large)
    const before = bytesRead()
    const actual = await sha256File(large)
    expect(bytesRead() - before).toBeLessThan(8 * MiB)
    expect(actual).toBe(expected)
    expect(await sha256File(small)).toBe(sha256sum(small))
    // Not a regular file: streamed, never mapped.
    expect(await sha256File('/dev/null')).toBe(sha256sum('/dev/null'))
  })
})
