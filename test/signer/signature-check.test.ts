// The check every signature from outside the process gets (src/signer/signature-check.ts), on real
// keys and real signatures made by node:crypto, then damaged the ways signers get them wrong; the
// repeat memory; signAll naming a repeat; sealSigned refusing before anything is assembled; the
// start-up test signature using the same check; and the exec signer's bounded stderr.
import { createHash, createPrivateKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { FleetCaError } from '../../src/errors.js'
import { buildTbs, sealSigned } from '../../src/issue/issue.js'
import { buildProfile } from '../../src/issue/profile.js'
import { signAll } from '../../src/issue/sign-all.js'
import { checkTestSignature } from '../../src/signer/check.js'
import { STDERR_LINES, STDERR_TAIL, StderrTail } from '../../src/signer/exec.js'
import { HandedBack, REMEMBERED_SIGNATURES, signatureProblem, signatureShapeProblem } from '../../src/signer/signature-check.js'
import type { CaSigner } from '../../src/signer/types.js'
import type { HashName } from '../../src/x509/algorithms.js'
import { cleanupPki, makeRootCa } from '../helpers/pki.js'
import { loadFixtureCa, makeDevice } from '../issue/support.js'

const message = Buffer.from('a TBSCertificate stands here')

afterAll(cleanupPki)

function keyPair(kind: 'P-256' | 'P-384' | 'P-521' | 'rsa' | 'ed25519'): { privateKey: KeyObject; publicKey: KeyObject; hash: HashName | null } {
  if (kind === 'rsa') return { ...generateKeyPairSync('rsa', { modulusLength: 2048 }), hash: 'sha256' }
  if (kind === 'ed25519') return { ...generateKeyPairSync('ed25519'), hash: null }
  return { ...generateKeyPairSync('ec', { namedCurve: kind }), hash: kind === 'P-256' ? 'sha256' : kind === 'P-384' ? 'sha384' : 'sha512' }
}

/** SEQUENCE { INTEGER r, INTEGER s } from raw contents (no fixing up: the tests break it on purpose). */
function ecdsaDer(r: Buffer, s: Buffer, trailing = Buffer.alloc(0)): Buffer {
  const body = Buffer.concat([Buffer.from([0x02, r.length]), r, Buffer.from([0x02, s.length]), s, trailing])
  return Buffer.concat([Buffer.from([0x30, body.length]), body])
}

describe('signatureProblem', () => {
  it.each(['P-256', 'P-384', 'P-521', 'rsa', 'ed25519'] as const)("%s: a right signature passes; another key's and one over other bytes do not", (kind) => {
    const { privateKey, publicKey, hash } = keyPair(kind)
    const other = keyPair(kind)
    expect(signatureProblem(publicKey, hash, message, sign(hash, message, privateKey))).toBeUndefined()
    expect(signatureProblem(publicKey, hash, message, sign(hash, message, other.privateKey))).toMatch(/^signed by another key \(or over other bytes\): it does not verify/)
    expect(signatureProblem(publicKey, hash, Buffer.from('other bytes'), sign(hash, message, privateKey))).toMatch(/^signed by another key/)
  })

  it('ECDSA: raw r‖s is named as such', () => {
    const { privateKey, publicKey } = keyPair('P-256')
    const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' })
    expect(raw).toHaveLength(64)
    expect(signatureProblem(publicKey, 'sha256', message, raw)).toMatch(/not a well-formed signature: not a DER Ecdsa-Sig-Value: 64 bytes, probably raw r‖s/)
  })

  it('ECDSA: DER that is not strict DER, or not an Ecdsa-Sig-Value, is refused before verification', () => {
    const { privateKey, publicKey } = keyPair('P-256')
    const raw = sign('sha256', message, { key: privateKey, dsaEncoding: 'ieee-p1363' })
    const r = raw.subarray(0, 32)
    const s = raw.subarray(32)
    const positive = (bytes: Buffer): Buffer => ((bytes[0] ?? 0) & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes)
    const good = ecdsaDer(positive(r), positive(s))
    expect(signatureProblem(publicKey, 'sha256', message, good)).toBeUndefined()
    const cases: Array<[string, Buffer, RegExp]> = [
      ['bytes after s', ecdsaDer(positive(r), positive(s), Buffer.from([0x05, 0x00])), /bytes follow s/],
      ['bytes after the SEQUENCE', Buffer.concat([good, Buffer.from([0])]), /the SEQUENCE says/],
      ['a needless leading zero', ecdsaDer(Buffer.concat([Buffer.from([0, 0]), r.subarray(1)]).subarray(0, 33), positive(s)), /zero or not minimally encoded|negative/],
      ['a negative r', ecdsaDer(Buffer.concat([Buffer.from([0x80]), r.subarray(1)]), positive(s)), /r is negative/],
      ['r of 34 bytes', ecdsaDer(Buffer.concat([Buffer.from([0x01, 0x02]), r]), positive(s)), /r is longer than the curve's 32 bytes/],
      ['r = 0', ecdsaDer(Buffer.from([0]), positive(s)), /r is zero/],
      ['an OCTET STRING', Buffer.concat([Buffer.from([0x04, 64]), raw]), /starts with 0x04, not a SEQUENCE/],
      ['empty', Buffer.alloc(0), /empty/]
    ]
    for (const [name, signature, reason] of cases) {
      const problem = signatureProblem(publicKey, 'sha256', message, signature)
      expect(problem, name).toMatch(/^not a well-formed signature: not a DER Ecdsa-Sig-Value/)
      expect(problem, name).toMatch(reason)
    }
  })

  it('RSA and Ed25519: the wrong length is named', () => {
    const rsa = keyPair('rsa')
    const rsaSignature = sign('sha256', message, rsa.privateKey)
    expect(signatureShapeProblem(rsa.publicKey, rsaSignature.subarray(1))).toBe('not a well-formed signature: 255 bytes, where an RSA signature of this 2048-bit key has 256')
    const ed = keyPair('ed25519')
    expect(signatureShapeProblem(ed.publicKey, Buffer.alloc(65))).toMatch(/65 bytes, where an Ed25519 signature has 64/)
  })
})

describe('HandedBack: the repeat memory', () => {
  it('names who got the bytes first; keeps the pinned start-up signature; forgets beyond its window', () => {
    const memory = new HandedBack()
    // Like real signatures, each ends in bytes of its own (the memory is keyed on the tail).
    const bytes = (n: number): Buffer => Buffer.concat([Buffer.from([0x30, 0x46]), createHash('sha256').update(String(n)).digest(), createHash('sha256').update(`s${n}`).digest()])
    expect(memory.note(bytes(0), 'the start-up test signature', true)).toBeUndefined()
    expect(memory.note(bytes(1), 'device A')).toBeUndefined()
    expect(memory.note(bytes(1), 'device B')).toBe('device A')
    for (let n = 2; n < REMEMBERED_SIGNATURES + 3; n++) memory.note(bytes(n), `device ${n}`)
    expect(memory.note(bytes(1), 'device C')).toBeUndefined() // forgotten, so remembered anew
    expect(memory.note(bytes(REMEMBERED_SIGNATURES + 2), 'device D')).toBe(`device ${REMEMBERED_SIGNATURES + 2}`)
    expect(memory.note(bytes(0), 'device E')).toBe('the start-up test signature')
  })
})

describe('signAll, sealSigned and the start-up test signature', () => {
  const fixture = makeRootCa({ keyType: 'ec-p256', subject: '/CN=signature check root' })
  const ca = loadFixtureCa(fixture)
  const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: { kind: 'days', days: 30 } }, ca)
  const caKey = createPrivateKey(fixture.keyPem)

  /** A signer around the CA's real key that hands back `answer(n, right)` for its n-th signature. */
  function replaying(answer: (n: number, right: Buffer) => Buffer): CaSigner {
    let n = 0
    return {
      description: 'the replaying test signer',
      publicKey: ca.publicKey,
      hash: 'sha256',
      concurrency: 4,
      sign: async (tbs) => answer(n++, sign('sha256', tbs, caKey)),
      close: async () => {}
    }
  }

  it('a signature handed back twice is refused as repeated, naming both devices', async () => {
    let first: Buffer | undefined
    const signer = replaying((n, right) => (n === 0 ? (first = right) : (first as Buffer)))
    const unsigned = ['R-1', 'R-2', 'R-3'].map((serial) => buildTbs(ca, profile, makeDevice(serial)))
    const error = await signAll(
      signer,
      unsigned.map((item) => ({ tbs: item.tbs, serial: item.device.serial }))
    ).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as FleetCaError).message).toBe(
      'fleet-ca-key: the replaying test signer handed back a bad signature for device R-2: a repeated signature: the same bytes it handed back for device R-1 (every request must be signed anew). ' +
        'Nothing was recorded as issued for it; certificates journaled before it are valid. Fix the signer and run again: the run resumes.'
    )
    expect((error as FleetCaError).serial).toBe('R-2')
  })

  it('the start-up test signature replayed for devices is named as that', async () => {
    let startUp: Buffer | undefined
    const signer = replaying((n, right) => (n === 0 ? (startUp = right) : (startUp as Buffer)))
    await checkTestSignature(signer, ca.publicKey, 'sha256')
    const unsigned = buildTbs(ca, profile, makeDevice('S-1'))
    const error = (await signAll(signer, [{ tbs: unsigned.tbs, serial: 'S-1' }]).catch((caught: unknown) => caught)) as Error
    expect(error.message).toMatch(/device S-1: a repeated signature: the same bytes it handed back for the start-up test signature/)
  })

  it('repeated garbage is named as garbage (by sealSigned), not as a repeat', async () => {
    const signer = replaying(() => Buffer.from('not a signature at all'))
    const unsigned = ['G-1', 'G-2'].map((serial) => buildTbs(ca, profile, makeDevice(serial)))
    const signatures = await signAll(
      signer,
      unsigned.map((item) => ({ tbs: item.tbs, serial: item.device.serial }))
    )
    expect(() => sealSigned(ca, unsigned[1]!, signatures[1]!, signer.description)).toThrow(/device G-2: not a well-formed signature: not a DER Ecdsa-Sig-Value/)
  })

  it("sealSigned: a good signature gives the certificate; another key's throws a FleetCaError naming signer and device", () => {
    const unsigned = buildTbs(ca, profile, makeDevice('Q-1'))
    const credential = sealSigned(ca, unsigned, sign('sha256', unsigned.tbs, caKey), 'the test signer')
    expect(credential.certificatePem).toContain('BEGIN CERTIFICATE')
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
    let error: unknown
    try {
      sealSigned(ca, unsigned, sign('sha256', unsigned.tbs, other), 'the test signer')
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as FleetCaError).input).toBe('fleet-ca-key')
    expect((error as FleetCaError).message).toMatch(/^fleet-ca-key: the test signer handed back a bad signature for device Q-1: signed by another key/)
  })

  it('the start-up test signature: raw r‖s is refused with the same words', async () => {
    const signer = replaying((_n, right) => {
      void right
      return sign('sha256', Buffer.from('x'), { key: caKey, dsaEncoding: 'ieee-p1363' })
    })
    await expect(checkTestSignature(signer, ca.publicKey, 'sha256')).rejects.toThrow(
      /a test signature from the replaying test signer is bad: not a well-formed signature: not a DER Ecdsa-Sig-Value: 64 bytes, probably raw r‖s/
    )
  })
})

