// Issue 4, item 2: resume and overwrite. A rerun keeps complete, unchanged outputs and redoes the
// rest; every certificate ever issued stays accounted for (active, or superseded with a reason);
// resume: false refuses a non-empty output-dir unless overwrite: true; resuming outputs made with
// other settings is refused, naming output-dir.
import { appendFileSync, chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction } from '../helpers/run.js'
import { splitPems } from '../helpers/outputs.js'
import { readJournalFile, runCliAsync, type ChildResult } from '../helpers/faults.js'
import { checkOutputDir, type CheckResult } from './invariants.js'

let ca: CaFixture
let otherCa: CaFixture
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Resume Test Root' })
  otherCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Another Fleet Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-resume-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function manifestOf(name: string, serials: string[], extra = ''): string {
  const file = path.join(work, name)
  writeFileSync(file, `serial${extra ? ',device-id' : ''}\n${serials.map((s) => (extra ? `${s},${extra}-${s}` : s)).join('\n')}\n`)
  return file
}

function bake(manifest: string, out: string, extra: string[] = [], fleet: CaFixture = ca): Promise<ChildResult> {
  return runCliAsync(['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.certPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out, ...extra])
}

async function bakeOk(manifest: string, out: string, extra: string[] = [], fleet: CaFixture = ca): Promise<ChildResult> {
  const result = await bake(manifest, out, extra, fleet)
  expect(result.status, result.stderr).toBe(0)
  return result
}

/** serial → active certificate sha256, from the manifest. */
function activeBySerial(check: CheckResult): Map<string, string> {
  return new Map(check.manifest.devices.map((d: any) => [d.serial, d.certificate.sha256]))
}

function supersededList(check: CheckResult): Array<{ serial: string; sha256: string; reason: string }> {
  return check.manifest.superseded.map((s: any) => ({ serial: s.serial, sha256: s.sha256, reason: s.reason }))
}

/** Everything in output-dir, with contents, to show a refused run changed nothing. */
function snapshot(dir: string): Record<string, string> {
  const result: Record<string, string> = {}
  for (const name of readdirRecursive(dir)) result[name] = readFileSync(path.join(dir, name)).toString('base64')
  return result
}
function readdirRecursive(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((name) => statSync(path.join(dir, name)).isFile())
    .sort()
}

const SERIALS = ['RS-01', 'RS-02', 'RS-03', 'RS-04']

describe('resume: false', () => {
  it('refuses a non-empty output-dir without overwrite, and changes nothing', async () => {
    const manifest = manifestOf('nr.csv', SERIALS)
    const out = path.join(work, 'out-nr')
    await bakeOk(manifest, out)
    const before = snapshot(out)
    const refused = await bake(manifest, out, ['--no-resume'])
    expect(refused.status, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`output-dir ${out}`)
    expect(refused.stderr).toMatch(/not empty/)
    expect(refused.stderr).toMatch(/overwrite/)
    expect(snapshot(out)).toEqual(before)
  })

  it('refuses a folder that holds other files (no journal) without overwrite', async () => {
    const manifest = manifestOf('nr-other.csv', SERIALS)
    const out = path.join(work, 'out-nr-other')
    mkdirSync(out)
    writeFileSync(path.join(out, 'firmware.wic'), 'not ours')
    const refused = await bake(manifest, out, ['--no-resume'])
    expect(refused.status, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`output-dir ${out}`)
    expect(readFileSync(path.join(out, 'firmware.wic'), 'utf8')).toBe('not ours')
  })

  it('with overwrite (action inputs resume: false, overwrite: true) replaces everything and lists the earlier certificates as overwritten', async () => {
    const manifest = manifestOf('ow.csv', SERIALS)
    const out = path.join(work, 'out-ow')
    await bakeOk(manifest, out)
    const first = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(first.problems).toEqual([])

    const run = runAction({ manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, 'output-dir': out, resume: 'false', overwrite: 'true' })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const second = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS, tempRoots: [run.runnerTemp] })
    expect(second.problems).toEqual([])
    // All new certificates; the old ones superseded as "overwritten", in superseded.pem.
    for (const [serial, sha] of activeBySerial(second)) expect(sha).not.toBe(activeBySerial(first).get(serial))
    expect(supersededList(second).sort((a, b) => a.serial.localeCompare(b.serial))).toEqual(
      [...activeBySerial(first)].map(([serial, sha256]) => ({ serial, sha256, reason: 'overwritten' }))
    )
    expect(run.stdout).toMatch(/4 earlier certificates .* superseded/)
  })

  it('with overwrite into an empty folder is a plain first run', async () => {
    const manifest = manifestOf('ow-empty.csv', SERIALS)
    const out = path.join(work, 'out-ow-empty')
    await bakeOk(manifest, out, ['--no-resume', '--overwrite'])
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(check.problems).toEqual([])
    expect(check.superseded.size).toBe(0)
  })
})

