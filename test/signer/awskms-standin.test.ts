// The KMS stand-in itself: its signatures over bare digests must verify with openssl, or every
// awskms test above it proves nothing.
import { createHash, createPrivateKey, randomBytes } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ecdsaDigestSigner } from '../helpers/ecdsa-digest.js'
import { startKmsServer, type KmsStandIn } from '../helpers/kms-server.js'
import { cleanupPki, generateKey, makePkiDir, openssl } from '../helpers/pki.js'

describe('ECDSA over a digest (the stand-in signer)', () => {
  afterAll(cleanupPki)

  it.each([
    ['ec-p256', 'sha256'],
    ['ec-p384', 'sha384']
  ] as const)('%s signatures verify with openssl dgst and pkeyutl', (keyType, hash) => {
    const dir = makePkiDir('credbake-ecdsa-')
    const key = generateKey(keyType, { dir })
    const pub = path.join(dir, 'pub.pem')
    openssl(['pkey', '-in', key.path, '-pubout', '-out', pub])
    const signer = ecdsaDigestSigner(createPrivateKey(key.pem))
    for (let i = 0; i < 5; i++) {
      const message = randomBytes(200 + i)
      const digest = createHash(hash).update(message).digest()
      const signature = signer.sign(digest)
      writeFileSync(path.join(dir, 'msg.bin'), message)
      writeFileSync(path.join(dir, 'digest.bin'), digest)
      writeFileSync(path.join(dir, 'sig.der'), signature)
      // A DER Ecdsa-Sig-Value that openssl parses.
      expect(openssl(['asn1parse', '-inform', 'DER', '-in', path.join(dir, 'sig.der')])).toMatch(/SEQUENCE[\s\S]*INTEGER[\s\S]*INTEGER/)
      expect(openssl(['dgst', `-${hash}`, '-verify', pub, '-signature', path.join(dir, 'sig.der'), path.join(dir, 'msg.bin')])).toMatch(/Verified OK/)
      expect(openssl(['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-in', path.join(dir, 'digest.bin'), '-sigfile', path.join(dir, 'sig.der')])).toMatch(
        /Signature Verified Successfully/
      )
    }
    // A signature over another digest must not verify (the check can fail).
    const other = signer.sign(createHash(hash).update('other').digest())
    writeFileSync(path.join(dir, 'sig.der'), other)
    expect(() => openssl(['dgst', `-${hash}`, '-verify', pub, '-signature', path.join(dir, 'sig.der'), path.join(dir, 'msg.bin')])).toThrow(/Verification failure|failed/)
  })
})

describe('KMS stand-in protocol', () => {
  let kms: KmsStandIn
  beforeAll(async () => {
    kms = await startKmsServer()
    kms.addKey({ spec: 'ECC_NIST_P256', aliases: ['alias/one'] })
  })
  afterAll(async () => {
    await kms.close()
  })

  it('listens on 127.0.0.1 only', () => {
    expect(kms.hostPort).toMatch(/^127\.0\.0\.1:\d+$/)
  })

  it('refuses requests without a SigV4 Authorization header, as KMS does', async () => {
    const response = await fetch(kms.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': 'TrentService.GetPublicKey' },
      body: JSON.stringify({ KeyId: 'alias/one' })
    })
    expect(response.status).toBe(400)
    expect(await response.json()).toEqual({ __type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' })
    expect(kms.stats.unauthenticated).toBe(1)
  })

  it('refuses a SigV4 header for another access key id', async () => {
    const response = await fetch(kms.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.GetPublicKey',
        authorization: `AWS4-HMAC-SHA256 Credential=AKIDSOMEONEELSE/20260101/eu-west-1/kms/aws4_request, SignedHeaders=host;x-amz-date, Signature=${'0'.repeat(64)}`
      },
      body: JSON.stringify({ KeyId: 'alias/one' })
    })
    expect(response.status).toBe(400)
    expect(((await response.json()) as { __type: string }).__type).toBe('UnrecognizedClientException')
  })
})
