// Every device key type under a root and an intermediate fleet CA, every CA key type, and CSRs:
// each certificate must pass `openssl verify -x509_strict -purpose sslclient` trusting only the
// root, and GnuTLS `certtool -i` must parse it.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FleetCa } from '../../src/ca/types.js'
import { CredbakeError, ManifestError } from '../../src/errors.js'
import { generateDeviceKeyPair, generateDeviceKeyPairAsync } from '../../src/issue/keys.js'
import { buildProfile } from '../../src/issue/profile.js'
import type { IssuedCredential } from '../../src/issue/types.js'
import { KEY_TYPES, type KeyType } from '../../src/settings/types.js'
import { certtoolInfo, cleanupPki, makeCsr, makeIntermediateCa, makePkiDir, makeRootCa, opensslText, opensslVerify, type CaFixture, type FixtureKeyType } from '../helpers/pki.js'
import { issueCredential, loadFixtureCa, makeDevice } from './support.js'

afterAll(cleanupPki)

/** RSA key generation is slow: a couple of RSA devices prove the same as many. */
function countFor(keyType: KeyType): number {
  if (keyType === 'rsa-4096') return 1
  if (keyType.startsWith('rsa')) return 2
  return 25
}

const DEVICE_SPKI_ALGORITHM: Record<KeyType, RegExp> = {
  'ec-p256': /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-256/,
  'ec-p384': /Public Key Algorithm: id-ecPublicKey[\s\S]*NIST CURVE: P-384/,
  'rsa-2048': /Public Key Algorithm: rsaEncryption\s+Public-Key: \(2048 bit\)/,
  'rsa-3072': /Public Key Algorithm: rsaEncryption\s+Public-Key: \(3072 bit\)/,
  'rsa-4096': /Public Key Algorithm: rsaEncryption\s+Public-Key: \(4096 bit\)/,
  ed25519: /Public Key Algorithm: ED25519/
}

function issueMany(ca: FleetCa, keyType: KeyType, count: number): IssuedCredential[] {
  const profile = buildProfile({ keyType, subject: 'CN={device-id},O=Acme Devices,C=DE', lifetime: { kind: 'days', days: 90 } }, ca)
  return Array.from({ length: count }, (_, i) => issueCredential(ca, profile, makeDevice(`${keyType}-${i}`, { 'device-id': `dev-${keyType}-${i}` })))
}

/** openssl verify (strict, sslclient) trusting only `root`, certtool parse, key pair consistency. */
function expectAccepted(credentials: IssuedCredential[], root: CaFixture, intermediates: CaFixture[]): void {
  const result = opensslVerify(
    credentials.map((credential) => credential.certificatePem),
    { trustedPem: root.certPem, untrustedPems: intermediates.map((intermediate) => intermediate.certPem) }
  )
  expect(result.rejected, result.output).toEqual([])
  expect(result.ok).toBe(true)
  const report = certtoolInfo(credentials.map((credential) => credential.certificatePem).join(''))
  expect(report.match(/X\.509 Certificate Information:/g)?.length).toBe(credentials.length)
  for (const credential of credentials) {
    const x509 = new X509Certificate(credential.certificatePem)
    expect(x509.subject).toContain(`CN=${credential.device.deviceId}`)
    if (credential.privateKeyPem !== undefined) expect(x509.checkPrivateKey(createPrivateKey(credential.privateKeyPem))).toBe(true)
  }
}

describe('each device key type, under a root and under an intermediate fleet CA', () => {
  let root: CaFixture
  let intermediate: CaFixture
  let rootCa: FleetCa
  let intermediateCa: FleetCa
  beforeAll(() => {
    root = makeRootCa({ keyType: 'ec-p256' })
    intermediate = makeIntermediateCa(root, { keyType: 'ec-p384' })
    rootCa = loadFixtureCa(root, { kind: 'days', days: 90 })
    intermediateCa = loadFixtureCa(intermediate, { kind: 'days', days: 90 })
  })

  it.each([...KEY_TYPES])('%s', (keyType) => {
    const underRoot = issueMany(rootCa, keyType, countFor(keyType))
    expectAccepted(underRoot, root, [])
    const underIntermediate = issueMany(intermediateCa, keyType, countFor(keyType))
    // Only the root is trusted: the intermediate must come from the (untrusted) chain.
    expectAccepted(underIntermediate, root, [intermediate])
    expect(opensslVerify([underIntermediate[0]?.certificatePem ?? ''], { trustedPem: root.certPem }).ok).toBe(false)
    const text = opensslText(underIntermediate[0]?.certificatePem ?? '')
    expect(text).toMatch(DEVICE_SPKI_ALGORITHM[keyType])
    expect(text).toMatch(/Signature Algorithm: ecdsa-with-SHA384/)
    expect(underRoot[0]?.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/)
  })
})

