// A lean DER encoder and reader: just the X.509 subset credbake writes and slices. Issuance builds
// every device certificate with it because an object model per certificate costs more than the
// signature itself (field notes: asn1-x509 objects ≈ 890/s vs node:crypto ≈ 2,500/s per core).
// test/issue/der-equivalence.test.ts proves the output byte-equal to @peculiar/asn1-x509's.

export const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  teletexString: 0x14,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  universalString: 0x1c,
  bmpString: 0x1e,
  sequence: 0x30,
  set: 0x31
} as const

export class DerError extends Error {}

// ---------------------------------------------------------------------------------------------
// Encoding

/** Tag, length and the concatenated contents, written into one buffer (no buffer per header byte). */
export function tlv(tag: number, ...contents: Uint8Array[]): Buffer {
  let length = 0
  for (const part of contents) length += part.length
  if (length >= 0x1000000) throw new DerError(`DER length ${length} is too large`)
  const head = length < 0x80 ? 2 : length < 0x100 ? 3 : length < 0x10000 ? 4 : 5
  const out = Buffer.allocUnsafe(head + length)
  out[0] = tag
  if (head === 2) out[1] = length
  else {
    out[1] = 0x80 | (head - 2)
    for (let at = head - 1, rest = length; at >= 2; at--, rest >>>= 8) out[at] = rest & 0xff
  }
  let at = head
  for (const part of contents) {
    out.set(part, at)
    at += part.length
  }
  return out
}

export const sequence = (...contents: Uint8Array[]): Buffer => tlv(TAG.sequence, ...contents)

/** SET OF: DER sorts the encoded elements (X.690 §11.6). */
export function setOf(elements: Buffer[]): Buffer {
  return tlv(TAG.set, ...[...elements].sort(Buffer.compare))
}

/** [n] EXPLICIT (constructed context-specific). */
export const explicit = (n: number, ...contents: Uint8Array[]): Buffer => tlv(0xa0 | n, ...contents)

/** [n] IMPLICIT on a primitive type. */
export const implicitPrimitive = (n: number, contents: Uint8Array): Buffer => tlv(0x80 | n, contents)

export const octetString = (contents: Uint8Array): Buffer => tlv(TAG.octetString, contents)

export const bitString = (contents: Uint8Array, unusedBits = 0): Buffer => tlv(TAG.bitString, Buffer.from([unusedBits]), contents)

export const DER_TRUE = Buffer.from([TAG.boolean, 0x01, 0xff])

export const DER_NULL = Buffer.from([TAG.null, 0x00])

/** INTEGER from big-endian unsigned bytes: minimal, with a 0x00 pad when the top bit is set. */
export function unsignedInteger(bytes: Uint8Array): Buffer {
  let start = 0
  while (start < bytes.length - 1 && bytes[start] === 0) start += 1
  const minimal = bytes.subarray(start)
  const first = minimal[0] ?? 0
  return first & 0x80 ? tlv(TAG.integer, Buffer.from([0]), minimal) : tlv(TAG.integer, minimal.length ? minimal : Buffer.from([0]))
}

export function smallInteger(value: number): Buffer {
  if (!Number.isInteger(value) || value < 0 || value > 0x7f) throw new DerError(`smallInteger(${value}) out of range`)
  return Buffer.from([TAG.integer, 0x01, value])
}

const oidCache = new Map<string, Buffer>()

/** OBJECT IDENTIFIER from dotted text; cached because profiles reuse a handful of OIDs. */
export function oid(dotted: string): Buffer {
  const cached = oidCache.get(dotted)
  if (cached) return cached
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new DerError(`bad OID ${dotted}`)
    return Number(arc)
  })
  const [first, second, ...rest] = arcs
  if (first === undefined || second === undefined || first > 2) throw new DerError(`bad OID ${dotted}`)
  const bytes: number[] = []
  for (const arc of [first * 40 + second, ...rest]) {
    const base128: number[] = [arc & 0x7f]
    for (let value = Math.floor(arc / 128); value > 0; value = Math.floor(value / 128)) base128.unshift((value & 0x7f) | 0x80)
    bytes.push(...base128)
  }
  const encoded = tlv(TAG.oid, Buffer.from(bytes))
  oidCache.set(dotted, encoded)
  return encoded
}

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n))

/**
 * X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), whole
 * seconds, always "Z".
 */
