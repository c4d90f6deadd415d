// The journal reader under damage and at its edges: a changed byte, an empty line, a line without
// its checksum, a checksummed line that is not JSON or of no known type; each stops both the
// review and the resume state with a JournalDamageError naming file:line, leaving no review file
// behind. And a journal of several read chunks (lines across chunk boundaries, one line longer
// than a chunk): the same review as the records say, damage found on the right line.
import { createHash } from 'node:crypto'
import { appendFileSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JOURNAL_FILE, JournalDamageError, encodeRecord, readJournal, scanJournal } from '../../src/journal/journal.js'
import type { IssuedRecord, JournalRecord, WrittenRecord } from '../../src/journal/records.js'
import { loadJournalState } from '../../src/journal/state.js'
import { writeReviewFromJournal } from '../../src/review/from-journal.js'
import { cleanupScratch, scratchDir } from '../helpers/images.js'
import { fakePem, header, reviewScenarios } from './journal-fixture.js'

let work: string
let count = 0
beforeAll(async () => {
  work = await scratchDir('credbake-journal-damage-')
})
afterAll(async () => {
  await cleanupScratch()
})

function outputDirWith(journal: string | Buffer): string {
  const out = path.join(work, `out-${++count}`)
  mkdirSync(out)
  writeFileSync(path.join(out, JOURNAL_FILE), journal)
  return out
}

/** A line with a correct checksum around any text (what a buggy writer could have made). */
function summed(json: string): string {
  const sum = createHash('sha256').update(json).digest('hex').slice(0, 32)
  return `${json.slice(0, -1)},"sum":"${sum}"}\n`
}

async function expectDamage(out: string, line: number, problem: RegExp): Promise<void> {
  const file = path.join(out, JOURNAL_FILE)
  for (const attempt of [() => writeReviewFromJournal(out, header('tar'), new Set(['S1', 'S2'])), () => loadJournalState(out)]) {
    const error = await attempt().then(
      () => undefined,
      (caught: unknown) => caught
    )
    expect(error).toBeInstanceOf(JournalDamageError)
    const damage = error as JournalDamageError
    expect(damage.journal).toBe(file)
    expect(damage.lineNumber).toBe(line)
    expect(damage.message).toContain(`${file} is damaged at line ${line}`)
    expect(damage.message).toMatch(problem)
  }
  // Nothing of a review is left: no manifest, no temp or spill file.
  expect(readdirSync(out)).toEqual([JOURNAL_FILE])
}

const resume = reviewScenarios().find((scenario) => scenario.name === 'resume')!
const lines = resume.journal
  .split('\n')
  .slice(0, -1)
  .map((line) => `${line}\n`)

describe('a damaged journal stops the review and the resume state, naming file:line', () => {
  it('a changed byte in any kind of record', async () => {
    for (const at of [1, 2, 7, 14, lines.length - 1]) {
      const damaged = [...lines]
      // A digit of a SHA-256 or a letter of a timestamp: the line still parses as JSON.
      damaged[at - 1] = damaged[at - 1]!.replace(/"at":"2026/, '"at":"2027')
      expect(damaged[at - 1]).not.toBe(lines[at - 1])
      await expectDamage(outputDirWith(damaged.join('')), at, /checksum does not match/)
    }
  })

  it('an empty line, a line without its checksum', async () => {
    await expectDamage(outputDirWith([lines[0], lines[1], '\n', ...lines.slice(2)].join('')), 3, /the line is empty/)
    await expectDamage(outputDirWith([lines[0], lines[1]!.replace(/,"sum":"[0-9a-f]{32}"\}\n$/, '}\n'), ...lines.slice(2)].join('')), 2, /no checksum/)
  })

  it('a checksummed line that is not JSON, or of an unknown type', async () => {
    await expectDamage(outputDirWith([lines[0], lines[1], summed('{"type":"issued","run":"r",broken}'), ...lines.slice(2)].join('')), 3, /not JSON/)
    await expectDamage(outputDirWith([lines[0], lines[1], summed('{"type":"written","run":"r","at":}'), ...lines.slice(2)].join('')), 3, /not JSON/)
    await expectDamage(outputDirWith([lines[0], summed('{"type":"forgotten","run":"r"}'), ...lines.slice(1)].join('')), 2, /record type is unknown/)
  })
})

it('two readings of a journal tell whether it changed in between (the review reads it twice)', async () => {
  // A journal that ends with a whole line (the resume one ends with a torn append).
  const journal = reviewScenarios().find((scenario) => scenario.name === 'overwrite')!.journal
  const out = outputDirWith(journal)
  const file = path.join(out, JOURNAL_FILE)
  const visit = (): void => undefined
  const first = await scanJournal(out, visit)
  expect(first.lines).toBe(journal.split('\n').length - 1)
  expect(await scanJournal(out, visit, undefined, { checksums: false })).toEqual(first)
  // Same size, another modification time: a rewrite in place.
  utimesSync(file, new Date(), new Date(Date.now() + 5000))
  expect((await scanJournal(out, visit)).identity).not.toBe(first.identity)
  appendFileSync(file, journal.slice(journal.indexOf('\n') + 1, journal.indexOf('\n', journal.indexOf('\n') + 1) + 1))
  expect((await scanJournal(out, visit)).bytes).toBeGreaterThan(first.bytes)
})

