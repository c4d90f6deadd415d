/**
 * ECDSA over a precomputed digest, for the KMS stand-in (test/helpers/kms-server.ts).
 *
 * KMS `Sign` with `MessageType: DIGEST` receives the digest only, and node:crypto has no way to
 * sign a digest with an EC key without hashing it again (`crypto.sign(null, …)` hashes with
 * SHA-256 for EC keys). So the stand-in does the ECDSA arithmetic itself with BigInt: the curve
 * parameters are public (they match `openssl ecparam -param_enc explicit`), k is random (no RFC
 * 6979; a test stand-in), and a fixed-base table of 4-bit windows keeps one signature well under a
 * millisecond or two. The result is a DER Ecdsa-Sig-Value, as KMS returns.
 *
 * Not constant-time and not for production: it signs test keys only.
 */
import { createPublicKey, randomBytes, type KeyObject } from 'node:crypto'

interface Curve {
  name: 'P-256' | 'P-384'
  p: bigint
  b: bigint
  n: bigint
  gx: bigint
  gy: bigint
  bits: number
}

const CURVES: Record<string, Curve> = {
  'P-256': {
    name: 'P-256',
    p: 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn,
    b: 0x5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604bn,
    n: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n,
    gx: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
    gy: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
    bits: 256
  },
  'P-384': {
    name: 'P-384',
    p: 0xfffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffffn,
    b: 0xb3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875ac656398d8a2ed19d2a85c8edd3ec2aefn,
    n: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n,
    gx: 0xaa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a385502f25dbf55296c3a545e3872760ab7n,
    gy: 0x3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5fn,
    bits: 384
  }
}

type Affine = { x: bigint; y: bigint } | null
type Jacobian = { x: bigint; y: bigint; z: bigint }

function mod(a: bigint, m: bigint): bigint {
  const r = a % m
  return r < 0n ? r + m : r
}

function inverse(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m]
  let [oldS, s] = [1n, 0n]
  while (r !== 0n) {
    const q = oldR / r
    ;[oldR, r] = [r, oldR - q * r]
    ;[oldS, s] = [s, oldS - q * s]
  }
  if (oldR !== 1n) throw new Error('not invertible')
  return mod(oldS, m)
}

const INFINITY: Jacobian = { x: 1n, y: 1n, z: 0n }

/** Doubling in Jacobian coordinates for a = -3. */
function double(c: Curve, P: Jacobian): Jacobian {
  if (P.z === 0n || P.y === 0n) return INFINITY
  const { p } = c
  const zz = (P.z * P.z) % p
  const m = (3n * (P.x - zz) * (P.x + zz)) % p
  const yy = (P.y * P.y) % p
  const s = (4n * P.x * yy) % p
  const x = mod(m * m - 2n * s, p)
  const y = mod(m * (s - x) - 8n * yy * yy, p)
  const z = (2n * P.y * P.z) % p
  return { x, y, z }
}

/** Jacobian + affine (mixed) addition. */
function addMixed(c: Curve, P: Jacobian, Q: Affine): Jacobian {
  if (Q === null) return P
  if (P.z === 0n) return { x: Q.x, y: Q.y, z: 1n }
  const { p } = c
  const zz = (P.z * P.z) % p
  const u2 = (Q.x * zz) % p
  const s2 = (Q.y * zz * P.z) % p
  const h = mod(u2 - P.x, p)
  const r = mod(s2 - P.y, p)
  if (h === 0n) return r === 0n ? double(c, P) : INFINITY
  const hh = (h * h) % p
  const hhh = (hh * h) % p
  const v = (P.x * hh) % p
  const x = mod(r * r - hhh - 2n * v, p)
  const y = mod(r * (v - x) - P.y * hhh, p)
  const z = (P.z * h) % p
  return { x, y, z }
}

function toAffine(c: Curve, P: Jacobian): Affine {
  if (P.z === 0n) return null
  const zi = inverse(P.z, c.p)
  const zi2 = (zi * zi) % c.p
  return { x: (P.x * zi2) % c.p, y: (P.y * zi2 * zi) % c.p }
}

