// loadFleetCa against CAs and keys made by openssl: what it precomputes must agree with what
// openssl says about the same certificate, and every refusal names the input at fault.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFleetCa } from '../../src/ca/load.js'
import { CredbakeError, FleetCaError, InputError } from '../../src/errors.js'
import { childrenOf, readSingle } from '../../src/x509/der.js'
import type { Lifetime, PemSource } from '../../src/settings/types.js'
import {
  cleanupPki,
  generateKey,
  keyFormats,
  makeExpiredCa,
  makeIntermediateCa,
  makeNonCaCert,
  makeNotYetValidCa,
  makePkiDir,
  makeRootCa,
  openssl,
  opensslVerify,
  type CaFixture,
  type FixtureKeyType
} from '../helpers/pki.js'
import { DAYS_30, issueCredential, loadFixtureCa, makeDevice, pemFile, pemText } from './support.js'
import { buildProfile } from '../../src/issue/profile.js'

afterAll(cleanupPki)

const DAY = 86_400_000

/** The outer signatureAlgorithm of a certificate DER, as openssl wrote it. */
function signatureAlgorithmOf(der: Buffer): Buffer {
  const [, algorithm] = childrenOf(der, readSingle(der))
  if (!algorithm) throw new Error('no signatureAlgorithm')
  return der.subarray(algorithm.start, algorithm.end)
}

/** Runs `load` expecting a credbake error; returns it for further checks. */
function refusal(load: () => unknown): CredbakeError {
  try {
    load()
  } catch (error) {
    expect(error).toBeInstanceOf(CredbakeError)
    return error as CredbakeError
  }
  throw new Error('expected loadFleetCa to refuse')
}

function load(cert: PemSource, key: PemSource, extra: { passphrase?: string; lifetime?: Lifetime; now?: Date } = {}) {
  return loadFleetCa({
    cert,
    key,
    lifetime: extra.lifetime ?? DAYS_30,
    ...(extra.passphrase !== undefined ? { passphrase: extra.passphrase } : {}),
    ...(extra.now ? { now: extra.now } : {})
  })
}

describe('loadFleetCa: CA key types', () => {
  const cases: Array<[FixtureKeyType, string, string | null, string]> = [
    ['ec-p256', 'EC P-256', 'sha256', 'ecdsa-with-SHA256'],
    ['ec-p384', 'EC P-384', 'sha384', 'ecdsa-with-SHA384'],
    ['ec-p521', 'EC P-521', 'sha512', 'ecdsa-with-SHA512'],
    ['rsa-2048', 'RSA 2048', 'sha256', 'sha256WithRSAEncryption'],
    ['ed25519', 'Ed25519', null, 'Ed25519']
  ]
  it.each(cases)('%s: description, hash and the AlgorithmIdentifier openssl uses for the same key', (keyType, description, hash, name) => {
    const root = makeRootCa({ keyType })
    const ca = loadFixtureCa(root)
    expect(ca.keyDescription).toBe(description)
    expect(ca.signatureHash).toBe(hash)
    expect(ca.signatureAlgorithmName).toBe(name)
    // openssl signed the self-signed fixture with the digest credbake picks: identical identifiers.
    expect(ca.signatureAlgorithmDer.toString('hex')).toBe(signatureAlgorithmOf(root.certDer).toString('hex'))
    expect(openssl(['x509', '-noout', '-text'], { input: root.certPem })).toContain(`Signature Algorithm: ${name === 'Ed25519' ? 'ED25519' : name}`)
  })
})

