// The PKCS#11 signer against SoftHSM2 tokens made here: keys generated on the token, CA
// certificates made by openssl through the PKCS#11 engine, devices baked by credbake (src/ and the
// bundled action), every certificate verified by openssl, a device accepted in an mTLS handshake.
import { X509Certificate } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetCa } from '../../src/ca/load.js'
import { CredbakeError, FleetCaError } from '../../src/errors.js'
import { buildProfile } from '../../src/issue/profile.js'
import { parsePkcs11Uri } from '../../src/signer/pkcs11-uri.js'
import { ecdsaRawToDer } from '../../src/signer/pkcs11.js'
import { cleanupPki, makeRootCa, opensslVerify, type CaFixture } from '../helpers/pki.js'
import { issueThroughPool, makeDevice, pemText } from '../issue/support.js'
import { generateTokenKey, lockUserPin, makeToken, mislabelPublicKey, makeTokenIntermediateCa, makeTokenRootCa, SOFTHSM_MODULE, type Token, type TokenCa } from './softhsm.js'

afterAll(cleanupPki)

const DAYS = { kind: 'days', days: 30 } as const

function uriOf(token: Token, object: string, extra = ''): string {
  return `pkcs11:token=${encodeURIComponent(token.label)};object=${encodeURIComponent(object)}${extra}`
}

async function refusal(promise: Promise<unknown>): Promise<CredbakeError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(CredbakeError)
    return error as CredbakeError
  }
  throw new Error('expected a refusal')
}

describe('pkcs11: URIs (RFC 7512)', () => {
  it('path and query attributes, percent-encoding, id bytes', () => {
    const uri = parsePkcs11Uri(
      'pkcs11:token=Fleet%20CA;object=ca%3Bkey;id=%01%02;type=private;serial=abc;slot-id=7;manufacturer=SoftHSM%20project;model=m;library-version=2.6?module-path=/usr/lib/x.so&pin-source=/run/pin'
    )
    expect(uri).toMatchObject({
      token: 'Fleet CA',
      object: 'ca;key',
      type: 'private',
      serial: 'abc',
      slotId: 7n,
      manufacturer: 'SoftHSM project',
      model: 'm',
      libraryVersion: '2.6',
      modulePath: '/usr/lib/x.so',
      pinSource: '/run/pin'
    })
    expect(uri.id?.toString('hex')).toBe('0102')
    expect(parsePkcs11Uri('pkcs11:x-vendor=1;token=a').token).toBe('a')
  })
  it.each([
    ['pkcs11:token=a;token=b', /appears twice/],
    ['pkcs11:tokn=a', /unknown path attribute "tokn"/],
    ['pkcs11:token=a%2', /two hex digits/],
    ['pkcs11:type=key', /type must be one of/],
    ['pkcs11:slot-id=x', /decimal/],
    ['pkcs11:module-path=/x', /query attribute/],
    ['pkcs11:token=a?pin-value=1&pin-source=/f', /not both/]
  ])('refuses %s', (text, message) => {
    let error: unknown
    try {
      parsePkcs11Uri(text)
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as FleetCaError).input).toBe('fleet-ca-key')
    expect((error as Error).message).toMatch(message)
  })
  it('r‖s to DER Ecdsa-Sig-Value: minimal INTEGERs, 0x00 pad on a set top bit', () => {
    const raw = Buffer.concat([Buffer.from('00'.repeat(2) + '7f' + '11'.repeat(29), 'hex'), Buffer.from('80' + '22'.repeat(31), 'hex')])
    const der = ecdsaRawToDer(raw)
    expect(der.toString('hex')).toBe(`3043021e7f${'11'.repeat(29)}022100` + `80${'22'.repeat(31)}`)
  })
})

