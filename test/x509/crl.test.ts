// The fleet CA's CRL (src/x509/crl.ts) from throwaway CAs of every key type, signed through each
// kind of signer (PEM key, SoftHSM2 token, the KMS stand-in with the real AWS SDK, a signer
// program), read back by openssl and GnuTLS, and used by both to refuse the certificates it lists.
import { createPrivateKey, generateKeyPairSync, sign, X509Certificate } from 'node:crypto'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetCa } from '../../src/ca/load.js'
import type { FleetCa } from '../../src/ca/types.js'
import { FleetCaError } from '../../src/errors.js'
import { buildProfile } from '../../src/issue/profile.js'
import type { IssuedCredential } from '../../src/issue/types.js'
import type { CaSigner } from '../../src/signer/types.js'
import { readPemBlocks, toPem } from '../../src/util/pem.js'
import {
  assembleCrl,
  buildTbsCertList,
  crlPeriod,
  crlSignatureVerifies,
  CrlContentError,
  MAX_CRL_NUMBER,
  readCrl,
  signCrl,
  type CrlEntry,
  type SignedCrl
} from '../../src/x509/crl.js'
import type { CrlReason } from '../../src/x509/crl-reasons.js'
import { startKmsServer, type KmsStandIn } from '../helpers/kms-server.js'
import { certtoolInfo, cleanupPki, generateKey, makeIntermediateCa, makeRootCa, type CaFixture, type FixtureKeyType } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'
import { DAYS_30, issueCredential, loadFixtureCa, makeDevice, pemText } from '../issue/support.js'
import { generateTokenKey, makeToken, makeTokenRootCa, SOFTHSM_MODULE, type Token } from '../signer/softhsm.js'
import { certtoolCrlInfo, certtoolVerifyCrl, certtoolVerifyWithCrl, opensslCrlText, opensslCrlVerify, opensslReasons, opensslVerifyWithCrl } from './support.js'

afterAll(cleanupPki)

const OPENSSL_REASON_TEXT: Record<CrlReason, string> = {
  unspecified: '(none)',
  keyCompromise: 'Key Compromise',
  affiliationChanged: 'Affiliation Changed',
  superseded: 'Superseded',
  cessationOfOperation: 'Cessation Of Operation'
}

/** Device certificates issued by credbake's own issuance with the fixture CA's in-memory key. */
function issueDevices(fixture: CaFixture, count: number, prefix: string): IssuedCredential[] {
  const ca = loadFixtureCa(fixture)
  const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: DAYS_30 }, ca)
  return Array.from({ length: count }, (_, i) => issueCredential(ca, profile, makeDevice(`${prefix}-${i}`)))
}

async function openCa(fixture: { chainPem: string }, key: string, extra: { passphrase?: string; pkcs11Module?: string } = {}): Promise<{ ca: FleetCa; signer: CaSigner }> {
  return openFleetCa({ cert: pemText('fleet-ca-cert', fixture.chainPem), key: pemText('fleet-ca-key', key), lifetime: DAYS_30, ...extra })
}

const REASONS: CrlReason[] = ['keyCompromise', 'superseded', 'unspecified', 'cessationOfOperation', 'affiliationChanged']

function entriesFor(devices: IssuedCredential[], revokedAt: Date): CrlEntry[] {
  return devices.map((device, i) => ({ serialNumber: device.serialNumber, revokedAt, reason: REASONS[i % REASONS.length] as CrlReason }))
}

