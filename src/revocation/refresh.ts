// `credbake crl`: sign a fresh CRL for an output-dir without baking (a refresh before nextUpdate,
// or after `credbake revoke`), then write the review again so that it records the new number.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { openFleetCa } from '../ca/load.js'
import { InputError } from '../errors.js'
import { JOURNAL_FILE, Journal } from '../journal/journal.js'
import { OutputLock } from '../journal/lock.js'
import type { CrlRecord } from '../journal/records.js'
import { loadJournalState } from '../journal/state.js'
import { prepareOutputDir } from '../pipeline/output-dir.js'
import type { ReviewResult } from '../review/from-journal.js'
import type { PemSource } from '../settings/types.js'
import { checkCanSignCrls } from '../x509/crl.js'
import { rewriteReview } from './review.js'
import { readMergedManifest, writeMergedCrl } from './merged-crl.js'
import { writeFleetCrl, type WrittenCrl } from '../crl/write-crl.js'

export interface RefreshCrlOptions {
  outputDir: string
  fleetCaCert: PemSource
  fleetCaKey: PemSource
  passphrase?: string
  pkcs11Module?: string
  days: number
  now?: Date
  warn?: (message: string) => void
}

/** What was written: the CRL, its record (journaled for a bake's output-dir; for a merged one, what the manifest records) and its entries by source. */
export type RefreshedCrl = Pick<WrittenCrl, 'crl' | 'record' | 'pemPath' | 'derPath' | 'revoked' | 'superseded'> & { review?: ReviewResult; merged: boolean }

export async function refreshCrl(options: RefreshCrlOptions): Promise<RefreshedCrl> {
  const { outputDir } = options
  const warn = options.warn ?? (() => {})
  const merged = existsSync(path.join(outputDir, JOURNAL_FILE)) ? undefined : await readMergedManifest(outputDir)
  if (!existsSync(path.join(outputDir, JOURNAL_FILE)) && !merged) {
    throw new InputError(`output-dir ${outputDir} holds no credbake journal (${JOURNAL_FILE}) and no merged review: give the output-dir the devices were baked or merged into`, {
      input: 'output-dir'
    })
  }
  const now = options.now ?? new Date()
  // The CRL's own period is the only "lifetime" asked of the CA here.
  const { ca, signer } = await openFleetCa({
    cert: options.fleetCaCert,
    key: options.fleetCaKey,
    ...(options.passphrase ? { passphrase: options.passphrase } : {}),
    ...(options.pkcs11Module ? { pkcs11Module: options.pkcs11Module } : {}),
    lifetime: { kind: 'days', days: 1 },
    now,
    warn
  })
  try {
    checkCanSignCrls(ca)
    await prepareOutputDir(outputDir, warn)
    const lock = await OutputLock.acquire(outputDir, { warn, doing: 'working in' })
    try {
      if (merged) {
        // Read again under the lock: a merge may have replaced it meanwhile.
        const manifest = (await readMergedManifest(outputDir)) ?? merged
        const written = await writeMergedCrl({ outputDir, manifest, ca, signer, days: options.days, now })
        const record: CrlRecord = { type: 'crl', run: `${now.toISOString()}-${process.pid}`, at: now.toISOString(), ...written.manifestCrl }
        return { crl: written.crl, record, pemPath: written.pemPath, derPath: written.derPath, revoked: written.revoked, superseded: written.superseded, merged: true }
      }
      const state = await loadJournalState(outputDir)
      // Only the CA that issued the certificates may revoke them.
      if (state.identity && state.identity.fleetCaSha256 !== ca.sha256) {
        throw new InputError(
          `fleet-ca-cert: output-dir ${outputDir} was baked with the fleet CA of SHA-256 ${state.identity.fleetCaSha256}, not this one (${ca.sha256}); a CRL must be signed by the CA that issued the certificates`,
          { input: 'fleet-ca-cert' }
        )
      }
      const journal = await Journal.open(outputDir)
      let written: WrittenCrl
      try {
        written = await writeFleetCrl({ outputDir, ca, signer, days: options.days, journal, run: `${now.toISOString()}-${process.pid}`, now })
      } finally {
        await journal.close()
      }
      const review = await rewriteReview(outputDir, warn, written.ledger.live.keys(), ca.pem)
      return { ...written, ...(review ? { review } : {}), merged: false }
    } finally {
      await lock.release()
    }
  } finally {
    await signer.close()
  }
}
