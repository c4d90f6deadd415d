// Issue 4, item 3: one writer per output-dir. A second bake into a busy output-dir fails at once
// (exit 6, a message naming output-dir and the holder) while the first finishes; a lock left by a
// dead process is taken over.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { deadPid, readJournalFile, runCliAsync, startCli, type ChildResult } from '../helpers/faults.js'
import { checkOutputDir } from './invariants.js'

const LOCK_EXIT = 6 // EXIT_CODES.lock in src/errors.ts

let ca: CaFixture
let work: string
let manifest: string
let serials: string[]

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Lock Test Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-lock-'))
  // Long enough (a second or more) for a second run to start while the first holds the lock.
  serials = Array.from({ length: 400 }, (_, i) => `LK-${String(i + 1).padStart(4, '0')}`)
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial\n${serials.join('\n')}\n`)
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

const args = (out: string): string[] => ['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, '--format', 'tar']

async function waitFor(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function lockOwnerPid(out: string): number | undefined {
  try {
    return JSON.parse(readFileSync(path.join(out, 'credbake.lock'), 'utf8')).pid
  } catch {
    return undefined
  }
}

describe('one writer per output-dir', () => {
  it('a second bake fails at once with exit 6 naming output-dir and the holder; the first completes', async () => {
    const out = path.join(work, 'out-concurrent')
    const first = startCli(args(out))
    let firstDone = false
    void first.done.then(() => (firstDone = true))
    await waitFor(() => lockOwnerPid(out) === first.pid || firstDone, 'the first run to take the lock')
    expect(firstDone, 'the first run ended before a second could start: make the job longer').toBe(false)

    const second = await runCliAsync(args(out))
    const secondEndedFirst = !firstDone
    const firstResult = await first.done

    expect(second.status, second.stderr).toBe(LOCK_EXIT)
    expect(second.stderr).toContain(out)
    expect(second.stderr).toMatch(/output-dir/)
    expect(second.stderr).toContain(`pid ${first.pid}`)
    expect(second.stderr).not.toMatch(/\n\s+at /)
    expect(secondEndedFirst, 'the second run waited for the first instead of failing at once').toBe(true)

    expect(firstResult.status, firstResult.stderr).toBe(0)
    const runs = readJournalFile(out).records.filter((r) => r.type === 'run')
    expect(runs, 'only the first run wrote to the journal').toHaveLength(1)
    expect(runs[0]?.run.endsWith(`-${first.pid}`)).toBe(true)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  })

  it('of four bakes started at the same moment exactly one runs, the others fail with exit 6', async () => {
    const out = path.join(work, 'out-four')
    const results: ChildResult[] = await Promise.all([1, 2, 3, 4].map(() => runCliAsync(args(out))))
    const statuses = results.map((r) => r.status).sort()
    expect(statuses, results.map((r) => r.stderr.split('\n').slice(-2).join(' ')).join('\n')).toEqual([0, LOCK_EXIT, LOCK_EXIT, LOCK_EXIT])
    expect(readJournalFile(out).records.filter((r) => r.type === 'run')).toHaveLength(1)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  })

  it('a stale lock of a dead process on this host is taken over and the run succeeds', async () => {
    const out = path.join(work, 'out-stale')
    const small = path.join(work, 'small.csv')
    writeFileSync(small, 'serial\nST-1\nST-2\n')
    await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out]).then((r) => expect(r.status, r.stderr).toBe(0))
    const pid = deadPid()
    writeFileSync(path.join(out, 'credbake.lock'), `${JSON.stringify({ pid, host: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z' })}\n`)

    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(0)
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['ST-1', 'ST-2'] }).problems).toEqual([])
  })

  it('a torn lock (its writer died before writing its pid) is taken over', async () => {
    const out = path.join(work, 'out-torn')
    const small = path.join(work, 'small-torn.csv')
    writeFileSync(small, 'serial\nTL-1\n')
    mkdirSync(out, { recursive: true })
    writeFileSync(path.join(out, 'credbake.lock'), '{"pid": 12')
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(0)
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['TL-1'] }).problems).toEqual([])
  })

  it('a lock held by a live process is respected even when it is not a bake of ours (pid alive: refused, lock kept)', async () => {
    const out = path.join(work, 'out-live')
    const small = path.join(work, 'small-live.csv')
    writeFileSync(small, 'serial\nLV-1\n')
    mkdirSync(out, { recursive: true })
    const lock = `${JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() })}\n`
    writeFileSync(path.join(out, 'credbake.lock'), lock)
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(LOCK_EXIT)
    expect(result.stderr).toContain(`pid ${process.pid}`)
    expect(readFileSync(path.join(out, 'credbake.lock'), 'utf8')).toBe(lock)
    expect(readJournalFile(out).records).toEqual([])
  })

  it('a lock from another host cannot be checked and is respected', async () => {
    const out = path.join(work, 'out-host')
    const small = path.join(work, 'small-host.csv')
    writeFileSync(small, 'serial\nOH-1\n')
    mkdirSync(out, { recursive: true })
    writeFileSync(path.join(out, 'credbake.lock'), `${JSON.stringify({ pid: deadPid(), host: `not-${os.hostname()}`, startedAt: new Date().toISOString() })}\n`)
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(LOCK_EXIT)
    expect(result.stderr).toContain(`not-${os.hostname()}`)
    expect(result.stderr).toContain('credbake.lock')
  })
})
