// Builds the review manifest, certificates.pem and superseded.pem from the journal, in two
// streaming passes: the journal is the truth, the manifest its readable summary.
import { OutputError, isCredbakeError, messageOf } from '../errors.js'
import { readJournal } from '../journal/journal.js'
import type { IssuedRecord, ReplaceReason, WrittenRecord } from '../journal/records.js'
import { Sha256SumsWriter } from './sha256sums.js'
import { SUMMARY_MAX_ROWS } from './summary.js'
import { ReviewWriter } from './manifest-writer.js'
import {
  CERTIFICATES_FILE,
  MANIFEST_FILE,
  type ManifestDevice,
  type ManifestHeader,
  type SupersededCertificate,
  type SupersededReason
} from './types.js'

export interface ReviewResult {
  manifest: string
  certificates: string
  superseded: string
  /** SHA256SUMS: one `sha256sum -c` line per output file. */
  checksums: string
  devices: number
  supersededCount: number
  firstDevices: ManifestDevice[]
}

/** The review's entry for a device, from its certificate's two journal records. */
export function deviceEntry(issued: IssuedRecord, written: WrittenRecord): ManifestDevice {
  const { certificate } = issued
  return {
    serial: issued.serial,
    deviceId: issued.basis.deviceId,
    certificate: {
      serialNumber: certificate.serialNumber,
      subject: certificate.subject,
      sha256: certificate.sha256,
      publicKeySha256: certificate.publicKeySha256,
      notBefore: certificate.notBefore,
      notAfter: certificate.notAfter,
      keySource: certificate.keySource
    },
    output: {
      path: written.output.path,
      size: written.output.size,
      sha256: written.output.sha256,
      ...(written.output.partition ? { partition: written.output.partition } : {}),
      ...(written.output.bmap ? { bmap: written.output.bmap } : {})
    },
    files: written.files.map((file) =>
      file.secret
        ? { path: file.path, mode: file.mode, owner: file.owner, privateKey: true }
        : { path: file.path, mode: file.mode, owner: file.owner, sha256: file.sha256 ?? '', size: file.size, privateKey: false }
    )
  }
}

interface Pending {
  index: number
  record: IssuedRecord
}

/**
 * @param inScope serials of the current manifest (and shard): their active certificate is the one
 *   of their live output; every other certificate ever issued is listed as superseded.
 */
export async function writeReviewFromJournal(
  outputDir: string,
  header: ManifestHeader,
  inScope: ReadonlySet<string>
): Promise<ReviewResult> {
  // Pass 1 (small): each in-scope serial's live certificate, where the last overwrite began, and
  // why certificates were replaced or retired.
  const active = new Map<string, string>()
  const replaced = new Map<string, { reason: ReplaceReason; changed?: string[] }>()
  const retired = new Set<string>()
  let overwriteFrom = 0
  let index = 0
  for await (const { record } of readJournal(outputDir)) {
    if (record.type === 'run' && record.overwrite) overwriteFrom = index
    if (record.type === 'written' && inScope.has(record.serial)) active.set(record.serial, record.certificateSha256)
    if (record.type === 'retired') {
      retired.add(record.certificateSha256)
      if (active.get(record.serial) === record.certificateSha256) active.delete(record.serial)
    }
    if (record.type === 'issued' && record.replaces) {
      const { reason, changed } = record.replaces
      replaced.set(record.replaces.certificateSha256, changed ? { reason, changed } : { reason })
    }
    index++
  }

  let review: ReviewWriter
  try {
    review = await ReviewWriter.open(outputDir, header)
  } catch (error) {
    throw reviewWriteError(error, outputDir)
  }
  const sums = Sha256SumsWriter.open(outputDir)
  const firstDevices: ManifestDevice[] = []
  try {
    const pending = new Map<string, Pending>()
    const emitted = new Set<string>()
    const supersede = async ({ index, record }: Pending, written: boolean): Promise<void> => {
      const sha256 = record.certificate.sha256
      const why = replaced.get(sha256)
      const reason: SupersededReason =
        index < overwriteFrom
          ? 'overwritten'
          : retired.has(sha256) || !inScope.has(record.serial)
            ? 'not-in-manifest'
            : why
              ? why.reason
              : written
                ? 'output-redone'
                : 'never-written'
      const entry: SupersededCertificate = {
        serial: record.serial,
        deviceId: record.basis.deviceId,
        serialNumber: record.certificate.serialNumber,
        sha256,
        notAfter: record.certificate.notAfter,
        issuedAt: record.at,
        reason,
        ...(reason === 'reissued-changed' && why?.changed ? { changed: why.changed } : {})
      }
      await review.supersede(entry, record.certificate.pem)
    }

    // Pass 2: emit active devices in the order they completed; everything else is superseded.
    index = 0
    for await (const { record } of readJournal(outputDir)) {
      const at = index++
      if (record.type === 'issued') {
        pending.set(record.certificate.sha256, { index: at, record })
      } else if (record.type === 'written') {
        const issued = pending.get(record.certificateSha256)
        if (!issued) continue // a duplicate 'written' for a certificate already handled
        pending.delete(record.certificateSha256)
        const isActive = active.get(record.serial) === record.certificateSha256 && !emitted.has(record.serial)
        if (isActive) {
          emitted.add(record.serial)
          const entry = deviceEntry(issued.record, record)
          await review.add(entry, issued.record.certificate.pem)
          await sums.addDevice(entry, header.output.format)
          if (firstDevices.length < SUMMARY_MAX_ROWS) firstDevices.push(entry)
        } else {
          await supersede(issued, true)
        }
      }
    }
    for (const issued of pending.values()) await supersede(issued, false)
    const devices = review.devices
    const supersededCount = review.supersededCount
    // SHA256SUMS before the manifest: the manifest, written last, says the review is complete.
    const checksums = await sums.commit()
    const paths = await review.commit()
    return { ...paths, checksums, devices, supersededCount, firstDevices }
  } catch (error) {
    await sums.abandon()
    await review.abandon()
    throw reviewWriteError(error, outputDir)
  }
}

function reviewWriteError(error: unknown, outputDir: string): unknown {
  if (isCredbakeError(error)) return error
  const code = (error as NodeJS.ErrnoException).code
  return new OutputError(
    `Cannot write the review files (${MANIFEST_FILE}, ${CERTIFICATES_FILE}) into output-dir ${outputDir}${code === 'ENOSPC' ? ': the disk is full' : `: ${messageOf(error)}`}. Every device is recorded in the journal: free space and run again to write it.`,
    { cause: error }
  )
}
