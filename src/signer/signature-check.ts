// What a signer outside this process hands back (a PKCS#11 token, AWS KMS, a signer program) is
// checked before the certificate around it is journaled or written: the one implementation of that
// check, used by the start-up test signature, by the worker threads that seal batches and by the
// main thread where there are none. Three faults, each named as such:
//   - not a well-formed signature: not a DER Ecdsa-Sig-Value for ECDSA (raw r‖s is the usual
//     mistake), not exactly the key's length for RSA and Ed25519;
//   - a repeated signature: the same bytes it handed back for an earlier request (a caching
//     wrapper, a replay); noted on the main thread, which sees every answer (HandedBack);
//   - signed by another key: well formed, but it does not verify with the fleet CA's public key.
// docs/signer-checks.md says what each signer kind gets and what the check costs.
import { verify, type KeyObject } from 'node:crypto'
import { FleetCaError, messageOf } from '../errors.js'
import type { HashName } from '../x509/algorithms.js'

/** Bytes of the EC field (and so at most of r and s) per curve, by node's curve names. */
const EC_FIELD_BYTES: Record<string, number> = { prime256v1: 32, secp384r1: 48, secp521r1: 66 }
const ED25519_SIGNATURE_BYTES = 64

/** What a signature of a key must look like (read once per key: asymmetricKeyDetails asks OpenSSL each time). */
type Shape = { kind: 'ec'; field: number } | { kind: 'bytes'; bytes: number; what: string } | { kind: 'any' }
const shapes = new WeakMap<KeyObject, Shape>()

function shapeOf(publicKey: KeyObject): Shape {
  let shape = shapes.get(publicKey)
  if (!shape) {
    const details = publicKey.asymmetricKeyDetails ?? {}
    const rsaBytes = Math.ceil((details.modulusLength ?? 0) / 8)
    shape =
      publicKey.asymmetricKeyType === 'ec'
        ? { kind: 'ec', field: EC_FIELD_BYTES[details.namedCurve ?? ''] ?? 66 }
        : publicKey.asymmetricKeyType === 'ed25519'
          ? { kind: 'bytes', bytes: ED25519_SIGNATURE_BYTES, what: 'an Ed25519 signature' }
          : publicKey.asymmetricKeyType === 'rsa'
            ? { kind: 'bytes', bytes: rsaBytes, what: `an RSA signature of this ${rsaBytes * 8}-bit key` }
            : { kind: 'any' }
    shapes.set(publicKey, shape)
  }
  return shape
}

/** Why `signature` cannot be a signature of `publicKey`'s kind at all, or undefined when its shape is right. */
export function signatureShapeProblem(publicKey: KeyObject, signature: Uint8Array): string | undefined {
  const shape = shapeOf(publicKey)
  if (shape.kind === 'ec') {
    const problem = ecdsaDerProblem(signature, shape.field)
    if (problem === undefined) return undefined
    const raw = signature.length === 2 * shape.field && signature[0] !== 0x30 ? `: ${signature.length} bytes, probably raw r‖s, which must be converted to DER` : ` (${problem})`
    return `not a well-formed signature: not a DER Ecdsa-Sig-Value${raw}`
  }
  if (shape.kind === 'bytes' && signature.length !== shape.bytes) return `not a well-formed signature: ${signature.length} bytes, where ${shape.what} has ${shape.bytes}`
  return undefined
}

/**
 * Strict DER of SEQUENCE { r INTEGER, s INTEGER } (X.690 §8.3, §10.1): definite minimal lengths,
 * minimal positive non-zero integers of at most the field's size, nothing after the SEQUENCE.
 */
function ecdsaDerProblem(signature: Uint8Array, fieldBytes: number): string | undefined {
  if (signature.length === 0) return 'empty'
  if (signature[0] !== 0x30) return `it starts with 0x${hex(signature[0])}, not a SEQUENCE`
  const header = derLength(signature, 1)
  if (!header) return 'the SEQUENCE length is not minimal DER'
  if (header.start + header.length !== signature.length) return `the SEQUENCE says ${header.length} bytes, ${signature.length - header.start} follow`
  let at = header.start
  for (const name of ['r', 's']) {
    if (signature[at] !== 0x02) return `${name} is not an INTEGER`
    const integer = derLength(signature, at + 1)
    if (!integer || integer.start + integer.length > signature.length) return `${name}'s length is not minimal DER or runs past the end`
    const first = signature[integer.start] ?? 0
    const second = signature[integer.start + 1] ?? 0
    if (integer.length === 0) return `${name} is empty`
    if (first & 0x80) return `${name} is negative`
    if (first === 0 && (integer.length === 1 || (second & 0x80) === 0)) return `${name} is zero or not minimally encoded`
    if (integer.length - (first === 0 ? 1 : 0) > fieldBytes) return `${name} is longer than the curve's ${fieldBytes} bytes`
    at = integer.start + integer.length
  }
  return at === signature.length ? undefined : 'bytes follow s inside the SEQUENCE'
}

