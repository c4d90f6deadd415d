// Device keys: the fixed PKCS#8 / SPKI encodings of src/issue/keys.ts must be byte for byte what
// node:crypto (OpenSSL's encoders) and the openssl CLI write for the same key.
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ecSpkiOfPkcs8, generateDeviceKeyPair, generateDeviceKeyPairAsync, type DeviceKeyPair } from '../../src/issue/keys.js'
import type { KeyType } from '../../src/settings/types.js'
import { cleanupPki, makePkiDir, openssl } from '../helpers/pki.js'

afterAll(cleanupPki)

/** What OpenSSL's own encoders write for the key in `pair.privateKeyPem`. */
function nodeEncodings(pair: DeviceKeyPair): { pkcs8Pem: string; spkiDer: Buffer } {
  const privateKey = createPrivateKey(pair.privateKeyPem)
  return {
    pkcs8Pem: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    spkiDer: createPublicKey(privateKey).export({ type: 'spki', format: 'der' })
  }
}

/** The private scalar / seed, as node exports it (JWK `d` is padded to the field size). */
function privateBytes(pair: DeviceKeyPair): Buffer {
  return Buffer.from(createPrivateKey(pair.privateKeyPem).export({ format: 'jwk' }).d as string, 'base64url')
}

const CASES: { keyType: KeyType; count: number; curve?: string; asn1Curve?: string }[] = [
  { keyType: 'ec-p256', count: 2000, curve: 'prime256v1' },
  { keyType: 'ec-p384', count: 500, curve: 'secp384r1' },
  { keyType: 'ed25519', count: 500 }
]

describe.each(CASES)('$keyType keys', ({ keyType, count, curve }) => {
  it(`${count} random keys: PKCS#8 PEM and SPKI equal node's export byte for byte, all distinct`, () => {
    const seen = new Set<string>()
    const mismatches: string[] = []
    for (let i = 0; i < count; i++) {
      const pair = generateDeviceKeyPair(keyType)
      expect(pair.keyType).toBe(keyType)
      const expected = nodeEncodings(pair)
      if (pair.privateKeyPem !== expected.pkcs8Pem) mismatches.push(`#${i} PKCS#8:\n${pair.privateKeyPem}\nnode:\n${expected.pkcs8Pem}`)
      if (!pair.spkiDer.equals(expected.spkiDer)) mismatches.push(`#${i} SPKI ${pair.spkiDer.toString('hex')} node ${expected.spkiDer.toString('hex')}`)
      seen.add(pair.spkiDer.toString('hex'))
      if (mismatches.length > 3) break
    }
    expect(mismatches).toEqual([])
    expect(seen.size).toBe(count)
  })

  it('a signature made with the PEM verifies with the SPKI (the public key belongs to the private key)', async () => {
    for (const pair of [generateDeviceKeyPair(keyType), await generateDeviceKeyPairAsync(keyType)]) {
      const data = Buffer.from('credbake device key check')
      const algorithm = keyType === 'ed25519' ? null : 'sha256'
      const signature = sign(algorithm, data, pair.privateKeyPem)
      const publicKey = createPublicKey({ key: pair.spkiDer, format: 'der', type: 'spki' })
      expect(verify(algorithm, data, publicKey, signature)).toBe(true)
      expect(verify(algorithm, Buffer.from('something else'), publicKey, signature)).toBe(false)
    }
  })

  /** openssl pkey reproduces the PEM and writes the same SPKI; for EC, openssl ec -check passes. */
  function checkWithOpenssl(pair: DeviceKeyPair, dir: string, name: string): void {
    const keyPath = path.join(dir, `${name}.pem`)
    writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 })
    const rewritten = path.join(dir, `${name}.out.pem`)
    openssl(['pkey', '-in', keyPath, '-outform', 'PEM', '-out', rewritten])
    expect(readFileSync(rewritten, 'utf8'), `openssl pkey rewrites ${name} identically`).toBe(pair.privateKeyPem)
    const spkiPath = path.join(dir, `${name}.spki.der`)
    openssl(['pkey', '-in', keyPath, '-pubout', '-outform', 'DER', '-out', spkiPath])
    expect(readFileSync(spkiPath).equals(pair.spkiDer), `openssl pkey -pubout of ${name} equals the SPKI`).toBe(true)
    if (curve) {
      const text = openssl(['pkey', '-in', keyPath, '-noout', '-text'])
      expect(text).toContain(curve === 'prime256v1' ? 'NIST CURVE: P-256' : 'NIST CURVE: P-384')
      // -check verifies the point is on the curve and matches the private key; it exits 1 otherwise.
      openssl(['ec', '-in', keyPath, '-check', '-noout'])
    }
  }

  it('20 keys: openssl pkey rewrites the PKCS#8 PEM byte for byte and its -pubout DER is the SPKI', () => {
    const dir = makePkiDir('credbake-keys-')
    for (let i = 0; i < 20; i++) checkWithOpenssl(generateDeviceKeyPair(keyType), dir, `key-${i}`)
  })

  it('a key whose private scalar starts with a zero byte is padded to the field size', () => {
    let pair: DeviceKeyPair | undefined
    for (let tries = 0; tries < 50_000 && !pair; tries++) {
      const candidate = generateDeviceKeyPair(keyType)
      if (privateBytes(candidate)[0] === 0) pair = candidate
    }
    if (!pair) throw new Error('no key with a leading zero byte in 50,000 tries')
    expect(privateBytes(pair).length).toBe(keyType === 'ec-p384' ? 48 : 32)
    expect(pair.privateKeyPem).toBe(nodeEncodings(pair).pkcs8Pem)
    expect(pair.spkiDer.equals(nodeEncodings(pair).spkiDer)).toBe(true)
    checkWithOpenssl(pair, makePkiDir('credbake-keys-zero-'), 'leading-zero')
  })
})