describe('each fleet CA key type', () => {
  const caKeyTypes: Array<[FixtureKeyType, RegExp]> = [
    ['ec-p256', /ecdsa-with-SHA256/],
    ['ec-p384', /ecdsa-with-SHA384/],
    ['ec-p521', /ecdsa-with-SHA512/],
    ['rsa-2048', /sha256WithRSAEncryption/],
    ['rsa-3072', /sha256WithRSAEncryption/],
    ['ed25519', /Signature Algorithm: ED25519/]
  ]
  it.each(caKeyTypes)('%s root and an intermediate of that type', (caKeyType, algorithm) => {
    const root = makeRootCa({ keyType: caKeyType })
    const ca = loadFixtureCa(root)
    const credentials = [...issueMany(ca, 'ec-p256', 5), ...issueMany(ca, 'ed25519', 2), ...issueMany(ca, 'rsa-2048', 1)]
    expectAccepted(credentials, root, [])
    expect(opensslText(credentials[0]?.certificatePem ?? '')).toMatch(algorithm)

    const intermediate = makeIntermediateCa(makeRootCa({ keyType: 'ec-p256' }), { keyType: caKeyType })
    const fromIntermediate = issueMany(loadFixtureCa(intermediate), 'ec-p256', 3)
    expectAccepted(fromIntermediate, intermediate.issuer as CaFixture, [intermediate])
  })
})

describe('device CSRs', () => {
  let root: CaFixture
  let ca: FleetCa
  beforeAll(() => {
    root = makeRootCa({ keyType: 'ec-p256' })
    ca = loadFixtureCa(root)
  })

  it.each([
    ['ec-p256', 'ec-p256'],
    ['ec-p256', 'ec-p384'],
    ['rsa-2048', 'rsa-3072'],
    ['ed25519', 'ed25519']
  ] as Array<[KeyType, FixtureKeyType]>)('key-type %s signs a %s CSR: its key, the profile subject, no private key', (keyType, csrKeyType) => {
    const csr = makeCsr({ keyType: csrKeyType, subject: '/CN=ignored-by-profile/O=Evil Corp' })
    const device = makeDevice('SN-CSR', { 'device-id': 'csr-device' }, { csr: csr.csrPath })
    const credential = issueCredential(ca, buildProfile({ keyType, subject: 'CN={device-id}', lifetime: { kind: 'days', days: 30 } }, ca), device)
    expect(credential.privateKeyPem).toBeUndefined()
    const x509 = new X509Certificate(credential.certificatePem)
    expect(x509.checkPrivateKey(createPrivateKey(csr.key.pem))).toBe(true)
    expect(x509.subject).toBe('CN=csr-device')
    expectAccepted([credential], root, [])
  })

  function csrRefusal(keyType: KeyType, csrPath: string): CredbakeError {
    const device = makeDevice('SN-BAD-CSR', {}, { csr: csrPath })
    try {
      issueCredential(ca, buildProfile({ keyType, subject: 'CN={device-id}', lifetime: { kind: 'days', days: 30 } }, ca), device)
    } catch (error) {
      expect(error).toBeInstanceOf(ManifestError)
      const refusal = error as CredbakeError
      expect(refusal.serial).toBe('SN-BAD-CSR')
      expect(refusal.file).toBe('devices.csv')
      expect(refusal.message).toContain('SN-BAD-CSR')
      expect(refusal.message).toContain(csrPath)
      return refusal
    }
    throw new Error('expected the CSR to be refused')
  }

  it('refuses a tampered CSR, a missing file, a non-CSR and a key of another family, naming device and path', () => {
    const dir = makePkiDir()
    const csr = makeCsr({ keyType: 'ec-p256', subject: '/CN=original-name', dir })
    // Change one letter of the signed subject: the signature no longer covers the request.
    const der = Buffer.from(csr.csrPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64')
    const at = der.indexOf(Buffer.from('original-name'))
    expect(at).toBeGreaterThan(0)
    der[at] = 'O'.charCodeAt(0)
    const tamperedPath = path.join(dir, 'tampered.csr.pem')
    writeFileSync(tamperedPath, `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`)
    expect(csrRefusal('ec-p256', tamperedPath).message).toMatch(/invalid signature/)

    expect(csrRefusal('ec-p256', path.join(dir, 'missing.csr.pem')).message).toMatch(/: not found/)
    expect(csrRefusal('ec-p256', root.certPath).message).toMatch(/no CERTIFICATE REQUEST block/)
    const garbagePath = path.join(dir, 'garbage.csr.pem')
    writeFileSync(garbagePath, 'not a csr')
    expect(csrRefusal('ec-p256', garbagePath).message).toMatch(/no PEM block/)
    expect(csrRefusal('rsa-2048', csr.csrPath).message).toMatch(/has an EC P-256 key, but key-type is rsa-2048/)
    // The untouched CSR is fine.
    expect(readFileSync(csr.csrPath, 'utf8')).toContain('CERTIFICATE REQUEST')
  })
})

describe('device key generation', () => {
  it.each(['ec-p256', 'ec-p384', 'ed25519', 'rsa-2048'] as KeyType[])('%s sync and async: SPKI DER and PKCS#8 PEM of one key', async (keyType) => {
    for (const pair of [generateDeviceKeyPair(keyType), await generateDeviceKeyPairAsync(keyType)]) {
      expect(pair.keyType).toBe(keyType)
      expect(pair.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n[\s\S]+-----END PRIVATE KEY-----\n$/)
      const derived = createPrivateKey(pair.privateKeyPem)
      expect(derived.asymmetricKeyType).toBe(keyType.startsWith('ec') ? 'ec' : keyType.startsWith('rsa') ? 'rsa' : 'ed25519')
      expect(createPublicKey(derived).export({ type: 'spki', format: 'der' }).equals(pair.spkiDer)).toBe(true)
    }
  })
})