// table[i][j] = j · 16^i · G (affine), j = 0..15.
const tables = new Map<string, Affine[][]>()

function baseTable(c: Curve): Affine[][] {
  const cached = tables.get(c.name)
  if (cached) return cached
  const windows = c.bits / 4
  const table: Affine[][] = []
  let base: Jacobian = { x: c.gx, y: c.gy, z: 1n }
  for (let i = 0; i < windows; i++) {
    const row: Affine[] = [null]
    const baseAffine = toAffine(c, base)
    let acc: Jacobian = INFINITY
    for (let j = 1; j < 16; j++) {
      acc = addMixed(c, acc, baseAffine)
      row.push(toAffine(c, acc))
    }
    table.push(row)
    for (let k = 0; k < 4; k++) base = double(c, base)
  }
  tables.set(c.name, table)
  return table
}

function multiplyBase(c: Curve, k: bigint): Affine {
  const table = baseTable(c)
  let acc: Jacobian = INFINITY
  for (let i = 0; i < table.length; i++) {
    const nibble = Number((k >> BigInt(4 * i)) & 15n)
    if (nibble !== 0) acc = addMixed(c, acc, table[i]![nibble]!)
  }
  return toAffine(c, acc)
}

function bigFromBytes(bytes: Buffer): bigint {
  return bytes.length === 0 ? 0n : BigInt('0x' + bytes.toString('hex'))
}

function derInteger(value: bigint): Buffer {
  let hex = value.toString(16)
  if (hex.length % 2) hex = '0' + hex
  let bytes = Buffer.from(hex, 'hex')
  if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes])
  return Buffer.concat([Buffer.from([0x02, bytes.length]), bytes])
}

function derSequence(content: Buffer): Buffer {
  const length = content.length < 0x80 ? Buffer.from([content.length]) : Buffer.from([0x81, content.length])
  return Buffer.concat([Buffer.from([0x30]), length, content])
}

export interface DigestSigner {
  curve: 'P-256' | 'P-384'
  /** DER Ecdsa-Sig-Value over `digest` (not hashed again), truncated to the curve order as ECDSA says. */
  sign(digest: Buffer): Buffer
}

/** A digest signer for an EC P-256 or P-384 private key. */
export function ecdsaDigestSigner(privateKey: KeyObject): DigestSigner {
  const jwk = privateKey.export({ format: 'jwk' })
  const curve = CURVES[jwk.crv ?? '']
  if (!curve || !jwk.d) throw new Error(`ecdsaDigestSigner: only EC P-256 and P-384 private keys (got ${jwk.crv ?? privateKey.asymmetricKeyType})`)
  const d = bigFromBytes(Buffer.from(jwk.d, 'base64url'))
  // Check the arithmetic once against node:crypto's public key for this private key.
  const Q = multiplyBase(curve, d)
  const pub = createPublicKey(privateKey).export({ format: 'jwk' })
  if (!Q || Q.x !== bigFromBytes(Buffer.from(pub.x!, 'base64url')) || Q.y !== bigFromBytes(Buffer.from(pub.y!, 'base64url'))) {
    throw new Error('ecdsaDigestSigner: d·G does not give the public key (curve arithmetic is wrong)')
  }
  const byteLength = curve.bits / 8
  return {
    curve: curve.name,
    sign(digest: Buffer): Buffer {
      // FIPS 186-4 §6.4: use the leftmost bits of the digest, as many as the order has.
      let e = bigFromBytes(digest.length > byteLength ? digest.subarray(0, byteLength) : digest)
      e = mod(e, curve.n)
      for (;;) {
        const k = mod(bigFromBytes(randomBytes(byteLength + 8)), curve.n - 1n) + 1n
        const R = multiplyBase(curve, k)
        if (!R) continue
        const r = mod(R.x, curve.n)
        if (r === 0n) continue
        const s = mod(inverse(k, curve.n) * (e + r * d), curve.n)
        if (s === 0n) continue
        return derSequence(Buffer.concat([derInteger(r), derInteger(s)]))
      }
    }
  }
}
