// Why a certificate is on the fleet CA's CRL: the RFC 5280 §5.3.1 CRLReason codes credbake writes,
// the reason names `credbake revoke --reason` takes, and how each superseded reason of the review
// (SupersededReason, src/shapes/review.ts) maps to a code. Data only: the CRL builder writes the code,
// the revoke command parses the name, the review looks up the superseded mapping.
import { InputError } from '../errors.js'
import type { SupersededReason } from '../shapes/review.js'

/** The CRLReason codes credbake uses (RFC 5280 §5.3.1; 2, 6, 8, 9 and 10 concern CAs, holds and attributes). */
export const CRL_REASON_CODES = {
  unspecified: 0,
  keyCompromise: 1,
  affiliationChanged: 3,
  superseded: 4,
  cessationOfOperation: 5
} as const

export type CrlReason = keyof typeof CRL_REASON_CODES

/** `credbake revoke --reason NAME`: the command-line names and the reason each one writes. */
export const REVOKE_REASONS = {
  'key-compromise': 'keyCompromise',
  'affiliation-changed': 'affiliationChanged',
  superseded: 'superseded',
  'cessation-of-operation': 'cessationOfOperation'
} as const satisfies Record<string, CrlReason>

export type RevokeReasonName = keyof typeof REVOKE_REASONS

/** What a revocation without --reason records: no reasonCode in the CRL entry (RFC 5280 §5.3.1). */
export const DEFAULT_REVOKE_REASON: CrlReason = 'unspecified'

/**
 * The reason a `--reason` value stands for; absent means unspecified. An unknown name is an
 * InputError naming the flag and listing the names.
 */
export function parseRevokeReason(value: string | undefined, input = 'reason'): CrlReason {
  if (value === undefined || value === '') return DEFAULT_REVOKE_REASON
  const reason = (REVOKE_REASONS as Record<string, CrlReason>)[value.trim()]
  if (reason !== undefined) return reason
  throw new InputError(`${input} "${value}" is not one of ${Object.keys(REVOKE_REASONS).join(', ')} (leave it out for an unspecified reason)`, { input })
}

/** The review's superseded reasons (one definition: src/shapes/review.ts). */
export type SupersededReasonName = SupersededReason

/**
 * Every superseded reason's CRL reason, with the one-line why that docs/revocation-and-registries.md
 * repeats. A superseded certificate was issued by the fleet CA and no device should hold it any
 * more: each one is listed, none is left out.
 */
export const SUPERSEDED_CRL_REASONS: Readonly<Record<SupersededReasonName, { reason: CrlReason; why: string }>> = {
  'reissued-changed': {
    reason: 'superseded',
    why: 'the device was issued a new certificate because its subject, lifetime or files changed; the old one is replaced'
  },
  'output-redone': {
    reason: 'superseded',
    why: 'the output was missing or modified on resume and was written again with a new certificate; the old one is replaced'
  },
  overwritten: {
    reason: 'superseded',
    why: 'a later run with overwrite issued the device a new certificate; the old one is replaced'
  },
  'never-written': {
    reason: 'superseded',
    why: 'the run stopped before the output was complete, so the key may exist in a partial file or nowhere; listing it costs nothing, leaving it out risks a live credential'
  },
  'not-in-manifest': {
    reason: 'cessationOfOperation',
    why: 'the serial left the device manifest and credbake removed its output; the device is out of service, not replaced'
  }
}

/** The CRL reason of a superseded certificate. */
export function crlReasonForSuperseded(reason: SupersededReasonName): CrlReason {
  return SUPERSEDED_CRL_REASONS[reason].reason
}
