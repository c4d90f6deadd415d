// The design's certificate profile, checked on issued certificates with three independent readers:
// @peculiar/asn1-x509, node's X509Certificate and openssl's text output (plus raw DER bytes).
import { createHash, X509Certificate } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  id_kp_clientAuth
} from '@peculiar/asn1-x509'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FleetCa } from '../../src/ca/types.js'
import { CredbakeError, FleetCaError, InputError } from '../../src/errors.js'
import { childrenOf, readSingle } from '../../src/x509/der.js'
import { buildProfile } from '../../src/issue/profile.js'
import type { IssuedCredential } from '../../src/issue/types.js'
import type { KeyType, Lifetime } from '../../src/settings/types.js'
import { certtoolInfo, cleanupPki, makeIntermediateCa, makeRootCa, opensslText, opensslVerify, type CaFixture } from '../helpers/pki.js'
import { issueCredential, loadFixtureCa, makeDevice } from './support.js'

afterAll(cleanupPki)

const DAY = 86_400_000
const ONE_YEAR: Lifetime = { kind: 'days', days: 365 }

/** Raw tag and text of notBefore / notAfter, straight from the DER. */
function validityOf(der: Buffer): Array<{ tag: number; text: string }> {
  const [tbs] = childrenOf(der, readSingle(der))
  if (!tbs) throw new Error('no tbs')
  const validity = childrenOf(der, tbs)[4]
  if (!validity) throw new Error('no validity')
  return childrenOf(der, validity).map((time) => ({ tag: time.tag, text: der.subarray(time.contentStart, time.end).toString('latin1') }))
}

function thrown(action: () => unknown): CredbakeError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(CredbakeError)
    return error as CredbakeError
  }
  throw new Error('expected an error')
}

describe('buildProfile: the profile as data', () => {
  let ca: FleetCa
  let p384: FleetCa
  beforeAll(() => {
    ca = loadFixtureCa(makeRootCa({ keyType: 'ec-p256' }), ONE_YEAR)
    p384 = loadFixtureCa(makeRootCa({ keyType: 'ec-p384' }), ONE_YEAR)
  })

  it('lists exactly the design extensions with OID, criticality and value', () => {
    const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: ONE_YEAR }, ca)
    const keyId = [...ca.keyIdentifier].map((byte) => byte.toString(16).padStart(2, '0').toUpperCase()).join(':')
    expect(profile.extensions).toEqual([
      { name: 'basicConstraints', oid: '2.5.29.19', critical: true, value: 'CA:FALSE' },
      { name: 'keyUsage', oid: '2.5.29.15', critical: true, value: 'digitalSignature' },
      { name: 'extendedKeyUsage', oid: '2.5.29.37', critical: false, value: 'clientAuth' },
      { name: 'subjectKeyIdentifier', oid: '2.5.29.14', critical: false, value: 'sha1(subjectPublicKey)' },
      { name: 'authorityKeyIdentifier', oid: '2.5.29.35', critical: false, value: `keyid:${keyId}` }
    ])
    expect(profile).toMatchObject({ keyType: 'ec-p256', backdateSeconds: 300, serialNumberBytes: 16, signatureAlgorithm: 'ecdsa-with-SHA256' })
    expect(profile.san).toBeUndefined()
    expect(Object.isFrozen(profile) && Object.isFrozen(profile.extensions[0])).toBe(true)
  })

  it('adds keyEncipherment for RSA keys, SAN only on request, SHA-384 for a P-384 CA', () => {
    expect(buildProfile({ keyType: 'rsa-3072', subject: 'CN={device-id}', lifetime: ONE_YEAR }, ca).extensions[1]?.value).toBe('digitalSignature, keyEncipherment')
    const withSan = buildProfile({ keyType: 'ed25519', subject: 'CN={device-id}', san: 'DNS:{serial}.example', lifetime: ONE_YEAR }, ca)
    expect(withSan.extensions.at(-1)).toEqual({ name: 'subjectAltName', oid: '2.5.29.17', critical: false, value: 'DNS:{serial}.example' })
    expect(buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: ONE_YEAR }, p384).signatureAlgorithm).toBe('ecdsa-with-SHA384')
  })

  it('refuses a bad key type, subject, SAN or lifetime up front', () => {
    const error = (opts: Partial<Parameters<typeof buildProfile>[0]>) =>
      thrown(() => buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: ONE_YEAR, ...opts }, ca))
    expect(error({ keyType: 'dsa-1024' as KeyType })).toMatchObject({ input: 'key-type' })
    expect(error({ subject: 'O=Acme' })).toMatchObject({ input: 'subject' })
    expect(error({ san: 'X400:x' })).toMatchObject({ input: 'san' })
    expect(error({ lifetime: { kind: 'days', days: 1.5 } })).toMatchObject({ input: 'validity-days' })
    expect(error({ lifetime: { kind: 'days', days: 1.5 } })).toBeInstanceOf(InputError)
  })
})

