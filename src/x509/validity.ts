// Lifetimes (validity-days / not-after) turned into certificate dates. One place, so the fleet CA
// check and issuance can never disagree about when a device certificate ends.
import { InputError } from '../errors.js'
import type { Lifetime } from '../settings/types.js'

/** RFC 5280 §4.1.2.5: 99991231235959Z means "no well-defined expiration date". */
export const NEVER_EXPIRES = new Date(Date.UTC(9999, 11, 31, 23, 59, 59))

/** Devices' clocks lag; back-dating notBefore keeps a fresh certificate usable right away. */
export const DEFAULT_BACKDATE_SECONDS = 300

const DAY_MS = 86_400_000

/** The input a lifetime came from, for error messages. */
export function lifetimeInput(lifetime: Lifetime): 'validity-days' | 'not-after' {
  return lifetime.kind === 'days' ? 'validity-days' : 'not-after'
}

/** "365 days", "until 2030-01-01T00:00:00Z", "never (99991231235959Z)". */
export function describeLifetime(lifetime: Lifetime): string {
  switch (lifetime.kind) {
    case 'days':
      return `${lifetime.days} day${lifetime.days === 1 ? '' : 's'}`
    case 'until':
      return `until ${isoSeconds(lifetime.notAfter)}`
    case 'never':
      return 'never (99991231235959Z)'
  }
}

/** Rejects lifetimes that cannot produce a certificate whatever the CA (InputError naming the input). */
export function validateLifetime(lifetime: Lifetime): void {
  if (lifetime.kind === 'days' && !(Number.isInteger(lifetime.days) && lifetime.days >= 1)) {
    throw new InputError(`validity-days must be a whole number of days, at least 1 (got ${String(lifetime.days)})`, { input: 'validity-days' })
  }
  if (lifetime.kind === 'until' && Number.isNaN(lifetime.notAfter.getTime())) {
    throw new InputError('not-after is not a valid time; use RFC 3339 (2030-01-01T00:00:00Z) or "never"', { input: 'not-after' })
  }
}

/** When a certificate issued at `now` with this lifetime ends (whole seconds: X.509 has no fractions). */
export function lifetimeEnd(lifetime: Lifetime, now: Date): Date {
  validateLifetime(lifetime)
  let end: Date
  switch (lifetime.kind) {
    case 'days':
      end = new Date(wholeSeconds(now).getTime() + lifetime.days * DAY_MS)
      break
    case 'until':
      end = wholeSeconds(lifetime.notAfter)
      break
    case 'never':
      return NEVER_EXPIRES
  }
  if (end.getTime() > NEVER_EXPIRES.getTime()) {
    throw new InputError(`${lifetimeInput(lifetime)} ends after 9999-12-31T23:59:59Z; use "never" for no expiry`, { input: lifetimeInput(lifetime) })
  }
  if (end.getTime() <= now.getTime()) {
    throw new InputError(`not-after ${isoSeconds(end)} is not in the future`, { input: lifetimeInput(lifetime) })
  }
  return end
}

export interface ValidityPeriod {
  notBefore: Date
  notAfter: Date
}

/** notBefore = now − backdate (never before `earliest`, the CA's notBefore); notAfter per lifetime. */
export function validityFor(lifetime: Lifetime, now: Date, backdateSeconds: number, earliest?: Date): ValidityPeriod {
  const backdated = wholeSeconds(new Date(now.getTime() - backdateSeconds * 1000))
  const notBefore = earliest && earliest.getTime() > backdated.getTime() ? wholeSeconds(earliest) : backdated
  return { notBefore, notAfter: lifetimeEnd(lifetime, now) }
}

export function wholeSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000)
}

/** 2030-01-01T00:00:00Z (no milliseconds): how credbake shows times to people. */
export function isoSeconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/** "3 days", "5 hours", "12 minutes", "40 seconds": rough, for messages. */
export function describeDuration(ms: number): string {
  const abs = Math.abs(ms)
  const unit = (value: number, name: string): string => `${value} ${name}${value === 1 ? '' : 's'}`
  if (abs >= 2 * DAY_MS) return unit(Math.floor(abs / DAY_MS), 'day')
  if (abs >= 2 * 3_600_000) return unit(Math.floor(abs / 3_600_000), 'hour')
  if (abs >= 2 * 60_000) return unit(Math.floor(abs / 60_000), 'minute')
  return unit(Math.ceil(abs / 1000), 'second')
}
