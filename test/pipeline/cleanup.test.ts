// Issue 7, item 5: cleanup that always finishes. Every release step runs even when an earlier one
// throws, newest first; the error that caused the cleanup stays the one reported; and bake()
// takes its lock and secret folder inside the region that releases them.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bake } from '../../src/pipeline/bake.js'
import type { Reporter } from '../../src/pipeline/reporter.js'
import { parseSettings } from '../../src/settings/parse.js'
import { Cleanup } from '../../src/util/cleanup.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'

describe('Cleanup', () => {
  it('runs every step newest first even when one throws, and throws the first release error', async () => {
    const ran: string[] = []
    const cleanup = new Cleanup()
    cleanup.add('lock', 'L', (name) => void ran.push(name))
    cleanup.add('secrets', 'S', () => {
      ran.push('S')
      throw new Error('secrets failed')
    })
    cleanup.add('journal', 'J', async () => {
      ran.push('J')
      throw new Error('journal failed')
    })
    cleanup.add('workers', 'W', async (name) => void ran.push(name))
    await expect(cleanup.run({ failed: false })).rejects.toThrow('journal failed')
    expect(ran).toEqual(['W', 'J', 'S', 'L'])
  })

  it('after a failure, release errors are reported aside and never replace the first error', async () => {
    const reported: string[] = []
    const cleanup = new Cleanup()
    cleanup.add('lock', 0, () => {
      throw new Error('lock failed')
    })
    await expect(cleanup.run({ failed: true, onError: (name, error) => reported.push(`${name}: ${(error as Error).message}`) })).resolves.toBeUndefined()
    expect(reported).toEqual(['lock: lock failed'])
  })

  it('runs each step once', async () => {
    let count = 0
    const cleanup = new Cleanup()
    cleanup.add('x', 0, () => void count++)
    await cleanup.run({ failed: false })
    await cleanup.run({ failed: false })
    expect(count).toBe(1)
  })
})

describe('bake() releases what it holds when it fails after taking the lock', () => {
  let ca: CaFixture
  let work: string
  beforeAll(() => {
    ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Cleanup Test Root' })
    work = mkdtempSync(path.join(os.tmpdir(), 'credbake-cleanup-'))
  })
  afterAll(() => {
    cleanupPki()
    rmSync(work, { recursive: true, force: true })
  })

  it('a damaged journal: the journal error is reported, the lock and the secret folder are gone', async () => {
    const manifest = path.join(work, 'devices.csv')
    writeFileSync(manifest, 'serial\nCL-1\nCL-2\n')
    const out = path.join(work, 'out')
    const tempRoot = mkdtempSync(path.join(work, 'runner-temp-'))
    const settings = parseSettings({ manifest, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, 'output-dir': out, concurrency: '1' }, { baseDir: work, tempRoot })
    const held: string[] = []
    const reporter: Reporter = { info: () => {}, warning: () => {}, progress: () => {}, holding: (resource) => void held.push(resource.kind) }
    await bake(settings, reporter)
    // Damage the first record, then bake again.
    const journal = path.join(out, 'credbake-journal.jsonl')
    const lines = readFileSync(journal, 'utf8').split('\n')
    lines[0] = lines[0]!.replace('"type":"run"', '"type":"rux"')
    writeFileSync(journal, lines.join('\n'))
    await expect(bake(settings, reporter)).rejects.toThrow(/damaged at line 1/)
    expect(held).toEqual(['lock', 'secret-temp', 'lock', 'secret-temp'])
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(readdirSync(tempRoot)).toEqual([])
  })
})