/** Everything an independent reader must agree on, for a CRL listing `entries`. */
function expectReadable(crl: SignedCrl, ca: FleetCa, caPem: string, number: bigint, entries: CrlEntry[]): void {
  const opensslCheck = opensslCrlVerify(caPem, crl.pem)
  expect(opensslCheck.ok, opensslCheck.output).toBe(true)
  const gnutlsCheck = certtoolVerifyCrl(caPem, crl.pem)
  expect(gnutlsCheck.ok, gnutlsCheck.output).toBe(true)

  const info = certtoolCrlInfo(crl.pem)
  expect(info.version).toBe(2)
  expect(info.issuer).toBe(/Subject: ([^\n]+)/.exec(certtoolInfo(caPem))?.[1]?.trim())
  expect(info.number).toBe(number)
  expect(info.issued).toEqual(crl.thisUpdate)
  expect(info.nextAt).toEqual(crl.nextUpdate)
  expect(info.count).toBe(entries.length)
  expect(info.entries.map((entry) => entry.serial)).toEqual(entries.map((entry) => entry.serialNumber.toLowerCase()))
  expect(info.entries.map((entry) => entry.revokedAt.getTime())).toEqual(entries.map((entry) => Math.floor(entry.revokedAt.getTime() / 1000) * 1000))

  const reasons = opensslReasons(opensslCrlText(crl.pem))
  expect(Object.fromEntries(reasons)).toEqual(Object.fromEntries(entries.map((entry) => [entry.serialNumber.toLowerCase(), OPENSSL_REASON_TEXT[entry.reason]])))

  const parsed = readCrl(crl.der)
  expect(parsed.version).toBe(2)
  expect(parsed.number).toBe(number)
  expect(parsed.issuerDer.equals(ca.subjectDer)).toBe(true)
  expect(parsed.authorityKeyIdentifier?.equals(ca.keyIdentifier)).toBe(true)
  expect(parsed.innerSignatureAlgorithmDer.equals(ca.signatureAlgorithmDer)).toBe(true)
  expect(parsed.signatureAlgorithmDer.equals(ca.signatureAlgorithmDer)).toBe(true)
  expect(crlSignatureVerifies(parsed, ca.publicKey, ca.signatureHash)).toBe(true)
  const blocks = readPemBlocks(crl.pem)
  expect('problem' in blocks ? blocks : blocks.map((block) => [block.label, block.der.toString('hex')])).toEqual([['X509 CRL', crl.der.toString('hex')]])
}

describe('a CRL signed with a PEM key, for every CA key type', () => {
  it.each<[FixtureKeyType, string]>([
    ['ec-p256', 'ecdsa-with-SHA256'],
    ['ec-p384', 'ecdsa-with-SHA384'],
    ['rsa-2048', 'sha256WithRSAEncryption'],
    ['ed25519', 'ED25519']
  ])('%s: openssl and GnuTLS read it, and refuse exactly the certificates it lists', async (keyType, algorithmText) => {
    const fixture = makeRootCa({ keyType, subject: `/CN=crl ${keyType} fleet/O=credbake tests` })
    const devices = issueDevices(fixture, 6, keyType)
    const revoked = devices.slice(0, 5)
    const live = devices[5] as IssuedCredential
    const { ca, signer } = await openCa(fixture, fixture.keyPem)
    try {
      const { thisUpdate, nextUpdate } = crlPeriod(7)
      const entries = entriesFor(revoked, new Date(Date.now() - 3_600_000))
      const crl = await signCrl(ca, signer, { number: 42n, thisUpdate, nextUpdate, entries })
      expect(crl.entryCount).toBe(5)
      expect(crl.pem).toMatch(/^-----BEGIN X509 CRL-----\n/)
      expectReadable(crl, ca, fixture.certPem, 42n, entries)
      expect(opensslCrlText(crl.pem)).toContain(`Signature Algorithm: ${algorithmText}`)

      for (const device of revoked) {
        const refused = opensslVerifyWithCrl(device.certificatePem, { trustedPem: fixture.certPem, crlPem: crl.pem })
        expect(refused.ok, refused.output).toBe(false)
        expect(refused.output).toMatch(/certificate revoked/)
      }
      const accepted = opensslVerifyWithCrl(live.certificatePem, { trustedPem: fixture.certPem, crlPem: crl.pem })
      expect(accepted.ok, accepted.output).toBe(true)
      const gnutlsRefused = certtoolVerifyWithCrl(revoked[0]?.certificatePem ?? '', fixture.certPem, crl.pem)
      expect(gnutlsRefused.ok, gnutlsRefused.output).toBe(false)
      expect(gnutlsRefused.output).toMatch(/revoked/)
      const gnutlsAccepted = certtoolVerifyWithCrl(live.certificatePem, fixture.certPem, crl.pem)
      expect(gnutlsAccepted.ok, gnutlsAccepted.output).toBe(true)
    } finally {
      await signer.close()
    }
  })

  it('an intermediate fleet CA: its CRL revokes its devices (openssl -crl_check, the leaf level)', async () => {
    const root = makeRootCa({ keyType: 'ec-p384' })
    const fixture = makeIntermediateCa(root, { keyType: 'ec-p256' })
    const [revoked, live] = issueDevices(fixture, 2, 'INT') as [IssuedCredential, IssuedCredential]
    const { ca, signer } = await openCa(fixture, fixture.keyPem)
    try {
      expect(ca.isIntermediate).toBe(true)
      const entries: CrlEntry[] = [{ serialNumber: revoked.serialNumber, revokedAt: new Date(), reason: 'keyCompromise' }]
      const crl = await signCrl(ca, signer, { number: 1n, ...crlPeriod(7), entries })
      expectReadable(crl, ca, fixture.certPem, 1n, entries)
      const chain = { trustedPem: root.certPem, untrustedPem: fixture.certPem, crlPem: crl.pem }
      expect(opensslVerifyWithCrl(revoked.certificatePem, chain).output).toMatch(/certificate revoked/)
      const accepted = opensslVerifyWithCrl(live.certificatePem, chain)
      expect(accepted.ok, accepted.output).toBe(true)
    } finally {
      await signer.close()
    }
  })

  it('an empty CRL leaves revokedCertificates out (RFC 5280 §5.1.2.6) and still verifies', async () => {
    const fixture = makeRootCa({ keyType: 'ec-p256' })
    const [device] = issueDevices(fixture, 1, 'EMPTY') as [IssuedCredential]
    const { ca, signer } = await openCa(fixture, fixture.keyPem)
    try {
      const crl = await signCrl(ca, signer, { number: 7n, ...crlPeriod(1), entries: [] })
      expectReadable(crl, ca, fixture.certPem, 7n, [])
      expect(opensslCrlText(crl.pem)).toContain('No Revoked Certificates.')
      // version, signature, issuer, thisUpdate, nextUpdate, crlExtensions: no SEQUENCE of entries.
      const tbsTags = childTags(readCrl(crl.der).tbs)
      expect(tbsTags).toEqual([0x02, 0x30, 0x30, 0x17, 0x17, 0xa0])
      const accepted = opensslVerifyWithCrl(device.certificatePem, { trustedPem: fixture.certPem, crlPem: crl.pem })
      expect(accepted.ok, accepted.output).toBe(true)
    } finally {
      await signer.close()
    }
  })
})

