// Builds the review manifest, certificates.pem and superseded.pem from the journal, in one
// streaming pass: the journal is the truth, the manifest its readable summary.
import { OutputError, isCredbakeError, messageOf } from '../errors.js'
import { readJournal } from '../journal/journal.js'
import { SUMMARY_MAX_ROWS } from './summary.js'
import { ReviewWriter } from './manifest-writer.js'
import { CERTIFICATES_FILE, MANIFEST_FILE, type ManifestDevice, type ManifestHeader, type SupersededReason } from './types.js'

export interface ReviewResult {
  manifest: string
  certificates: string
  superseded: string
  devices: number
  supersededCount: number
  firstDevices: ManifestDevice[]
}

interface Issued {
  index: number
  serial: string
  deviceId: string
  serialNumber: string
  sha256: string
  notAfter: string
  at: string
  pem: string
}

/**
 * @param inScope serials of the current manifest (and shard): their active certificate is the one
 *   of their last completed output; every other certificate ever issued is listed as superseded.
 */
export async function writeReviewFromJournal(
  outputDir: string,
  header: ManifestHeader,
  inScope: ReadonlySet<string>
): Promise<ReviewResult> {
  // Pass 1 (small): each in-scope serial's active certificate, and where the last overwrite began.
  const active = new Map<string, string>()
  let overwriteFrom = 0
  let index = 0
  for await (const record of readJournal(outputDir)) {
    if (record.type === 'run' && record.overwrite) {
      overwriteFrom = index
      active.clear()
    }
    if (record.type === 'written' && inScope.has(record.serial)) active.set(record.serial, record.certificateSha256)
    index++
  }

  let review: ReviewWriter
  try {
    review = await ReviewWriter.open(outputDir, header)
  } catch (error) {
    throw reviewWriteError(error, outputDir)
  }
  const firstDevices: ManifestDevice[] = []
  try {
    const pending = new Map<string, Issued>()
    const emitted = new Set<string>()
    const supersede = async (issued: Issued, written: boolean): Promise<void> => {
      const reason: SupersededReason =
        issued.index < overwriteFrom
          ? 'overwritten'
          : !inScope.has(issued.serial)
            ? 'not-in-manifest'
            : written
              ? 'output-redone'
              : 'never-written'
      await review.supersede(
        {
          serial: issued.serial,
          deviceId: issued.deviceId,
          serialNumber: issued.serialNumber,
          sha256: issued.sha256,
          notAfter: issued.notAfter,
          issuedAt: issued.at,
          reason
        },
        issued.pem
      )
    }

    // Pass 2: emit active devices in the order they completed; everything else is superseded.
    index = 0
    for await (const record of readJournal(outputDir)) {
      const at = index++
      if (record.type === 'issued') {
        pending.set(record.certificate.sha256, {
          index: at,
          serial: record.serial,
          deviceId: record.deviceId,
          serialNumber: record.certificate.serialNumber,
          sha256: record.certificate.sha256,
          notAfter: record.certificate.notAfter,
          at: record.at,
          pem: record.certificate.pem
        })
      } else if (record.type === 'written') {
        const issued = pending.get(record.certificateSha256)
        if (!issued) continue // a duplicate 'written' for a certificate already handled
        pending.delete(record.certificateSha256)
        const isActive = active.get(record.serial) === record.certificateSha256 && !emitted.has(record.serial)
        if (isActive) {
          emitted.add(record.serial)
          await review.add(record.entry, issued.pem)
          if (firstDevices.length < SUMMARY_MAX_ROWS) firstDevices.push(record.entry)
        } else {
          await supersede(issued, true)
        }
      }
    }
    for (const issued of pending.values()) await supersede(issued, false)
    const devices = review.devices
    const supersededCount = review.supersededCount
    const paths = await review.commit()
    return { ...paths, devices, supersededCount, firstDevices }
  } catch (error) {
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
