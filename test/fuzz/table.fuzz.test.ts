// Property: the partition-table reader ends in a DiskLayout or an ImageError (input "image") for
// any image: random bytes, or real small MBR/GPT images (test/corpus/images) with their MBR, GPT
// headers (CRCs re-sealed or not), entry arrays and EBR chains damaged — loops in the EBR chain,
// chains of hundreds of EBRs, partition counts and sizes up to 2^64. Never another exception,
// never a hang (per-call timeout), never an allocation the header asks for (the child's heap is
// capped and its peak RSS checked: a GPT claiming 2^32 entries must not be read).
// What selectPartition and formatPartitionTable do with the layout is checked too (the sink's
// next steps): they may refuse, with a typed error, but not crash.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CORPUS_DIR, Sandbox, sandboxNodes, disposeSandboxBundle } from '../helpers/corpus.js'
import { imageMutation, mutateImage, type ImageMutation } from './arbitraries.js'
import { CALL_TIMEOUT_MS, judge, newStats, runProperty, summary, type Judge, type KnownBug } from './support.js'

// The sandbox bundle of this file (see test/helpers/corpus.ts).
afterAll(disposeSandboxBundle)

const BASES: Record<string, Buffer> = {
  gpt: readFileSync(path.join(CORPUS_DIR, 'images/good-gpt.img')),
  mbr: readFileSync(path.join(CORPUS_DIR, 'images/mbr.img')),
  'mbr-fat-only': readFileSync(path.join(CORPUS_DIR, 'images/mbr-fat-only.img'))
}
/** Where each base's file systems start (sfdisk -d of the corpus images; see generate.mjs). */
const FS_OFFSETS: Record<string, number[]> = {
  gpt: [40 * 512, 296 * 512],
  mbr: [8 * 512, 264 * 512, 1800 * 512],
  'mbr-fat-only': [8 * 512]
}

/**
 * Known bugs an image can trip: none open. (read-position-out-of-range, RangeError
 * ERR_OUT_OF_RANGE on Node 24 from positions computed from on-disk LBAs, was found here and fixed
 * in c3d36cc; regressions.test.ts pins it.) While a newly found bug is open, add a KnownBug here.
 */
const KNOWN_BUGS: KnownBug[] = []

const RULE: Judge = {
  kinds: ['image'],
  inputs: ['image'],
  knownBugs: KNOWN_BUGS,
  checkValue: (value) => {
    const layout = value as { table: string; partitions: number; selected: string[] }
    expect(['gpt', 'mbr', 'none']).toContain(layout.table)
    // A selection either picks a partition or refuses with an image error (input partition).
    for (const selected of layout.selected) expect(selected).toMatch(/^\d+$|^image$/)
  }
}

const mutatedImage = fc.record({
  base: fc.constantFrom(...Object.keys(BASES)),
  mutations: fc.array(imageMutation, { minLength: 1, maxLength: 4 })
})

describe.each(sandboxNodes())('partition-table reader on $label', ({ label, binary }) => {
  let sandbox: Sandbox
  const major = Number(label.replace('node', ''))
  beforeAll(async () => {
    sandbox = await Sandbox.start({ node: binary })
  })
  afterAll(() => sandbox?.stop())

  it('mutated MBR/GPT images (headers, entries, CRCs, EBR chains, truncation)', async () => {
    const stats = newStats()
    const gptClaiming = (count: bigint, size: bigint): { base: string; mutations: ImageMutation[] } => ({
      base: 'gpt',
      mutations: [
        { op: 'gptField', which: 'both', field: 'entryCount', value: count, fixCrc: true },
        { op: 'gptField', which: 'both', field: 'entrySize', value: size, fixCrc: true }
      ]
    })
    await sandbox.ensureRunning()
    await runProperty(
      `mutated images on ${label}`,
      mutatedImage,
      async ({ base, mutations }) => {
        const image = mutateImage(BASES[base] as Buffer, mutations, FS_OFFSETS[base])
        judge(await sandbox.call('readDiskLayout', [image], CALL_TIMEOUT_MS), RULE, stats, major)
      },
      {
        numRuns: 350,
        timeLimitMs: 7_000,
        examples: [
          // Headers (CRCs valid) that ask for 2^32-1 entries, or entries of 2^32-8 bytes.
          gptClaiming(0xffffffffn, 128n),
          gptClaiming(1n, 0xfffffff8n),
          gptClaiming(32768n, 128n),
          // EBR chains that loop, or go on for 400 records.
          { base: 'mbr', mutations: [{ op: 'ebrChain', shape: 'self-loop', length: 3 }] },
          { base: 'mbr', mutations: [{ op: 'ebrChain', shape: 'two-loop', length: 10 }] },
          { base: 'mbr', mutations: [{ op: 'ebrChain', shape: 'long', length: 400 }] },
          { base: 'mbr', mutations: [{ op: 'ebrChain', shape: 'huge-sizes', length: 5 }] }
        ]
      }
    )
    console.info(summary(`mutated images on ${label}`, stats))
  })

  it('random images (bytes, with and without MBR/GPT signatures)', async () => {
    const stats = newStats()
    const randomImage = fc
      .record({
        bytes: fc.uint8Array({ minLength: 0, maxLength: 40_000 }),
        mbrSignature: fc.boolean(),
        gptSignature: fc.constantFrom('none', '512', '4096'),
        padTo: fc.constantFrom(0, 4096, 65_536, 1 << 20)
      })
      .map(({ bytes, mbrSignature, gptSignature, padTo }) => {
        const image = Buffer.alloc(Math.max(bytes.length, padTo))
        Buffer.from(bytes).copy(image)
        if (mbrSignature && image.length >= 512) image.writeUInt16LE(0xaa55, 510)
        const gptAt = gptSignature === '512' ? 512 : gptSignature === '4096' ? 4096 : -1
        if (gptAt > 0 && image.length >= gptAt + 8) image.write('EFI PART', gptAt, 'latin1')
        return image
      })
    await sandbox.ensureRunning()
    await runProperty(`random images on ${label}`, randomImage, async (image) => judge(await sandbox.call('readDiskLayout', [image], CALL_TIMEOUT_MS), RULE, stats, major), {
      numRuns: 250,
      timeLimitMs: 4_000
    })
    console.info(summary(`random images on ${label}`, stats))
  })
})