describe('PKCS#11 signer on SoftHSM2', () => {
  let token: Token
  let previousConf: string | undefined
  let p256: TokenCa
  let p384: TokenCa
  let rsa: TokenCa
  let fileRoot: CaFixture
  let intermediate: TokenCa
  beforeAll(() => {
    token = makeToken()
    previousConf = process.env.SOFTHSM2_CONF
    process.env.SOFTHSM2_CONF = token.conf
    generateTokenKey(token, { id: '01', label: 'ca-p256' })
    generateTokenKey(token, { id: '02', label: 'ca-p384', keyType: 'EC:secp384r1' })
    generateTokenKey(token, { id: '03', label: 'ca-rsa', keyType: 'rsa:2048' })
    generateTokenKey(token, { id: '04', label: 'ca-int' })
    p256 = makeTokenRootCa(token, { object: 'ca-p256' })
    p384 = makeTokenRootCa(token, { object: 'ca-p384', digest: 'sha384' })
    rsa = makeTokenRootCa(token, { object: 'ca-rsa' })
    fileRoot = makeRootCa({ keyType: 'ec-p256' })
    intermediate = makeTokenIntermediateCa(token, fileRoot, { object: 'ca-int' })
  }, 60_000)
  afterAll(() => {
    if (previousConf === undefined) delete process.env.SOFTHSM2_CONF
    else process.env.SOFTHSM2_CONF = previousConf
  })

  const open = (ca: TokenCa, key: string, extra: { passphrase?: string; pkcs11Module?: string } = { passphrase: token.pin }) =>
    openFleetCa({
      cert: pemText('fleet-ca-cert', ca.chainPem),
      key: pemText('fleet-ca-key', key),
      pkcs11Module: SOFTHSM_MODULE,
      lifetime: DAYS,
      ...extra
    })

  it.each([
    ['EC P-256', () => p256, 'ca-p256', 'ecdsa-with-SHA256'],
    ['EC P-384', () => p384, 'ca-p384', 'ecdsa-with-SHA384'],
    ['RSA 2048', () => rsa, 'ca-rsa', 'sha256WithRSAEncryption']
  ])('%s: issues devices that openssl verifies', async (description, ca, object, algorithm) => {
    const { ca: fleet, signer } = await open(ca(), uriOf(token, object))
    try {
      expect(signer.inProcessKey).toBeUndefined()
      expect(fleet.keyDescription).toBe(description)
      expect(fleet.signatureAlgorithmName).toBe(algorithm)
      const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: DAYS }, fleet)
      const issued = await issueThroughPool(
        fleet,
        profile,
        signer,
        Array.from({ length: 20 }, (_, i) => makeDevice(`P11-${i}`))
      )
      const result = opensslVerify(issued, { trustedPem: ca().certPem })
      expect(result.ok, result.output).toBe(true)
      expect(new X509Certificate(issued[0] ?? '').verify(fleet.publicKey)).toBe(true)
    } finally {
      await signer.close()
    }
  })

  it('an intermediate fleet CA on the token under a file-key root: the chain verifies', async () => {
    const { ca: fleet, signer } = await open(intermediate, uriOf(token, 'ca-int', ';type=private'))
    try {
      expect(fleet.isIntermediate).toBe(true)
      const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: DAYS }, fleet)
      const issued = await issueThroughPool(
        fleet,
        profile,
        signer,
        Array.from({ length: 5 }, (_, i) => makeDevice(`INT-${i}`))
      )
      const result = opensslVerify(issued, { trustedPem: fileRoot.certPem, untrustedPems: [intermediate.certPem] })
      expect(result.ok, result.output).toBe(true)
    } finally {
      await signer.close()
    }
  })

  it('finds the key by id alone, and takes module-path from the URI', async () => {
    const { signer } = await open(p256, `pkcs11:token=${token.label};id=%01?module-path=${SOFTHSM_MODULE}`, { passphrase: token.pin })
    await signer.close()
    await signer.close()
  })

  it('pin-value in the URI works but warns (never echoing the PIN); pin-source reads a file', async () => {
    const warnings: string[] = []
    const viaValue = await openFleetCa({
      cert: pemText('fleet-ca-cert', p256.chainPem),
      key: pemText('fleet-ca-key', uriOf(token, 'ca-p256', `?pin-value=${encodeURIComponent(token.pin)}`)),
      pkcs11Module: SOFTHSM_MODULE,
      lifetime: DAYS,
      warn: (message) => warnings.push(message)
    })
    await viaValue.signer.close()
    expect(warnings.join('\n')).toMatch(/pin-value.*fleet-ca-key-passphrase/)
    expect(warnings.join('\n')).not.toContain(token.pin)
    const pinFile = path.join(token.dir, 'pin.txt')
    writeFileSync(pinFile, `${token.pin}\n`, { mode: 0o600 })
    const viaSource = await openFleetCa({
      cert: pemText('fleet-ca-cert', p256.chainPem),
      key: pemText('fleet-ca-key', uriOf(token, 'ca-p256', `?pin-source=${pinFile}`)),
      pkcs11Module: SOFTHSM_MODULE,
      lifetime: DAYS
    })
    await viaSource.signer.close()
  })

  describe('refusals: FleetCaError naming the input, the PIN never shown', () => {
    it('wrong PIN', async () => {
      const error = await refusal(open(p256, uriOf(token, 'ca-p256'), { passphrase: 'wrong-pin-7731' }))
      expect(error).toBeInstanceOf(FleetCaError)
      expect(error.input).toBe('fleet-ca-key-passphrase')
      expect(error.message).toMatch(/refused the PIN \(CKR_PIN_INCORRECT\)/)
      expect(error.message).not.toContain('wrong-pin-7731')
    })
    it('no PIN for a token that needs one', async () => {
      const error = await refusal(open(p256, uriOf(token, 'ca-p256'), {}))
      expect(error.input).toBe('fleet-ca-key-passphrase')
      expect(error.message).toMatch(/needs its user PIN/)
    })
    it('no module, a missing module, a file that is not a PKCS#11 module', async () => {
      const none = await refusal(
        openFleetCa({ cert: pemText('fleet-ca-cert', p256.chainPem), key: pemText('fleet-ca-key', uriOf(token, 'ca-p256')), passphrase: token.pin, lifetime: DAYS })
      )
      expect(none.input).toBe('pkcs11-module')
      const missing = await refusal(open(p256, uriOf(token, 'ca-p256'), { passphrase: token.pin, pkcs11Module: '/nonexistent/libnothing.so' }))
      expect(missing.input).toBe('pkcs11-module')
      expect(missing.message).toMatch(/no such file/)
      const notModule = await refusal(open(p256, uriOf(token, 'ca-p256'), { passphrase: token.pin, pkcs11Module: '/lib/x86_64-linux-gnu/libz.so.1' }))
      expect(notModule.input).toBe('pkcs11-module')
      expect(notModule.message).toMatch(/not a PKCS#11 module|cannot load/)
    })
    it('no such token, no such object, several matching objects', async () => {
      const noToken = await refusal(open(p256, 'pkcs11:token=nope;object=ca-p256'))
      expect(noToken.message).toMatch(/no token .* matches .*tokens present: "fleet"/)
      const noObject = await refusal(open(p256, uriOf(token, 'nope')))
      expect(noObject.message).toMatch(/no private key on PKCS#11 token "fleet" matches/)
      const several = await refusal(open(p256, `pkcs11:token=${token.label}`))
      expect(several.message).toMatch(/4 private keys .* add object= or id=/)
      for (const error of [noToken, noObject, several]) expect(error.input).toBe('fleet-ca-key')
    })
    it("a token key that is not the certificate's", async () => {
      const error = await refusal(open(p256, uriOf(token, 'ca-int')))
      expect(error.input).toBe('fleet-ca-key')
      expect(error.message).toMatch(/does not match the fleet CA certificate/)
    })
    it("a token whose public-key object is the certificate's but whose private key is another: the test signature is refused", async () => {
      // The only bad signature SoftHSM2 can honestly be made to hand back: it signs correctly with
      // whatever key the URI names, so the lie has to be in what the token shows as its public key.
      const mixed = makeToken({ label: 'mixed' })
      generateTokenKey(mixed, { id: '01', label: 'ca' })
      generateTokenKey(mixed, { id: '02', label: 'other' })
      const ca = makeTokenRootCa(mixed, { object: 'ca' })
      mislabelPublicKey(mixed, { id: '02', label: 'other', publicOf: '01' })
      process.env.SOFTHSM2_CONF = mixed.conf
      try {
        const error = await refusal(open(ca, 'pkcs11:token=mixed;object=other', { passphrase: mixed.pin }))
        expect(error.input).toBe('fleet-ca-key')
        expect(error.message).toMatch(
          /a test signature from PKCS#11 token "mixed", object "other" is bad: signed by another key \(or over other bytes\): it does not verify with the fleet CA certificate's public key/
        )
        const right = await open(ca, 'pkcs11:token=mixed;object=ca', { passphrase: mixed.pin })
        await right.signer.close()
      } finally {
        process.env.SOFTHSM2_CONF = token.conf
      }
    }, 30_000)
    it('a locked token (CKR_PIN_LOCKED)', async () => {
      const locked = makeToken({ label: 'locked' })
      generateTokenKey(locked, { id: '01', label: 'k' })
      const ca = makeTokenRootCa(locked, { object: 'k' })
      lockUserPin(locked)
      process.env.SOFTHSM2_CONF = locked.conf
      try {
        const error = await refusal(open(ca, 'pkcs11:token=locked;object=k', { passphrase: locked.pin }))
        expect(error.input).toBe('fleet-ca-key-passphrase')
        expect(error.message).toMatch(/locked/)
        expect(error.message).not.toContain(locked.pin)
      } finally {
        process.env.SOFTHSM2_CONF = token.conf
      }
    }, 30_000)
  })
})
