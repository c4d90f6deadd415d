// Every review export, in the order they are committed: the one place an export is registered.
// A bake's review and `credbake merge` open the exports a run asks for (the ones always written,
// and those its header's `exports` names), hand each of them every active device and superseded
// certificate in manifest order, then commit them one after another; SHA256SUMS comes last, as it
// lists the files of the exports before it.
//
// Merge and exports: a merge feeds the exports the merged device entries, so every export is
// regenerated from them, not concatenated from the shards; only the files an export makes from
// the run alone (`runFiles`, e.g. a registration template made from the fleet CA certificate) are
// taken from the shards, which must hold the same bytes (src/merge/merge.ts checks and links them).
import type { ExportSummary, ManifestDevice, SupersededCertificate } from '../shapes/review.js'
import { certificatesExport } from './certificates.js'
import { REGISTRY_EXPORTS, registrationExport } from './registration.js'
import { sha256sumsExport } from './sha256sums.js'
import { supersededExport } from './superseded.js'
import type { ExportedFile, ExportRun, ExportWriter, ReviewDevice, ReviewExport } from './types.js'

export const REVIEW_EXPORTS: readonly ReviewExport[] = [certificatesExport, supersededExport, ...REGISTRY_EXPORTS.map(registrationExport), sha256sumsExport]

/** Every file of output-dir the registered exports may write (an earlier review's are removed before a run writes anew). */
export function exportFiles(exports: readonly ReviewExport[] = REVIEW_EXPORTS): string[] {
  return exports.flatMap((item) => item.files)
}

/**
 * The folders of output-dir the registered exports write in (`exports`): part of the trust
 * boundary like the output folders (checked to be real folders of this user, never followed).
 */
export function exportFolders(exports: readonly ReviewExport[] = REVIEW_EXPORTS): string[] {
  return [
    ...new Set(
      exportFiles(exports)
        .filter((file) => file.includes('/'))
        .map((file) => file.slice(0, file.indexOf('/')))
    )
  ]
}

/** The exports a run writes: those always written and those its header names, in registry order. */
export function exportsOf(run: Pick<ExportRun, 'header'>, exports: readonly ReviewExport[] = REVIEW_EXPORTS): ReviewExport[] {
  const asked = new Set(run.header.exports ?? [])
  const unknown = [...asked].filter((name) => !exports.some((item) => !item.always && item.name === name))
  if (unknown.length) throw new Error(`internal: no review export ${unknown.map((name) => JSON.stringify(name)).join(', ')}`)
  return exports.filter((item) => item.always || asked.has(item.name))
}

/** The exports of one run, fed together. */
export class ReviewExports {
  private constructor(
    private readonly writers: ExportWriter[],
    /** The opened exports, in the writers' order. */
    readonly opened: readonly ReviewExport[]
  ) {}

  static open(run: ExportRun, exports: readonly ReviewExport[] = REVIEW_EXPORTS): ReviewExports {
    const opened = exportsOf(run, exports)
    return new ReviewExports(
      opened.map((item) => item.open(run)),
      opened
    )
  }

  /** An active device, in manifest order (synchronous; `drain` writes out). */
  device(device: ReviewDevice): void {
    for (const writer of this.writers) writer.device(device)
  }

  superseded(entry: SupersededCertificate, certificatePem: string): void {
    for (const writer of this.writers) writer.superseded?.(entry, certificatePem)
  }

  async drain(): Promise<void> {
    for (const writer of this.writers) await writer.drain()
  }

  /**
   * Commit every export in turn, each told the files the ones before it listed. `carried`: files
   * a merge took from the shards, listed right after the files of the export that makes them (where
   * a bake's review lists them), so a merged SHA256SUMS is in the order one bake would write.
   */
  async commit(carried: readonly ExportedFile[] = []): Promise<ExportedFile[]> {
    const listed: ExportedFile[] = []
    const placed = new Set<ExportedFile>()
    for (const [index, writer] of this.writers.entries()) {
      listed.push(...(await writer.commit(listed)))
      const own = carried.filter((file) => this.opened[index]!.runFiles?.includes(file.path))
      for (const file of own) placed.add(file)
      listed.push(...own)
    }
    const unplaced = carried.filter((file) => !placed.has(file))
    if (unplaced.length) throw new Error(`internal: no export makes ${unplaced.map((file) => file.path).join(', ')}`)
    return listed
  }

  /**
   * What the exports asked for (not those always written) wrote, by export, for the review
   * manifest and the summary: `listed` is what commit returned (carried files included).
   */
  summaries(listed: readonly ExportedFile[]): ExportSummary[] {
    return this.opened
      .filter((item) => !item.always)
      .map((item) => ({
        name: item.name,
        files: listed
          .filter((file) => item.files.includes(file.path))
          .map((file) => ({ path: file.path, sha256: file.sha256, ...(file.devices === undefined ? {} : { devices: file.devices }) }))
      }))
  }

  async abandon(): Promise<void> {
    await Promise.all(this.writers.map((writer) => writer.abandon()))
  }
}

/** A device for the exports from its manifest entry and certificate (a merge, or a review line read the long way). */
export function deviceOfEntry(entry: ManifestDevice, certificatePem: string): ReviewDevice {
  return {
    serial: entry.serial,
    deviceId: entry.deviceId,
    certificatePem,
    subject: entry.certificate.subject,
    ascii: false,
    output: entry.output,
    files: () => entry.files,
    entry: () => entry
  }
}
