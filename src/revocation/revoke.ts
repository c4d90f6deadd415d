// `credbake revoke`: journal the revocation of a device's live certificate (a stolen, sold or
// retired device), then write the review again so that it marks the device revoked. The next CRL
// (`credbake crl`, or a bake with crl: true) lists the certificate with the reason given here.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { InputError } from '../errors.js'
import { JOURNAL_FILE, Journal } from '../journal/journal.js'
import { OutputLock } from '../journal/lock.js'
import type { RevokedRecord } from '../journal/records.js'
import { prepareOutputDir } from '../pipeline/output-dir.js'
import type { ReviewResult } from '../review/from-journal.js'
import { normalizeSerialHex } from '../x509/crl.js'
import type { CrlReason } from '../x509/crl-reasons.js'
import { readRevocationLedger } from '../crl/ledger.js'
import { rewriteReview } from './review.js'

export interface RevokeOptions {
  outputDir: string
  /** --serial: the device whose live certificate is revoked. */
  serial?: string
  /** --certificate-serial: the certificate's serial number (hex, colons allowed). */
  certificateSerial?: string
  reason: CrlReason
  now?: Date
  warn?: (message: string) => void
}

export interface RevokeResult {
  record: RevokedRecord
  /** The review written again; undefined when output-dir had none (no bake finished yet). */
  review?: ReviewResult
}

export async function revokeDevice(options: RevokeOptions): Promise<RevokeResult> {
  const { outputDir } = options
  if ((options.serial === undefined) === (options.certificateSerial === undefined)) {
    throw new InputError('revoke needs exactly one of --serial SERIAL (a device) and --certificate-serial HEX (a certificate)', { input: 'serial' })
  }
  if (!existsSync(path.join(outputDir, JOURNAL_FILE))) {
    throw new InputError(`output-dir ${outputDir} holds no credbake journal (${JOURNAL_FILE}): give the output-dir the devices were baked into`, { input: 'output-dir' })
  }
  const warn = options.warn ?? (() => {})
  await prepareOutputDir(outputDir, warn)
  const lock = await OutputLock.acquire(outputDir, { warn, doing: 'working in' })
  try {
    const ledger = await readRevocationLedger(outputDir)
    const target = findTarget(ledger, options)
    const earlier = ledger.revocations.find((revocation) => revocation.serialNumber === target.serialNumber)
    if (earlier) {
      throw new InputError(
        `certificate ${earlier.serialNumber} of device ${earlier.serial} is already revoked: since ${earlier.at}, reason ${earlier.reason}; a certificate is revoked once (the CRL keeps the first reason)`,
        { input: options.serial !== undefined ? 'serial' : 'certificate-serial' }
      )
    }
    const now = options.now ?? new Date()
    const record: RevokedRecord = {
      type: 'revoked',
      run: `${now.toISOString()}-${process.pid}`,
      at: now.toISOString(),
      serial: target.serial,
      serialNumber: target.serialNumber,
      certificateSha256: target.certificateSha256,
      reason: options.reason
    }
    const journal = await Journal.open(outputDir)
    try {
      await journal.append(record)
    } finally {
      await journal.close()
    }
    const review = await rewriteReview(outputDir, warn, ledger.live.keys())
    return { record, ...(review ? { review } : {}) }
  } finally {
    await lock.release()
  }
}

/** The live certificate named by --serial or --certificate-serial; a typed refusal otherwise. */
function findTarget(ledger: Awaited<ReturnType<typeof readRevocationLedger>>, options: RevokeOptions): { serial: string; serialNumber: string; certificateSha256: string } {
  if (options.serial !== undefined) {
    const serial = options.serial
    const held = ledger.live.get(serial)
    if (held) return { serial, ...held }
    const known = ledger.entries.some((entry) => entry.serial === serial)
    throw new InputError(
      known
        ? `serial ${serial}: the device has no live certificate in this output-dir (its output was removed or never completed); every certificate it was issued is already on the CRL as superseded`
        : `serial ${serial} is not a device baked into this output-dir (no certificate in its journal was issued to it)`,
      { input: 'serial' }
    )
  }
  const wanted = normalizeSerialHex(options.certificateSerial ?? '')
  if (wanted === null) {
    throw new InputError(`certificate-serial "${options.certificateSerial}" is not a certificate serial number (hex digits, colons allowed, as openssl x509 -serial prints it)`, {
      input: 'certificate-serial'
    })
  }
  for (const [serial, held] of ledger.live) {
    if (normalizeSerialHex(held.serialNumber) === wanted) return { serial, ...held }
  }
  const superseded = ledger.entries.find((entry) => normalizeSerialHex(entry.serialNumber) === wanted)
  throw new InputError(
    superseded
      ? `certificate-serial ${wanted} is not the live certificate of device ${superseded.serial}: it is already on the CRL (${superseded.source === 'revoked' ? 'revoked' : `superseded, ${superseded.superseded}`})`
      : `certificate-serial ${wanted} is not a certificate credbake issued into this output-dir`,
    { input: 'certificate-serial' }
  )
}