describe('resume with different settings is refused, naming output-dir', () => {
  const cases: Array<{ name: string; change: string; rerun: (manifest: string, out: string) => Promise<ChildResult> }> = [
    { name: 'another fleet CA', change: 'fleetCaSha256', rerun: (m, o) => bake(m, o, [], otherCa) },
    { name: 'another format (tar → dir)', change: 'format', rerun: (m, o) => bake(m, o, ['--format', 'dir']) }
    // Key type, subject, lifetime and the bundle's inputs are no refusal: devices they shaped are
    // issued anew (test/robustness/trust.test.ts).
  ]
  it.each(cases)('$name', async ({ name, change, rerun }) => {
    const manifest = manifestOf(`ds-${change}.csv`, SERIALS)
    const out = path.join(work, `out-ds-${change}`)
    await bakeOk(manifest, out)
    const before = snapshot(out)
    const refused = await rerun(manifest, out)
    expect(refused.status, refused.stderr).toBe(2)
    expect(refused.stderr).toContain(`output-dir ${out}`)
    expect(refused.stderr).toMatch(/different settings/)
    expect(refused.stderr).toContain(change)
    expect(refused.stderr, 'the way out is named').toMatch(/overwrite/)
    expect(snapshot(out), `${name}: a refused run must not touch output-dir`).toEqual(before)
  })
})