export function x509Time(date: Date): Buffer {
  const year = date.getUTCFullYear()
  if (year < 1950 || year > 9999) throw new DerError(`year ${year} cannot be encoded as an X.509 time`)
  const rest = pad2(date.getUTCMonth() + 1) + pad2(date.getUTCDate()) + pad2(date.getUTCHours()) + pad2(date.getUTCMinutes()) + pad2(date.getUTCSeconds())
  return year < 2050 ? tlv(TAG.utcTime, Buffer.from(`${pad2(year % 100)}${rest}Z`, 'ascii')) : tlv(TAG.generalizedTime, Buffer.from(`${year}${rest}Z`, 'ascii'))
}

// ---------------------------------------------------------------------------------------------
// Reading (only what credbake slices: single-byte tags, definite lengths)

export interface DerNode {
  tag: number
  /** Offset of the tag byte. */
  start: number
  /** Offset of the first contents byte. */
  contentStart: number
  /** Offset just past the contents. */
  end: number
}

export function readNode(der: Uint8Array, offset: number, limit = der.length): DerNode {
  const tag = der[offset]
  const first = der[offset + 1]
  if (tag === undefined || first === undefined || offset + 2 > limit) throw new DerError(`truncated DER at offset ${offset}`)
  if ((tag & 0x1f) === 0x1f) throw new DerError(`multi-byte DER tag at offset ${offset}`)
  let length = first
  let contentStart = offset + 2
  if (first & 0x80) {
    const count = first & 0x7f
    if (count === 0 || count > 4) throw new DerError(`unsupported DER length at offset ${offset}`)
    length = 0
    for (let i = 0; i < count; i += 1) {
      const byte = der[contentStart + i]
      if (byte === undefined) throw new DerError(`truncated DER length at offset ${offset}`)
      length = length * 256 + byte
    }
    contentStart += count
  }
  const end = contentStart + length
  if (end > limit) throw new DerError(`DER element at offset ${offset} runs past its container`)
  return { tag, start: offset, contentStart, end }
}

/** The elements inside a constructed node. */
export function childrenOf(der: Uint8Array, node: DerNode): DerNode[] {
  const children: DerNode[] = []
  for (let offset = node.contentStart; offset < node.end; ) {
    const child = readNode(der, offset, node.end)
    children.push(child)
    offset = child.end
  }
  return children
}

/** The whole TLV of a node (shares memory with `der`). */
export function encodingOf(der: Buffer, node: DerNode): Buffer {
  return der.subarray(node.start, node.end)
}

export function contentsOf(der: Buffer, node: DerNode): Buffer {
  return der.subarray(node.contentStart, node.end)
}

/** Parses DER that must be exactly one element. */
export function readSingle(der: Uint8Array): DerNode {
  const node = readNode(der, 0)
  if (node.end !== der.length) throw new DerError('trailing bytes after the DER element')
  return node
}

/** Reads a node's children and checks their count and tags; `null` in `tags` accepts any tag. */
export function expectChildren(der: Uint8Array, node: DerNode, tags: (number | null)[], what: string): DerNode[] {
  const children = childrenOf(der, node)
  if (children.length < tags.length) throw new DerError(`${what}: expected ${tags.length} elements, found ${children.length}`)
  tags.forEach((tag, index) => {
    if (tag !== null && children[index]?.tag !== tag) throw new DerError(`${what}: element ${index + 1} has an unexpected tag`)
  })
  return children
}

/** The pieces of a SubjectPublicKeyInfo that key identifiers and descriptions need. */
export function splitSpki(spkiDer: Buffer): { algorithmOid: string; subjectPublicKey: Buffer } {
  const spki = readSingle(spkiDer)
  const [algorithm, key] = expectChildren(spkiDer, spki, [TAG.sequence, TAG.bitString], 'SubjectPublicKeyInfo')
  if (!algorithm || !key) throw new DerError('SubjectPublicKeyInfo is incomplete')
  const [algorithmOid] = expectChildren(spkiDer, algorithm, [TAG.oid], 'AlgorithmIdentifier')
  if (!algorithmOid) throw new DerError('AlgorithmIdentifier is empty')
  // Skip the "unused bits" octet: key identifiers hash the key bits themselves.
  return { algorithmOid: decodeOid(contentsOf(spkiDer, algorithmOid)), subjectPublicKey: spkiDer.subarray(key.contentStart + 1, key.end) }
}

export function decodeOid(contents: Uint8Array): string {
  const arcs: number[] = []
  let value = 0
  for (const byte of contents) {
    value = value * 128 + (byte & 0x7f)
    if (!(byte & 0x80)) {
      arcs.push(value)
      value = 0
    }
  }
  const [first = 0, ...rest] = arcs
  const head = first < 80 ? [Math.floor(first / 40), first % 40] : [2, first - 80]
  return [...head, ...rest].join('.')
}
