// The streaming manifest reader (src/verify/manifest-scan.ts) against JSON.parse: for any JSON
// object, laid out any way and read in chunks of any size, the members it parses are JSON.parse's
// and the array elements it locates parse to JSON.parse's elements; malformed text is refused.
import { writeFileSync } from 'node:fs'
import { open } from 'node:fs/promises'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { entryTexts, readEntries, scanManifest } from '../../src/verify/manifest-scan.js'
import { cleanupScratch, scratchDir } from '../helpers/images.js'

let work: string
beforeAll(async () => {
  work = await scratchDir('credbake-scan-')
})
afterAll(async () => {
  await cleanupScratch()
})

let counter = 0
function fileWith(text: string): string {
  const file = path.join(work, `m${counter++}.json`)
  writeFileSync(file, text)
  return file
}

async function elements(file: string, scan: Awaited<ReturnType<typeof scanManifest>>, name: 'devices' | 'superseded'): Promise<unknown[] | undefined> {
  const ranges = scan[name]
  if (!ranges) return undefined
  if (ranges.length === 0) return []
  const handle = await open(file, 'r')
  try {
    const { bytes, offsets } = await readEntries(handle, file, ranges, 0, ranges.length)
    return entryTexts(bytes, offsets, 0).map((entry) => JSON.parse(entry.text))
  } finally {
    await handle.close()
  }
}

const value = fc.jsonValue({ maxDepth: 3 })
const manifestLike = fc.record(
  {
    schemaVersion: fc.constant(1),
    header: fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 4 }),
    devices: fc.array(value, { maxLength: 6 }),
    'odd "key" \\ ': value,
    superseded: fc.array(fc.dictionary(fc.string({ maxLength: 5 }), value, { maxKeys: 3 }), { maxLength: 3 })
  },
  { requiredKeys: ['schemaVersion'] }
)

describe('scanManifest', () => {
  it('agrees with JSON.parse for any layout and chunk size', async () => {
    await fc.assert(
      fc.asyncProperty(manifestLike, fc.constantFrom(undefined, 0, 2, '\t', ' \n '), fc.integer({ min: 1, max: 64 }), async (doc, indent, chunk) => {
        const file = fileWith(JSON.stringify(doc, null, indent as string | number | undefined))
        const scan = await scanManifest(file, chunk)
        const { devices, superseded, ...rest } = JSON.parse(JSON.stringify(doc)) as Record<string, unknown>
        expect(scan.members).toEqual(rest)
        expect(await elements(file, scan, 'devices')).toEqual(devices)
        expect(await elements(file, scan, 'superseded')).toEqual(superseded)
      }),
      { numRuns: 300 }
    )
  })

  it.each([
    ['', 'it is empty'],
    ['[1]', 'does not start with "{"'],
    ['{"a": 1', 'ends before its closing'],
    ['{"a": 1 "b": 2}', 'not valid JSON'],
    ['{"a": 1}}', 'follows the closing'],
    ['{"devices": [{"x": 1},]}', 'an element of "devices" was expected'],
    ['{"devices": [,{}]}', 'an element of "devices" was expected'],
    ['{"a": 1, "a": 2}', '"a" is given twice'],
    ['{"a": tru}', 'not valid JSON'],
    ['{"devices": [{"x": "unterminated}]}', 'ends before its closing'],
    ['{a: 1}', 'member name']
  ])('refuses %j (%s)', async (text, why) => {
    for (const chunk of [1, 3, 1 << 20]) {
      await expect(scanManifest(fileWith(text), chunk)).rejects.toThrow(why)
    }
  })

  it('an element that is not JSON is found when it is parsed, not by the scan', async () => {
    const file = fileWith('{"devices": [{"a": 1}, {"b": nope}]}')
    const scan = await scanManifest(file)
    expect(scan.devices?.length).toBe(2)
    await expect(elements(file, scan, 'devices')).rejects.toThrow(SyntaxError)
  })

  it('a missing file is an InputError naming it', async () => {
    await expect(scanManifest(path.join(work, 'nope.json'))).rejects.toThrow(/nope\.json cannot be read: it does not exist/)
  })
})
