// Issue 7: the manifest never vouches for a stale certificate. A resume keeps a device only when
// everything that shaped its certificate and files is unchanged; shards never share an output-dir;
// a damaged journal record stops the run instead of being skipped; a format-1 journal is resumed
// by issuing every device anew. Each scenario is run as a user hits it, through the CLI.
import { X509Certificate } from 'node:crypto'
import { appendFileSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { readJournalFile, runCliAsync, type ChildResult } from '../helpers/faults.js'
import { extractTar } from '../helpers/outputs.js'
import { checkOutputDir, type CheckResult } from './invariants.js'

let ca: CaFixture
let serverCa: CaFixture
let otherServerCa: CaFixture
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Trust Test Root' })
  serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=OTA Server CA' })
  otherServerCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=New OTA Server CA' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-trust-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

const SERIALS = ['TR-01', 'TR-02', 'TR-03', 'TR-04']
const JOURNAL = 'credbake-journal.jsonl'

function manifestWithRegions(name: string, regions: Record<string, string>): string {
  const file = path.join(work, name)
  writeFileSync(file, `serial,region\n${SERIALS.map((serial) => `${serial},${regions[serial] ?? 'eu'}`).join('\n')}\n`)
  return file
}

function bake(manifest: string, out: string, extra: string[] = []): Promise<ChildResult> {
  return runCliAsync(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, ...extra])
}

async function bakeOk(manifest: string, out: string, extra: string[] = []): Promise<ChildResult> {
  const result = await bake(manifest, out, extra)
  expect(result.status, result.stderr).toBe(0)
  return result
}

function check(out: string, serials = SERIALS): CheckResult {
  const result = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials })
  expect(result.problems).toEqual([])
  return result
}

const active = (result: CheckResult): Map<string, string> => new Map(result.manifest.devices.map((d: any) => [d.serial, d.certificate.sha256]))
const superseded = (result: CheckResult): Array<{ serial: string; reason: string; changed?: string[] }> =>
  result.manifest.superseded
    .map((s: any) => ({ serial: s.serial, reason: s.reason, ...(s.changed ? { changed: s.changed } : {}) }))
    .sort((a: any, b: any) => a.serial.localeCompare(b.serial))

/** The certificate inside a device's overlay. */
function overlayCertificate(out: string, serial: string): X509Certificate {
  const entries = extractTar(path.join(out, 'overlays', `${serial}.tar.gz`))
  const client = entries.find((entry) => entry.name.endsWith('client.pem'))
  if (!client) throw new Error(`no client.pem in ${serial}'s overlay`)
  return new X509Certificate(client.content)
}

function snapshot(dir: string): Record<string, string> {
  const result: Record<string, string> = {}
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const file = path.join(dir, name)
    if (statSync(file).isFile()) result[name] = readFileSync(file).toString('base64')
  }
  return result
}

