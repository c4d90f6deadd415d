import type { Device } from '../manifest/types.js'

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
