// The revocation loop of one output-dir, through the real pieces: bakes with crl: true, a device
// reissued (superseded) and one that left the manifest, `credbake revoke` and `credbake crl`, the
// review and verify agreeing with the CRL, every CRL read by openssl (signature checked against
// the fleet CA) and GnuTLS, and a real nginx with ssl_crl refusing exactly the listed devices,
// before and after a reload with a newer CRL. Then the refusals of revoke, a bake after a
// revocation (held, not reissued) and reissue-revoked (a new certificate, the old one stays listed).
import { X509Certificate } from 'node:crypto'
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { readJournal } from '../../src/journal/journal.js'
import { bake, type BakeResult } from '../../src/pipeline/bake.js'
import type { Reporter } from '../../src/pipeline/reporter.js'
import { refreshCrl } from '../../src/revocation/refresh.js'
import { revokeDevice } from '../../src/revocation/revoke.js'
import { parseSettings, readKeyReference, readPem } from '../../src/settings/parse.js'
import { renderSummary } from '../../src/review/summary.js'
import type { ReviewManifest } from '../../src/shapes/review.js'
import { readPemBlocks, toPem } from '../../src/util/pem.js'
import { verifyOutputs, type VerifySummary } from '../../src/verify/verify.js'
import { readCrl } from '../../src/x509/crl.js'
import { startNginx, type ClientCredentials, type Nginx } from '../helpers/nginx.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { certtoolCrlInfo, certtoolVerifyCrl, opensslCrlText, opensslCrlVerify, opensslReasons } from '../x509/support.js'