describe('RSA keys (node:crypto encoders)', () => {
  it('rsa-2048: PKCS#8 PEM and SPKI as node and openssl write them', () => {
    const pair = generateDeviceKeyPair('rsa-2048')
    expect(pair.privateKeyPem).toBe(nodeEncodings(pair).pkcs8Pem)
    expect(pair.spkiDer.equals(nodeEncodings(pair).spkiDer)).toBe(true)
    const dir = makePkiDir('credbake-keys-rsa-')
    const keyPath = path.join(dir, 'rsa.pem')
    writeFileSync(keyPath, pair.privateKeyPem, { mode: 0o600 })
    expect(openssl(['pkey', '-in', keyPath, '-outform', 'PEM'])).toBe(pair.privateKeyPem)
    expect(openssl(['pkey', '-in', keyPath, '-text', '-noout'])).toContain('2048 bit')
  })
})

describe('ecSpkiOfPkcs8 (verify reads credbake EC keys without OpenSSL decoders)', () => {
  const der = (pem: string): Buffer => createPrivateKey(pem).export({ type: 'pkcs8', format: 'der' })
  const spkiOf = (pem: string): Buffer => createPublicKey(createPrivateKey(pem)).export({ type: 'spki', format: 'der' })

  it.each(['ec-p256', 'ec-p384'] as const)('%s: the SPKI node derives, for generated and openssl keys', (keyType) => {
    for (let i = 0; i < 50; i++) {
      const pair = generateDeviceKeyPair(keyType)
      expect(ecSpkiOfPkcs8(der(pair.privateKeyPem))?.equals(pair.spkiDer)).toBe(true)
    }
    const file = path.join(makePkiDir(), 'openssl.key')
    openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', `ec_paramgen_curve:${keyType === 'ec-p256' ? 'P-256' : 'P-384'}`, '-out', file])
    const pem = readFileSync(file, 'utf8')
    expect(ecSpkiOfPkcs8(der(pem))?.equals(spkiOf(pem))).toBe(true)
  })

  it("declines what it cannot vouch for: a stored point that is not the scalar's, RSA, Ed25519, a zero scalar", () => {
    const pair = generateDeviceKeyPair('ec-p256')
    const tampered = Buffer.from(der(pair.privateKeyPem))
    tampered[tampered.length - 1] = (tampered[tampered.length - 1] as number) ^ 1
    expect(ecSpkiOfPkcs8(tampered)).toBeUndefined()
    const zero = Buffer.from(der(pair.privateKeyPem))
    const at = zero.indexOf(privateBytes(pair))
    expect(at).toBeGreaterThan(0)
    zero.fill(0, at, at + 32)
    expect(ecSpkiOfPkcs8(zero)).toBeUndefined()
    expect(ecSpkiOfPkcs8(der(generateDeviceKeyPair('ed25519').privateKeyPem))).toBeUndefined()
    const rsa = generateDeviceKeyPair('rsa-2048')
    expect(ecSpkiOfPkcs8(der(rsa.privateKeyPem))).toBeUndefined()
  })
})