describe('a resume reissues exactly the devices whose certificate or files would differ', () => {
  it('a template field changed for one device: only it is reissued, with the new subject', async () => {
    const out = path.join(work, 'out-region')
    const subject = ['--subject', 'CN={device-id},OU={region}']
    const manifest = manifestWithRegions('region.csv', {})
    await bakeOk(manifest, out, subject)
    const before = active(check(out))

    manifestWithRegions('region.csv', { 'TR-02': 'us' })
    const rerun = await bakeOk(manifest, out, subject)
    expect(rerun.stderr).toMatch(/3 of 4 devices were already complete/)
    expect(rerun.stderr).toMatch(/1 devices were issued anew \(changed: subject\)/)
    const after = check(out)
    expect(superseded(after)).toEqual([{ serial: 'TR-02', reason: 'reissued-changed', changed: ['subject'] }])
    expect(after.manifest.superseded[0].sha256).toBe(before.get('TR-02'))
    for (const serial of ['TR-01', 'TR-03', 'TR-04']) expect(active(after).get(serial)).toBe(before.get(serial))
    // The manifest entry and the certificate on the device agree on the new subject.
    const entry = after.manifest.devices.find((d: any) => d.serial === 'TR-02')
    expect(entry.certificate.subject).toBe('CN=TR-02,OU=us')
    expect(overlayCertificate(out, 'TR-02').subject).toContain('OU=us')
  })

  it('the lifetime changed: every device is reissued, and the certificates carry the new one', async () => {
    const out = path.join(work, 'out-lifetime')
    const manifest = manifestWithRegions('lifetime.csv', {})
    await bakeOk(manifest, out, ['--validity-days', '365'])
    const first = check(out)

    await bakeOk(manifest, out, ['--validity-days', '30'])
    const after = check(out)
    expect(after.manifest.profile.lifetime).toEqual({ kind: 'days', days: 30 })
    expect(superseded(after)).toEqual(SERIALS.map((serial) => ({ serial, reason: 'reissued-changed', changed: ['lifetime'] })))
    for (const device of after.manifest.devices) {
      expect(active(first).get(device.serial)).not.toBe(device.certificate.sha256)
      const days = (Date.parse(device.certificate.notAfter) - Date.parse(device.certificate.notBefore)) / 86_400_000
      expect(Math.round(days)).toBe(30)
      expect(Date.parse(overlayCertificate(out, device.serial).validTo)).toBe(Date.parse(device.certificate.notAfter))
    }
  })

  it('the key type changed: every device is reissued with the new key type', async () => {
    const out = path.join(work, 'out-keytype')
    const manifest = manifestWithRegions('keytype.csv', {})
    await bakeOk(manifest, out)
    await bakeOk(manifest, out, ['--key-type', 'ec-p384'])
    const after = check(out)
    expect(superseded(after).map((s) => s.reason)).toEqual(SERIALS.map(() => 'reissued-changed'))
    expect(superseded(after)[0]?.changed).toContain('key-type')
    for (const serial of SERIALS) expect(overlayCertificate(out, serial).publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
  })

  it('the server CA changed: every device is reissued and gets the new root.crt', async () => {
    const out = path.join(work, 'out-serverca')
    const manifest = manifestWithRegions('serverca.csv', {})
    await bakeOk(manifest, out, ['--server-ca', serverCa.certPath])
    await bakeOk(manifest, out, ['--server-ca', otherServerCa.certPath])
    const after = check(out)
    expect(superseded(after)).toEqual(SERIALS.map((serial) => ({ serial, reason: 'reissued-changed', changed: ['server-ca'] })))
    for (const serial of SERIALS) {
      const root = extractTar(path.join(out, 'overlays', `${serial}.tar.gz`)).find((entry) => entry.name.endsWith('root.crt'))
      expect(root?.content.toString('utf8')).toBe(otherServerCa.certPem)
    }
  })

  it('nothing changed: every device is kept, nothing is superseded', async () => {
    const out = path.join(work, 'out-same')
    const manifest = manifestWithRegions('same.csv', {})
    const args = ['--subject', 'CN={device-id},OU={region}', '--validity-days', '90', '--server-ca', serverCa.certPath]
    await bakeOk(manifest, out, args)
    const rerun = await bakeOk(manifest, out, args)
    expect(rerun.stderr).toMatch(/4 of 4 devices were already complete/)
    expect(superseded(check(out))).toEqual([])
  })
})

describe('shards never share an output-dir', () => {
  it('shard 2/2 into the folder of shard 1/2 is refused before anything is issued, naming both shards', async () => {
    const out = path.join(work, 'out-shards')
    const manifest = path.join(work, 'shards.csv')
    writeFileSync(manifest, `serial\n${Array.from({ length: 12 }, (_, i) => `SH-${i}`).join('\n')}\n`)
    await bakeOk(manifest, out, ['--shard', '1/2'])
    const shardOne = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8')).devices.map((d: any) => d.serial)
    expect(shardOne.length).toBeGreaterThan(0)
    expect(shardOne.length).toBeLessThan(12)
    const before = snapshot(out)
    const refused = await bake(manifest, out, ['--shard', '2/2'])
    expect(refused.status, refused.stderr).toBe(2)
    expect(refused.stderr).toContain('shard 1/2')
    expect(refused.stderr).toContain('shard 2/2')
    expect(refused.stderr).toMatch(/own output-dir/)
    expect(refused.stderr).toMatch(/merge/)
    expect(snapshot(out), 'a refused run leaves output-dir as it was').toEqual(before)
    // Shard 2/2 in its own folder, and shard 1/2 resumed in its own: nothing is superseded.
    await bakeOk(manifest, path.join(work, 'out-shards-2'), ['--shard', '2/2'])
    await bakeOk(manifest, out, ['--shard', '1/2'])
    expect(check(out, shardOne).manifest.superseded).toEqual([])
  })
})

describe('a journal that detects damage', () => {
  async function bakedWithJournal(name: string): Promise<{ out: string; manifest: string }> {
    const out = path.join(work, name)
    const manifest = manifestWithRegions(`${name}.csv`, {})
    await bakeOk(manifest, out)
    return { out, manifest }
  }

  it('a changed byte inside an issued record in the middle stops the run (exit 5) naming the file and line', async () => {
    const { out, manifest } = await bakedWithJournal('out-damaged')
    const file = path.join(out, JOURNAL)
    const lines = readFileSync(file, 'utf8').split('\n')
    const index = lines.findIndex((line) => line.includes('"serial":"TR-02"') && line.includes('"type":"issued"'))
    expect(index).toBeGreaterThan(0)
    // One byte of the certificate PEM, as a disk or an editor might change it.
    const line = lines[index]!
    const at = line.indexOf('MII') + 10
    lines[index] = `${line.slice(0, at)}${line[at] === 'A' ? 'B' : 'A'}${line.slice(at + 1)}`
    writeFileSync(file, lines.join('\n'))
    rmSync(path.join(out, 'overlays', 'TR-02.tar.gz'))
    const damaged = readFileSync(file)
    const review = readFileSync(path.join(out, 'credbake-manifest.json'))

    const result = await bake(manifest, out)
    expect(result.status, result.stderr).toBe(5)
    expect(result.stderr).toContain(`${file} is damaged at line ${index + 1}`)
    expect(result.stderr).toMatch(/checksum/)
    expect(result.stderr).toMatch(/Restore the journal/)
    // Nothing was issued and nothing changed: the journal and the earlier run's manifest are as
    // they were (this run wrote none).
    expect(readFileSync(file).equals(damaged)).toBe(true)
    expect(readFileSync(path.join(out, 'credbake-manifest.json')).equals(review)).toBe(true)
    expect(existsSync(path.join(out, 'overlays', 'TR-02.tar.gz'))).toBe(false)
    expect(existsSync(path.join(out, 'credbake.lock')), 'the lock is released').toBe(false)
  })

  it('a line that lost its checksum or is not JSON in the middle also stops the run', async () => {
    const { out, manifest } = await bakedWithJournal('out-unsummed')
    const file = path.join(out, JOURNAL)
    const lines = readFileSync(file, 'utf8').split('\n')
    lines[2] = lines[2]!.replace(/,"sum":"[0-9a-f]{32}"\}$/, '}')
    writeFileSync(file, lines.join('\n'))
    const result = await bake(manifest, out)
    expect(result.status).toBe(5)
    expect(result.stderr).toContain('damaged at line 3')
    lines[2] = '{"type":"issued", garbage'
    writeFileSync(file, lines.join('\n'))
    const again = await bake(manifest, out)
    expect(again.status).toBe(5)
    expect(again.stderr).toContain('damaged at line 3')
  })

  it('a torn last record (no newline) is cut off and the run succeeds', async () => {
    const { out, manifest } = await bakedWithJournal('out-torn')
    const file = path.join(out, JOURNAL)
    const whole = readFileSync(file, 'utf8')
    appendFileSync(file, '{"type":"issued","run":"x","serial":"TR-0')
    rmSync(path.join(out, 'overlays', 'TR-03.tar.gz'))
    await bakeOk(manifest, out)
    const after = readFileSync(file, 'utf8')
    expect(after.startsWith(whole), 'only the torn tail was cut').toBe(true)
    expect(after).not.toContain('"serial":"TR-0"')
    expect(readJournalFile(out).badChecksums).toEqual([])
    expect(superseded(check(out))).toEqual([{ serial: 'TR-03', reason: 'output-redone' }])
  })
})

