import type { KeyObject } from 'node:crypto'
import type { HashName } from '../x509/algorithms.js'

/**
 * The fleet CA, loaded and checked: certificates and what issuance precomputes from them. It holds
 * no private key: signatures come from a signer (src/signer), checked against `publicKey` first.
 */
export interface FleetCa {
  /** DER of the signing CA certificate (first in fleet-ca-cert). */
  der: Buffer
  pem: string
  /** PEMs of the issuers above the signing CA, in order (may be empty). */
  chainPems: string[]
  /** True when the signing CA is not self-issued, i.e. an intermediate. */
  isIntermediate: boolean
  /** DER of the CA's subject Name: the issuer of every device certificate. */
  subjectDer: Buffer
  /** RFC 4514-style text of the subject, for people. */
  subject: string
  /** subjectKeyIdentifier of the CA (or the SHA-1 of its public key when it has none). */
  keyIdentifier: Buffer
  /** SHA-256 of the certificate DER, lower-case hex. */
  sha256: string
  notBefore: Date
  notAfter: Date
  /** e.g. "EC P-256", "RSA 3072", "Ed25519". */
  keyDescription: string
  /** The CA certificate's public key (what the signer's must equal). */
  publicKey: KeyObject
  /** Hash for device signatures (null for Ed25519). */
  signatureHash: HashName | null
  /** DER of the AlgorithmIdentifier used in device certificates. */
  signatureAlgorithmDer: Buffer
  /** Human name of that algorithm, e.g. "ecdsa-with-SHA256". */
  signatureAlgorithmName: string
}