describe('cRLNumber', () => {
  let fixture: CaFixture
  let ca: FleetCa
  let signer: CaSigner
  beforeAll(async () => {
    fixture = makeRootCa({ keyType: 'ec-p256' })
    ;({ ca, signer } = await openCa(fixture, fixture.keyPem))
  })
  afterAll(async () => {
    await signer.close()
  })

  it.each<[string, bigint, string]>([
    ['zero', 0n, '00'],
    ['one', 1n, '01'],
    ['127 (one octet)', 127n, '7f'],
    ['128 (top bit set: a 0x00 pad keeps it positive)', 128n, '0080'],
    ['65,536', 65_536n, '010000'],
    ['2^64 (beyond a double)', 2n ** 64n, '010000000000000000'],
    ['a microsecond timestamp', 1_790_000_000_123_456n, '065bfeda27c240'],
    ['2^159 − 1 (the largest 20 octets hold)', MAX_CRL_NUMBER, '7f' + 'ff'.repeat(19)]
  ])('%s: encoded minimally, read back by GnuTLS, openssl and readCrl', async (_name, number, contentsHex) => {
    const crl = await signCrl(ca, signer, { number, ...crlPeriod(7), entries: [] })
    const info = certtoolCrlInfo(crl.pem)
    expect(info.numberHex).toBe(contentsHex)
    expect(info.number).toBe(number)
    expect(readCrl(crl.der).number).toBe(number)
    const printed = /CRL Number: \s*\n\s*(\S+)/.exec(opensslCrlText(crl.pem))?.[1] ?? ''
    expect(printed.startsWith('0x') ? BigInt(printed) : BigInt(printed)).toBe(number)
    expect(opensslCrlVerify(fixture.certPem, crl.pem).ok).toBe(true)
  })

  it.each<[string, bigint]>([
    ['negative', -1n],
    ['2^159 (21 octets)', MAX_CRL_NUMBER + 1n]
  ])('%s is refused before signing', (_name, number) => {
    expect(() => buildTbsCertList(ca, { number, ...crlPeriod(7), entries: [] })).toThrow(CrlContentError)
  })
})

