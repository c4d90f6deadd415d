// What a bake does with revoked devices: it does not quietly issue them a new certificate. A
// device whose latest certificate was revoked (`credbake revoke`) is held as it is, revoked and
// not baked, unless input reissue-revoked names it: then it is issued anew on purpose, and the
// revoked certificate stays on the CRL with its reason.
import { InputError } from '../errors.js'
import type { JournalState } from '../journal/state.js'

export interface RevokedPlan {
  /** Serials held: not issued, not baked, their output (if any) left as it is. */
  held: Set<string>
  /** Serials issued anew on purpose (reissue-revoked). */
  reissue: Set<string>
}

export function planRevoked(state: Pick<JournalState, 'revokedDevices'>, inScope: (serial: string) => boolean, reissueRevoked: readonly string[]): RevokedPlan {
  const reissue = new Set(reissueRevoked)
  const notRevoked = [...reissue].filter((serial) => !state.revokedDevices.has(serial))
  if (notRevoked.length) {
    throw new InputError(
      `reissue-revoked names ${notRevoked.map((serial) => JSON.stringify(serial)).join(', ')}, which ${notRevoked.length === 1 ? 'is' : 'are'} not a revoked device of this output-dir (revoke first with credbake revoke, or leave ${notRevoked.length === 1 ? 'it' : 'them'} out)`,
      { input: 'reissue-revoked' }
    )
  }
  const held = new Set<string>()
  for (const serial of state.revokedDevices.keys()) if (!reissue.has(serial) && inScope(serial)) held.add(serial)
  return { held, reissue }
}

/** The log line for held devices (the first few named). */
export function heldMessage(held: ReadonlySet<string>): string {
  const names = [...held].slice(0, 10)
  const more = held.size > names.length ? ` and ${held.size - names.length} more` : ''
  return `${held.size} revoked device${held.size === 1 ? ' is' : 's are'} kept revoked and not baked again (${names.join(', ')}${more}): to issue a new certificate on purpose, name ${held.size === 1 ? 'it' : 'them'} in reissue-revoked; the revoked certificate stays on the CRL.`
}

/** A bake without crl: true that superseded certificates, in an output-dir that has a CRL. */
export function staleCrlMessage(number: string): string {
  return `crl.pem (CRL number ${number}) does not list the certificates this bake superseded: sign a new one with credbake crl (or bake with crl: true); until then credbake verify reports it`
}