describe('issued certificates follow the profile', () => {
  let root: CaFixture
  let ca: FleetCa
  beforeAll(() => {
    root = makeRootCa({ keyType: 'ec-p256', days: 3650 })
    ca = loadFixtureCa(root, ONE_YEAR)
  })

  it('10,000 certificates: 16-byte positive serials, all distinct; openssl and certtool accept them', () => {
    const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id},O=Acme', lifetime: ONE_YEAR }, ca)
    const issued: IssuedCredential[] = []
    for (let i = 0; i < 10_000; i += 1) issued.push(issueCredential(ca, profile, makeDevice(`SN-${i}`)))
    const serials = new Set<string>()
    for (const credential of issued) {
      const der = credential.certificateDer
      const [tbs] = childrenOf(der, readSingle(der))
      const serial = tbs && childrenOf(der, tbs)[1]
      // INTEGER of exactly 16 content octets: no 0x00 pad (top bit clear), no shortening (first octet ≠ 0).
      expect(serial?.tag).toBe(0x02)
      expect((serial?.end ?? 0) - (serial?.contentStart ?? 0)).toBe(16)
      const first = der[serial?.contentStart ?? 0] ?? 0
      expect(first > 0 && first < 0x80).toBe(true)
      expect(credential.serialNumber).toMatch(/^[0-7][0-9a-f]{31}$/)
      serials.add(credential.serialNumber)
    }
    expect(serials.size).toBe(10_000)
    // node/OpenSSL reads the same serial numbers back.
    expect(new X509Certificate(issued[9_999]?.certificateDer ?? Buffer.alloc(0)).serialNumber.toLowerCase()).toBe(issued[9_999]?.serialNumber)

    const sample = issued.filter((_, index) => index % 50 === 0)
    const verified = opensslVerify(
      sample.map((credential) => credential.certificatePem),
      { trustedPem: root.certPem }
    )
    expect(verified.output).toContain(': OK')
    expect(verified.rejected).toEqual([])
    expect(verified.ok).toBe(true)
    const report = certtoolInfo(issued.map((credential) => credential.certificatePem).join(''))
    expect(report.match(/X\.509 Certificate Information:/g)?.length).toBe(10_000)
  })

  it.each(['ec-p256', 'rsa-2048', 'ed25519'] as KeyType[])('%s: every extension with its criticality, by asn1-x509, node and openssl', (keyType) => {
    const profile = buildProfile({ keyType, subject: 'CN={device-id},O=Acme', san: 'DNS:{serial}.devices.example.com', lifetime: ONE_YEAR }, ca)
    const credential = issueCredential(ca, profile, makeDevice('SN-EXT', { 'device-id': 'aa:bb:cc:00:11:22' }))
    const certificate = AsnConvert.parse(credential.certificateDer, Certificate)
    const extensions = certificate.tbsCertificate.extensions ?? []
    expect(certificate.tbsCertificate.version).toBe(2)
    expect(extensions.map((extension) => [extension.extnID, extension.critical])).toEqual(profile.extensions.map((spec) => [spec.oid, spec.critical]))
    const value = <T>(oid: string, type: new () => T): T => {
      const extension = extensions.find((candidate) => candidate.extnID === oid)
      if (!extension) throw new Error(`missing ${oid}`)
      return AsnConvert.parse(extension.extnValue, type)
    }
    const basicConstraints = value('2.5.29.19', BasicConstraints)
    expect(basicConstraints.cA).toBe(false)
    expect(basicConstraints.pathLenConstraint).toBeUndefined()
    const rsa = keyType.startsWith('rsa')
    expect(value('2.5.29.15', KeyUsage).toNumber()).toBe(KeyUsageFlags.digitalSignature | (rsa ? KeyUsageFlags.keyEncipherment : 0))
    expect([...value('2.5.29.37', ExtendedKeyUsage)]).toEqual([id_kp_clientAuth])
    const subjectPublicKey = new Uint8Array(certificate.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey)
    expect(Buffer.from(value('2.5.29.14', SubjectKeyIdentifier).buffer).toString('hex')).toBe(createHash('sha1').update(subjectPublicKey).digest('hex'))
    const authorityKeyId = value('2.5.29.35', AuthorityKeyIdentifier).keyIdentifier
    expect(Buffer.from(authorityKeyId?.buffer ?? new ArrayBuffer(0)).equals(ca.keyIdentifier)).toBe(true)
    expect(value('2.5.29.17', SubjectAlternativeName)[0]?.dNSName).toBe('SN-EXT.devices.example.com')

    // node:crypto's view: not a CA, clientAuth, issued and signed by the fleet CA.
    const x509 = new X509Certificate(credential.certificatePem)
    const caCertificate = new X509Certificate(root.certPem)
    expect(x509.ca).toBe(false)
    expect(x509.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']) // node returns the extended key usage here
    expect(x509.checkIssued(caCertificate)).toBe(true)
    expect(x509.verify(caCertificate.publicKey)).toBe(true)
    expect(x509.subject.split('\n')).toEqual(['O=Acme', 'CN=aa:bb:cc:00:11:22'])
    expect(x509.issuer).toBe(caCertificate.subject)
    expect(x509.subjectAltName).toBe('DNS:SN-EXT.devices.example.com')

    // openssl's view, including the authority key identifier matching the CA's SKI.
    const text = opensslText(credential.certificatePem)
    expect(text).toMatch(/X509v3 Basic Constraints: critical\n\s+CA:FALSE/)
    expect(text).toMatch(rsa ? /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/ : /X509v3 Key Usage: critical\n\s+Digital Signature\n/)
    expect(text).toMatch(/X509v3 Extended Key Usage: \n\s+TLS Web Client Authentication\n/)
    expect(text).toMatch(/X509v3 Subject Alternative Name: \n\s+DNS:SN-EXT.devices.example.com/)
    const caSki = opensslText(root.certPem).match(/Subject Key Identifier: \n\s+([0-9A-F:]+)/)?.[1]
    expect(text).toMatch(new RegExp(`Authority Key Identifier: \\n\\s+(keyid:)?${caSki}`))
    expect(text).toContain('Version: 3 (0x2)')
  })

  it('CN is the device ID; subject, fingerprints and key hash are reported correctly', () => {
    const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id},O=Acme', lifetime: ONE_YEAR }, ca)
    const credential = issueCredential(ca, profile, makeDevice('SN-CN', { 'device-id': '3f2b6c1e-9a4d-4f7a-8c51-0e6d2b9a7f10' }))
    const x509 = new X509Certificate(credential.certificatePem)
    expect(x509.subject).toContain('CN=3f2b6c1e-9a4d-4f7a-8c51-0e6d2b9a7f10')
    expect(credential.subject).toBe('CN=3f2b6c1e-9a4d-4f7a-8c51-0e6d2b9a7f10,O=Acme')
    expect(credential.sha256).toBe(x509.fingerprint256.replace(/:/g, '').toLowerCase())
    const spki = x509.publicKey.export({ type: 'spki', format: 'der' })
    expect(credential.publicKeySha256).toBe(createHash('sha256').update(spki).digest('hex'))
    expect(credential.certificatePem).toBe(x509.toString())
    expect(credential.privateKeyPem).toMatch(/^-----BEGIN PRIVATE KEY-----\n/)
    expect(credential.device.serial).toBe('SN-CN')
  })

  it('notBefore is five minutes back, notAfter per lifetime and never after the CA', () => {
    const now = new Date(Date.now() + 1234)
    const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: { kind: 'days', days: 10 } }, ca)
    const credential = issueCredential(ca, profile, makeDevice('SN-T'), now)
    const x509 = new X509Certificate(credential.certificateDer)
    const seconds = Math.floor(now.getTime() / 1000) * 1000
    expect(new Date(x509.validFrom).getTime()).toBe(seconds - 300_000)
    expect(new Date(x509.validTo).getTime()).toBe(seconds + 10 * DAY)
    expect(credential.notBefore.getTime()).toBe(seconds - 300_000)
    expect(credential.notAfter.getTime()).toBe(seconds + 10 * DAY)
    expect(validityOf(credential.certificateDer).map((time) => time.tag)).toEqual([0x17, 0x17])

    // not-after exactly at the CA's end is allowed; the CA's end is the ceiling.
    const untilCaEnd = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: { kind: 'until', notAfter: root.notAfter } }, ca)
    const atCeiling = issueCredential(ca, untilCaEnd, makeDevice('SN-C'))
    expect(atCeiling.notAfter.getTime()).toBe(root.notAfter.getTime())
    expect(new Date(new X509Certificate(atCeiling.certificateDer).validTo).getTime()).toBeLessThanOrEqual(root.notAfter.getTime())

    // A run that drifts past the CA's end stops rather than issue an outliving certificate.
    const late = thrown(() => issueCredential(ca, profile, makeDevice('SN-LATE'), new Date(root.notAfter.getTime() - DAY)))
    expect(late).toBeInstanceOf(FleetCaError)
    expect(late.input).toBe('validity-days')
    expect(late.serial).toBe('SN-LATE')
  })

  it('notBefore never precedes a freshly made CA', () => {
    const fresh = makeRootCa({ notBefore: new Date(Date.now() - 60_000), days: 30 })
    const freshCa = loadFixtureCa(fresh, { kind: 'days', days: 1 })
    const credential = issueCredential(freshCa, buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: { kind: 'days', days: 1 } }, freshCa), makeDevice('SN-F'))
    expect(credential.notBefore.getTime()).toBe(fresh.notBefore.getTime())
    expect(opensslVerify([credential.certificatePem], { trustedPem: fresh.certPem }).ok).toBe(true)
  })
})

