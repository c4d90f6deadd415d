// The fleet CA's certificate revocation list: an RFC 5280 §5 v2 CRL built with the lean DER encoder,
// signed through the fleet CA's signer (PEM key, PKCS#11, KMS or a signer program) exactly like a
// device certificate, and checked with the CA certificate's public key before anyone sees it.
// Pure data in (number, dates, entries), DER and PEM out: where the entries come from (journal,
// review, revocations) and where the files go is the caller's business. readCrl reads one back
// for verify and for the tests.
import { verify, type KeyObject } from 'node:crypto'
import { CredbakeError, FleetCaError, messageOf } from '../errors.js'
import {
  bitString,
  childrenOf,
  contentsOf,
  decodeOid,
  DerError,
  encodingOf,
  explicit,
  implicitPrimitive,
  octetString,
  oid,
  readSingle,
  sequence,
  smallInteger,
  TAG,
  tlv,
  unsignedInteger,
  x509Time,
  type DerNode
} from './der.js'
import { sha256Hex } from '../util/hash.js'
import { toPem } from '../util/pem.js'
import { CRL_REASON_CODES, type CrlReason } from './crl-reasons.js'
import { EXTENSION_OID } from './algorithms.js'

// ---------------------------------------------------------------------------------------------
// Shapes

/** What the CRL needs of the fleet CA; src/ca's FleetCa has all of it. */
export interface CrlIssuer {
  /** DER of the CA certificate (its keyUsage must allow cRLSign). */
  der: Buffer
  /** DER of the CA's subject Name: the CRL's issuer, byte for byte. */
  subjectDer: Buffer
  /** RFC 4514 text of the subject, for messages. */
  subject: string
  /** The CA's subjectKeyIdentifier (what device certificates carry as authorityKeyIdentifier). */
  keyIdentifier: Buffer
  /** AlgorithmIdentifier DER, the same as in device certificates. */
  signatureAlgorithmDer: Buffer
  publicKey: KeyObject
  /** Digest of the signature; null for Ed25519. */
  signatureHash: 'sha256' | 'sha384' | 'sha512' | null
}

/** What the CRL needs of the signer; src/signer's CaSigner has all of it. */
export interface CrlSigner {
  readonly description: string
  /** The signature over `tbs` as it goes into the BIT STRING. */
  sign(tbs: Buffer): Promise<Buffer>
}

export interface CrlEntry {
  /** The certificate's serial number, hex (as the journal and manifest record it). */
  serialNumber: string
  revokedAt: Date
  reason: CrlReason
}

export interface CrlContent {
  /** cRLNumber: grows with every CRL of the same output-dir (0 ≤ number < 2^159). */
  number: bigint
  thisUpdate: Date
  nextUpdate: Date
  entries: readonly CrlEntry[]
}

export interface SignedCrl {
  der: Buffer
  /** PEM, label "X509 CRL" (RFC 7468 §6). */
  pem: string
  /** SHA-256 of the DER, lower-case hex. */
  sha256: string
  number: bigint
  thisUpdate: Date
  nextUpdate: Date
  entryCount: number
}

// ---------------------------------------------------------------------------------------------
// Numbers, periods and serials

/** RFC 5280 §5.2.3: a cRLNumber is at most 20 octets, so the largest is 2^159 − 1. */
export const MAX_CRL_NUMBER = (1n << 159n) - 1n

/**
 * The next CRL number after every number seen before (this output-dir's last one, each shard's
 * after a merge, the number in an existing crl.pem): one more than the largest, 1 for the first.
 */
export function nextCrlNumber(...previous: ReadonlyArray<bigint | null | undefined>): bigint {
  let largest = 0n
  for (const number of previous) if (number !== null && number !== undefined && number > largest) largest = number
  const next = largest + 1n
  if (next > MAX_CRL_NUMBER) throw new CrlContentError(`the next CRL number would exceed the 20 octets RFC 5280 allows (previous ${largest})`)
  return next
}

/**
 * thisUpdate starts a few minutes back, like a device certificate's notBefore: a gateway whose
 * clock runs behind would otherwise find the CRL "not yet valid" and, with nginx, refuse every client.
 */
export const CRL_BACKDATE_SECONDS = 300

/** thisUpdate (backdated) and nextUpdate (`days` from now), in whole seconds. */
export function crlPeriod(days: number, now: Date = new Date()): { thisUpdate: Date; nextUpdate: Date } {
  const seconds = Math.floor(now.getTime() / 1000)
  return { thisUpdate: new Date((seconds - CRL_BACKDATE_SECONDS) * 1000), nextUpdate: new Date((seconds + days * 86_400) * 1000) }
}

