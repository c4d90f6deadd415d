// The crl-days input (the CRL's nextUpdate, in days from its signing).
import { InputError } from '../errors.js'

export const DEFAULT_CRL_DAYS = 7
export const MAX_CRL_DAYS = 365

/** The crl-days input: a whole number of days from 1 to 365 (default 7). */
export function parseCrlDays(value: string | number | undefined, input = 'crl-days'): number {
  if (value === undefined || value === '') return DEFAULT_CRL_DAYS
  const text = String(value).trim()
  const days = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_CRL_DAYS) {
    throw new InputError(
      `${input} "${text}" must be a whole number of days from 1 to ${MAX_CRL_DAYS}: gateways refuse every client once nextUpdate has passed, so refresh the CRL before then`,
      { input }
    )
  }
  return days
}
