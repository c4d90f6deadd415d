// Properties of text from inputs (docs/input-limits.md):
// - random bytes as a GPT partition name and an ext4 label, through `credbake inspect` (text and
//   JSON) and `credbake bake` into that partition: nothing printed can be read by a runner as a
//   workflow command (test/helpers/runner-commands.ts), no stack trace, no raw control character;
// - random manifest values full of control, format and space characters, in a field the subject
//   uses: the same decision in CSV, JSON, JSONL and YAML, the rule's decision (refused exactly
//   when the value holds a control or format character or white space at an end), the value kept
//   exactly when accepted, and never shown raw in the refusal.
// Run counts stay small (CLI runs cost a process each); FUZZ_SCALE raises them, FUZZ_SEED replays.
import { closeSync, openSync, readSync, truncateSync, writeFileSync, writeSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ManifestError } from '../../src/errors.js'
import { parseDeviceManifest, type ManifestFormat } from '../../src/manifest/read.js'
import { hasUnsafeText } from '../../src/util/log-text.js'
import { edgeSpaceOf, misleadingCharIn } from '../../src/util/text-class.js'
import { cleanupScratch, makeFileSystem, MiB, nodeNumber, placeAt, run, scratchDir, sfdiskJson } from '../helpers/images.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runCli } from '../helpers/run.js'
import { runnerCommands } from '../helpers/runner-commands.js'
import { crc32 } from './arbitraries.js'
import { FUZZ_SEED, runProperty } from './support.js'

const SECTOR = 512

// ---- raw edits of a GPT name and an ext4 label (tools take text; these take any bytes) ---------

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(length)
    readSync(fd, buffer, 0, length, offset)
    return buffer
  } finally {
    closeSync(fd)
  }
}

function writeAt(file: string, offset: number, bytes: Buffer): void {
  const fd = openSync(file, 'r+')
  try {
    writeSync(fd, bytes, 0, bytes.length, offset)
  } finally {
    closeSync(fd)
  }
}

/** Puts `name` (72 bytes, UTF-16LE as GPT stores it, any bytes) into entry `index` of both GPT copies, CRCs re-sealed. */
function setGptName(image: string, size: number, index: number, name: Buffer): void {
  for (const headerAt of [SECTOR, size - SECTOR]) {
    const header = readAt(image, headerAt, SECTOR)
    const entries = Number(header.readBigUInt64LE(72)) * SECTOR
    const count = header.readUInt32LE(80)
    const entrySize = header.readUInt32LE(84)
    const array = readAt(image, entries, count * entrySize)
    name.copy(array, index * entrySize + 56, 0, 72)
    writeAt(image, entries, array)
    header.writeUInt32LE(crc32(array), 88)
    header.writeUInt32LE(0, 16)
    header.writeUInt32LE(crc32(header.subarray(0, header.readUInt32LE(12))), 16)
    writeAt(image, headerAt, header)
  }
}

/** CRC-32C as ext4 seals its superblock: initial ~0, no final inversion. */
function crc32cRaw(data: Uint8Array): number {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0x82f63b78 ^ (crc >>> 1) : crc >>> 1
  }
  return crc >>> 0
}

/** Puts `label` (16 bytes, any bytes) into the ext4 superblock at `fsOffset`, its checksum re-sealed. */
function setExtLabel(image: string, fsOffset: number, label: Buffer): void {
  const at = fsOffset + 1024
  const superblock = readAt(image, at, 1024)
  label.copy(superblock, 0x78, 0, 16)
  // metadata_csum (mkfs.ext4's default here): s_checksum at 0x3FC covers the bytes before it.
  if (superblock.readUInt32LE(0x64) & 0x400) superblock.writeUInt32LE(crc32cRaw(superblock.subarray(0, 0x3fc)), 0x3fc)
  writeAt(image, at, superblock)
}

const PAYLOADS = ['\n::error::x', '\r::add-mask::x', '\u0085::warning::x', '\u2028::stop-commands::x', '##[error]x', '\n\u00a0::notice::x', '\u202e::debug::x']