describe('resume redoes what changed and accounts for every certificate', () => {
  it('a deleted and a modified overlay are redone (output-redone); the others are kept', async () => {
    const manifest = manifestOf('redo.csv', SERIALS)
    const out = path.join(work, 'out-redo')
    await bakeOk(manifest, out)
    const first = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    const old = activeBySerial(first)

    rmSync(path.join(out, 'overlays', 'RS-02.tar.gz'))
    appendFileSync(path.join(out, 'overlays', 'RS-03.tar.gz'), Buffer.from([0]))
    const rerun = await bakeOk(manifest, out)
    expect(rerun.stderr).toMatch(/2 of 4 devices were already complete/)

    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(check.problems).toEqual([])
    const now = activeBySerial(check)
    expect(now.get('RS-01')).toBe(old.get('RS-01'))
    expect(now.get('RS-04')).toBe(old.get('RS-04'))
    expect(now.get('RS-02')).not.toBe(old.get('RS-02'))
    expect(now.get('RS-03')).not.toBe(old.get('RS-03'))
    expect(supersededList(check).sort((a, b) => a.serial.localeCompare(b.serial))).toEqual([
      { serial: 'RS-02', sha256: old.get('RS-02'), reason: 'output-redone' },
      { serial: 'RS-03', sha256: old.get('RS-03'), reason: 'output-redone' }
    ])
    const supersededPem = splitPems(readFileSync(path.join(out, 'superseded.pem'), 'utf8'))
    expect(supersededPem).toHaveLength(2)
  })

  it('dir format: a key file whose mode was widened is redone', async () => {
    const manifest = manifestOf('redo-dir.csv', SERIALS)
    const out = path.join(work, 'out-redo-dir')
    await bakeOk(manifest, out, ['--format', 'dir'])
    const old = activeBySerial(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS }))
    chmodSync(path.join(out, 'devices', 'RS-01', 'var', 'sota', 'import', 'pkey.pem'), 0o644)
    await bakeOk(manifest, out, ['--format', 'dir'])
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(check.problems).toEqual([])
    expect(activeBySerial(check).get('RS-01')).not.toBe(old.get('RS-01'))
    expect(supersededList(check)).toEqual([{ serial: 'RS-01', sha256: old.get('RS-01'), reason: 'output-redone' }])
  })

  it('a device whose device-id changed in the manifest is redone', async () => {
    const out = path.join(work, 'out-devid')
    const manifest = manifestOf('devid.csv', SERIALS)
    await bakeOk(manifest, out)
    const old = activeBySerial(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS }))
    writeFileSync(manifest, 'serial,device-id\nRS-01,\nRS-02,renamed-2\nRS-03,\nRS-04,\n')
    await bakeOk(manifest, out)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(check.problems).toEqual([])
    expect(check.manifest.devices.find((d: any) => d.serial === 'RS-02').deviceId).toBe('renamed-2')
    expect(supersededList(check)).toEqual([{ serial: 'RS-02', sha256: old.get('RS-02'), reason: 'reissued-changed' }])
    expect(check.manifest.superseded[0].changed).toEqual(['device-id', 'subject'])
  })

  it('a device removed from the manifest: its output is removed, then its certificate is superseded (not-in-manifest)', async () => {
    const out = path.join(work, 'out-removed')
    const manifest = manifestOf('removed.csv', SERIALS)
    await bakeOk(manifest, out)
    const old = activeBySerial(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS }))
    writeFileSync(manifest, 'serial\nRS-01\nRS-02\nRS-04\n')
    const rerun = await bakeOk(manifest, out)
    expect(rerun.stderr).toMatch(/3 of 3 devices were already complete/)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['RS-01', 'RS-02', 'RS-04'] })
    expect(check.problems).toEqual([])
    expect(supersededList(check)).toEqual([{ serial: 'RS-03', sha256: old.get('RS-03'), reason: 'not-in-manifest' }])
    for (const serial of ['RS-01', 'RS-02', 'RS-04']) expect(activeBySerial(check).get(serial)).toBe(old.get(serial))
    // Nothing live holds the superseded certificate: its output is gone, and the journal says so.
    expect(existsSync(path.join(out, 'overlays', 'RS-03.tar.gz'))).toBe(false)
    expect(rerun.stderr).toMatch(/Removed the outputs of 1 devices/)
    expect(
      readJournalFile(out)
        .records.filter((r) => r.type === 'retired')
        .map((r) => (r as { serial: string }).serial)
    ).toEqual(['RS-03'])

    // Back in the manifest: it is issued anew; the retired certificate stays superseded.
    writeFileSync(manifest, `serial\n${SERIALS.join('\n')}\n`)
    await bakeOk(manifest, out)
    const back = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(back.problems).toEqual([])
    expect(supersededList(back)).toEqual([{ serial: 'RS-03', sha256: old.get('RS-03'), reason: 'not-in-manifest' }])
    expect(activeBySerial(back).get('RS-03')).not.toBe(old.get('RS-03'))
  })

  it('the journal keeps every run: superseded certificates survive later complete runs', async () => {
    const out = path.join(work, 'out-history')
    const manifest = manifestOf('history.csv', SERIALS)
    await bakeOk(manifest, out)
    rmSync(path.join(out, 'overlays', 'RS-01.tar.gz'))
    await bakeOk(manifest, out)
    await bakeOk(manifest, out)
    rmSync(path.join(out, 'overlays', 'RS-01.tar.gz'))
    await bakeOk(manifest, out)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS })
    expect(check.problems).toEqual([])
    expect(readJournalFile(out).records.filter((r) => r.type === 'issued')).toHaveLength(6)
    expect(supersededList(check).map((s) => `${s.serial} ${s.reason}`)).toEqual(['RS-01 output-redone', 'RS-01 output-redone'])
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
  })
})
