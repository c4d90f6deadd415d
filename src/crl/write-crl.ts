// Signs the fleet CA's CRL for an output-dir and writes it as crl.pem and crl.der. Order matters:
// the CRL is signed and checked, its number journaled (fsync'd), and only then are the files
// renamed into place, so a number once handed out is never handed out again, even when the
// write dies. The caller holds the output-dir lock and the journal.
import { lstat, open, readFile, rename, rm } from 'node:fs/promises'
import path from 'node:path'
import type { FleetCa } from '../ca/types.js'
import { OutputError, messageOf } from '../errors.js'
import type { Journal } from '../journal/journal.js'
import type { CrlRecord } from '../journal/records.js'
import { CRL_DER_FILE, CRL_PEM_FILE } from '../shapes/review.js'
import type { CaSigner } from '../signer/types.js'
import { syncDir, tempSibling, writeAll } from '../util/fsx.js'
import { readPemBlocks } from '../util/pem.js'
import { crlPeriod, nextCrlNumber, readCrl, signCrl, type SignedCrl } from '../x509/crl.js'
import { readRevocationLedger, type RevocationLedger } from './ledger.js'

export interface WriteCrlOptions {
  outputDir: string
  ca: FleetCa
  signer: CaSigner
  /** crl-days: nextUpdate this many days ahead. */
  days: number
  journal: Journal
  /** The run id the crl record carries. */
  run: string
  now?: Date
}

export interface WrittenCrl {
  crl: SignedCrl
  record: CrlRecord
  pemPath: string
  derPath: string
  ledger: RevocationLedger
  /** Entries by source, for the log and summary. */
  revoked: number
  superseded: number
}

/**
 * The CRL of every certificate of `outputDir` that no device holds any more and of every revoked
 * one, numbered one above every number seen before (the journal's, and the one in an existing
 * crl.pem, should the journal have been restored from an older copy).
 */
export async function writeFleetCrl(options: WriteCrlOptions): Promise<WrittenCrl> {
  const { outputDir, ca, signer, journal } = options
  const now = options.now ?? new Date()
  const ledger = await readRevocationLedger(outputDir)
  const pemPath = path.join(outputDir, CRL_PEM_FILE)
  const derPath = path.join(outputDir, CRL_DER_FILE)
  const number = nextCrlNumber(ledger.lastCrl ? BigInt(ledger.lastCrl.number) : undefined, await existingCrlNumber(pemPath))
  const crl = await signCrl(ca, signer, {
    number,
    ...crlPeriod(options.days, now),
    entries: ledger.entries.map(({ serialNumber, revokedAt, reason }) => ({ serialNumber, revokedAt, reason }))
  })
  const record: CrlRecord = {
    type: 'crl',
    run: options.run,
    at: now.toISOString(),
    number: crl.number.toString(),
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: crl.nextUpdate.toISOString(),
    entries: crl.entryCount,
    sha256: crl.sha256
  }
  // Journal first: the number is spent from here on.
  await journal.append(record)
  await replaceFile(derPath, crl.der)
  await replaceFile(pemPath, Buffer.from(crl.pem))
  await syncDir(outputDir)
  const revoked = ledger.entries.filter((entry) => entry.source === 'revoked').length
  return { crl, record, pemPath, derPath, ledger, revoked, superseded: ledger.entries.length - revoked }
}

/** The cRLNumber of the crl.pem in output-dir, if there is one that can be read. */
export async function existingCrlNumber(pemPath: string): Promise<bigint | undefined> {
  const info = await lstat(pemPath).catch(() => undefined)
  if (!info?.isFile()) return undefined
  try {
    const blocks = readPemBlocks(await readFile(pemPath, 'utf8'))
    const der = 'problem' in blocks ? undefined : blocks.find((block) => block.label === 'X509 CRL')?.der
    return der ? readCrl(der).number : undefined
  } catch {
    return undefined // unreadable: replaced by the new one, whose number the journal vouches for
  }
}

/** Written under a temporary name, fsync'd, renamed over the old file (0644: a CRL is public). */
export async function replaceFile(target: string, bytes: Buffer): Promise<void> {
  const temp = tempSibling(target)
  try {
    const handle = await open(temp, 'wx', 0o644)
    try {
      await writeAll(handle, bytes)
      await handle.chmod(0o644)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, target)
  } catch (error) {
    await rm(temp, { force: true })
    throw new OutputError(`Cannot write ${target}: ${messageOf(error)}. The CRL's number is journaled; run credbake crl again to write a new one (numbers never repeat).`, {
      file: target,
      cause: error
    })
  }
}
