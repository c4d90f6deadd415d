// The fixtures other tests rely on: check they are what they claim, with openssl itself.
import { X509Certificate, createPrivateKey } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { cleanupPki, certtoolInfo, keyFormats, makeCsr, makeExpiredCa, makeIntermediateCa, makeNonCaCert, makeRootCa, opensslVerify } from '../helpers/pki.js'

afterAll(cleanupPki)

describe('test PKI helper', () => {
  it('makes a root and an intermediate that openssl chains', () => {
    const root = makeRootCa({ keyType: 'ec-p256' })
    const intermediate = makeIntermediateCa(root, { keyType: 'ec-p384' })
    const leaf = makeNonCaCert({ issuer: intermediate })
    const result = opensslVerify([leaf.certPem], { trustedPem: root.certPem, untrustedPems: [intermediate.certPem] })
    expect(result.output).toContain(': OK')
    expect(result.ok).toBe(true)
    expect(opensslVerify([leaf.certPem], { trustedPem: root.certPem }).ok).toBe(false)
    expect(new X509Certificate(intermediate.certPem).ca).toBe(true)
    expect(new X509Certificate(leaf.certPem).ca).toBe(false)
    expect(intermediate.chainPem).toBe(intermediate.certPem + root.certPem)
    expect(certtoolInfo(intermediate.chainPem)).toContain('Subject:')
  })

  it('makes an expired CA with the dates asked for', () => {
    const expired = makeExpiredCa({ keyType: 'ed25519' })
    const cert = new X509Certificate(expired.certPem)
    expect(new Date(cert.validTo).getTime()).toBe(expired.notAfter.getTime())
    expect(expired.notAfter.getTime()).toBeLessThan(Date.now())
  })

  it('writes each key format with its PEM label', () => {
    const ec = makeRootCa({ keyType: 'ec-p256' })
    const ecFormats = keyFormats(ec.key, { passphrase: 'pass phrase' })
    expect(ecFormats.pkcs8.pem).toContain('BEGIN PRIVATE KEY')
    expect(ecFormats.encryptedPkcs8.pem).toContain('BEGIN ENCRYPTED PRIVATE KEY')
    expect(ecFormats.sec1?.pem).toContain('BEGIN EC PRIVATE KEY')
    expect(ecFormats.pkcs1).toBeUndefined()
    expect(createPrivateKey({ key: ecFormats.encryptedPkcs8.pem, passphrase: 'pass phrase' }).asymmetricKeyType).toBe('ec')
    const rsa = makeRootCa({ keyType: 'rsa-2048' })
    expect(keyFormats(rsa.key).pkcs1?.pem).toContain('BEGIN RSA PRIVATE KEY')
  })

  it('makes a CSR', () => {
    const csr = makeCsr({ keyType: 'ed25519', subject: '/CN=device-1' })
    expect(csr.csrPem).toContain('BEGIN CERTIFICATE REQUEST')
  })
})
