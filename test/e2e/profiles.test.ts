// Each key type end to end through the bundled CLI, a CSR row, the flat layout, subject and SAN
// templates, and the summary's row cap for big fleets.
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { certtoolInfo, cleanupPki, makeCsr, makeRootCa, opensslText, opensslVerify, type CaFixture } from '../helpers/pki.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { runAction, runCli } from '../helpers/run.js'
import { extractTar, splitPems } from '../helpers/outputs.js'
import { KEY_TYPES } from '../../src/settings/types.js'
import { SUMMARY_MAX_ROWS } from '../../src/review/summary.js'

let ca: CaFixture
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p384', subject: '/CN=Profiles Root/O=Acme' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-profiles-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

const KEY_CHECKS: Record<string, (key: ReturnType<typeof createPublicKey>) => boolean> = {
  'ec-p256': (key) => key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1',
  'ec-p384': (key) => key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'secp384r1',
  'rsa-2048': (key) => key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 2048,
  'rsa-3072': (key) => key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 3072,
  'rsa-4096': (key) => key.asymmetricKeyType === 'rsa' && key.asymmetricKeyDetails?.modulusLength === 4096,
  ed25519: (key) => key.asymmetricKeyType === 'ed25519'
}

describe('key types end to end', () => {
  it.each([...KEY_TYPES])('%s', (keyType) => {
    const manifest = path.join(work, `${keyType}.csv`)
    writeFileSync(manifest, `serial\n${keyType}-a\n`)
    const out = path.join(work, `out-${keyType}`)
    const run = runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--key-type', keyType, '--output-dir', out])
    expect(run.status, run.stderr).toBe(0)
    const doc = readValidManifest(path.join(out, 'credbake-manifest.json'))
    expect(doc.profile.keyType).toBe(keyType)
    const files = extractTar(path.join(out, doc.devices[0].output.path))
    const certPem = files.find((f) => f.name.endsWith('client.pem'))?.content.toString() as string
    const keyPem = files.find((f) => f.name.endsWith('pkey.pem'))?.content.toString() as string
    const cert = new X509Certificate(certPem)
    const publicKey = createPublicKey(createPrivateKey(keyPem))
    expect(KEY_CHECKS[keyType]?.(publicKey)).toBe(true)
    // The key in pkey.pem is the certificate's.
    expect(publicKey.export({ type: 'spki', format: 'der' }).equals(cert.publicKey.export({ type: 'spki', format: 'der' }))).toBe(true)
    const verified = opensslVerify([certPem], { trustedPem: ca.certPem })
    expect(verified.ok, verified.output).toBe(true)
    certtoolInfo(certPem)
    const text = opensslText(certPem)
    // P-384 CA: SHA-384, whatever the device key.
    expect(text).toContain('ecdsa-with-SHA384')
    if (keyType.startsWith('rsa')) expect(text).toMatch(/Digital Signature, Key Encipherment/)
    else expect(text).toMatch(/X509v3 Key Usage: critical\s+Digital Signature\s*\n/)
  })
})

describe('templates, CSR rows and the flat layout', () => {
  it('signs a CSR row without generating a key, renders subject and SAN templates, writes the flat layout', () => {
    const csr = makeCsr({ keyType: 'ec-p256', subject: '/CN=ignored' })
    const manifest = path.join(work, 'mixed.json')
    writeFileSync(
      manifest,
      JSON.stringify({
        devices: [
          { serial: 'F-1', 'device-id': 'aa:bb:cc:00:00:01', site: 'berlin' },
          { serial: 'F-2', site: 'porto', csr: csr.csrPath }
        ]
      })
    )
    const out = path.join(work, 'out-flat')
    const run = runAction({
      manifest,
      'fleet-ca-cert': ca.certPem,
      'fleet-ca-key': ca.keyPem,
      layout: 'flat',
      'credentials-dir': '/etc/device/tls',
      subject: 'CN={device-id},OU={site},O=Acme',
      san: 'DNS:{serial}.devices.example.com,URI:urn:acme:{device-id}',
      format: 'dir',
      'output-dir': out
    })
    expect(run.status, run.stdout).toBe(0)
    const doc = readValidManifest(run.outputs.manifest as string)
    const [generated, fromCsr] = doc.devices
    expect(generated.certificate.keySource).toBe('generated')
    expect(fromCsr.certificate.keySource).toBe('csr')
    expect(generated.files.map((f: { path: string }) => f.path)).toEqual(['/etc/device/tls/cert.pem', '/etc/device/tls/chain.pem', '/etc/device/tls/key.pem'])
    // No key for the CSR device: it keeps its own.
    expect(fromCsr.files.map((f: { path: string }) => f.path)).toEqual(['/etc/device/tls/cert.pem', '/etc/device/tls/chain.pem'])
    const csrCert = new X509Certificate(readFileSync(path.join(out, 'devices/F-2/etc/device/tls/cert.pem')))
    expect(csrCert.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(csr.key.pem).export({ type: 'spki', format: 'der' }))).toBe(true)
    const cert = new X509Certificate(readFileSync(path.join(out, 'devices/F-1/etc/device/tls/cert.pem')))
    expect(cert.subject.split('\n').sort()).toEqual(['CN=aa:bb:cc:00:00:01', 'O=Acme', 'OU=berlin'])
    expect(cert.subjectAltName).toBe('DNS:F-1.devices.example.com, URI:urn:acme:aa:bb:cc:00:00:01')
    expect(csrCert.subject).toContain('CN=F-2')
    expect(opensslVerify(splitPems(readFileSync(run.outputs.certificates as string, 'utf8')), { trustedPem: ca.certPem }).ok).toBe(true)
  })

  it('caps the summary table for big fleets and escapes what it shows', () => {
    const count = SUMMARY_MAX_ROWS + 25
    const manifest = path.join(work, 'big.csv')
    writeFileSync(manifest, `serial,org\n${Array.from({ length: count }, (_, i) => `B-${i},<b>x&y</b>`).join('\n')}\n`)
    const run = runAction({
      manifest,
      'fleet-ca-cert': ca.certPem,
      'fleet-ca-key': ca.keyPem,
      subject: 'CN={device-id},O={org},OU=R<&>D',
      'output-dir': path.join(work, 'out-big')
    })
    expect(run.status, run.stdout).toBe(0)
    expect(run.outputs.devices).toBe(String(count))
    const rows = run.summary.match(/<tr><td>B-/g) ?? []
    expect(rows).toHaveLength(SUMMARY_MAX_ROWS)
    expect(run.summary).toContain('25 more devices are not shown here')
    // The subject template is shown, escaped.
    expect(run.summary).toContain('O={org},OU=R&#60;&#38;&#62;D')
    expect(run.summary).not.toContain('R<&>D')
    expect(Buffer.byteLength(run.summary)).toBeLessThan(1 << 20)
  })
})