describe('what the builder refuses', () => {
  let fixture: CaFixture
  let ca: FleetCa
  let signer: CaSigner
  beforeAll(async () => {
    fixture = makeRootCa({ keyType: 'ec-p256' })
    ;({ ca, signer } = await openCa(fixture, fixture.keyPem))
  })
  afterAll(async () => {
    await signer.close()
  })
  const period = crlPeriod(7)

  it.each<[string, Partial<CrlEntry>, RegExp]>([
    ['a serial that is not hex', { serialNumber: 'SN-0001' }, /not a positive hex serial/],
    ['a zero serial', { serialNumber: '0000' }, /not a positive hex serial/],
    ['a 21-octet serial', { serialNumber: '7f'.repeat(21) }, /not a positive hex serial/],
    ['an invalid date', { revokedAt: new Date('nope') }, /revokedAt is not a valid date/]
  ])('%s', (_name, change, message) => {
    const entry: CrlEntry = { serialNumber: '4a', revokedAt: new Date(), reason: 'superseded', ...change }
    expect(() => buildTbsCertList(ca, { number: 1n, ...period, entries: [entry] })).toThrow(message)
  })

  it('the same serial twice, even written differently', () => {
    const entries: CrlEntry[] = [
      { serialNumber: '00ab', revokedAt: new Date(), reason: 'superseded' },
      { serialNumber: 'AB', revokedAt: new Date(), reason: 'keyCompromise' }
    ]
    expect(() => buildTbsCertList(ca, { number: 1n, ...period, entries })).toThrow(/appears twice/)
  })

  it('nextUpdate not after thisUpdate', () => {
    expect(() => buildTbsCertList(ca, { number: 1n, thisUpdate: period.nextUpdate, nextUpdate: period.thisUpdate, entries: [] })).toThrow(/nextUpdate must be later/)
  })

  it('a signature from another key: FleetCaError naming the signer, no CRL', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    const wrong = { description: 'signer program /opt/other-signer', sign: async (tbs: Buffer) => sign('sha256', tbs, other) }
    const error = await signCrl(ca, wrong, { number: 1n, ...period, entries: [] }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as FleetCaError).input).toBe('fleet-ca-key')
    expect((error as Error).message).toMatch(/the CRL signature from signer program \/opt\/other-signer does not verify with the fleet CA certificate's public key/)
  })

  it('raw r‖s from a token that was not converted to DER: refused as well', async () => {
    const key = createPrivateKey(fixture.keyPem)
    const raw = { description: 'PKCS#11 token fleet', sign: async (tbs: Buffer) => sign('sha256', tbs, { key, dsaEncoding: 'ieee-p1363' }) }
    await expect(signCrl(ca, raw, { number: 1n, ...period, entries: [] })).rejects.toThrow(/the CRL signature from PKCS#11 token fleet does not verify/)
  })

  it('a signer that fails: FleetCaError with its reason', async () => {
    const failing = { description: 'AWS KMS key alias/fleet', sign: async () => Promise.reject(new Error('ThrottlingException: rate exceeded')) }
    const error = await signCrl(ca, failing, { number: 1n, ...period, entries: [] }).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as Error).message).toBe('fleet-ca-key: AWS KMS key alias/fleet failed to sign the CRL: ThrottlingException: rate exceeded')
  })

  it('a fleet CA whose keyUsage lacks cRLSign: refused, because OpenSSL refuses what it would sign', async () => {
    const noCrlSign = makeRootCa({ keyType: 'ec-p256', keyUsage: 'critical,keyCertSign' })
    const [device] = issueDevices(noCrlSign, 1, 'NOCRLSIGN') as [IssuedCredential]
    const { ca: weak, signer: weakSigner } = await openCa(noCrlSign, noCrlSign.keyPem)
    try {
      const content = { number: 1n, ...period, entries: [] }
      const error = await signCrl(weak, weakSigner, content).catch((caught: unknown) => caught)
      expect(error).toBeInstanceOf(FleetCaError)
      expect((error as FleetCaError).input).toBe('fleet-ca-cert')
      expect((error as Error).message).toMatch(/keyUsage without cRLSign/)
      // The same CRL made anyway: a relying party refuses every certificate with it.
      const tbs = buildTbsCertList(weak, content)
      const der = assembleCrl(weak, tbs, sign('sha256', tbs, createPrivateKey(noCrlSign.keyPem)))
      const pem = toPem('X509 CRL', der)
      const refused = opensslVerifyWithCrl(device.certificatePem, { trustedPem: noCrlSign.certPem, crlPem: pem })
      expect(refused.ok).toBe(false)
      expect(refused.output).toMatch(/key usage does not include CRL signing/)
    } finally {
      await weakSigner.close()
    }
  })

  it('openssl crl -verify itself fails on a CRL from another CA (the check can fail)', async () => {
    const crl = await signCrl(ca, signer, { number: 1n, ...period, entries: [] })
    const stranger = makeRootCa({ keyType: 'ec-p256', subject: fixture.subject })
    expect(opensslCrlVerify(stranger.certPem, crl.pem).ok).toBe(false)
    expect(certtoolVerifyCrl(stranger.certPem, crl.pem).ok).toBe(false)
  })
})