/** 72 bytes of name: random, or a payload (UTF-16LE) among random bytes. */
const gptName = fc.oneof(
  fc.uint8Array({ minLength: 72, maxLength: 72 }),
  fc.tuple(fc.constantFrom(...PAYLOADS), fc.uint8Array({ minLength: 0, maxLength: 40 })).map(([payload, noise]) => {
    const bytes = Buffer.alloc(72)
    Buffer.from(noise).copy(bytes)
    Buffer.from(payload, 'utf16le').copy(bytes, Math.min(noise.length, 72 - payload.length * 2))
    return new Uint8Array(bytes)
  })
)
/** 16 bytes of label: random, or a payload (UTF-8) with random bytes around it. */
const extLabel = fc.oneof(
  fc.uint8Array({ minLength: 16, maxLength: 16 }),
  fc.tuple(fc.constantFrom(...PAYLOADS), fc.uint8Array({ minLength: 0, maxLength: 4 })).map(([payload, noise]) => {
    const bytes = Buffer.alloc(16)
    Buffer.from(noise).copy(bytes)
    Buffer.from(payload, 'utf8').copy(bytes, noise.length)
    return new Uint8Array(bytes)
  })
)

function expectSafeOutput(result: { status: number | null; stdout: string; stderr: string }, allowed: number[]): void {
  const output = result.stdout + result.stderr
  expect(allowed, output).toContain(result.status)
  expect(runnerCommands(output), output).toEqual([])
  expect(output).not.toMatch(/unexpected error|\n\s+at .+:\d+:\d+/)
  expect(hasUnsafeText(output.replace(/[\n\t]/g, '')), output).toBe(false)
}

describe('random bytes in labels and GPT names', () => {
  let work: string
  let image: string
  let size: number
  let rootNumber: number
  let rootOffset: number
  let ca: CaFixture

  beforeAll(async () => {
    ca = makeRootCa({ keyType: 'ec-p256' })
    work = await scratchDir('credbake-fuzz-labels-')
    image = path.join(work, 'fuzz.img')
    size = 20 * MiB
    writeFileSync(image, '')
    truncateSync(image, size)
    run('sfdisk', ['-q', image], { input: 'label: gpt\nsize=1MiB, type=L, name=p1\nsize=16MiB, type=L, name=rootfs\n' })
    const root = sfdiskJson(image).partitions[1]!
    rootNumber = nodeNumber(root.node)
    rootOffset = root.start * SECTOR
    const fs = path.join(work, 'root.ext4')
    makeFileSystem(fs, { fs: 'ext4', size: 16 * MiB, label: 'rootfs' })
    placeAt(image, rootOffset, fs)
  })
  afterAll(async () => {
    cleanupPki()
    await cleanupScratch()
  })

  it('the raw edits leave a valid table and file system (so the properties test what they mean to)', () => {
    setGptName(image, size, 0, Buffer.from('renamed'.padEnd(36, '\0'), 'utf16le'))
    setExtLabel(image, rootOffset, Buffer.from('relabelled'.padEnd(16, '\0')))
    expect(sfdiskJson(image).partitions[0]?.name).toBe('renamed')
    expect(run('e2label', [`${image}?offset=${rootOffset}`]).trim() || run('dumpe2fs', ['-h', `${image}?offset=${rootOffset}`])).toMatch(/relabelled/)
  })

  it('inspect (text and JSON): no command, no stack trace, no raw control character', async () => {
    await runProperty(
      'inspect of random labels',
      fc.record({ name: gptName, label: extLabel }),
      async ({ name, label }) => {
        setGptName(image, size, 0, Buffer.from(name))
        setExtLabel(image, rootOffset, Buffer.from(label))
        const text = runCli(['inspect', image])
        expectSafeOutput(text, [0])
        const json = runCli(['inspect', '--json', image])
        expectSafeOutput(json, [0])
        // The JSON still says what the image holds (cut at the first NUL, as the readers do).
        const layout = JSON.parse(json.stdout) as { partitions: Array<{ name: string | null }> }
        const expected = Buffer.from(name).toString('utf16le').split('\0')[0] ?? ''
        expect(layout.partitions[0]?.name ?? '').toBe(expected)
      },
      {
        numRuns: 12,
        timeLimitMs: 20_000,
        examples: PAYLOADS.map((payload) => ({
          name: new Uint8Array(Buffer.from(payload.padEnd(36, '\0'), 'utf16le')),
          label: new Uint8Array(Buffer.from(payload.padEnd(16, '\0')).subarray(0, 16))
        }))
      }
    )
  })

  it('bake into the partition (its label and name in the log): no command, no stack trace', async () => {
    let count = 0
    await runProperty(
      'bake with random labels',
      fc.record({ name: gptName, label: extLabel }),
      async ({ name, label }) => {
        setGptName(image, size, 1, Buffer.from(name))
        setExtLabel(image, rootOffset, Buffer.from(label))
        const manifest = path.join(work, 'one.csv')
        writeFileSync(manifest, 'serial\nF-1\n')
        const out = path.join(work, `out-${FUZZ_SEED}-${count++}`)
        const result = runCli([
          'bake',
          '--manifest',
          manifest,
          '--fleet-ca-cert',
          ca.certPath,
          '--fleet-ca-key',
          ca.keyPath,
          '--image',
          image,
          '--partition',
          String(rootNumber),
          '--output-dir',
          out
        ])
        // A label is only text to credbake: the bake succeeds whatever it holds.
        expectSafeOutput(result, [0])
      },
      { numRuns: 4, timeLimitMs: 25_000 }
    )
  })
})

