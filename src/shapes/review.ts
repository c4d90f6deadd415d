// The review manifest (credbake-manifest.json): what people read before flashing, and what
// `credbake verify` and `merge` read back. Its JSON Schema is schema/manifest.schema.json.
import type { CertificateProfile } from './profile.js'
import type { BmapRecord, PartitionRecord, PreexistingFile, ReviewWarning } from './output.js'

export type { PreexistingFile, ReviewWarning }

export const MANIFEST_FILE = 'credbake-manifest.json'
export const CERTIFICATES_FILE = 'certificates.pem'
export const SUPERSEDED_FILE = 'superseded.pem'
/** The fleet CA's CRL for this output-dir (input crl, `credbake crl`): PEM and DER. */
export const CRL_PEM_FILE = 'crl.pem'
export const CRL_DER_FILE = 'crl.der'
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
    /**
     * Base image, for image and partition formats. `preexisting`: files that were already in the
     * credentials folder of the base image and that the bundle does not replace (the same on
     * every device, so recorded once here); verify accepts exactly these beside the bundle.
     */
    image?: {
      path: string
      sha256?: string
      partition?: string
      preexisting?: PreexistingFile[]
    }
    /**
     * An OSTree target: `os` is the stateroot whose /var received the files; `sysrootPaths` is true
     * when the outputs hold the files at sysroot paths (/ostree/deploy/OS/var/…: always inside an
     * image's partition, and in tar/dir outputs baked with ostree-os); `deployments`, for image
     * formats, the stateroot's deployments in the base image.
     */
    ostree?: { os: string; sysrootPaths: boolean; deployments?: string[] }
  }
  shard: { index: number; count: number }
  /** What was baked from: the device manifest file, and the SHA-256 of its bytes (merge checks shards agree). */
  source: { manifest: { path: string; sha256: string } }
  /**
   * Only in a manifest written by `credbake merge`: the shard manifests it combines (`shard` is
   * then 1/1, as the merged set covers the whole device manifest).
   */
  merged?: MergedShard[]
  /** What a reviewer must know about the bake (each also a warning in the log and the summary). */
  warnings?: ReviewWarning[]
  /**
   * The review exports asked for besides those always written (src/exports/registry.ts), by name;
   * present only when there are any. Merge writes the same ones.
   */
  exports?: string[]
}

export interface MergedShard {
  /** "i/n" */
  shard: string
  devices: number
  superseded: number
  /** The shard's credbake-manifest.json as given to merge. */
  manifest: string
  createdAt: string
  /** Certificates the shard had revoked (carried into the merged manifest's `revoked`), when any. */
  revoked?: number
  /** The number of the shard's last CRL, when it had one: the merged CRL's number is higher. */
  crlNumber?: string
}

export type ManifestProfile = Omit<CertificateProfile, 'lifetime'> & {
  lifetime: { kind: 'days'; days: number } | { kind: 'until'; notAfter: string } | { kind: 'never' }
}

export interface ManifestFile {
  /** The path on the device. */
  path: string
  /**
   * Where the file is inside the partition's file system (image, partition) or inside the tar/dir
   * output (sysroot paths with ostree-os), present only when that differs from `path`.
   */
  partitionPath?: string
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
    /**
     * The subjectAltName as the certificate holds it, e.g. "DNS:dev-1.example.com, URI:urn:dev:1"
     * (src/issue/san.ts describeSan); absent when the profile has no SAN template.
     */
    san?: string
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
    /** With input bmap: the bmap file beside the image (it describes the uncompressed image). */
    bmap?: BmapRecord
    partition?: PartitionRecord
  }
  files: ManifestFile[]
}

/** Why a certificate is no longer the active one of its device (hand it to the server to revoke). */
export type SupersededReason =
  /** Issued, but the run stopped before its output was complete: the key may exist nowhere, or in a partial file. */
  | 'never-written'
  /** Its output was written, then found missing or modified on resume and redone with a new certificate. */
  | 'output-redone'
  /** A later run with overwrite replaced it. */
  | 'overwritten'
  /** Its serial is no longer in the device manifest; credbake removed its output. */
  | 'not-in-manifest'
  /** Something that shaped its certificate or files changed (see `changed`); issued anew. */
  | 'reissued-changed'

export interface SupersededCertificate {
  serial: string
  deviceId: string
  serialNumber: string
  sha256: string
  notAfter: string
  issuedAt: string
  reason: SupersededReason
  /** For reissued-changed: what changed, e.g. ["subject", "lifetime"]. */
  changed?: string[]
}

/** What one export asked for (header `exports`) wrote: its files under exports/, each with its SHA-256 and, for one line per device, how many devices it lists. */
export interface ExportSummary {
  name: string
  files: Array<{ path: string; sha256: string; devices?: number }>
}

/** A certificate revoked with `credbake revoke`: its device is marked revoked and not baked again. */
export interface RevokedCertificate {
  /** The device it was issued to. */
  serial: string
  serialNumber: string
  sha256: string
  /** When it was revoked (the CRL entry's revocationDate). */
  revokedAt: string
  /** RFC 5280 CRLReason name: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation. */
  reason: string
}

/** The last CRL journaled for this output-dir when the review was written (crl.pem). */
export interface ManifestCrl {
  file: string
  /** cRLNumber, decimal text. */
  number: string
  thisUpdate: string
  nextUpdate: string
  entries: number
  /** SHA-256 of crl.der. */
  sha256: string
}

export interface ManifestFooter {
  counts: { devices: number; superseded: number; revoked?: number }
  /** Present when the header names exports: what each wrote. */
  exported?: ExportSummary[]
  certificates: string
  superseded: SupersededCertificate[]
  supersededCertificates: string
  /** Present when any certificate was revoked with `credbake revoke`. */
  revoked?: RevokedCertificate[]
  /** Present once a CRL was written for this output-dir. */
  crl?: ManifestCrl
}

export type ReviewManifest = ManifestHeader & { devices: ManifestDevice[] } & ManifestFooter
