import type { KeyType, Lifetime } from '../settings/types.js'
import type { Device } from '../manifest/types.js'

/**
 * The certificate profile as data: what every device certificate looks like. Built from
 * settings (src/issue/profile.ts), recorded verbatim in the output manifest.
 */
export interface CertificateProfile {
  name: string
  keyType: KeyType
  /** DN template, placeholders `{field}` from the device row. */
  subject: string
  /** SAN template or undefined (no SAN extension). */
  san?: string
  lifetime: Lifetime
  /** notBefore = issuance time minus this (clock skew on devices). */
  backdateSeconds: number
  serialNumberBytes: number
  signatureAlgorithm: string
  extensions: ExtensionSpec[]
}

export interface ExtensionSpec {
  name: 'basicConstraints' | 'keyUsage' | 'extendedKeyUsage' | 'subjectKeyIdentifier' | 'authorityKeyIdentifier' | 'subjectAltName'
  oid: string
  critical: boolean
  /** Human description of the value, e.g. "CA:FALSE", "digitalSignature, keyEncipherment". */
  value: string
}

/** One issued device credential. `privateKeyPem` is absent when the row came with a CSR. */
export interface IssuedCredential {
  device: Device
  certificateDer: Buffer
  certificatePem: string
  /** PKCS#8 PEM. Secret: only ever written to the device's own key file. */
  privateKeyPem?: string
  /** Lower-case hex, no separators, 32 digits. */
  serialNumber: string
  /** RFC 4514-style text. */
  subject: string
  /** SHA-256 of the certificate DER, lower-case hex. */
  sha256: string
  /** SHA-256 of the SubjectPublicKeyInfo DER, lower-case hex. */
  publicKeySha256: string
  notBefore: Date
  notAfter: Date
}
