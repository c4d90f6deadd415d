// Writing an output-dir's review again after a revocation or a CRL without a bake: the header of
// the review manifest already there (what was baked, with what), the devices and superseded
// certificates from the journal as always, now with the revocations and the last CRL.
import { closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { writeReviewFromJournal, type ReviewResult } from '../review/from-journal.js'
import { MANIFEST_FILE, type ManifestFooter, type ManifestHeader } from '../shapes/review.js'
import { O_NOFOLLOW } from '../util/confined.js'
import { scanManifest } from '../verify/manifest-scan.js'
import { readRevocationLedger } from '../crl/ledger.js'

/** Members of the manifest that the review writes after the devices (not part of the header). */
const FOOTER_KEYS: ReadonlyArray<keyof ManifestFooter | 'devices'> = ['devices', 'counts', 'exported', 'certificates', 'superseded', 'supersededCertificates', 'revoked', 'crl']

/** The registration template that carries the fleet CA certificate (input exports: aws-iot). */
const AWS_TEMPLATE = 'exports/aws-iot-template.json'

/**
 * The review written again from the journal, with the header of the one in output-dir; undefined
 * (and a warning) when there is none yet: the next bake writes it. The caller holds the lock.
 * `fleetCaPem`: for the exports made from the fleet CA (the AWS template); without it, it is taken
 * from the template the bake wrote.
 */
export async function rewriteReview(outputDir: string, warn: (message: string) => void, liveSerials?: Iterable<string>, fleetCaPem?: string): Promise<ReviewResult | undefined> {
  const file = path.join(outputDir, MANIFEST_FILE)
  if (!existsSync(file)) {
    warn(`output-dir ${outputDir} has no review manifest yet (no bake has finished there): the next bake writes it, with the revocation`)
    return undefined
  }
  const scan = await scanManifest(file)
  const header = Object.fromEntries(Object.entries(scan.members).filter(([key]) => !(FOOTER_KEYS as readonly string[]).includes(key))) as unknown as ManifestHeader
  // The devices in scope are those with a live output: the ones the review lists now.
  const scope = new Set(liveSerials ?? (await readRevocationLedger(outputDir)).live.keys())
  const caPem = fleetCaPem ?? (header.exports?.length ? fleetCaOfTemplate(outputDir) : undefined)
  return writeReviewFromJournal(outputDir, header, scope, caPem === undefined ? {} : { fleetCaPem: caPem })
}

/** The fleet CA certificate as the bake put it into the AWS registration template, if there is one. */
function fleetCaOfTemplate(outputDir: string): string | undefined {
  let fd: number | undefined
  try {
    // Never through a link: output-dir is a trust boundary.
    fd = openSync(path.join(outputDir, AWS_TEMPLATE), constants.O_RDONLY | O_NOFOLLOW)
    const template = JSON.parse(readFileSync(fd, 'utf8')) as { Resources?: { certificate?: { Properties?: { CACertificatePem?: unknown } } } }
    const pem = template.Resources?.certificate?.Properties?.CACertificatePem
    return typeof pem === 'string' ? pem : undefined
  } catch {
    return undefined
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}
