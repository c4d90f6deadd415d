// The reason model: RFC 5280 codes, the revoke command's names, the superseded mapping (kept in
// step with the review's SupersededReason at compile time), and the CRL period and number helpers.
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import type { SupersededReason } from '../../src/shapes/review.js'
import { parseCrlDays } from '../../src/settings/crl-days.js'
import { crlPeriod, CRL_BACKDATE_SECONDS, MAX_CRL_NUMBER, nextCrlNumber, normalizeSerialHex } from '../../src/x509/crl.js'
import { CRL_REASON_CODES, crlReasonForSuperseded, parseRevokeReason, REVOKE_REASONS, SUPERSEDED_CRL_REASONS, type SupersededReasonName } from '../../src/x509/crl-reasons.js'

// Fails to compile when the review adds, renames or drops a superseded reason without a mapping here.
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false
const reviewReasonsMapped: Same<SupersededReason, SupersededReasonName> = true

describe('CRLReason codes (RFC 5280 §5.3.1)', () => {
  it('has the values the RFC gives them', () => {
    expect(reviewReasonsMapped).toBe(true)
    expect(CRL_REASON_CODES).toEqual({ unspecified: 0, keyCompromise: 1, affiliationChanged: 3, superseded: 4, cessationOfOperation: 5 })
  })

  it('every revoke --reason name writes its code', () => {
    expect(Object.entries(REVOKE_REASONS).map(([name, reason]) => [name, CRL_REASON_CODES[reason]])).toEqual([
      ['key-compromise', 1],
      ['affiliation-changed', 3],
      ['superseded', 4],
      ['cessation-of-operation', 5]
    ])
  })

  it('parses --reason, unspecified when absent, and names the flag for a wrong one', () => {
    expect(parseRevokeReason(undefined)).toBe('unspecified')
    expect(parseRevokeReason('')).toBe('unspecified')
    expect(parseRevokeReason('key-compromise')).toBe('keyCompromise')
    expect(parseRevokeReason(' cessation-of-operation ')).toBe('cessationOfOperation')
    let error: unknown
    try {
      parseRevokeReason('keyCompromise')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).input).toBe('reason')
    expect((error as Error).message).toBe(
      'reason "keyCompromise" is not one of key-compromise, affiliation-changed, superseded, cessation-of-operation (leave it out for an unspecified reason)'
    )
  })

  it('maps every superseded reason, each with a why', () => {
    expect(Object.fromEntries(Object.entries(SUPERSEDED_CRL_REASONS).map(([name, { reason }]) => [name, reason]))).toEqual({
      'reissued-changed': 'superseded',
      'output-redone': 'superseded',
      overwritten: 'superseded',
      'never-written': 'superseded',
      'not-in-manifest': 'cessationOfOperation'
    })
    for (const { why } of Object.values(SUPERSEDED_CRL_REASONS)) expect(why.length).toBeGreaterThan(40)
    expect(crlReasonForSuperseded('not-in-manifest')).toBe('cessationOfOperation')
  })
})

describe('CRL numbers, periods and serials', () => {
  it('the next number is one more than the largest seen, 1 for the first', () => {
    expect(nextCrlNumber()).toBe(1n)
    expect(nextCrlNumber(undefined, null)).toBe(1n)
    expect(nextCrlNumber(7n)).toBe(8n)
    // After a merge: never behind any shard.
    expect(nextCrlNumber(3n, 12n, undefined, 9n)).toBe(13n)
    expect(() => nextCrlNumber(MAX_CRL_NUMBER)).toThrow(/20 octets/)
  })

  it('crl-days: whole days from 1 to 365, default 7', () => {
    expect(parseCrlDays(undefined)).toBe(7)
    expect(parseCrlDays('30')).toBe(30)
    expect(parseCrlDays(1)).toBe(1)
    for (const bad of ['0', '366', '1.5', '-1', 'week', ' ']) {
      expect(() => parseCrlDays(bad), bad).toThrow(InputError)
    }
    expect(() => parseCrlDays('0')).toThrow(/^crl-days "0" must be a whole number of days from 1 to 365/)
  })

  it('thisUpdate is backdated a few minutes, nextUpdate is days from now, both whole seconds', () => {
    const now = new Date('2030-06-01T12:00:00.750Z')
    const { thisUpdate, nextUpdate } = crlPeriod(7, now)
    expect(thisUpdate.toISOString()).toBe('2030-06-01T11:55:00.000Z')
    expect(CRL_BACKDATE_SECONDS).toBe(300)
    expect(nextUpdate.toISOString()).toBe('2030-06-08T12:00:00.000Z')
  })

  it('serials: the INTEGER contents in lower-case hex, or null', () => {
    expect(normalizeSerialHex('7A3F')).toBe('7a3f')
    expect(normalizeSerialHex('00:7a:3f')).toBe('7a3f')
    expect(normalizeSerialHex('0x7a3f')).toBe('7a3f')
    expect(normalizeSerialHex('abc')).toBe('0abc')
    // A set top bit keeps its 0x00 pad (a positive INTEGER).
    expect(normalizeSerialHex('ff01')).toBe('00ff01')
    expect(normalizeSerialHex('00ff01')).toBe('00ff01')
    expect(normalizeSerialHex('7f'.repeat(20))).toBe('7f'.repeat(20))
    for (const bad of ['', '00', 'xyz', '7f'.repeat(21), 'ff'.repeat(20)]) expect(normalizeSerialHex(bad), bad).toBeNull()
  })
})