describe('an old journal (format 1, credbake 0.1)', () => {
  it('is read, and every device is issued anew with its old certificate superseded', async () => {
    const out = path.join(work, 'out-format1')
    const manifest = manifestWithRegions('format1.csv', {})
    await bakeOk(manifest, out)
    const first = active(check(out))
    // Rewrite the journal as credbake 0.1 wrote it: no checksums, no bases, the review's entry in
    // `written`, and a torn line that 0.1 ended with a newline when it reopened the journal.
    const file = path.join(out, JOURNAL)
    const records = readJournalFile(out).records as any[]
    const manifestDoc = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
    const entries = new Map(manifestDoc.devices.map((d: any) => [d.certificate.sha256, d]))
    const old = records.map((r) => {
      if (r.type === 'run')
        return {
          type: 'run',
          run: r.run,
          at: r.at,
          version: '0.1.0',
          identity: {
            fleetCaSha256: r.identity.fleetCaSha256,
            format: 'tar',
            compress: 'none',
            layout: 'aktualizr',
            credentialsDir: '/var/sota/import',
            keyType: 'ec-p256',
            subject: 'CN={device-id}',
            san: null,
            imageSha256: null,
            partition: null,
            serverCaSha256: null,
            gatewayUrl: null
          },
          overwrite: false
        }
      if (r.type === 'issued')
        return {
          type: 'issued',
          run: r.run,
          at: r.at,
          serial: r.serial,
          deviceId: r.basis.deviceId,
          certificate: { serialNumber: r.certificate.serialNumber, sha256: r.certificate.sha256, notAfter: r.certificate.notAfter, pem: r.certificate.pem }
        }
      if (r.type === 'written') return { type: 'written', run: r.run, at: r.at, serial: r.serial, certificateSha256: r.certificateSha256, entry: entries.get(r.certificateSha256) }
      return { type: r.type, run: r.run, at: r.at, devices: r.devices }
    })
    writeFileSync(file, `${old.map((r) => JSON.stringify(r)).join('\n')}\n{"type":"issued","ru\n`)
    appendFileSync(file, `${JSON.stringify({ ...old[0], run: 'second' })}\n`)

    const rerun = await bakeOk(manifest, out)
    expect(rerun.stderr).toMatch(/4 devices were issued anew \(changed: unrecorded \(journal format 1\)\)/)
    const after = check(out)
    expect(superseded(after).map((s) => `${s.serial} ${s.reason}`)).toEqual(SERIALS.map((serial) => `${serial} reissued-changed`))
    for (const serial of SERIALS) expect(active(after).get(serial)).not.toBe(first.get(serial))
  })

  it('a torn format-1 line that no run record follows is damage', async () => {
    const out = path.join(work, 'out-format1-bad')
    const manifest = manifestWithRegions('format1-bad.csv', {})
    await bakeOk(manifest, out)
    const file = path.join(out, JOURNAL)
    const records = readJournalFile(out).records as any[]
    const legacy = records.map((r) =>
      JSON.stringify({
        type: r.type,
        run: r.run,
        at: r.at,
        serial: r.serial,
        deviceId: r.basis?.deviceId,
        certificate: r.certificate,
        identity: r.identity,
        overwrite: false,
        certificateSha256: r.certificateSha256,
        entry: { output: r.output, files: [] }
      })
    )
    legacy.splice(2, 0, '{"type":"iss')
    writeFileSync(file, `${legacy.join('\n')}\n`)
    const result = await bake(manifest, out)
    expect(result.status).toBe(5)
    expect(result.stderr).toContain('damaged at line 3')
  })
})
