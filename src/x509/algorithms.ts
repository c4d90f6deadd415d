// Key and signature algorithms credbake accepts, as data: which hash a key signs with, the
// AlgorithmIdentifier it writes, and which key families a key type belongs to.
import type { KeyObject } from 'node:crypto'
import type { KeyType } from '../settings/types.js'
import { DER_NULL, oid, sequence } from './der.js'

/** A digest X.509 signatures here are made over (the one definition; signers and the CA use it). */
export type HashName = 'sha256' | 'sha384' | 'sha512'

export const OID = {
  ecPublicKey: '1.2.840.10045.2.1',
  rsaEncryption: '1.2.840.113549.1.1.1',
  ed25519: '1.3.101.112',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  sha256WithRsa: '1.2.840.113549.1.1.11',
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13'
} as const

/** The X.509 extensions (and CRL entry extensions) credbake writes or reads, by name (RFC 5280 §4.2, §5.2, §5.3). */
export const EXTENSION_OID = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  cRLNumber: '2.5.29.20',
  reasonCode: '2.5.29.21'
} as const

export type KeyFamily = 'ec' | 'rsa' | 'ed25519'

/** What credbake needs to know about a public or private key. */
export interface KeyFacts {
  family: KeyFamily
  /** "EC P-256", "RSA 3072", "Ed25519". */
  description: string
  /** Hash this key signs certificates with (null: Ed25519 signs the message itself). */
  hash: HashName | null
  /** Name and DER of the AlgorithmIdentifier of signatures made with this key. */
  signatureAlgorithmName: string
  signatureAlgorithmDer: Buffer
}

const CURVES: Record<string, { name: string; hash: HashName; signatureOid: string; signatureName: string }> = {
  prime256v1: { name: 'P-256', hash: 'sha256', signatureOid: OID.ecdsaWithSha256, signatureName: 'ecdsa-with-SHA256' },
  secp384r1: { name: 'P-384', hash: 'sha384', signatureOid: OID.ecdsaWithSha384, signatureName: 'ecdsa-with-SHA384' },
  secp521r1: { name: 'P-521', hash: 'sha512', signatureOid: OID.ecdsaWithSha512, signatureName: 'ecdsa-with-SHA512' }
}

/** RSA keys below this are refused (NIST SP 800-131A; OpenSSL 3 security level 2 agrees). */
export const MIN_RSA_BITS = 2048

/**
 * Facts about a key, or a sentence saying why credbake cannot use it (unsupported algorithm,
 * curve or size). Works for private and public KeyObjects.
 */
export function keyFacts(key: KeyObject): KeyFacts | { unsupported: string } {
  const details = key.asymmetricKeyDetails ?? {}
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const curve = CURVES[details.namedCurve ?? '']
      if (!curve) return { unsupported: `EC curve ${details.namedCurve ?? '(unnamed)'} is not supported; use P-256, P-384 or P-521` }
      return {
        family: 'ec',
        description: `EC ${curve.name}`,
        hash: curve.hash,
        signatureAlgorithmName: curve.signatureName,
        // RFC 5758 §3.2: ECDSA AlgorithmIdentifiers have no parameters.
        signatureAlgorithmDer: sequence(oid(curve.signatureOid))
      }
    }
    case 'rsa': {
      const bits = details.modulusLength ?? 0
      if (bits < MIN_RSA_BITS) return { unsupported: `RSA ${bits}-bit keys are too weak; use at least ${MIN_RSA_BITS} bits` }
      return {
        family: 'rsa',
        description: `RSA ${bits}`,
        hash: 'sha256',
        signatureAlgorithmName: 'sha256WithRSAEncryption',
        // RFC 4055 §5: the RSA PKCS#1 v1.5 identifiers carry an explicit NULL.
        signatureAlgorithmDer: sequence(oid(OID.sha256WithRsa), DER_NULL)
      }
    }
    case 'ed25519':
      // RFC 8410 §3: parameters absent.
      return { family: 'ed25519', description: 'Ed25519', hash: null, signatureAlgorithmName: 'Ed25519', signatureAlgorithmDer: sequence(oid(OID.ed25519)) }
    default:
      return { unsupported: `${key.asymmetricKeyType ?? 'unknown'} keys are not supported; use EC (P-256, P-384, P-521), RSA (≥ ${MIN_RSA_BITS} bits) or Ed25519` }
  }
}

export function keyFamilyOf(keyType: KeyType): KeyFamily {
  if (keyType.startsWith('ec-')) return 'ec'
  if (keyType.startsWith('rsa-')) return 'rsa'
  return 'ed25519'
}

/** Signature algorithms credbake reads (on CSRs, certificates and CRLs), and the hash node:crypto verifies them with (null: Ed25519, no separate hash). */
export const SIGNATURE_HASHES: Record<string, HashName | null> = {
  [OID.ecdsaWithSha256]: 'sha256',
  [OID.ecdsaWithSha384]: 'sha384',
  [OID.ecdsaWithSha512]: 'sha512',
  [OID.sha256WithRsa]: 'sha256',
  [OID.sha384WithRsa]: 'sha384',
  [OID.sha512WithRsa]: 'sha512',
  [OID.ed25519]: null
}