describe('loadFleetCa: what it precomputes', () => {
  let root: CaFixture
  let intermediate: CaFixture
  beforeAll(() => {
    root = makeRootCa({ keyType: 'ec-p384', subject: '/C=DE/O=Acme, Inc./OU=Fleet/CN=Acme Fleet Root' })
    intermediate = makeIntermediateCa(root, { keyType: 'ec-p256' })
  })

  it('subject text, fingerprint, dates and subject DER agree with openssl', () => {
    const ca = loadFixtureCa(root)
    const rfc2253 = openssl(['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: root.certPem })
      .trim()
      .replace(/^subject=/, '')
    expect(ca.subject).toBe(rfc2253)
    expect(ca.subject).toBe('CN=Acme Fleet Root,OU=Fleet,O=Acme\\, Inc.,C=DE')
    const fingerprint = openssl(['x509', '-noout', '-fingerprint', '-sha256'], { input: root.certPem }).trim().split('=')[1]
    expect(ca.sha256).toBe(fingerprint?.replace(/:/g, '').toLowerCase())
    expect(ca.notBefore.getTime()).toBe(root.notBefore.getTime())
    expect(ca.notAfter.getTime()).toBe(root.notAfter.getTime())
    // The issuer openssl wrote into a certificate it signed with this CA is our subjectDer.
    const issued = makeNonCaCert({ issuer: root })
    expect(new X509Certificate(issued.certPem).issuer).toBe(new X509Certificate(root.certPem).subject)
    expect(ca.subjectDer.toString('hex')).toBe(issuerDerOf(issued.certDer))
    expect(ca.isIntermediate).toBe(false)
    expect(ca.chainPems).toEqual([])
    expect(ca.pem).toBe(root.certPem)
  })

  it('an intermediate: chain after the signing CA, isIntermediate', () => {
    const ca = loadFixtureCa(intermediate)
    expect(ca.isIntermediate).toBe(true)
    expect(ca.pem).toBe(intermediate.certPem)
    expect(ca.chainPems).toEqual([root.certPem])
    // Without its chain an intermediate still loads (the server may know the intermediate).
    expect(load(pemText('fleet-ca-cert', intermediate.certPem), pemText('fleet-ca-key', intermediate.keyPem)).chainPems).toEqual([])
  })

  it('a CA without a CN is fine, and the certificates it issues verify', () => {
    const noCn = makeRootCa({ subject: '/O=Acme Fleet/OU=Devices' })
    const ca = loadFixtureCa(noCn)
    expect(ca.subject).toBe('OU=Devices,O=Acme Fleet')
    const credential = issueCredential(ca, buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: DAYS_30 }, ca), makeDevice('SN-NOCN'))
    expect(opensslVerify([credential.certificatePem], { trustedPem: noCn.certPem }).ok).toBe(true)
  })

  it('keyIdentifier is the SKI, and the SHA-1 of the key bits when the certificate has none', () => {
    const withSki = loadFixtureCa(root)
    const ski = openssl(['x509', '-noout', '-ext', 'subjectKeyIdentifier'], { input: root.certPem }).split('\n')[1]?.trim()
    expect(withSki.keyIdentifier.toString('hex')).toBe(ski?.replace(/:/g, '').toLowerCase())
    // Same key, no SKI: the fallback must equal openssl's "hash" method (RFC 5280 method 1).
    const twin = makeRootCa({ key: root.key, subjectKeyIdentifier: false })
    expect(twin.certPem).not.toContain(root.certPem)
    expect(openssl(['x509', '-noout', '-text'], { input: twin.certPem })).not.toContain('Subject Key Identifier')
    expect(loadFixtureCa(twin).keyIdentifier.equals(withSki.keyIdentifier)).toBe(true)
  })
})

function issuerDerOf(der: Buffer): string {
  const [tbs] = childrenOf(der, readSingle(der))
  if (!tbs) throw new Error('no tbs')
  const issuer = childrenOf(der, tbs)[3]
  if (!issuer) throw new Error('no issuer')
  return der.subarray(issuer.start, issuer.end).toString('hex')
}

