// cRLNumber never repeats and never goes backwards: across reruns, across a resumed run whose
// journal lost its end (the number in crl.pem still counts), and when a number was journaled but
// its files never written (the next CRL skips it). Every CRL checked by openssl against the CA.
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { encodeRecord } from '../../src/journal/journal.js'
import { bake } from '../../src/pipeline/bake.js'
import type { Reporter } from '../../src/pipeline/reporter.js'
import { refreshCrl } from '../../src/revocation/refresh.js'
import { revokeDevice } from '../../src/revocation/revoke.js'
import { parseSettings, readKeyReference, readPem } from '../../src/settings/parse.js'
import { verifyOutputs } from '../../src/verify/verify.js'
import type { ReviewManifest } from '../../src/shapes/review.js'
import { readCrl } from '../../src/x509/crl.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { opensslCrlText, opensslCrlVerify, opensslReasons } from '../x509/support.js'

let ca: CaFixture
let work: string
const reporter: Reporter = { info: () => {}, warning: () => {}, progress: () => {} }

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Numbers fleet' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-crl-numbers-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

async function bakeInto(out: string, serials: string[], crl = 'true', warnings: string[] = []) {
  const manifest = path.join(work, `${path.basename(out)}.csv`)
  writeFileSync(manifest, ['serial', ...serials, ''].join('\n'))
  const settings = parseSettings(
    { manifest, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, 'output-dir': out, format: 'tar', 'validity-days': '10', concurrency: '1', crl },
    { baseDir: work, tempRoot: work }
  )
  return bake(settings, { ...reporter, warning: (message) => void warnings.push(message) })
}

function crlOf(out: string): { number: bigint | undefined; entries: number; text: string } {
  const pem = readFileSync(path.join(out, 'crl.pem'), 'utf8')
  const check = opensslCrlVerify(ca.certPem, pem)
  expect(check.ok, check.output).toBe(true)
  const parsed = readCrl(readFileSync(path.join(out, 'crl.der')))
  return { number: parsed.number, entries: parsed.entries.length, text: opensslCrlText(pem) }
}

describe('cRLNumber', () => {
  it('grows by one with every rerun, also when nothing changed', async () => {
    const out = path.join(work, 'reruns')
    for (const expected of [1n, 2n, 3n]) {
      await bakeInto(out, ['N-1', 'N-2'])
      expect(crlOf(out).number).toBe(expected)
    }
  })

  it('a number journaled whose files were never written is not used again', async () => {
    const out = path.join(work, 'lost-write')
    await bakeInto(out, ['L-1'])
    // What a run leaves when it dies between journaling the CRL and writing crl.pem.
    appendFileSync(
      path.join(out, 'credbake-journal.jsonl'),
      encodeRecord({
        type: 'crl',
        run: 'x',
        at: new Date().toISOString(),
        number: '7',
        thisUpdate: new Date().toISOString(),
        nextUpdate: new Date().toISOString(),
        entries: 0,
        sha256: '0'.repeat(64)
      })
    )
    await bakeInto(out, ['L-1'])
    expect(crlOf(out).number).toBe(8n)
  })

  it('a resumed run whose journal lost its end: the number in crl.pem still counts, the cut device is listed as never written', async () => {
    const out = path.join(work, 'resume')
    await bakeInto(out, ['S-1', 'S-2', 'S-3'])
    expect(crlOf(out).number).toBe(1n)
    // Cut the journal before the last device's written record: its complete and crl records go too.
    const journal = path.join(out, 'credbake-journal.jsonl')
    const lines = readFileSync(journal, 'utf8').split('\n')
    const lastWritten = lines.findLastIndex((line) => line.startsWith('{"type":"written"'))
    const cutSerial = (JSON.parse(lines[lastWritten] as string) as { serial: string }).serial
    writeFileSync(journal, `${lines.slice(0, lastWritten).join('\n')}\n`)
    const result = await bakeInto(out, ['S-1', 'S-2', 'S-3'])
    expect(result.skipped).toBe(2)
    const crl = crlOf(out)
    expect(crl.number).toBe(2n)
    expect(crl.entries).toBe(1)
    const review = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8')) as ReviewManifest
    const superseded = review.superseded.find((entry) => entry.serial === cutSerial)
    expect(superseded?.reason).toBe('never-written')
    const reasons = new Map([...opensslReasons(crl.text)].map(([serial, reason]) => [serial.toLowerCase().replace(/^0+/, ''), reason]))
    expect(reasons.get(superseded!.serialNumber.replace(/^0+/, ''))).toBe('Superseded')
    expect(review.crl?.number).toBe('2')
  })

  it('a bake without crl that supersedes certificates warns that crl.pem is out of date; the number stays', async () => {
    const out = path.join(work, 'stale')
    await bakeInto(out, ['T-1', 'T-2'])
    const quiet: string[] = []
    await bakeInto(out, ['T-1', 'T-2'], 'false', quiet)
    expect(quiet.join('\n')).not.toMatch(/crl\.pem/)
    const warned: string[] = []
    await bakeInto(out, ['T-1'], 'false', warned)
    expect(warned.join('\n')).toMatch(/crl\.pem \(CRL number 1\) does not list the certificates this bake superseded: sign a new one with credbake crl/)
    expect(crlOf(out).number).toBe(1n)
  })
})

describe('revoke and crl in an output-dir with registration exports', () => {
  it('the review written again keeps the exports (the AWS template from the fleet CA) and verify passes', async () => {
    const out = path.join(work, 'with-exports')
    const manifest = path.join(work, 'with-exports.csv')
    writeFileSync(manifest, 'serial\nE-1\nE-2\n')
    const settings = parseSettings(
      {
        manifest,
        'fleet-ca-cert': ca.certPath,
        'fleet-ca-key': ca.keyPath,
        'output-dir': out,
        format: 'tar',
        'validity-days': '10',
        concurrency: '1',
        exports: 'aws-iot,azure-dps'
      },
      { baseDir: work, tempRoot: work }
    )
    await bake(settings, reporter)
    const sums = readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')
    await revokeDevice({ outputDir: out, serial: 'E-2', reason: 'keyCompromise' })
    expect(readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).toBe(sums)
    await refreshCrl({ outputDir: out, fleetCaCert: readPem('fleet-ca-cert', ca.certPath, (p) => p, false), fleetCaKey: readKeyReference(ca.keyPath, (p) => p), days: 7 })
    expect(readFileSync(path.join(out, 'SHA256SUMS'), 'utf8')).toBe(sums)
    const review = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8')) as ReviewManifest
    expect(review.exported?.flatMap((item) => item.files.map((file) => file.path))).toContain('exports/aws-iot-template.json')
    const summary = await verifyOutputs({ manifest: path.join(out, 'credbake-manifest.json'), fleetCaCert: ca.certPath, concurrency: 1 })
    expect(summary.problems).toEqual([])
    expect(summary.failed).toBe(0)
  })
})