describe('a CRL signed through each kind of signer', () => {
  it('SoftHSM2 token (pkcs11:), EC P-256 and P-384', async () => {
    let token: Token | undefined
    const previousConf = process.env.SOFTHSM2_CONF
    try {
      token = makeToken({ label: 'crl' })
      process.env.SOFTHSM2_CONF = token.conf
      generateTokenKey(token, { id: '01', label: 'crl-p256' })
      generateTokenKey(token, { id: '02', label: 'crl-p384', keyType: 'EC:secp384r1' })
      for (const [object, digest] of [
        ['crl-p256', 'sha256'],
        ['crl-p384', 'sha384']
      ] as const) {
        const tokenCa = makeTokenRootCa(token, { object, digest })
        const { ca, signer } = await openCa(tokenCa, `pkcs11:token=crl;object=${object}`, { passphrase: token.pin, pkcs11Module: SOFTHSM_MODULE })
        try {
          expect(signer.inProcessKey).toBeUndefined()
          const entries: CrlEntry[] = [{ serialNumber: '1f2e3d4c5b6a7988', revokedAt: new Date(), reason: 'keyCompromise' }]
          const crl = await signCrl(ca, signer, { number: 3n, ...crlPeriod(7), entries })
          expectReadable(crl, ca, tokenCa.certPem, 3n, entries)
        } finally {
          await signer.close()
        }
      }
    } finally {
      if (previousConf === undefined) delete process.env.SOFTHSM2_CONF
      else process.env.SOFTHSM2_CONF = previousConf
    }
  })

  it('the KMS stand-in (awskms://) through the real AWS SDK', async () => {
    const saved = { ...process.env }
    let kms: KmsStandIn | undefined
    try {
      const dir = path.dirname(generateKey('ec-p256').path)
      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: 'AKIDTESTCREDBAKE0001',
        AWS_SECRET_ACCESS_KEY: 'crl-test-secret/0123456789',
        AWS_REGION: 'eu-west-1',
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
        AWS_CONFIG_FILE: path.join(dir, 'no-config'),
        AWS_EC2_METADATA_DISABLED: 'true'
      })
      for (const name of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_KMS'])
        delete process.env[name]
      kms = await startKmsServer({ accessKeyId: 'AKIDTESTCREDBAKE0001', region: 'eu-west-1' })
      const caKey = generateKey('ec-p256')
      const fixture = makeRootCa({ key: caKey, subject: '/CN=KMS CRL fleet/O=credbake tests' })
      const key = kms.addKey({ privateKeyPem: caKey.pem, aliases: ['alias/crl'] })
      const { ca, signer } = await openCa(fixture, `awskms://${kms.hostPort}/alias/crl`)
      try {
        const signsBefore = key.signs
        const entries: CrlEntry[] = [{ serialNumber: '7a6b5c4d3e2f1001', revokedAt: new Date(), reason: 'superseded' }]
        const crl = await signCrl(ca, signer, { number: 9n, ...crlPeriod(7), entries })
        expect(key.signs - signsBefore).toBe(1)
        expectReadable(crl, ca, fixture.certPem, 9n, entries)
      } finally {
        await signer.close()
      }
    } finally {
      await kms?.close()
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
      Object.assign(process.env, saved)
    }
  })

  it.each<[FixtureKeyType]>([['ec-p256'], ['rsa-2048']])('a signer program (exec:), %s', async (keyType) => {
    const fixture = makeRootCa({ keyType, subject: `/CN=exec CRL ${keyType}/O=credbake tests` })
    const previous = process.env.CREDBAKE_TEST_SIGNER_KEY
    process.env.CREDBAKE_TEST_SIGNER_KEY = fixture.keyPath
    try {
      const { ca, signer } = await openCa(fixture, `exec:${path.join(ROOT, 'test/fixtures/signers/openssl-signer.mjs')}`)
      try {
        const entries: CrlEntry[] = [
          { serialNumber: '0badc0de', revokedAt: new Date(), reason: 'cessationOfOperation' },
          { serialNumber: '5eed', revokedAt: new Date(), reason: 'affiliationChanged' }
        ]
        const crl = await signCrl(ca, signer, { number: 1234n, ...crlPeriod(30), entries })
        expectReadable(crl, ca, fixture.certPem, 1234n, entries)
      } finally {
        await signer.close()
      }
    } finally {
      if (previous === undefined) delete process.env.CREDBAKE_TEST_SIGNER_KEY
      else process.env.CREDBAKE_TEST_SIGNER_KEY = previous
    }
  })
})

