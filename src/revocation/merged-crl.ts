// The CRL of a merged output-dir (`credbake merge`, then `credbake crl` there). A merge holds no
// journal: the entries come from the merged manifest (every shard's superseded certificates, with
// the CRL reason of their superseded reason and their issue time as revocation date, and every
// shard's revocations, whose reason wins), and the number is one above every number seen: each
// shard's last CRL (recorded by merge in `merged`), the merged manifest's last CRL and the number
// in crl.pem. crl.pem is written first, so the number it carries is never used again; then
// crl.der, then the manifest records the CRL.
import path from 'node:path'
import type { FleetCa } from '../ca/types.js'
import { InputError } from '../errors.js'
import { CRL_DER_FILE, CRL_PEM_FILE, MANIFEST_FILE, type ManifestCrl, type ReviewManifest } from '../shapes/review.js'
import type { CaSigner } from '../signer/types.js'
import { INPUT_LIMITS, readBoundedText } from '../util/bounded-read.js'
import { syncDir } from '../util/fsx.js'
import { crlPeriod, nextCrlNumber, normalizeSerialHex, signCrl, type CrlEntry, type SignedCrl } from '../x509/crl.js'
import { crlReasonForSuperseded, type CrlReason } from '../x509/crl-reasons.js'
import { existingCrlNumber, replaceFile } from '../crl/write-crl.js'

export interface MergedCrl {
  crl: SignedCrl
  manifestCrl: ManifestCrl
  pemPath: string
  derPath: string
  revoked: number
  superseded: number
}

/** Whether output-dir holds a merged review (and so no journal). */
export async function readMergedManifest(outputDir: string): Promise<ReviewManifest | undefined> {
  const file = path.join(outputDir, MANIFEST_FILE)
  let manifest: ReviewManifest
  try {
    manifest = JSON.parse(await readBoundedText(file, { maxBytes: INPUT_LIMITS.reviewFile, what: 'a review manifest' })) as ReviewManifest
  } catch {
    return undefined
  }
  return manifest.tool?.name === 'credbake' && Array.isArray(manifest.merged) ? manifest : undefined
}

export async function writeMergedCrl(options: { outputDir: string; manifest: ReviewManifest; ca: FleetCa; signer: CaSigner; days: number; now: Date }): Promise<MergedCrl> {
  const { outputDir, manifest, ca } = options
  if (manifest.fleetCa.sha256 !== ca.sha256) {
    throw new InputError(
      `fleet-ca-cert: the merged review in ${outputDir} was baked with the fleet CA of SHA-256 ${manifest.fleetCa.sha256}, not this one (${ca.sha256}); a CRL must be signed by the CA that issued the certificates`,
      { input: 'fleet-ca-cert' }
    )
  }
  const entries = new Map<string, CrlEntry>()
  for (const superseded of manifest.superseded) {
    entries.set(normalizeSerialHex(superseded.serialNumber) ?? superseded.serialNumber, {
      serialNumber: superseded.serialNumber,
      revokedAt: new Date(superseded.issuedAt),
      reason: crlReasonForSuperseded(superseded.reason)
    })
  }
  const revoked = manifest.revoked ?? []
  for (const revocation of revoked) {
    entries.set(normalizeSerialHex(revocation.serialNumber) ?? revocation.serialNumber, {
      serialNumber: revocation.serialNumber,
      revokedAt: new Date(revocation.revokedAt),
      reason: revocation.reason as CrlReason
    })
  }
  const pemPath = path.join(outputDir, CRL_PEM_FILE)
  const derPath = path.join(outputDir, CRL_DER_FILE)
  const number = nextCrlNumber(
    ...(manifest.merged ?? []).map((shard) => (shard.crlNumber === undefined ? undefined : BigInt(shard.crlNumber))),
    manifest.crl ? BigInt(manifest.crl.number) : undefined,
    await existingCrlNumber(pemPath)
  )
  const crl = await signCrl(ca, options.signer, { number, ...crlPeriod(options.days, options.now), entries: [...entries.values()] })
  await replaceFile(pemPath, Buffer.from(crl.pem))
  await replaceFile(derPath, crl.der)
  const manifestCrl: ManifestCrl = {
    file: CRL_PEM_FILE,
    number: crl.number.toString(),
    thisUpdate: crl.thisUpdate.toISOString(),
    nextUpdate: crl.nextUpdate.toISOString(),
    entries: crl.entryCount,
    sha256: crl.sha256
  }
  // The manifest as the review writer lays it out (JSON.stringify, two spaces), with the CRL recorded.
  await replaceFile(path.join(outputDir, MANIFEST_FILE), Buffer.from(`${JSON.stringify({ ...manifest, crl: manifestCrl }, null, 2)}\n`))
  await syncDir(outputDir)
  return { crl, manifestCrl, pemPath, derPath, revoked: revoked.length, superseded: entries.size - revoked.length }
}