/** A DER definite length at `at`: short form, or long form in the fewest bytes (1 or 2 here). */
function derLength(bytes: Uint8Array, at: number): { start: number; length: number } | undefined {
  const first = bytes[at]
  if (first === undefined) return undefined
  if (first < 0x80) return { start: at + 1, length: first }
  if (first === 0x81) {
    const length = bytes[at + 1]
    return length !== undefined && length >= 0x80 ? { start: at + 2, length } : undefined
  }
  if (first === 0x82) {
    const length = ((bytes[at + 1] ?? 0) << 8) | (bytes[at + 2] ?? 0)
    return length >= 0x100 ? { start: at + 3, length } : undefined
  }
  return undefined
}

const hex = (byte: number | undefined): string => (byte ?? 0).toString(16).padStart(2, '0')

/**
 * Why `signature` is not the fleet CA's signature over `message`, or undefined when it is: its
 * shape first (the clearer message), then node:crypto's verification with the CA's public key.
 */
export function signatureProblem(publicKey: KeyObject, hash: HashName | null, message: Uint8Array, signature: Uint8Array): string | undefined {
  const shape = signatureShapeProblem(publicKey, signature)
  if (shape) return shape
  let valid: boolean
  try {
    valid = verify(hash, message, publicKey, signature)
  } catch (error) {
    return `not a well-formed signature (${messageOf(error)})`
  }
  return valid ? undefined : "signed by another key (or over other bytes): it does not verify with the fleet CA certificate's public key"
}

/** The error that stops the run when `device`'s signature from `signer` is bad. */
export function badSignatureError(signer: string, serial: string, problem: string): FleetCaError {
  return new FleetCaError(
    `fleet-ca-key: ${signer} handed back a bad signature for device ${serial}: ${problem}. ` +
      'Nothing was recorded as issued for it; certificates journaled before it are valid. Fix the signer and run again: the run resumes.',
    { input: 'fleet-ca-key', serial }
  )
}

/** The fault named when `who` got the same signature bytes as `earlier`. */
export function repeatedSignatureProblem(earlier: string): string {
  return `a repeated signature: the same bytes it handed back for ${earlier} (every request must be signed anew)`
}

/** Signatures remembered for the repeat check: the most recent this many (memory stays flat in the fleet size). */
export const REMEMBERED_SIGNATURES = 16_384
/** Bytes of each signature the memory is keyed on: the tail (r and s end in random bytes; RSA and Ed25519 are random throughout). */
const REMEMBERED_TAIL = 32

/**
 * The signatures one signer handed back in this process, and for what: the start-up test signature
 * (kept for the whole run: a replay of it is the likeliest fault) and the last REMEMBERED_SIGNATURES
 * device signatures. A repeat further back still fails verification, only named less precisely.
 */
export class HandedBack {
  private readonly recent = new Map<string, string>()
  private readonly pinned = new Map<string, string>()

  /** Who got these bytes before (e.g. "device A-17"), if anyone; then remembers them for `who`. */
  note(signature: Uint8Array, who: string, pin = false): string | undefined {
    const key = `${signature.length}:${Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('latin1', Math.max(0, signature.length - REMEMBERED_TAIL))}`
    const earlier = this.pinned.get(key) ?? this.recent.get(key)
    if (earlier !== undefined) return earlier
    if (pin) this.pinned.set(key, who)
    else {
      this.recent.set(key, who)
      if (this.recent.size > REMEMBERED_SIGNATURES) this.recent.delete(this.recent.keys().next().value as string)
    }
    return undefined
  }
}

const handedBack = new WeakMap<object, HandedBack>()

/** The HandedBack of `signer` (one per signer object, made on first use). */
export function handedBackBy(signer: object): HandedBack {
  let memory = handedBack.get(signer)
  if (!memory) {
    memory = new HandedBack()
    handedBack.set(signer, memory)
  }
  return memory
}