it('readJournal yields every record, parsed, with its line number', async () => {
  const journal = reviewScenarios().find((scenario) => scenario.name === 'overwrite')!.journal
  const out = outputDirWith(journal)
  const entries = []
  for await (const entry of readJournal(out)) entries.push(entry)
  const expected = journal
    .split('\n')
    .slice(0, -1)
    .map((line, index) => {
      const { sum: _sum, ...record } = JSON.parse(line)
      return { record, line: index + 1 }
    })
  expect(entries).toEqual(expected)
})

describe('a journal of several read chunks', () => {
  // About 2 KiB per device: 6,000 devices make some 12 MiB, three 4 MiB chunks.
  const devices = 6000
  const run = '2026-11-30T09:00:00.000Z-1'
  const records: JournalRecord[] = [
    {
      type: 'run',
      run,
      at: '2026-11-30T09:00:00.000Z',
      version: '0.1.0',
      format: 2,
      identity: { fleetCaSha256: 'c'.repeat(64), format: 'tar', compress: 'none', imageSha256: null, partition: null, shard: '1/1' },
      basis: {
        keyType: 'ec-p256',
        lifetime: '365 days',
        profileSha256: 'p'.repeat(64),
        layout: 'aktualizr',
        credentialsDir: '/var/sota/import',
        serverCaSha256: null,
        gatewayUrl: null
      },
      overwrite: false
    }
  ]
  const pems: string[] = []
  for (let i = 0; i < devices; i++) {
    const serial = `CH-${i}`
    const pem = fakePem(serial)
    pems.push(pem)
    const sha256 = createHash('sha256').update(pem).digest('hex')
    // Device 4000's subject is longer than a read chunk.
    const subject = i === 4000 ? `CN=${'x'.repeat(5 << 20)}` : `CN=${serial}`
    const issued: IssuedRecord = {
      type: 'issued',
      run,
      at: '2026-11-30T09:00:01.000Z',
      serial,
      basis: { deviceId: serial, subject, sanSha256: null, csrSha256: null },
      certificate: {
        serialNumber: i.toString(16).padStart(32, '0'),
        sha256,
        subject,
        publicKeySha256: 'k'.repeat(64),
        notBefore: '2026-11-30T09:00:00.000Z',
        notAfter: '2027-11-30T09:00:00.000Z',
        keySource: 'generated',
        pem
      }
    }
    const written: WrittenRecord = {
      type: 'written',
      run,
      at: '2026-11-30T09:00:02.000Z',
      serial,
      certificateSha256: sha256,
      output: { path: `overlays/${serial}.tar`, size: 10240, sha256: createHash('sha256').update(serial).digest('hex') },
      files: [{ path: '/var/sota/import/pkey.pem', mode: '0600', owner: '0:0', sha256: null, size: 241, secret: true }]
    }
    records.push(issued, written)
  }
  const journal = records.map(encodeRecord)
  const inScope = new Set(Array.from({ length: devices }, (_, i) => `CH-${i}`))

  it('gives every device, in order, with its certificate', async () => {
    const out = outputDirWith(journal.join(''))
    const result = await writeReviewFromJournal(out, header('tar'), inScope)
    expect(result.devices).toBe(devices)
    expect(result.supersededCount).toBe(0)
    const manifest = JSON.parse(readFileSync(result.manifest, 'utf8'))
    expect(manifest.devices.map((device: { serial: string }) => device.serial)).toEqual([...inScope])
    expect(manifest.devices[4000].certificate.subject).toHaveLength(3 + (5 << 20))
    expect(readFileSync(result.certificates, 'utf8')).toBe(pems.join(''))
    const state = await loadJournalState(out)
    expect(state.live.size).toBe(devices)
    expect(state.records).toBe(records.length)
    expect(JSON.parse(state.live.get('CH-4000')!.deviceBasis).subject).toHaveLength(3 + (5 << 20))
  })

  it('finds damage on the right line, in any chunk and across chunk boundaries', async () => {
    // The lines holding the 4 MiB and 8 MiB offsets straddle chunk boundaries; the last is in the last chunk.
    const offsets: number[] = []
    let offset = 0
    for (const line of journal) {
      offsets.push(offset)
      offset += Buffer.byteLength(line)
    }
    const lineAt = (byte: number): number => offsets.findIndex((start, index) => byte >= start && byte < (offsets[index + 1] ?? Infinity)) + 1
    for (const line of [lineAt(4 << 20), lineAt(8 << 20), lineAt(offset - 1) - 1]) {
      const damaged = [...journal]
      damaged[line - 1] = damaged[line - 1]!.replace('2026-11-30T09:00:0', '2026-11-30T09:00:9')
      expect(damaged[line - 1]).not.toBe(journal[line - 1])
      const out = outputDirWith(damaged.join(''))
      for (const attempt of [() => writeReviewFromJournal(out, header('tar'), inScope), () => loadJournalState(out)]) {
        const error = (await attempt().catch((caught: unknown) => caught)) as JournalDamageError
        expect(error).toBeInstanceOf(JournalDamageError)
        expect(error.lineNumber).toBe(line)
      }
    }
  })
})
