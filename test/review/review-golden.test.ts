// The review files and the resume state made from hand-made journals (see journal-fixture.ts) are
// byte for byte what the reference implementation made of them (test/review/golden/, written by
// the review code of commit d0c6928 with UPDATE_GOLDEN=1): every kind of superseded certificate,
// resumes, an overwrite run, dir and image outputs, format-1 lines, a torn last line, odd serials.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { JOURNAL_FILE } from '../../src/journal/journal.js'
import { loadJournalState } from '../../src/journal/state.js'
import { writeReviewFromJournal } from '../../src/review/from-journal.js'
import { cleanupScratch, scratchDir } from '../helpers/images.js'
import { header, reviewScenarios } from './journal-fixture.js'

const GOLDEN = path.join(import.meta.dirname, 'golden')
const REVIEW_FILES = ['credbake-manifest.json', 'certificates.pem', 'superseded.pem', 'SHA256SUMS']
const update = process.env.UPDATE_GOLDEN === '1'

let work: string
beforeAll(async () => {
  work = await scratchDir('credbake-review-golden-')
})
afterAll(async () => {
  await cleanupScratch()
})

function golden(scenario: string, name: string, actual: string): void {
  const file = path.join(GOLDEN, scenario, name)
  if (update) {
    mkdirSync(path.dirname(file), { recursive: true })
    writeFileSync(file, actual)
    return
  }
  expect(existsSync(file), `${file} exists`).toBe(true)
  // Compared as text so that a difference shows where it is.
  expect(actual).toBe(readFileSync(file, 'utf8'))
}

describe.each(reviewScenarios())('review of the $name journal', (scenario) => {
  it('writes the same manifest, certificates.pem, superseded.pem and SHA256SUMS as the reference', async () => {
    const out = path.join(work, scenario.name)
    mkdirSync(out)
    writeFileSync(path.join(out, JOURNAL_FILE), scenario.journal)
    const result = await writeReviewFromJournal(out, header(scenario.format), new Set(scenario.inScope))
    for (const name of REVIEW_FILES) golden(scenario.name, name, readFileSync(path.join(out, name), 'utf8'))
    const summary = {
      devices: result.devices,
      supersededCount: result.supersededCount,
      firstDevices: result.firstDevices,
      files: [result.manifest, result.certificates, result.superseded, result.checksums].map((file) => path.relative(out, file))
    }
    golden(scenario.name, 'result.json', `${JSON.stringify(summary, null, 2)}\n`)
    // Nothing but the journal and the review files is left (no temp or spill file).
    expect(readdirSync(out).sort()).toEqual([JOURNAL_FILE, ...REVIEW_FILES].sort())
    // The manifest is JSON and its counts agree with the result.
    const manifest = JSON.parse(readFileSync(result.manifest, 'utf8'))
    expect(manifest.devices).toHaveLength(result.devices)
    expect(manifest.superseded).toHaveLength(result.supersededCount)
    expect(manifest.counts).toEqual({ devices: result.devices, superseded: result.supersededCount })
  })

  it('condenses the journal into the same resume state as the reference', async () => {
    const out = path.join(work, `${scenario.name}-state`)
    mkdirSync(out)
    writeFileSync(path.join(out, JOURNAL_FILE), scenario.journal)
    const state = await loadJournalState(out)
    // Revocations and CRLs came later than the reference: none in these journals, and not part of it.
    const { revocations, revokedDevices, lastCrl, ...resume } = state
    expect([revocations.size, revokedDevices.size, lastCrl]).toEqual([0, 0, undefined])
    const plain = { ...resume, live: [...state.live] }
    golden(scenario.name, 'state.json', `${JSON.stringify(plain, null, 2)}\n`)
  })
})

it('the scenarios cover every kind of superseded certificate', () => {
  if (update) return
  const reasons = new Set<string>()
  for (const scenario of reviewScenarios()) {
    const manifest = JSON.parse(readFileSync(path.join(GOLDEN, scenario.name, 'credbake-manifest.json'), 'utf8'))
    for (const entry of manifest.superseded) reasons.add(entry.reason)
  }
  expect([...reasons].sort()).toEqual(['never-written', 'not-in-manifest', 'output-redone', 'overwritten', 'reissued-changed'])
})
