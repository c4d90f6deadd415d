// An exec: signer program that writes 400 MB to stderr with no newline before it answers: credbake
// (the bundled CLI) holds only a bounded tail of it. The program itself reads credbake's peak RSS
// (VmHWM of its parent's /proc status) once the flood has been read, and the bake goes on to
// complete. Before the tail was bounded the whole text was kept (455-870 MB of RSS).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliAsync } from '../helpers/faults.js'
import { cleanupPki, generateKey, makePkiDir, makeRootCa, type CaFixture, type KeyFixture } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'
import { checkOutputDir } from '../robustness/invariants.js'

const SIGNER = path.join(ROOT, 'test/fixtures/signers/faulty-signer.mjs')
const FLOOD = 400 * 1000 * 1000
const RSS_LIMIT_KIB = 256 * 1024

let work: string
let key: KeyFixture
let ca: CaFixture

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-exec-stderr-'))
  const dir = makePkiDir('credbake-exec-stderr-ca-')
  key = generateKey('ec-p256', { dir, name: 'fleet' })
  ca = makeRootCa({ key, dir, subject: '/CN=stderr flood root' })
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

describe('exec: a signer program flooding stderr', () => {
  it('400 MB without a newline: credbake stays under 256 MiB of RSS, says what it left out, and the bake completes', async () => {
    const serials = ['FLOOD-1', 'FLOOD-2', 'FLOOD-3']
    const manifest = path.join(work, 'devices.csv')
    writeFileSync(manifest, `serial\n${serials.join('\n')}\n`)
    const out = path.join(work, 'out')
    const rssFile = path.join(work, 'credbake-vmhwm')
    const result = await runCliAsync(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', `exec:${SIGNER}`, '--format', 'tar', '--output-dir', out], {
      env: { CREDBAKE_TEST_SIGNER_KEY: key.path, CREDBAKE_TEST_SIGNER_MODE: 'good', CREDBAKE_TEST_SIGNER_STDERR_BYTES: String(FLOOD), CREDBAKE_TEST_SIGNER_RSS_FILE: rssFile }
    })
    expect(result.status, result.stderr.slice(-2000)).toBe(0)
    const peakKib = Number(readFileSync(rssFile, 'utf8').trim())
    expect(peakKib).toBeGreaterThan(0)
    expect(peakKib).toBeLessThan(RSS_LIMIT_KIB)
    // The log gets the end of the line (cut) and how much was left out, not 400 MB.
    expect(result.stdout.length + result.stderr.length).toBeLessThan(1 << 20)
    expect(result.stdout + result.stderr).toMatch(/signer program: …x{100}/)
    expect(result.stdout + result.stderr).toMatch(/\(\d{9} characters of an unfinished stderr line not shown\)/)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  }, 180_000)
})