describe('a big fleet', () => {
  it('100,000 entries: one CRL (about 49 bytes an entry) that openssl verifies and readCrl reads back whole', async () => {
    const fixture = makeRootCa({ keyType: 'ec-p256' })
    const { ca, signer } = await openCa(fixture, fixture.keyPem)
    try {
      const revokedAt = new Date()
      const entries: CrlEntry[] = Array.from({ length: 100_000 }, (_, i) => ({
        serialNumber: `7${i.toString(16).padStart(31, '0')}`,
        revokedAt,
        reason: i % 2 ? 'superseded' : 'keyCompromise'
      }))
      const crl = await signCrl(ca, signer, { number: 100n, ...crlPeriod(7), entries })
      expect(crl.der.length).toBeGreaterThan(100_000 * 45)
      expect(crl.der.length).toBeLessThan(100_000 * 55)
      expect(opensslCrlVerify(fixture.certPem, crl.pem).ok).toBe(true)
      const parsed = readCrl(crl.der)
      expect(parsed.entries).toHaveLength(100_000)
      expect(parsed.entries[99_999]).toEqual({
        serialNumber: `7${(99_999).toString(16).padStart(31, '0')}`,
        revokedAt: new Date(Math.floor(revokedAt.getTime() / 1000) * 1000),
        reasonCode: 4
      })
    } finally {
      await signer.close()
    }
  })
})

describe('serials written like the certificates', () => {
  it('a credbake serial in the CRL equals the certificate serial openssl and node read', async () => {
    const fixture = makeRootCa({ keyType: 'ec-p256' })
    const devices = issueDevices(fixture, 20, 'SER')
    const { ca, signer } = await openCa(fixture, fixture.keyPem)
    try {
      const crl = await signCrl(ca, signer, { number: 1n, ...crlPeriod(7), entries: entriesFor(devices, new Date()) })
      const listed = readCrl(crl.der).entries.map((entry) => entry.serialNumber)
      expect(listed).toEqual(devices.map((device) => new X509Certificate(device.certificatePem).serialNumber.toLowerCase()))
    } finally {
      await signer.close()
    }
  })
})

function childTags(der: Buffer): number[] {
  const tags: number[] = []
  let at = der[1] !== undefined && der[1] & 0x80 ? 2 + (der[1] & 0x7f) : 2
  while (at < der.length) {
    tags.push(der[at] as number)
    const first = der[at + 1] as number
    let length = first
    let head = 2
    if (first & 0x80) {
      length = 0
      for (let i = 0; i < (first & 0x7f); i++) length = length * 256 + (der[at + 2 + i] as number)
      head += first & 0x7f
    }
    at += head + length
  }
  return tags
}