let ca: CaFixture
let work: string
let out: string
let nginx: Nginx | undefined
const warnings: string[] = []
const reporter: Reporter = { info: () => {}, warning: (message) => void warnings.push(message), progress: () => {} }

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Revocation Test Fleet' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-revocation-'))
  out = path.join(work, 'out')
})
afterAll(async () => {
  await nginx?.stop()
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function writeManifest(rows: Array<[string, string]>): string {
  const file = path.join(work, 'devices.csv')
  writeFileSync(file, ['serial,device-id', ...rows.map((row) => row.join(',')), ''].join('\n'))
  return file
}

async function bakeFleet(rows: Array<[string, string]>, extra: Record<string, string> = {}): Promise<BakeResult> {
  const manifest = writeManifest(rows)
  const settings = parseSettings(
    { manifest, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, 'output-dir': out, format: 'dir', 'validity-days': '20', concurrency: '1', crl: 'true', ...extra },
    { baseDir: work, tempRoot: work }
  )
  return bake(settings, reporter)
}

const credentialsDir = (serial: string): string => path.join(out, 'devices', serial, 'var/sota/import')

/** A device's credentials as they are now, copied aside (a later bake may replace or remove them). */
function keep(serial: string, as: string): ClientCredentials {
  const to = path.join(work, 'kept', as)
  cpSync(credentialsDir(serial), to, { recursive: true })
  return { certPem: readFileSync(path.join(to, 'client.pem'), 'utf8'), keyPem: readFileSync(path.join(to, 'pkey.pem'), 'utf8') }
}

function serialNumberOf(credentials: ClientCredentials): string {
  const blocks = readPemBlocks(credentials.certPem)
  if ('problem' in blocks) throw new Error(blocks.problem)
  return new X509Certificate(blocks[0]!.der).serialNumber.toLowerCase().replace(/^0+/, '')
}

function manifest(): ReviewManifest {
  return JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8')) as ReviewManifest
}

const crlPem = (): string => readFileSync(path.join(out, 'crl.pem'), 'utf8')

/** openssl and GnuTLS both read the CRL and check its signature; returns its entries' reasons by serial. */
function checkedByTools(expectedNumber: bigint, expectedEntries: number): Map<string, string> {
  const pem = crlPem()
  const openssl = opensslCrlVerify(ca.certPem, pem)
  expect(openssl.ok, openssl.output).toBe(true)
  const gnutls = certtoolVerifyCrl(ca.certPem, pem)
  expect(gnutls.ok, gnutls.output).toBe(true)
  const info = certtoolCrlInfo(pem)
  expect(info.version).toBe(2)
  expect(info.number).toBe(expectedNumber)
  expect(info.count).toBe(expectedEntries)
  // crl.der is the same CRL.
  const der = readFileSync(path.join(out, 'crl.der'))
  expect(readCrl(der).number).toBe(expectedNumber)
  const reasons = opensslReasons(opensslCrlText(pem))
  return new Map([...reasons].map(([serial, reason]) => [serial.toLowerCase().replace(/^0+/, ''), reason]))
}

async function verified(): Promise<VerifySummary> {
  return verifyOutputs({ manifest: path.join(out, 'credbake-manifest.json'), fleetCaCert: ca.certPath, concurrency: 1 })
}

const NUMBERS = async (): Promise<string[]> => {
  const numbers: string[] = []
  for await (const { record } of readJournal(out)) if (record.type === 'crl') numbers.push(record.number)
  return numbers
}

describe('the CRL of an output-dir, enforced by nginx', () => {
  const clients: Record<string, ClientCredentials> = {}

  it('a first bake with crl: true writes CRL number 1 with no entries; the manifest records it and verify passes', async () => {
    const result = await bakeFleet([
      ['R-1', 'R-1'],
      ['R-2', 'R-2'],
      ['R-3', 'R-3'],
      ['R-4', 'R-4'],
      ['R-5', 'R-5']
    ])
    expect(result.crl).toMatchObject({ number: '1', entries: 0 })
    expect(checkedByTools(1n, 0).size).toBe(0)
    expect(manifest().crl).toMatchObject({ file: 'crl.pem', number: '1', entries: 0 })
    for (const serial of ['R-1', 'R-2', 'R-3', 'R-4', 'R-5']) clients[serial] = keep(serial, serial)
    const summary = await verified()
    expect(summary.problems).toEqual([])
    expect(summary.failed).toBe(0)
  })

  it('a reissued device and one that left the manifest are listed with superseded and cessationOfOperation', async () => {
    // R-4 gets another device ID (its certificate is reissued); R-5 leaves the manifest.
    const result = await bakeFleet([
      ['R-1', 'R-1'],
      ['R-2', 'R-2'],
      ['R-3', 'R-3'],
      ['R-4', 'R-4-renamed']
    ])
    expect(result.crl).toMatchObject({ number: '2', entries: 2 })
    const reasons = checkedByTools(2n, 2)
    expect(reasons.get(serialNumberOf(clients['R-4']!))).toBe('Superseded')
    expect(reasons.get(serialNumberOf(clients['R-5']!))).toBe('Cessation Of Operation')
    clients['R-4-new'] = keep('R-4', 'R-4-new')
    cpSync(path.join(out, 'crl.pem'), path.join(work, 'crl-2.pem'))
    expect((await verified()).problems).toEqual([])
  })

  it('credbake revoke marks the device revoked in the review; credbake crl lists it with its reason; verify reports it revoked, not failed', async () => {
    const { record, review } = await revokeDevice({ outputDir: out, serial: 'R-3', reason: 'keyCompromise' })
    expect(record).toMatchObject({ type: 'revoked', serial: 'R-3', reason: 'keyCompromise', serialNumber: expect.stringMatching(/^[0-9a-f]+$/) })
    expect(review?.revoked).toHaveLength(1)
    const revoked = manifest().revoked
    expect(revoked).toEqual([{ serial: 'R-3', serialNumber: record.serialNumber, sha256: record.certificateSha256, revokedAt: record.at, reason: 'keyCompromise' }])
    expect(manifest().counts).toMatchObject({ devices: 4, revoked: 1 })
    // The CRL on disk is number 2, which does not list R-3 yet: verify says so.
    const stale = await verified()
    expect(stale.problems.join('\n')).toMatch(/crl\.pem does not list exactly .* revoked \(device R-3\), is not listed/)

    const written = await refreshCrl({
      outputDir: out,
      fleetCaCert: readPem('fleet-ca-cert', ca.certPath, (p) => p, false),
      fleetCaKey: readKeyReference(ca.keyPath, (p) => p),
      days: 7
    })
    expect(written.record.number).toBe('3')
    expect(written).toMatchObject({ revoked: 1, superseded: 2 })
    const reasons = checkedByTools(3n, 3)
    expect(reasons.get(serialNumberOf(clients['R-3']!))).toBe('Key Compromise')
    expect(manifest().crl).toMatchObject({ number: '3', entries: 3 })
    const summary = await verified()
    expect(summary.problems).toEqual([])
    expect(summary.failed).toBe(0)
    expect(summary.revoked).toEqual([{ serial: 'R-3', reason: 'keyCompromise', revokedAt: record.at, active: true }])
  })

  it('nginx with ssl_crl: a live device gets 200; superseded, departed and revoked devices get 400', async () => {
    nginx = await startNginx({ clientCaPem: ca.certPem, crlPem: crlPem() })
    expect((await nginx.request(clients['R-1'])).status).toBe(200)
    expect((await nginx.request(clients['R-4-new'])).status).toBe(200)
    expect((await nginx.request(clients['R-2'])).status).toBe(200)
    for (const refused of ['R-4', 'R-5', 'R-3']) expect((await nginx.request(clients[refused])).status, refused).toBe(400)
    expect(nginx.errorLog()).toMatch(/certificate revoked/)
  })

  it('a new revocation and a CRL rerun: after a reload nginx refuses that device too', async () => {
    // As `openssl x509 -serial` shows it: octets with colons (a serial whose top nibble is 0 has an
    // odd number of hex digits here, so it is padded first).
    const hex = serialNumberOf(clients['R-2']!)
    await revokeDevice({
      outputDir: out,
      certificateSerial: hex
        .padStart(hex.length + (hex.length % 2), '0')
        .match(/../g)!
        .join(':'),
      reason: 'unspecified'
    })
    await refreshCrl({ outputDir: out, fleetCaCert: readPem('fleet-ca-cert', ca.certPath, (p) => p, false), fleetCaKey: readKeyReference(ca.keyPath, (p) => p), days: 7 })
    const reasons = checkedByTools(4n, 4)
    // No reason given: the entry carries no reasonCode (RFC 5280 §5.3.1).
    expect(reasons.has(serialNumberOf(clients['R-2']!))).toBe(true)
    expect(reasons.get(serialNumberOf(clients['R-2']!))).toBe('(none)')
    // Before the reload nginx still serves the old CRL.
    expect((await nginx!.request(clients['R-2'])).status).toBe(200)
    await nginx!.reload({ crlPem: crlPem() })
    expect((await nginx!.request(clients['R-2'])).status).toBe(400)
    expect((await nginx!.request(clients['R-1'])).status).toBe(200)
    await nginx!.stop()
  })

  it('revoke refuses an unknown serial, an unknown certificate and an already revoked one (saying when and why), exit 2', async () => {
    await expect(revokeDevice({ outputDir: out, serial: 'NOPE', reason: 'keyCompromise' })).rejects.toThrow(/serial NOPE is not a device baked into this output-dir/)
    await expect(revokeDevice({ outputDir: out, certificateSerial: '0badc0de', reason: 'keyCompromise' })).rejects.toThrow(
      /certificate-serial 0badc0de is not a certificate credbake issued/
    )
    const again = revokeDevice({ outputDir: out, serial: 'R-3', reason: 'superseded' })
    await expect(again).rejects.toBeInstanceOf(InputError)
    await expect(revokeDevice({ outputDir: out, serial: 'R-3', reason: 'superseded' })).rejects.toThrow(/already revoked: since \d{4}-.*, reason keyCompromise/)
    await expect(revokeDevice({ outputDir: out, serial: 'R-5', reason: 'superseded' })).rejects.toThrow(/R-5: the device has no live certificate/)
    await expect(revokeDevice({ outputDir: out, certificateSerial: serialNumberOf(clients['R-4']!), reason: 'superseded' })).rejects.toThrow(
      /already on the CRL \(superseded, reissued-changed\)/
    )
    // Nothing was journaled by the refusals: still the two revocations.
    let revocations = 0
    for await (const { record } of readJournal(out)) if (record.type === 'revoked') revocations++
    expect(revocations).toBe(2)
  })

  it('a bake after revocations keeps the revoked devices as they are (said in the log), and the CRL number keeps growing', async () => {
    warnings.length = 0
    const result = await bakeFleet([
      ['R-1', 'R-1'],
      ['R-2', 'R-2'],
      ['R-3', 'R-3'],
      ['R-4', 'R-4-renamed']
    ])
    expect(result.revokedHeld).toBe(2)
    expect(warnings.join('\n')).toMatch(/2 revoked devices are kept revoked and not baked again \(R-3, R-2\).*reissue-revoked/)
    // Not reissued: the same certificates are in their outputs.
    expect(readFileSync(path.join(credentialsDir('R-3'), 'client.pem'), 'utf8')).toBe(clients['R-3']!.certPem)
    expect(result.crl?.number).toBe('5')
    // The job summary says it: the CRL's number and entries, the revoked devices and that they were kept.
    const summary = renderSummary({
      header: result.header,
      devices: result.firstDevices,
      total: result.devices,
      kept: result.skipped,
      superseded: { count: result.superseded, byReason: result.supersededReasons, path: 'out/superseded.pem' },
      manifestPath: 'out/credbake-manifest.json',
      certificatesPath: 'out/certificates.pem',
      outputDir: 'out',
      revocation: { revoked: result.revoked, held: result.revokedHeld, ...(result.crl ? { crl: { ...result.crl, path: 'out/crl.pem' } } : {}) }
    })
    expect(summary).toMatch(/CRL number 5 with 4 entries in <code>out\/crl\.pem<\/code>/)
    expect(summary).toMatch(/2 devices are revoked; this bake kept 2 of them revoked and did not bake them again/)
    expect(summary).toMatch(/<tr><td>R-3<\/td><td><code>[0-9a-f]+<\/code><\/td><td>keyCompromise<\/td>/)
    checkedByTools(5n, 4)
    expect(await NUMBERS()).toEqual(['1', '2', '3', '4', '5'])
    expect((await verified()).problems).toEqual([])
  })

  it('reissue-revoked issues a revoked device anew on purpose; its revoked certificate stays listed with its reason', async () => {
    await expect(bakeFleet([['R-1', 'R-1']], { 'reissue-revoked': 'R-1' })).rejects.toThrow(/reissue-revoked names "R-1", which is not a revoked device/)
    const result = await bakeFleet(
      [
        ['R-1', 'R-1'],
        ['R-2', 'R-2'],
        ['R-3', 'R-3'],
        ['R-4', 'R-4-renamed']
      ],
      { 'reissue-revoked': 'R-3' }
    )
    expect(result.revokedHeld).toBe(1)
    expect(readFileSync(path.join(credentialsDir('R-3'), 'client.pem'), 'utf8')).not.toBe(clients['R-3']!.certPem)
    const reasons = checkedByTools(BigInt(result.crl!.number), 4)
    expect(reasons.get(serialNumberOf(clients['R-3']!))).toBe('Key Compromise')
    const review = manifest()
    expect(review.superseded.find((entry) => entry.serial === 'R-3')).toMatchObject({ reason: 'reissued-changed', changed: ['revoked'] })
    const summary = await verified()
    expect(summary.problems).toEqual([])
    // R-3's revoked certificate is no longer its active one; R-2 is still revoked.
    expect(summary.revoked.map(({ serial, active }) => [serial, active])).toEqual([
      ['R-3', false],
      ['R-2', true]
    ])
    // A second bake does not hold R-3 any more: it has a live certificate that is not revoked.
    const again = await bakeFleet([
      ['R-1', 'R-1'],
      ['R-2', 'R-2'],
      ['R-3', 'R-3'],
      ['R-4', 'R-4-renamed']
    ])
    expect(again.revokedHeld).toBe(1)
    expect(again.skipped).toBe(4)
  })

  it('verify finds a crl.pem that is older than the manifest says, or whose signature is broken', async () => {
    const good = crlPem()
    // An older CRL (number 2) put back in place.
    writeFileSync(path.join(out, 'crl.pem'), readFileSync(path.join(work, 'crl-2.pem'), 'utf8'))
    expect((await verified()).problems.join('\n')).toMatch(/crl\.pem has CRL number 2, older than number \d+ the manifest records/)
    // The current CRL with one bit of its signature flipped.
    const der = Buffer.from(readFileSync(path.join(out, 'crl.der')))
    der[der.length - 3]! ^= 0x01
    writeFileSync(path.join(out, 'crl.pem'), toPem('X509 CRL', der))
    expect((await verified()).problems.join('\n')).toMatch(/crl\.pem's signature does not verify with the fleet CA's public key/)
    // Verified against another CA: said, not guessed.
    writeFileSync(path.join(out, 'crl.pem'), good)
    const other = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Revocation Test Fleet' })
    const wrongTrust = await verifyOutputs({ manifest: path.join(out, 'credbake-manifest.json'), fleetCaCert: other.certPath, concurrency: 1 })
    expect(wrongTrust.problems.join('\n')).toMatch(/crl\.pem cannot be checked: fleet-ca-cert does not hold the manifest's fleet CA/)
    expect((await verified()).problems).toEqual([])
  })
})
