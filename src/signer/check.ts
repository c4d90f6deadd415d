// Before the first device is issued: the signer must hold the fleet CA certificate's key. Two
// checks, because a signer reports its public key and signs separately (a token or an external
// program could pair the wrong ones): the public keys are compared as SPKI DER, then a test
// signature made by the signer must verify with the certificate's public key (signature-check.ts,
// the same check every later signature from outside the process gets).
import { randomBytes, type KeyObject } from 'node:crypto'
import { CredbakeError, FleetCaError, messageOf } from '../errors.js'
import { handedBackBy, signatureProblem } from './signature-check.js'
import type { CaSigner } from './types.js'
import type { HashName } from '../x509/algorithms.js'

/** What the key check needs of each certificate of fleet-ca-cert. */
export interface CertificateKey {
  index: number
  subject: string
  publicKey: KeyObject
}

/** Same key? Both sides re-exported by node, so a compressed EC point equals its uncompressed form. */
export function sameKey(a: KeyObject, b: KeyObject): boolean {
  return spkiDer(a).equals(spkiDer(b))
}

export function spkiDer(key: KeyObject): Buffer {
  return key.export({ type: 'spki', format: 'der' })
}

/** The signer's public key must be the first certificate's; names the one it matches otherwise. */
export function checkSignerKey(signer: CaSigner, certificates: CertificateKey[], certOrigin: string): void {
  const ca = certificates[0] as CertificateKey
  if (sameKey(ca.publicKey, signer.publicKey)) return
  const matching = certificates.find((certificate) => sameKey(certificate.publicKey, signer.publicKey))
  const hint = matching
    ? ` It matches certificate ${matching.index + 1} (${matching.subject}): the signing CA must come first in fleet-ca-cert, followed by its issuers.`
    : ' Check that fleet-ca-key and fleet-ca-cert belong to the same fleet CA.'
  throw new FleetCaError(`fleet-ca-key: ${signer.description} does not match the fleet CA certificate (${ca.subject}) in ${certOrigin}.${hint}`, {
    input: 'fleet-ca-key'
  })
}

/** The signer must sign with the digest the certificate's key calls for (e.g. SHA-384 for P-384). */
export function checkSignerHash(signer: CaSigner, hash: HashName | null): void {
  if (signer.hash === hash) return
  throw new FleetCaError(`fleet-ca-key: ${signer.description} signs with ${signer.hash ?? 'no digest'}, but the fleet CA's key calls for ${hash ?? 'no digest (Ed25519)'}`, {
    input: 'fleet-ca-key'
  })
}

/** One real signature over fresh bytes, verified with the certificate's public key. */
export async function checkTestSignature(signer: CaSigner, publicKey: KeyObject, hash: HashName | null): Promise<void> {
  const probe = Buffer.concat([Buffer.from('credbake signer check '), randomBytes(32)])
  let signature: Buffer
  try {
    signature = await signer.sign(probe)
  } catch (error) {
    if (error instanceof CredbakeError) throw error
    throw new FleetCaError(`fleet-ca-key: ${signer.description} could not make a test signature: ${messageOf(error)}`, { input: 'fleet-ca-key', cause: error })
  }
  const problem = signatureProblem(publicKey, hash, probe, signature)
  // Remembered for the whole run: a signer that replays it for devices is named as repeating.
  handedBackBy(signer).note(signature, 'the start-up test signature', true)
  if (problem === undefined) return
  throw new FleetCaError(
    `fleet-ca-key: a test signature from ${signer.description} is bad: ${problem}` +
      (problem.startsWith('signed by another key') ? ' (check that the signer holds the fleet CA key)' : ''),
    { input: 'fleet-ca-key' }
  )
}
