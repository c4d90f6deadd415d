// The journal's own record types (format 2). The journal is not the review manifest: it records
// what happened and everything that shaped each certificate, and the review is derived from it.

import type { BmapRecord, InstalledFile, PartitionRecord } from '../shapes/output.js'

/** Journal format written by this version. Format 1 (credbake 0.1) had no checksums and no bases. */
export const JOURNAL_FORMAT = 2

/**
 * What must be equal for a run to work in another run's output-dir at all. Anything else that
 * shapes a certificate or its files is part of a basis: when it changes, the devices concerned
 * are issued anew on resume instead of the run being refused.
 */
export interface RunIdentity {
  fleetCaSha256: string
  format: string
  compress: string
  /** SHA-256 of the base image (image and partition formats), else null. */
  imageSha256: string | null
  partition: string | null
  /** "i/n". */
  shard: string
}

/** What shaped every certificate and bundle of a run (the same for all its devices). */
export interface RunBasis {
  keyType: string
  /** e.g. "365 days", "until 2030-01-01T00:00:00Z", "never". */
  lifetime: string
  /** SHA-256 of the certificate profile as recorded in the manifest (templates, extensions, lifetime). */
  profileSha256: string
  layout: string
  credentialsDir: string
  serverCaSha256: string | null
  gatewayUrl: string | null
  /**
   * The OSTree stateroot whose var holds the files (they are stored at sysroot paths), only when
   * there is one: journals of runs without it stay as they were, so their devices resume.
   */
  ostreeOs?: string
}

/** What shaped one device's certificate beyond its run's basis. */
export interface DeviceBasis {
  deviceId: string
  /** The rendered subject, RFC 4514 text. */
  subject: string
  /** SHA-256 of the rendered subjectAltName value, or null without a SAN. */
  sanSha256: string | null
  /** SHA-256 of the CSR file, or null when credbake generates the key. */
  csrSha256: string | null
}

/** An installed file as the journal records it: the same shape a format's writer reports. */
export type JournalFile = InstalledFile

export interface JournalOutput {
  path: string
  size: number
  sha256: string
  partition?: PartitionRecord
  bmap?: BmapRecord
}

export interface RunRecord {
  type: 'run'
  run: string
  at: string
  version: string
  format: typeof JOURNAL_FORMAT
  identity: RunIdentity
  basis: RunBasis
  overwrite: boolean
}

export interface IssuedRecord {
  type: 'issued'
  run: string
  at: string
  serial: string
  basis: DeviceBasis
  certificate: {
    serialNumber: string
    sha256: string
    subject: string
    publicKeySha256: string
    notBefore: string
    notAfter: string
    keySource: 'generated' | 'csr'
    /** The certificate's subjectAltName as text (src/issue/san.ts describeSan); absent without a SAN. */
    san?: string
    pem: string
  }
  /** The device's certificate this one replaces (live before this run), and why. */
  replaces?: { certificateSha256: string; reason: ReplaceReason; changed?: string[] }
}

/**
 * Why a device with a live output was issued anew: its output was missing or modified, or
 * something that shaped its certificate or files changed (`changed` names what).
 */
export type ReplaceReason = 'output-redone' | 'reissued-changed'

export interface WrittenRecord {
  type: 'written'
  run: string
  at: string
  serial: string
  certificateSha256: string
  output: JournalOutput
  files: JournalFile[]
}

/**
 * An output removed by credbake because its device left the manifest (or an overwrite run did
 * not bake it again): from here on its certificate is live nowhere and may be revoked.
 */
export interface RetiredRecord {
  type: 'retired'
  run: string
  at: string
  serial: string
  certificateSha256: string
  path: string
}

export interface CompleteRecord {
  type: 'complete'
  run: string
  at: string
  devices: number
}

/**
 * `credbake revoke`: the device's live certificate is revoked from `at` on (a stolen or retired
 * device). Every later CRL lists it with `reason` (RFC 5280 CRLReason name, src/x509/crl-reasons.ts).
 */
export interface RevokedRecord {
  type: 'revoked'
  run: string
  at: string
  serial: string
  /** The certificate's serial number, lower-case hex as in its issued record. */
  serialNumber: string
  certificateSha256: string
  reason: 'unspecified' | 'keyCompromise' | 'affiliationChanged' | 'superseded' | 'cessationOfOperation'
}

/**
 * A CRL signed for this output-dir, journaled before crl.pem/crl.der are written: a number once
 * recorded is never used again, even when writing the files fails.
 */
export interface CrlRecord {
  type: 'crl'
  run: string
  at: string
  /** cRLNumber, decimal text (it may exceed 2^53). */
  number: string
  thisUpdate: string
  nextUpdate: string
  entries: number
  /** SHA-256 of the CRL's DER. */
  sha256: string
}

export type JournalRecord = RunRecord | IssuedRecord | WrittenRecord | RetiredRecord | CompleteRecord | RevokedRecord | CrlRecord

/**
 * Names of the fields that differ between two objects of the same shape, for messages. Optional
 * fields count when either side has them.
 */
export function differingFields<T extends object>(before: T, after: T): string[] {
  const keys = [...new Set([...Object.keys(after), ...Object.keys(before)])] as Array<keyof T>
  return keys.filter((key) => before[key] !== after[key]).map(String)
}
