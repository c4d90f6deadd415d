// The action as a runner runs it: `node dist/index.js`, INPUT_* variables, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files; under Node 20 and under Node 24 (GitHub's node24 runtime).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeIntermediateCa, makeRootCa, opensslVerify, certtoolInfo, type CaFixture } from '../helpers/pki.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { NODES, runAction } from '../helpers/run.js'
import { extractTar, splitPems } from '../helpers/outputs.js'

let root: CaFixture
let intermediate: CaFixture
let otherRoot: CaFixture
let serverCa: CaFixture
let work: string
let manifest: string

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Acme Fleet Root/O=Acme' })
  intermediate = makeIntermediateCa(root, { keyType: 'ec-p384', subject: '/CN=Acme Fleet Issuing CA/O=Acme' })
  otherRoot = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Some Other Root' })
  serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=OTA server CA' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-e2e-'))
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial,device-id,region\nSN-0001,,eu\nSN-0002,aa:bb:cc:dd:ee:02,us\nSN-0003,dev-3,eu\n')
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

describe.each(NODES)('the action under %s', (_name, node) => {
  it('bakes tar overlays signed by a root fleet CA, with outputs, summary and a valid manifest', () => {
    const out = path.join(work, `out-tar-${_name}`)
    const run = runAction(
      {
        manifest,
        'fleet-ca-cert': root.certPem,
        'fleet-ca-key': root.keyPem,
        'server-ca': serverCa.certPath,
        'gateway-url': 'https://gateway.example.com:8000',
        'output-dir': out
      },
      { node }
    )
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.outputs.devices).toBe('3')
    expect(run.outputs.manifest).toBe(path.join(out, 'credbake-manifest.json'))
    expect(run.outputs.certificates).toBe(path.join(out, 'certificates.pem'))
    expect(run.outputs['output-dir']).toBe(out)
    expect(run.outputs['fleet-ca-sha256']).toBe(new X509Certificate(root.certPem).fingerprint256.replace(/:/g, '').toLowerCase())

    const doc = readValidManifest(run.outputs.manifest as string)
    expect(doc.devices.map((d: { serial: string }) => d.serial)).toEqual(['SN-0001', 'SN-0002', 'SN-0003'])
    expect(doc.devices[1].deviceId).toBe('aa:bb:cc:dd:ee:02')
    expect(doc.counts.devices).toBe(3)

    for (const device of doc.devices) {
      const files = extractTar(path.join(out, device.output.path))
      const names = files.map((f) => f.name)
      expect(names).toEqual([
        'var/',
        'var/sota/',
        'var/sota/import/',
        'var/sota/import/client.pem',
        'var/sota/import/pkey.pem',
        'var/sota/import/root.crt',
        'var/sota/import/gateway.url'
      ])
      for (const entry of files) {
        expect(entry.uid).toBe(0)
        expect(entry.gid).toBe(0)
      }
      const key = files.find((f) => f.name.endsWith('pkey.pem'))
      expect(key?.mode).toBe(0o600)
      expect(key?.content.toString()).toMatch(/^-----BEGIN PRIVATE KEY-----/)
      expect(files.find((f) => f.name.endsWith('client.pem'))?.mode).toBe(0o644)
      expect(files.find((f) => f.name.endsWith('root.crt'))?.content.toString()).toBe(serverCa.certPem)
      expect(files.find((f) => f.name.endsWith('gateway.url'))?.content.toString()).toBe('https://gateway.example.com:8000\n')
      const client = files.find((f) => f.name.endsWith('client.pem'))?.content.toString() ?? ''
      expect(splitPems(client)).toHaveLength(1)
      expect(new X509Certificate(client).subject).toBe(`CN=${device.deviceId}`)
    }

    const certs = splitPems(readFileSync(run.outputs.certificates as string, 'utf8'))
    expect(certs).toHaveLength(3)
    const verified = opensslVerify(certs, { trustedPem: root.certPem })
    expect(verified.ok, verified.output).toBe(true)
    expect(certtoolInfo(certs.join(''))).toContain('Subject: CN=SN-0001')

    expect(run.summary).toContain('<table>')
    expect(run.summary).toContain('SN-0002')
    expect(run.summary).toContain(doc.devices[0].certificate.sha256)
    expect(run.summary).toContain(doc.fleetCa.sha256)
    // The temp folder for secrets is gone.
    expect(readdirSync(run.runnerTemp)).toEqual([])
  })
})

describe('an intermediate fleet CA', () => {
  it('puts the chain into client.pem so that a verifier trusting only the root accepts the device', () => {
    const out = path.join(work, 'out-dir-intermediate')
    const run = runAction({
      manifest,
      'fleet-ca-cert': intermediate.chainPem,
      'fleet-ca-key': intermediate.keyPath,
      format: 'dir',
      'output-dir': out
    })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const doc = readValidManifest(run.outputs.manifest as string)
    expect(doc.fleetCa.intermediate).toBe(true)
    expect(doc.profile.signatureAlgorithm).toMatch(/SHA384/i)
    for (const device of doc.devices) {
      const dir = path.join(out, device.output.path, 'var/sota/import')
      const client = readFileSync(path.join(dir, 'client.pem'), 'utf8')
      const [leaf, ...chain] = splitPems(client)
      expect(chain).toEqual([intermediate.certPem])
      // Trust only the root: the intermediate must come from client.pem.
      const withChain = opensslVerify([leaf as string], { trustedPem: root.certPem, untrustedPems: chain })
      expect(withChain.ok, withChain.output).toBe(true)
      const withoutChain = opensslVerify([leaf as string], { trustedPem: root.certPem })
      expect(withoutChain.ok).toBe(false)
      expect(statSync(path.join(dir, 'pkey.pem')).mode & 0o777).toBe(0o600)
      expect(statSync(path.join(dir, 'client.pem')).mode & 0o777).toBe(0o644)
      expect(existsSync(path.join(dir, 'root.crt'))).toBe(false)
    }
    // Not the other root.
    const certs = splitPems(readFileSync(run.outputs.certificates as string, 'utf8'))
    expect(opensslVerify(certs, { trustedPem: otherRoot.certPem, untrustedPems: [intermediate.certPem] }).ok).toBe(false)
  })
})