// ---- manifest values ---------------------------------------------------------------------------

/** Characters that make values interesting: letters, spaces of every kind, controls, format characters. */
const VALUE_CHARS = [
  'a',
  'B',
  '7',
  '-',
  '.',
  ',',
  '"',
  "'",
  ':',
  '#',
  '{',
  '&',
  '*',
  '\\',
  'é',
  '日',
  ' ',
  '\t',
  '\u00a0',
  '\u3000',
  '\u2009',
  '\n',
  '\r',
  '\u0000',
  '\u001b',
  '\u007f',
  '\u0085',
  '\u009b',
  '\u200b',
  '\u200d',
  '\u200e',
  '\u202a',
  '\u202e',
  '\u2066',
  '\u2069',
  '\u2060',
  '\ufeff',
  '\u00ad',
  '\u2028',
  '\u2029'
]
const value = fc.array(fc.constantFrom(...VALUE_CHARS), { minLength: 1, maxLength: 12 }).map((chars) => chars.join(''))

function render(format: ManifestFormat, site: string): string {
  switch (format) {
    case 'csv':
      return `serial,site\nA1,"${site.replace(/"/g, '""')}"\n`
    case 'json':
      return `[{"serial": "A1", "site": ${JSON.stringify(site)}}]\n`
    case 'jsonl':
      return `${JSON.stringify({ serial: 'A1', site })}\n`
    case 'yaml':
      return `- serial: A1\n  site: "${[...site].map((c) => (/[ -~]/.test(c) && c !== '"' && c !== '\\' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)).join('')}"\n`
  }
}

describe('random manifest values in a field the subject uses', () => {
  it("the same decision in every format, the rule's decision, never shown raw", async () => {
    await runProperty(
      'manifest values',
      value,
      async (site) => {
        const misleading = misleadingCharIn(site) !== undefined || edgeSpaceOf(site) !== undefined
        for (const format of ['csv', 'json', 'jsonl', 'yaml'] as const) {
          let read: string | ManifestError
          try {
            read = parseDeviceManifest(render(format, site), `/fleet/m.${format}`, format, { textFields: ['site'] })[0]?.fields.site ?? ''
          } catch (error) {
            expect(error, format).toBeInstanceOf(ManifestError)
            read = error as ManifestError
          }
          if (misleading) {
            expect(read, `${format} accepted ${JSON.stringify(site)}`).toBeInstanceOf(ManifestError)
            const message = (read as ManifestError).message
            expect(message).toMatch(/field "site": value/)
            expect(hasUnsafeText(message), message).toBe(false)
          } else {
            // CSV reads a CRLF inside quotes as LF: a value with CR is refused anyway.
            expect(read, format).toBe(site)
          }
        }
      },
      { numRuns: 400, timeLimitMs: 15_000 }
    )
  })
})