/**
 * A serial number as credbake writes it: lower-case hex of the minimal positive INTEGER contents
 * (leading zero octets dropped, but one kept when the top bit is set). Accepts colons and a 0x
 * prefix (`openssl x509 -serial`, browsers). Null when it is not a serial RFC 5280 allows
 * (empty, not hex, zero, or more than 20 octets).
 */
export function normalizeSerialHex(text: string): string | null {
  const hex = text.trim().replace(/^0x/i, '').replaceAll(':', '').toLowerCase()
  if (!/^[0-9a-f]+$/.test(hex)) return null
  const contents = integerContents(Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex'))
  if (contents.length > 20 || contents.every((byte) => byte === 0)) return null
  return contents.toString('hex')
}

// ---------------------------------------------------------------------------------------------
// Building

/** The builder's input broke its contract (a caller's bug, or a serial that slipped past checks). */
export class CrlContentError extends Error {}

const TAG_ENUMERATED = 0x0a
/** keyUsage bit 6 (RFC 5280 §4.2.1.3), in the first octet of the bits. */
const CRL_SIGN_MASK = 0x02

/** Version v2 (INTEGER 1): required once the CRL has extensions (RFC 5280 §5.1.2.1). */
const VERSION_V2 = smallInteger(1)

/** Extension ::= SEQUENCE { extnID, critical DEFAULT FALSE (so left out), extnValue OCTET STRING }. */
const extension = (dotted: string, value: Buffer): Buffer => sequence(oid(dotted), octetString(value))

/**
 * TBSCertList (RFC 5280 §5.1.2): version v2, signature, issuer, thisUpdate, nextUpdate,
 * revokedCertificates (left out when empty, §5.1.2.6), and crlExtensions with
 * authorityKeyIdentifier (§5.2.1, required) and cRLNumber (§5.2.3, required).
 */
export function buildTbsCertList(issuer: CrlIssuer, content: CrlContent): Buffer {
  checkContent(content)
  const entries = content.entries.map(encodeEntry)
  rejectDuplicates(content.entries, entries)
  return sequence(
    VERSION_V2,
    issuer.signatureAlgorithmDer,
    issuer.subjectDer,
    x509Time(content.thisUpdate),
    x509Time(content.nextUpdate),
    ...(entries.length ? [revokedCertificates(entries)] : []),
    explicit(
      0,
      sequence(
        extension(EXTENSION_OID.authorityKeyIdentifier, sequence(implicitPrimitive(0, issuer.keyIdentifier))),
        extension(EXTENSION_OID.cRLNumber, unsignedInteger(bigintBytes(content.number)))
      )
    )
  )
}

/** The lean encoder's lengths stop below 16 MiB: about 340,000 entries with reason codes. */
const MAX_ENTRIES_BYTES = 0xffffff - 0x10000

/** SEQUENCE OF the entries, concatenated first (a spread of 100,000 arguments overflows the stack). */
function revokedCertificates(entries: Array<{ der: Buffer }>): Buffer {
  const body = Buffer.concat(entries.map((entry) => entry.der))
  if (body.length > MAX_ENTRIES_BYTES) {
    throw new CrlContentError(
      `${entries.length} CRL entries take ${body.length} bytes, more than the 16 MiB one CRL can hold here; leave out certificates that have expired (RFC 5280 §3.3 allows it)`
    )
  }
  return sequence(body)
}

/** CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }. */
export function assembleCrl(issuer: CrlIssuer, tbs: Buffer, signature: Uint8Array): Buffer {
  return sequence(tbs, issuer.signatureAlgorithmDer, bitString(signature))
}

/**
 * Builds, signs and checks the CRL. The fleet CA must be allowed to sign CRLs (keyUsage cRLSign);
 * the signature comes from `signer` and must verify with the CA certificate's public key, or this
 * throws FleetCaError naming the signer and nothing is returned.
 */
export async function signCrl(issuer: CrlIssuer, signer: CrlSigner, content: CrlContent): Promise<SignedCrl> {
  checkCanSignCrls(issuer)
  const tbs = buildTbsCertList(issuer, content)
  const signature = await signTbs(signer, tbs)
  if (!signatureVerifies(issuer.publicKey, issuer.signatureHash, tbs, signature)) {
    throw new FleetCaError(
      `fleet-ca-key: the CRL signature from ${signer.description} does not verify with the fleet CA certificate's public key (${issuer.subject}); no CRL was written`,
      { input: 'fleet-ca-key' }
    )
  }
  const der = assembleCrl(issuer, tbs, signature)
  return {
    der,
    pem: toPem('X509 CRL', der),
    sha256: sha256Hex(der),
    number: content.number,
    thisUpdate: content.thisUpdate,
    nextUpdate: content.nextUpdate,
    entryCount: content.entries.length
  }
}

/**
 * RFC 5280 §4.2.1.3: a CA whose keyUsage lacks cRLSign may not sign CRLs, and OpenSSL (nginx)
 * refuses such a CRL ("key usage does not include CRL signing"), which locks every client out.
 * Without a keyUsage extension the key is not restricted.
 */
export function checkCanSignCrls(issuer: Pick<CrlIssuer, 'der' | 'subject'>): void {
  let bits: Buffer | undefined
  try {
    bits = keyUsageBits(issuer.der)
  } catch (error) {
    throw new FleetCaError(`fleet-ca-cert: the fleet CA certificate (${issuer.subject}) cannot be read for its keyUsage: ${messageOf(error)}`, { input: 'fleet-ca-cert' })
  }
  if (bits === undefined || ((bits[0] ?? 0) & CRL_SIGN_MASK) !== 0) return
  throw new FleetCaError(
    `fleet-ca-cert: the fleet CA (${issuer.subject}) has a keyUsage without cRLSign, so it may not sign CRLs and gateways refuse the ones it does (OpenSSL: "key usage does not include CRL signing"); use a fleet CA certificate whose keyUsage includes cRLSign`,
    { input: 'fleet-ca-cert' }
  )
}

function checkContent(content: CrlContent): void {
  if (typeof content.number !== 'bigint' || content.number < 0n || content.number > MAX_CRL_NUMBER) {
    throw new CrlContentError(`CRL number ${String(content.number)} is not an integer from 0 to 2^159 − 1 (RFC 5280 §5.2.3)`)
  }
  for (const [name, date] of [
    ['thisUpdate', content.thisUpdate],
    ['nextUpdate', content.nextUpdate]
  ] as const) {
    if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new CrlContentError(`CRL ${name} is not a valid date`)
  }
  if (content.nextUpdate.getTime() <= content.thisUpdate.getTime()) throw new CrlContentError('CRL nextUpdate must be later than thisUpdate')
}

/** revokedCertificates element: SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL }. */
function encodeEntry(entry: CrlEntry): { serial: string; der: Buffer } {
  const serial = normalizeSerialHex(entry.serialNumber)
  if (serial === null) throw new CrlContentError(`CRL entry serial "${entry.serialNumber}" is not a positive hex serial number of at most 20 octets`)
  if (!(entry.revokedAt instanceof Date) || Number.isNaN(entry.revokedAt.getTime())) throw new CrlContentError(`CRL entry ${serial}: revokedAt is not a valid date`)
  const code = CRL_REASON_CODES[entry.reason]
  if (code === undefined) throw new CrlContentError(`CRL entry ${serial}: unknown reason ${String(entry.reason)}`)
  // RFC 5280 §5.3.1: leave reasonCode out rather than write unspecified (0).
  const extensions = code === 0 ? [] : [sequence(extension(EXTENSION_OID.reasonCode, tlv(TAG_ENUMERATED, Buffer.from([code]))))]
  return { serial, der: sequence(tlv(TAG.integer, Buffer.from(serial, 'hex')), x509Time(entry.revokedAt), ...extensions) }
}

/** One serial twice would leave a gateway to pick one of two dates and reasons: refuse it. */
function rejectDuplicates(entries: readonly CrlEntry[], encoded: Array<{ serial: string }>): void {
  const seen = new Set<string>()
  encoded.forEach(({ serial }, index) => {
    if (seen.has(serial)) throw new CrlContentError(`CRL entry serial ${entries[index]?.serialNumber} appears twice`)
    seen.add(serial)
  })
}

async function signTbs(signer: CrlSigner, tbs: Buffer): Promise<Buffer> {
  try {
    return await signer.sign(tbs)
  } catch (error) {
    if (error instanceof CredbakeError) throw error
    throw new FleetCaError(`fleet-ca-key: ${signer.description} failed to sign the CRL: ${messageOf(error)}`, { input: 'fleet-ca-key', cause: error })
  }
}

function signatureVerifies(publicKey: KeyObject, hash: CrlIssuer['signatureHash'], tbs: Buffer, signature: Buffer): boolean {
  try {
    return verify(hash, tbs, publicKey, signature)
  } catch {
    return false
  }
}

/** Big-endian bytes of a non-negative bigint (unsignedInteger makes them a minimal INTEGER). */
function bigintBytes(value: bigint): Buffer {
  const hex = value.toString(16)
  return Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex')
}

/** INTEGER contents of a positive number: leading zeros dropped, one 0x00 kept before a set top bit. */
function integerContents(bytes: Buffer): Buffer {
  const encoded = unsignedInteger(bytes)
  return encoded.subarray(encoded.length - contentLength(encoded))
}

function contentLength(encoded: Buffer): number {
  const node = readSingle(encoded)
  return node.end - node.contentStart
}

/** The keyUsage BIT STRING's bits (without the unused-bits octet), or undefined without keyUsage. */
function keyUsageBits(certificateDer: Buffer): Buffer | undefined {
  const [tbs] = childrenOf(certificateDer, readSingle(certificateDer))
  if (!tbs) throw new DerError('no TBSCertificate')
  const extensions = childrenOf(certificateDer, tbs).find((child) => child.tag === 0xa3)
  if (!extensions) return undefined
  const [list] = childrenOf(certificateDer, extensions)
  if (!list) return undefined
  for (const item of childrenOf(certificateDer, list)) {
    const parts = childrenOf(certificateDer, item)
    const id = parts[0]
    const value = parts[parts.length - 1]
    if (!id || !value || decodeOid(contentsOf(certificateDer, id)) !== EXTENSION_OID.keyUsage) continue
    const octets = contentsOf(certificateDer, value)
    const bits = readSingle(octets)
    if (bits.tag !== TAG.bitString) throw new DerError('keyUsage is not a BIT STRING')
    return octets.subarray(bits.contentStart + 1, bits.end)
  }
  return undefined
}

// ---------------------------------------------------------------------------------------------
// Reading (verify, tests)

export interface ParsedCrlEntry {
  /** Lower-case hex, normalised like normalizeSerialHex. */
  serialNumber: string
  revokedAt: Date
  /** The reasonCode's value; 0 (unspecified) when the entry has none. */
  reasonCode: number
}

export interface ParsedCrl {
  /** The signed bytes. */
  tbs: Buffer
  /** 2 for v2; 1 when the version field is absent (v1). */
  version: number
  /** The AlgorithmIdentifier inside the TBSCertList and the outer one (RFC 5280 wants them equal). */
  innerSignatureAlgorithmDer: Buffer
  signatureAlgorithmDer: Buffer
  signature: Buffer
  issuerDer: Buffer
  thisUpdate: Date
  nextUpdate?: Date
  entries: ParsedCrlEntry[]
  number?: bigint
  authorityKeyIdentifier?: Buffer
}

/** Parses a DER CertificateList; throws DerError on anything it cannot read. */
export function readCrl(der: Buffer): ParsedCrl {
  const [tbsNode, algorithmNode, signatureNode, extra] = childrenOf(der, readSingle(der))
  if (!tbsNode || !algorithmNode || !signatureNode || extra) throw new DerError('a CRL is SEQUENCE { tbsCertList, signatureAlgorithm, signature }')
  if (signatureNode.tag !== TAG.bitString) throw new DerError('CRL signature is not a BIT STRING')
  const fields = childrenOf(der, tbsNode)
  let at = 0
  let version = 1
  if (fields[at]?.tag === TAG.integer) version = Number(readInteger(der, fields[at++] as DerNode)) + 1
  const inner = expectField(fields[at++], TAG.sequence, 'signature')
  const issuer = expectField(fields[at++], TAG.sequence, 'issuer')
  const thisUpdate = readTime(der, expectField(fields[at++], null, 'thisUpdate'))
  const parsed: ParsedCrl = {
    tbs: Buffer.from(encodingOf(der, tbsNode)),
    version,
    innerSignatureAlgorithmDer: Buffer.from(encodingOf(der, inner)),
    signatureAlgorithmDer: Buffer.from(encodingOf(der, algorithmNode)),
    signature: Buffer.from(der.subarray(signatureNode.contentStart + 1, signatureNode.end)),
    issuerDer: Buffer.from(encodingOf(der, issuer)),
    thisUpdate,
    entries: []
  }
  const next = fields[at]
  if (next && (next.tag === TAG.utcTime || next.tag === TAG.generalizedTime)) {
    parsed.nextUpdate = readTime(der, next)
    at += 1
  }
  if (fields[at]?.tag === TAG.sequence) parsed.entries = childrenOf(der, fields[at++] as DerNode).map((entry) => readEntry(der, entry))
  if (fields[at]?.tag === 0xa0) readCrlExtensions(der, fields[at++] as DerNode, parsed)
  if (at !== fields.length) throw new DerError('unexpected fields at the end of the TBSCertList')
  return parsed
}

/** Whether the CRL's signature verifies with `publicKey` (hash null for Ed25519). */
export function crlSignatureVerifies(crl: ParsedCrl, publicKey: KeyObject, hash: CrlIssuer['signatureHash']): boolean {
  return signatureVerifies(publicKey, hash, crl.tbs, crl.signature)
}

function expectField(node: DerNode | undefined, tag: number | null, name: string): DerNode {
  if (!node || (tag !== null && node.tag !== tag)) throw new DerError(`TBSCertList ${name} is missing or malformed`)
  return node
}

function readEntry(der: Buffer, node: DerNode): ParsedCrlEntry {
  const [serial, date, extensions] = childrenOf(der, node)
  if (!serial || serial.tag !== TAG.integer || !date) throw new DerError('a CRL entry is SEQUENCE { serial, revocationDate, extensions OPTIONAL }')
  const entry: ParsedCrlEntry = { serialNumber: contentsOf(der, serial).toString('hex'), revokedAt: readTime(der, date), reasonCode: 0 }
  for (const [id, value] of extensionsOf(der, extensions)) {
    if (id !== EXTENSION_OID.reasonCode) continue
    const reason = readSingle(value)
    if (reason.tag !== TAG_ENUMERATED) throw new DerError('reasonCode is not an ENUMERATED')
    entry.reasonCode = Number(readInteger(value, reason))
  }
  return entry
}

function readCrlExtensions(der: Buffer, wrapper: DerNode, parsed: ParsedCrl): void {
  const [list] = childrenOf(der, wrapper)
  for (const [id, value] of extensionsOf(der, list)) {
    if (id === EXTENSION_OID.cRLNumber) parsed.number = readInteger(value, readSingle(value))
    if (id === EXTENSION_OID.authorityKeyIdentifier) {
      const keyId = childrenOf(value, readSingle(value)).find((child) => child.tag === 0x80)
      if (keyId) parsed.authorityKeyIdentifier = Buffer.from(contentsOf(value, keyId))
    }
  }
}

/** [extnID, extnValue contents] of each Extension in an Extensions SEQUENCE (none when absent). */
function extensionsOf(der: Buffer, list: DerNode | undefined): Array<[string, Buffer]> {
  if (!list) return []
  return childrenOf(der, list).map((item) => {
    const parts = childrenOf(der, item)
    const id = parts[0]
    const value = parts[parts.length - 1]
    if (!id || id.tag !== TAG.oid || !value || value.tag !== TAG.octetString) throw new DerError('malformed Extension')
    return [decodeOid(contentsOf(der, id)), Buffer.from(contentsOf(der, value))]
  })
}

function readInteger(der: Buffer, node: DerNode): bigint {
  const contents = contentsOf(der, node)
  if (contents.length === 0) throw new DerError('empty INTEGER')
  const value = BigInt(`0x${contents.toString('hex')}`)
  // Two's complement: a set top bit makes it negative.
  return (contents[0] ?? 0) & 0x80 ? value - (1n << BigInt(contents.length * 8)) : value
}

function readTime(der: Buffer, node: DerNode): Date {
  const text = contentsOf(der, node).toString('ascii')
  const match =
    node.tag === TAG.utcTime
      ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
      : node.tag === TAG.generalizedTime
        ? /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text)
        : null
  if (!match) throw new DerError(`unsupported time ${JSON.stringify(text)}`)
  const [, y, mo, d, h, mi, s] = match.map(Number) as [number, number, number, number, number, number, number]
  // RFC 5280 §4.1.2.5.1: UTCTime years 50–99 are 19xx, 00–49 are 20xx.
  const year = node.tag === TAG.utcTime ? (y >= 50 ? 1900 + y : 2000 + y) : y
  return new Date(Date.UTC(year, mo - 1, d, h, mi, s))
}
