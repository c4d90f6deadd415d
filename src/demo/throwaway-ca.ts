// A throwaway fleet root CA for `credbake demo`: made in memory, written next to the demo's
// outputs, and labelled as such in its subject so nobody mistakes it for a production CA.
import { createHash, generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { keyFacts } from '../x509/algorithms.js'
import { bitString, DER_TRUE, explicit, octetString, oid, sequence, setOf, smallInteger, tlv, TAG, unsignedInteger, x509Time } from '../x509/der.js'
import { toPem } from '../util/pem.js'

export interface ThrowawayCa {
  certificatePem: string
  keyPem: string
}

const OIDS = {
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  subjectKeyIdentifier: '2.5.29.14'
}

export function createThrowawayCa(now = new Date(), days = 3650): ThrowawayCa {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const facts = keyFacts(privateKey)
  if ('unsupported' in facts) throw new Error(facts.unsupported)
  const spki = publicKey.export({ type: 'spki', format: 'der' })
  // SKI method 1 (RFC 5280 §4.2.1.2): SHA-1 of the subjectPublicKey bits, the last 65 bytes of a P-256 SPKI.
  const keyId = createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest()
  const name = sequence(
    setOf([sequence(oid(OIDS.commonName), tlv(TAG.utf8String, Buffer.from('credbake DEMO fleet root - NOT FOR PRODUCTION')))]),
    setOf([sequence(oid(OIDS.organization), tlv(TAG.utf8String, Buffer.from('credbake demo')))])
  )
  const serial = randomBytes(16)
  serial[0] = ((serial[0] ?? 1) & 0x7f) | 0x01
  const extensions = sequence(
    sequence(oid(OIDS.basicConstraints), DER_TRUE, octetString(sequence(DER_TRUE))),
    // keyCertSign and cRLSign: bits 5 and 6, so 1 unused bit in 0x06.
    sequence(oid(OIDS.keyUsage), DER_TRUE, octetString(bitString(Buffer.from([0x06]), 1))),
    sequence(oid(OIDS.subjectKeyIdentifier), octetString(octetString(keyId)))
  )
  const tbs = sequence(
    explicit(0, smallInteger(2)),
    unsignedInteger(serial),
    facts.signatureAlgorithmDer,
    name,
    sequence(x509Time(new Date(now.getTime() - 3600_000)), x509Time(new Date(now.getTime() + days * 86_400_000))),
    name,
    spki,
    explicit(3, extensions)
  )
  const signature = sign(facts.hash, tbs, privateKey)
  const certificate = sequence(tbs, facts.signatureAlgorithmDer, bitString(signature))
  return {
    certificatePem: toPem('CERTIFICATE', certificate),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }
}
