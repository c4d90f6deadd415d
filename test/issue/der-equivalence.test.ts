// The lean DER encoder against @peculiar/asn1-x509: the TBSCertificate it writes is byte-equal to
// the one the object model builds from the same inputs, and asn1-x509 round-trips every
// certificate unchanged (so the lean encoding is exactly what the object model considers DER).
import { X509Certificate } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { Certificate, GeneralName } from '@peculiar/asn1-x509'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { FleetCa } from '../../src/ca/types.js'
import { childrenOf, readSingle, smallInteger, unsignedInteger, x509Time, oid } from '../../src/x509/der.js'
import { buildProfile } from '../../src/issue/profile.js'
import type { KeyType } from '../../src/settings/types.js'
import { cleanupPki, makeIntermediateCa, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { referenceTbs } from './asn1-reference.js'
import { issueCredential, loadFixtureCa, makeDevice } from './support.js'

afterAll(cleanupPki)

function tbsAndSpkiOf(der: Buffer): { tbs: Buffer; spki: Buffer; serial: Buffer } {
  const [tbsNode] = childrenOf(der, readSingle(der))
  if (!tbsNode) throw new Error('no tbs')
  const fields = childrenOf(der, tbsNode)
  const serial = fields[1]
  const spki = fields[6]
  if (!serial || !spki) throw new Error('short tbs')
  return { tbs: der.subarray(tbsNode.start, tbsNode.end), spki: der.subarray(spki.start, spki.end), serial: der.subarray(serial.contentStart, serial.end) }
}

describe('lean DER encoder = asn1-x509 object model', () => {
  let root: CaFixture
  let ca: FleetCa
  beforeAll(() => {
    root = makeRootCa({ keyType: 'ec-p256' })
    ca = loadFixtureCa(makeIntermediateCa(root, { keyType: 'ec-p384' }), { kind: 'days', days: 400 })
  })

  it.each(['ec-p256', 'ec-p384', 'rsa-2048', 'ed25519'] as KeyType[])('%s device certificate with SAN: TBS bytes equal, round trip unchanged', (keyType) => {
    const profile = buildProfile(
      {
        keyType,
        subject: 'CN={device-id},OU=Fleet {region},O=Acme,C=DE',
        san: 'DNS:{serial}.example.com,IP:192.0.2.1,URI:urn:dev:{device-id},email:a@example.com',
        lifetime: { kind: 'days', days: 400 }
      },
      ca
    )
    const device = makeDevice('SN-42', { 'device-id': 'device-42', region: 'EU' })
    // Inside the CA's validity, with milliseconds that must be dropped.
    const now = new Date(ca.notBefore.getTime() + 2 * 86_400_000 + 750)
    const seconds = (ms: number) => new Date(Math.floor(ms / 1000) * 1000)
    const issued = issueCredential(ca, profile, device, now)
    const { tbs, spki, serial } = tbsAndSpkiOf(issued.certificateDer)

    const reference = referenceTbs({
      serial,
      signatureAlgorithmDer: ca.signatureAlgorithmDer,
      issuerDer: ca.subjectDer,
      notBefore: seconds(now.getTime() - 300_000),
      notAfter: seconds(now.getTime() + 400 * 86_400_000),
      subject: [
        ['2.5.4.6', 'DE', 'printable'],
        ['2.5.4.10', 'Acme', 'utf8'],
        ['2.5.4.11', 'Fleet EU', 'utf8'],
        ['2.5.4.3', 'device-42', 'utf8']
      ],
      spkiDer: spki,
      rsaKey: keyType.startsWith('rsa'),
      caKeyIdentifier: ca.keyIdentifier,
      san: [
        new GeneralName({ dNSName: 'SN-42.example.com' }),
        new GeneralName({ iPAddress: '192.0.2.1' }),
        new GeneralName({ uniformResourceIdentifier: 'urn:dev:device-42' }),
        new GeneralName({ rfc822Name: 'a@example.com' })
      ]
    })
    expect(tbs.toString('hex')).toBe(reference.toString('hex'))
    expect(Buffer.from(AsnConvert.serialize(AsnConvert.parse(issued.certificateDer, Certificate))).equals(issued.certificateDer)).toBe(true)
    // And node/OpenSSL re-encodes nothing either.
    expect(new X509Certificate(issued.certificateDer).raw.equals(issued.certificateDer)).toBe(true)
  })
})

describe('DER primitives', () => {
  it('INTEGER: minimal, with a 0x00 pad when the top bit is set', () => {
    expect(unsignedInteger(Buffer.from([0x00, 0x00, 0x7f])).toString('hex')).toBe('02017f')
    expect(unsignedInteger(Buffer.from([0x80])).toString('hex')).toBe('02020080')
    expect(unsignedInteger(Buffer.from([0x00])).toString('hex')).toBe('020100')
    expect(smallInteger(2).toString('hex')).toBe('020102')
  })

  it('OID: multi-byte arcs', () => {
    expect(oid('1.2.840.113549.1.1.11').toString('hex')).toBe('06092a864886f70d01010b')
    expect(oid('2.5.29.37').toString('hex')).toBe('0603551d25')
  })

  it('Time: UTCTime through 2049, GeneralizedTime from 2050, whole seconds', () => {
    expect(x509Time(new Date('2049-12-31T23:59:59.999Z')).toString('latin1')).toBe('\u0017\u000d491231235959Z')
    expect(x509Time(new Date('2050-01-01T00:00:00Z')).toString('latin1')).toBe('\u0018\u000f20500101000000Z')
    expect(x509Time(new Date('1999-01-02T03:04:05Z')).toString('latin1')).toBe('\u0017\u000d990102030405Z')
    expect(x509Time(new Date(Date.UTC(9999, 11, 31, 23, 59, 59))).toString('latin1')).toBe('\u0018\u000f99991231235959Z')
  })
})