describe('loadFleetCa: key formats', () => {
  it.each(['ec-p256', 'rsa-2048', 'ed25519'] as const)('%s key as PKCS#8, encrypted PKCS#8 and its traditional form', (keyType) => {
    const root = makeRootCa({ keyType })
    const formats = keyFormats(root.key, { passphrase: 'fleet passphrase' })
    const cert = pemFile('fleet-ca-cert', root.certPath, root.certPem)
    expect(load(cert, pemText('fleet-ca-key', formats.pkcs8.pem)).keyDescription).toMatch(/P-256|RSA 2048|Ed25519/)
    expect(load(cert, pemText('fleet-ca-key', formats.encryptedPkcs8.pem), { passphrase: 'fleet passphrase' }).sha256).toHaveLength(64)
    const traditional = formats.sec1 ?? formats.pkcs1
    if (keyType === 'ed25519') expect(traditional).toBeUndefined()
    else {
      expect(traditional?.pem).toMatch(/BEGIN (EC|RSA) PRIVATE KEY/)
      expect(load(cert, pemText('fleet-ca-key', traditional?.pem ?? '')).publicKey.asymmetricKeyType).toBe(keyType.startsWith('ec') ? 'ec' : 'rsa')
    }
  })

  it('legacy OpenSSL-encrypted PKCS#1 and `openssl ecparam -genkey` output', () => {
    const rsa = makeRootCa({ keyType: 'rsa-2048' })
    const legacy = openssl(['pkey', '-in', rsa.keyPath, '-traditional', '-aes256', '-passout', 'env:PASS'], { env: { PASS: 'legacy pass' } })
    expect(legacy).toContain('Proc-Type: 4,ENCRYPTED')
    const cert = pemText('fleet-ca-cert', rsa.certPem)
    expect(load(cert, pemText('fleet-ca-key', legacy), { passphrase: 'legacy pass' }).keyDescription).toBe('RSA 2048')
    expect(refusal(() => load(cert, pemText('fleet-ca-key', legacy))).input).toBe('fleet-ca-key-passphrase')

    const dir = makePkiDir()
    const keyPath = path.join(dir, 'ecparam.key.pem')
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-out', keyPath])
    const ecparamText = readFileSync(keyPath, 'utf8')
    expect(ecparamText).toMatch(/BEGIN EC PARAMETERS[\s\S]*BEGIN EC PRIVATE KEY/)
    const ec = makeRootCa({ key: { keyType: 'ec-p256', path: keyPath, pem: openssl(['pkey', '-in', keyPath]) } })
    expect(load(pemText('fleet-ca-cert', ec.certPem), pemText('fleet-ca-key', ecparamText)).keyDescription).toBe('EC P-256')
  })
})

