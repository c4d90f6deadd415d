// The review manifest (credbake-manifest.json): what people read before flashing, and what
// `credbake verify` and `merge` read back. Its JSON Schema is schema/manifest.schema.json.
import type { CertificateProfile } from '../issue/types.js'

export const MANIFEST_FILE = 'credbake-manifest.json'
export const CERTIFICATES_FILE = 'certificates.pem'
export const MANIFEST_SCHEMA_VERSION = 1

export interface ManifestHeader {
  schemaVersion: typeof MANIFEST_SCHEMA_VERSION
  tool: { name: 'credbake'; version: string }
  createdAt: string
  fleetCa: {
    subject: string
    sha256: string
    notBefore: string
    notAfter: string
    keyType: string
    signatureAlgorithm: string
    intermediate: boolean
  }
  profile: ManifestProfile
  layout: { name: string; credentialsDir: string }
  output: {
    format: string
    compress: string
    /** Base image, for image and partition formats. */
    image?: { path: string; sha256?: string; partition?: string }
  }
  shard: { index: number; count: number }
}

export type ManifestProfile = Omit<CertificateProfile, 'lifetime'> & {
  lifetime: { kind: 'days'; days: number } | { kind: 'until'; notAfter: string } | { kind: 'never' }
}

export interface ManifestFile {
  path: string
  /** Octal text, e.g. "0600"; null where the medium has none (FAT). */
  mode: string | null
  owner: string | null
  /** Present for every file but private keys, for which only presence and mode are recorded. */
  sha256?: string
  size?: number
  privateKey: boolean
}

export interface ManifestDevice {
  serial: string
  deviceId: string
  certificate: {
    serialNumber: string
    subject: string
    sha256: string
    publicKeySha256: string
    notBefore: string
    notAfter: string
    /** "generated" (credbake made the key) or "csr" (the device's own key, from a CSR). */
    keySource: 'generated' | 'csr'
  }
  output: {
    path: string
    size: number
    sha256: string
    partition?: { number: number; offset: number; size: number; fileSystem: string; label?: string }
  }
  files: ManifestFile[]
}

export interface ManifestFooter {
  counts: { devices: number }
  certificates: string
}

export type ReviewManifest = ManifestHeader & { devices: ManifestDevice[] } & ManifestFooter
