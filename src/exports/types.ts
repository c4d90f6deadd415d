// Review exports: files the review pass writes besides the manifest, from the same devices in the
// same order (certificates.pem, superseded.pem, SHA256SUMS; registration files for AWS IoT or Azure
// DPS; a CRL's input). Each export is one module of this folder and one line of
// src/exports/registry.ts; the review of a bake and `credbake merge` both hand every device and
// the run's header to the registered exports, so a new export needs no code anywhere else.
import type { BmapRecord } from '../shapes/output.js'
import type { ManifestDevice, ManifestFile, ManifestHeader, SupersededCertificate } from '../shapes/review.js'

/** One active device as the review hands it to each export (read lazily: the review's fast path builds no entry). */
export interface ReviewDevice {
  readonly serial: string
  readonly deviceId: string
  /** The device certificate alone (PEM, ending with a newline). */
  readonly certificatePem: string
  /** The certificate's subject as the manifest gives it (RFC 4514 text). */
  readonly subject: string
  /** The PEM and the fields above are ASCII (a writer may encode them as latin1, which is cheaper). */
  readonly ascii: boolean
  /** The output as recorded: path relative to output-dir, SHA-256, its bmap. */
  readonly output: { readonly path: string; readonly sha256: string; readonly bmap?: BmapRecord }
  /** The installed files as recorded (what a tree output's SHA256SUMS lines need). */
  files(): ReadonlyArray<Pick<ManifestFile, 'path' | 'partitionPath' | 'sha256' | 'privateKey'>>
  /** The device's whole manifest entry (made on demand). */
  entry(): ManifestDevice
}

/** The run an export writes for. */
export interface ExportRun {
  outputDir: string
  /** The review manifest's header (its `exports` names the exports asked for). */
  header: ManifestHeader
  /**
   * The signing fleet CA's certificate (PEM) in a bake; undefined in a merge, where the files an
   * export writes from the run alone (`runFiles`) are carried from the shards instead.
   */
  fleetCaPem?: string
}

/** A file an export wrote, relative to output-dir, for SHA256SUMS (and the review manifest's `exported`). */
export interface ExportedFile {
  path: string
  sha256: string
  /** For a file with one line per active device (a registration JSONL): how many it lists. */
  devices?: number
}

/** One export's files for one run: fed device after device, then committed (or abandoned). */
export interface ExportWriter {
  /** An active device, in manifest order. Synchronous: held in memory until `drain`. */
  device(device: ReviewDevice): void
  /** A certificate no longer its device's active one, in manifest order. */
  superseded?(entry: SupersededCertificate, certificatePem: string): void
  /** Write out what is held, when it is much. */
  drain(): Promise<void>
  /**
   * Finish the files and rename them into place. `before`: the files the exports committed before
   * this one listed for SHA256SUMS (SHA256SUMS lists them). Returns the files to list in SHA256SUMS.
   */
  commit(before: readonly ExportedFile[]): Promise<ExportedFile[]>
  abandon(): Promise<void>
}

export interface ReviewExport {
  /** Its name in the `exports` input, e.g. "aws-iot"; for those always written, the file name. */
  readonly name: string
  /** Written by every bake and merge (certificates.pem, superseded.pem, SHA256SUMS); else only when the header's `exports` names it. */
  readonly always: boolean
  /** The files of output-dir it writes, relative to it (an earlier review's are removed before a run writes them anew). */
  readonly files: readonly string[]
  /**
   * Of `files`, those written from the run alone, not from its devices (a registration template
   * made from the fleet CA certificate): a merge takes them from the shards, which must agree
   * byte for byte, and lists them in SHA256SUMS. Their writer writes them only when `run.fleetCaPem` is set.
   */
  readonly runFiles?: readonly string[]
  open(run: ExportRun): ExportWriter
}

/** One device as a device registry sees it (src/exports/aws-iot.ts, azure-dps.ts). */
export interface RegistryDevice {
  /** The manifest serial (names credbake's files). */
  serial: string
  deviceId: string
  /** The device certificate alone, PEM (no chain above it). */
  certificatePem: string
  /** The CN of the certificate's subject (the identity device clients such as aktualizr present). */
  commonName: string | undefined
}

export interface ExportFile {
  /** Relative to output-dir, e.g. "exports/aws-iot-template.json". */
  path: string
  text: string
}

/**
 * What a device registry's bulk registration is made of: one JSON line per device plus files that
 * depend on the fleet CA alone. src/exports/registration.ts makes a ReviewExport of it.
 */
export interface RegistryExport {
  /** The name in the `exports` input, e.g. "aws-iot". */
  readonly name: string
  /** The JSONL file, relative to output-dir. */
  readonly jsonlPath: string
  /** The files `caFiles` gives, relative to output-dir (known before the fleet CA is). */
  readonly caFilePaths: readonly string[]
  /**
   * Why this device cannot go into the registry (its ID or CN breaks the registry's rules), or
   * null. Needs only what is known before issuing, so rows are refused before any certificate.
   */
  check(device: Pick<RegistryDevice, 'deviceId' | 'commonName'>): string | null
  /**
   * When the registry compares its IDs ignoring case: what it calls them ("Azure DPS registration
   * IDs"). Device IDs that differ only in case are then refused with the rows, as one registry
   * entry would stand for two devices.
   */
  readonly idsIgnoreCase?: string
  /** The device's JSON line, without the newline. */
  line(device: RegistryDevice): string
  /** Files beside the JSONL, from the signing fleet CA's certificate. */
  caFiles(fleetCaPem: string): ExportFile[]
}