describe('loadFleetCa: refusals name the input', () => {
  let root: CaFixture
  beforeAll(() => {
    root = makeRootCa({ keyType: 'ec-p256', days: 100 })
  })
  const certOf = (fixture: CaFixture): PemSource => pemFile('fleet-ca-cert', fixture.chainPath, fixture.chainPem)
  const keyOf = (fixture: CaFixture): PemSource => pemFile('fleet-ca-key', fixture.keyPath, fixture.keyPem)

  function expectRefusal(error: CredbakeError, errorClass: typeof FleetCaError | typeof InputError, input: string, message: RegExp): void {
    expect(error).toBeInstanceOf(errorClass)
    expect(error.input).toBe(input)
    expect(error.message).toContain(input)
    expect(error.message).toMatch(message)
  }

  it('a certificate that is not a CA (CA:FALSE)', () => {
    const leaf = makeNonCaCert({ issuer: root })
    expectRefusal(
      refusal(() => load(certOf(leaf), keyOf(leaf))),
      FleetCaError,
      'fleet-ca-cert',
      /is not a CA: its basicConstraints say CA:FALSE/
    )
  })

  it('a CA certificate without basicConstraints', () => {
    const noBc = makeRootCa({ basicConstraints: null })
    expectRefusal(
      refusal(() => load(certOf(noBc), keyOf(noBc))),
      FleetCaError,
      'fleet-ca-cert',
      /no basicConstraints/
    )
  })

  it('a CA whose keyUsage lacks keyCertSign', () => {
    const noSign = makeRootCa({ keyUsage: 'critical,digitalSignature,cRLSign' })
    expectRefusal(
      refusal(() => load(certOf(noSign), keyOf(noSign))),
      FleetCaError,
      'fleet-ca-cert',
      /keyUsage \((crlSign, digitalSignature|digitalSignature, crlSign)\) lacks keyCertSign/
    )
  })

  it('a CA restricted to serverAuth by extendedKeyUsage', () => {
    const serverOnly = makeRootCa({ extendedKeyUsage: 'serverAuth' })
    expectRefusal(
      refusal(() => load(certOf(serverOnly), keyOf(serverOnly))),
      FleetCaError,
      'fleet-ca-cert',
      /without clientAuth/
    )
  })

  it('a key that does not match the certificate', () => {
    const otherKey = generateKey('ec-p256')
    expectRefusal(
      refusal(() => load(certOf(root), pemFile('fleet-ca-key', otherKey.path, otherKey.pem))),
      FleetCaError,
      'fleet-ca-key',
      /does not match the fleet CA certificate/
    )
  })

  it('a chain in the wrong order: says which certificate the key matches', () => {
    const intermediate = makeIntermediateCa(root)
    const reversed = pemText('fleet-ca-cert', root.certPem + intermediate.certPem)
    expectRefusal(
      refusal(() => load(reversed, keyOf(intermediate))),
      FleetCaError,
      'fleet-ca-key',
      /matches certificate 2 .*signing CA must come first/
    )
    const unrelated = makeRootCa()
    const wrongIssuer = pemText('fleet-ca-cert', intermediate.certPem + unrelated.certPem)
    expectRefusal(
      refusal(() => load(wrongIssuer, keyOf(intermediate))),
      FleetCaError,
      'fleet-ca-cert',
      /was not issued by certificate 2/
    )
  })

  it('an encrypted key without a passphrase, and with a wrong one (never echoed)', () => {
    const encrypted = pemText('fleet-ca-key', keyFormats(root.key, { passphrase: 'right one' }).encryptedPkcs8.pem)
    expectRefusal(
      refusal(() => load(certOf(root), encrypted)),
      FleetCaError,
      'fleet-ca-key-passphrase',
      /is encrypted/
    )
    expectRefusal(
      refusal(() => load(certOf(root), encrypted, { passphrase: '' })),
      FleetCaError,
      'fleet-ca-key-passphrase',
      /is encrypted/
    )
    const wrong = refusal(() => load(certOf(root), encrypted, { passphrase: 'Tr0ub4dor&3-wrong' }))
    expectRefusal(wrong, FleetCaError, 'fleet-ca-key-passphrase', /could not be decrypted/)
    expect(wrong.message).not.toContain('Tr0ub4dor')
    expect(JSON.stringify(wrong)).not.toContain('Tr0ub4dor')
    expect(String(wrong.cause ?? '')).not.toContain('Tr0ub4dor')
  })

  it('an expired CA, showing when it expired', () => {
    const expired = makeExpiredCa()
    const error = refusal(() => load(certOf(expired), keyOf(expired)))
    expectRefusal(error, FleetCaError, 'fleet-ca-cert', /expired .* ago/)
    expect(error.message).toContain(expired.notAfter.toISOString().slice(0, 19))
  })

  it('a CA that is not valid yet, and an expired issuer in the chain', () => {
    const future = makeNotYetValidCa()
    expectRefusal(
      refusal(() => load(certOf(future), keyOf(future))),
      FleetCaError,
      'fleet-ca-cert',
      /not valid yet: it starts in/
    )
    // Judged at a time after the root's end but inside the intermediate's claimed validity.
    const shortRoot = makeRootCa({ days: 10 })
    const intermediate = makeIntermediateCa(shortRoot, { days: 1000 })
    const later = new Date(shortRoot.notAfter.getTime() + DAY)
    expectRefusal(
      refusal(() => load(certOf(intermediate), keyOf(intermediate), { now: later, lifetime: { kind: 'days', days: 1 } })),
      FleetCaError,
      'fleet-ca-cert',
      /certificate 2 of the chain .* expired/
    )
  })

  it('a lifetime that ends after the CA: by how much, and what to set instead', () => {
    const error = refusal(() => load(certOf(root), keyOf(root), { lifetime: { kind: 'days', days: 365 } }))
    expectRefusal(error, FleetCaError, 'validity-days', /ends 2\d\d days after the fleet CA certificate .* expires/)
    expect(error.message).toMatch(/set validity-days to at most 98/)
    expect(error.message).toContain(`not-after to ${root.notAfter.toISOString().slice(0, 19)}`)
    const until = new Date(root.notAfter.getTime() + 3 * 3_600_000)
    expectRefusal(
      refusal(() => load(certOf(root), keyOf(root), { lifetime: { kind: 'until', notAfter: until } })),
      FleetCaError,
      'not-after',
      /ends 3 hours after/
    )
    expectRefusal(
      refusal(() => load(certOf(root), keyOf(root), { lifetime: { kind: 'never' } })),
      FleetCaError,
      'not-after',
      /never/
    )
    // Right at the CA's end is allowed.
    expect(load(certOf(root), keyOf(root), { lifetime: { kind: 'until', notAfter: root.notAfter } }).notAfter).toEqual(root.notAfter)
  })

  it('a lifetime that is not in the future or not a number of days', () => {
    expectRefusal(
      refusal(() => load(certOf(root), keyOf(root), { lifetime: { kind: 'until', notAfter: new Date(Date.now() - DAY) } })),
      InputError,
      'not-after',
      /not in the future/
    )
    expectRefusal(
      refusal(() => load(certOf(root), keyOf(root), { lifetime: { kind: 'days', days: 0 } })),
      InputError,
      'validity-days',
      /at least 1/
    )
  })

  it('garbage instead of PEM, for the certificate and for the key', () => {
    expectRefusal(
      refusal(() => load(pemText('fleet-ca-cert', 'hello world'), keyOf(root))),
      FleetCaError,
      'fleet-ca-cert',
      /no PEM block/
    )
    expectRefusal(
      refusal(() => load(certOf(root), pemText('fleet-ca-key', '-----BEGIN PRIVATE KEY-----\n%%%\n-----END PRIVATE KEY-----'))),
      FleetCaError,
      'fleet-ca-key',
      /not valid base64/
    )
    const notDer = pemText('fleet-ca-cert', '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')
    expectRefusal(
      refusal(() => load(notDer, keyOf(root))),
      FleetCaError,
      'fleet-ca-cert',
      /not a valid X.509 certificate/
    )
    const badKey = pemText('fleet-ca-key', '-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n')
    expectRefusal(
      refusal(() => load(certOf(root), badKey)),
      FleetCaError,
      'fleet-ca-key',
      /not a valid SEC1 private key/
    )
  })

  it('swapped inputs get a hint, and the key text is never quoted', () => {
    const swappedCert = refusal(() => load(pemText('fleet-ca-cert', root.keyPem), pemText('fleet-ca-key', root.certPem)))
    expectRefusal(swappedCert, FleetCaError, 'fleet-ca-cert', /swapped/)
    expect(swappedCert.message).not.toContain(root.keyPem.split('\n')[1] ?? 'x')
    expectRefusal(
      refusal(() => load(certOf(root), pemText('fleet-ca-key', root.certPem))),
      FleetCaError,
      'fleet-ca-key',
      /swapped/
    )
  })

  it('keys credbake cannot sign with: weak RSA, other curves', () => {
    const dir = makePkiDir()
    const weakPath = path.join(dir, 'weak.pem')
    openssl(['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', weakPath])
    const weak = makeRootCa({ key: { keyType: 'rsa-2048', path: weakPath, pem: openssl(['pkey', '-in', weakPath]) } })
    expectRefusal(
      refusal(() => load(certOf(weak), keyOf(weak))),
      FleetCaError,
      'fleet-ca-key',
      /RSA 1024-bit keys are too weak/
    )
    const k1Path = path.join(dir, 'k1.pem')
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1', '-out', k1Path])
    const k1 = makeRootCa({ key: { keyType: 'ec-p256', path: k1Path, pem: openssl(['pkey', '-in', k1Path]) } })
    expectRefusal(
      refusal(() => load(certOf(k1), keyOf(k1))),
      FleetCaError,
      'fleet-ca-key',
      /curve secp256k1 is not supported/
    )
  })
})
