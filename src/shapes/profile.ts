// The certificate profile as data: built by issuance (src/issue/profile.ts), recorded verbatim in
// the review manifest, compared by verify and merge. Types only.
import type { KeyType, Lifetime } from '../settings/types.js'

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