describe('time encodings', () => {
  let forever: CaFixture
  let ca: FleetCa
  beforeAll(() => {
    forever = makeRootCa({ keyType: 'ec-p256', notAfter: new Date(Date.UTC(9999, 11, 31, 23, 59, 59)) })
    ca = loadFixtureCa(forever, { kind: 'never' })
  })

  it('`never` is GeneralizedTime 99991231235959Z, and openssl accepts it', () => {
    expect(validityOf(forever.certDer)[1]).toEqual({ tag: 0x18, text: '99991231235959Z' })
    const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: { kind: 'never' } }, ca)
    const credential = issueCredential(ca, profile, makeDevice('SN-NEVER'))
    const [notBefore, notAfter] = validityOf(credential.certificateDer)
    expect(notBefore?.tag).toBe(0x17)
    expect(notAfter).toEqual({ tag: 0x18, text: '99991231235959Z' })
    expect(credential.notAfter.toISOString()).toBe('9999-12-31T23:59:59.000Z')
    expect(opensslVerify([credential.certificatePem], { trustedPem: forever.certPem }).ok).toBe(true)
    expect(certtoolInfo(credential.certificatePem)).toContain('Not After: Fri Dec 31 23:59:59 UTC 9999')
  })

  it('UTCTime through 2049, GeneralizedTime from 2050', () => {
    const until = (iso: string) => buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: { kind: 'until', notAfter: new Date(iso) } }, ca)
    const in2049 = issueCredential(ca, until('2049-12-31T23:59:59Z'), makeDevice('SN-2049'))
    const in2050 = issueCredential(ca, until('2050-01-01T00:00:00Z'), makeDevice('SN-2050'))
    expect(validityOf(in2049.certificateDer)[1]).toEqual({ tag: 0x17, text: '491231235959Z' })
    expect(validityOf(in2050.certificateDer)[1]).toEqual({ tag: 0x18, text: '20500101000000Z' })
    expect(opensslVerify([in2049.certificatePem, in2050.certificatePem], { trustedPem: forever.certPem }).ok).toBe(true)
  })
})

describe('a P-384 fleet CA signs with SHA-384', () => {
  it('ecdsa-with-SHA384 in the certificate, verified by openssl under an intermediate', () => {
    const root = makeRootCa({ keyType: 'rsa-2048' })
    const intermediate = makeIntermediateCa(root, { keyType: 'ec-p384' })
    const ca = loadFixtureCa(intermediate, ONE_YEAR)
    const credential = issueCredential(ca, buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: ONE_YEAR }, ca), makeDevice('SN-384'))
    expect(opensslText(credential.certificatePem)).toMatch(/Signature Algorithm: ecdsa-with-SHA384/)
    expect(AsnConvert.parse(credential.certificateDer, Certificate).signatureAlgorithm.algorithm).toBe('1.2.840.10045.4.3.3')
    expect(opensslVerify([credential.certificatePem], { trustedPem: root.certPem, untrustedPems: [intermediate.certPem] }).ok).toBe(true)
  })
})