describe("StderrTail: a signer program's stderr, bounded", () => {
  it('lines become warnings, each cut to 500 characters; after the first lines only a count and the last one', () => {
    const warned: string[] = []
    const tail = new StderrTail((line) => warned.push(line))
    tail.push('first line\nsecond ')
    tail.push(`line\n${'y'.repeat(2000)}\n`)
    for (let n = 0; n < STDERR_LINES + 50; n++) tail.push(`line ${n}\n`)
    tail.push('no newline at the end')
    tail.end()
    expect(warned.slice(0, 3)).toEqual(['first line', 'second line', 'y'.repeat(500)])
    expect(warned).toHaveLength(STDERR_LINES + 1)
    expect(warned.at(-1)).toBe('(54 more lines of stderr not shown; the last: no newline at the end)')
  })

  it('a line that never ends is held to its last STDERR_TAIL characters', () => {
    const warned: string[] = []
    const tail = new StderrTail((line) => warned.push(line))
    const chunk = 'z'.repeat(65536)
    for (let n = 0; n < 64; n++) tail.push(chunk)
    tail.push('THE END')
    tail.end()
    expect(warned).toHaveLength(2)
    expect(warned[0]).toBe(`…${'z'.repeat(493)}THE END`)
    expect(warned[1]).toBe(`(${64 * 65536 + 7 - STDERR_TAIL} characters of an unfinished stderr line not shown)`)
  })
})
