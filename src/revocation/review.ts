// Writing an output-dir's review again after a revocation or a CRL without a bake: the header of
// the review manifest already there (what was baked, with what), the devices and superseded
// certificates from the journal as always, now with the revocations and the last CRL.
import { existsSync } from 'node:fs'
import path from 'node:path'
import { writeReviewFromJournal, type ReviewResult } from '../review/from-journal.js'
import { MANIFEST_FILE, type ManifestFooter, type ManifestHeader } from '../shapes/review.js'
import { scanManifest } from '../verify/manifest-scan.js'
import { readRevocationLedger } from './ledger.js'

/** Members of the manifest that the review writes after the devices (not part of the header). */
const FOOTER_KEYS: ReadonlyArray<keyof ManifestFooter | 'devices'> = ['devices', 'counts', 'certificates', 'superseded', 'supersededCertificates', 'revoked', 'crl']

/**
 * The review written again from the journal, with the header of the one in output-dir; undefined
 * (and a warning) when there is none yet: the next bake writes it. The caller holds the lock.
 */
export async function rewriteReview(outputDir: string, warn: (message: string) => void, liveSerials?: Iterable<string>): Promise<ReviewResult | undefined> {
  const file = path.join(outputDir, MANIFEST_FILE)
  if (!existsSync(file)) {
    warn(`output-dir ${outputDir} has no review manifest yet (no bake has finished there): the next bake writes it, with the revocation`)
    return undefined
  }
  const scan = await scanManifest(file)
  const header = Object.fromEntries(Object.entries(scan.members).filter(([key]) => !(FOOTER_KEYS as readonly string[]).includes(key))) as unknown as ManifestHeader
  // The devices in scope are those with a live output: the ones the review lists now.
  const scope = new Set(liveSerials ?? (await readRevocationLedger(outputDir)).live.keys())
  return writeReviewFromJournal(outputDir, header, scope)
}
