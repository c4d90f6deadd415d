// Certificate checks of `credbake verify`: the device certificate found in the output is the one
// its manifest entry describes (fingerprint, serial number, public key, validity, subject, SAN,
// device ID), was made as the profile in the manifest header says (key type, lifetime, serial
// size, signature algorithm, extensions, subject and SAN templates), chains to the trust given
// (signatures checked by node:crypto, intermediates from the bundle's chain), and was issued by the
// fleet CA the header describes (fingerprint, subject, validity, key, key identifier); the private
// key found beside it is its key. The certificate is read with the lean DER reader credbake
// issues with (strict DER, no library objects per field), which keeps verify at the bake's pace.
import * as crypto from 'node:crypto'
import { createECDH, createHash, createPrivateKey, createPublicKey, verify, X509Certificate, type ECDH, type KeyObject } from 'node:crypto'
import { InputError, messageOf } from '../errors.js'
import { EXTENSION_OID, keyFacts, OID, SIGNATURE_HASHES } from '../x509/algorithms.js'
import { childrenOf, contentsOf, decodeOid, DerError, encodingOf, readNode, readSingle, TAG, type DerNode } from '../x509/der.js'
import { describeSan, ipAddressBytes, ipAddressText, validateSanTemplate, type SanTemplate } from '../issue/san.js'
import { validateSubjectTemplate, type SubjectTemplate } from '../issue/subject.js'
import { escapeRfc4514, formatName, SUBJECT_ATTRIBUTES } from '../x509/name.js'
import { compileProfile, type CompiledProfile } from '../issue/profile.js'
import type { Segment } from '../issue/template.js'
import type { CertificateProfile } from '../shapes/profile.js'
import { NEVER_EXPIRES } from '../x509/validity.js'
import type { ManifestDevice, ManifestHeader } from '../shapes/review.js'
import { colonHex, sha256Hex } from '../util/hash.js'
import { INPUT_LIMITS, readBoundedText } from '../util/bounded-read.js'
import { readPemBlocks } from '../util/pem.js'

/** The certificates of a PEM file given as --fleet-ca-cert (the trust anchors). */
export async function loadTrust(file: string): Promise<X509Certificate[]> {
  let text: string
  try {
    text = await readBoundedText(file, { maxBytes: INPUT_LIMITS.pem, what: 'a PEM file' })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InputError(`fleet-ca-cert ${file} cannot be read: ${code === 'ENOENT' ? 'it does not exist' : messageOf(error)}`, { input: 'fleet-ca-cert', file })
  }
  const certificates = certificatesIn(text)
  if (typeof certificates === 'string') throw new InputError(`fleet-ca-cert ${file}: ${certificates}`, { input: 'fleet-ca-cert', file })
  return certificates
}

/** The CERTIFICATE blocks of a PEM text, or a sentence saying why there are none. */
export function certificatesIn(text: string): X509Certificate[] | string {
  const blocks = certificateDers(text)
  if (typeof blocks === 'string') return blocks
  const certificates: X509Certificate[] = []
  for (const block of blocks) {
    try {
      certificates.push(new X509Certificate(block.der))
    } catch (error) {
      return `the certificate at line ${block.line} cannot be parsed (${messageOf(error)})`
    }
  }
  return certificates
}

const BEGIN_LINE = '-----BEGIN CERTIFICATE-----\n'
const END_LINE = '-----END CERTIFICATE-----\n'

function certificateDers(text: string): Array<{ der: Buffer; line: number }> | string {
  // The usual case, certificate blocks as credbake writes them one after another, without the
  // general reader's normalising (it takes any PEM a person may paste). A changed byte in the
  // file shows in its SHA-256 anyway.
  if (text.startsWith(BEGIN_LINE) && !text.includes('\r')) {
    const found: Array<{ der: Buffer; line: number }> = []
    let line = 1
    for (let at = 0; at < text.length; ) {
      const end = text.startsWith(BEGIN_LINE, at) ? text.indexOf(END_LINE, at) : -1
      const body = end === -1 ? '' : text.slice(at + BEGIN_LINE.length, end)
      if (end === -1 || body.includes('-')) {
        found.length = 0
        break
      }
      found.push({ der: Buffer.from(body, 'base64'), line })
      for (let i = at; i < end; i++) if (text.charCodeAt(i) === 10) line++
      line++
      at = end + END_LINE.length
    }
    if (found.length > 0) return found
  }
  const blocks = readPemBlocks(text)
  if ('problem' in blocks) return blocks.problem
  const found = blocks.filter((b) => b.label === 'CERTIFICATE')
  return found.length > 0 ? found : 'it holds no CERTIFICATE block'
}

// ---- the certificate as DER ------------------------------------------------------------------------

const PURPOSES: Record<string, string> = {
  '1.3.6.1.5.5.7.3.1': 'serverAuth',
  '1.3.6.1.5.5.7.3.2': 'clientAuth',
  '1.3.6.1.5.5.7.3.3': 'codeSigning',
  '1.3.6.1.5.5.7.3.4': 'emailProtection',
  '1.3.6.1.5.5.7.3.8': 'timeStamping',
  '1.3.6.1.5.5.7.3.9': 'OCSPSigning'
}

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly']

const SIGNATURE_NAMES: Record<string, string> = {
  [OID.ecdsaWithSha256]: 'ecdsa-with-SHA256',
  [OID.ecdsaWithSha384]: 'ecdsa-with-SHA384',
  [OID.ecdsaWithSha512]: 'ecdsa-with-SHA512',
  [OID.sha256WithRsa]: 'sha256WithRSAEncryption',
  [OID.sha384WithRsa]: 'sha384WithRSAEncryption',
  [OID.sha512WithRsa]: 'sha512WithRSAEncryption',
  [OID.ed25519]: 'Ed25519'
}

const CURVE_NAMES: Record<string, string> = { '1.2.840.10045.3.1.7': 'P-256', '1.3.132.0.34': 'P-384', '1.3.132.0.35': 'P-521' }

/** What the profile's key-type means as keyFacts describes a key. */
const KEY_DESCRIPTIONS: Record<string, string> = {
  'ec-p256': 'EC P-256',
  'ec-p384': 'EC P-384',
  'rsa-2048': 'RSA 2048',
  'rsa-3072': 'RSA 3072',
  'rsa-4096': 'RSA 4096',
  ed25519: 'Ed25519'
}

interface NameAttribute {
  oid: string
  tag: number
  value: string
}

interface Extension {
  oid: string
  critical: boolean
  value: Buffer
  /** The whole Extension, as encoded. */
  der: Buffer
}

/** The fields of a certificate verify compares, read from its DER. */
export interface ParsedCertificate {
  der: Buffer
  /** The signed bytes (TBSCertificate) and the signature over them. */
  tbsDer: Buffer
  signature: Buffer
  serialHex: string
  serialBytes: number
  signatureOid: string
  issuerDer: Buffer
  /** RDNs in encoded order. */
  subject: NameAttribute[][]
  subjectDer: Buffer
  notBefore: Date
  notAfter: Date
  spkiDer: Buffer
  extensions: Extension[]
}

/** Decoded OIDs by their bytes: a certificate holds the same dozen in every device's. */
const oidText = new Map<string, string>()

function oidOf(der: Buffer, node: DerNode | undefined): string {
  if (!node || node.tag !== TAG.oid) throw new DerError('an OBJECT IDENTIFIER was expected')
  const key = der.toString('latin1', node.contentStart, node.end)
  let text = oidText.get(key)
  if (text === undefined) {
    text = decodeOid(contentsOf(der, node))
    if (oidText.size < 4096) oidText.set(key, text)
  }
  return text
}

/** A UTCTime (YYMMDDHHMMSSZ) or GeneralizedTime (YYYYMMDDHHMMSSZ), the forms RFC 5280 allows. */
function timeOf(der: Buffer, node: DerNode | undefined): Date {
  if (!node) throw new DerError('a time is missing')
  const yearDigits = node.tag === TAG.utcTime ? 2 : node.tag === TAG.generalizedTime ? 4 : 0
  const length = node.end - node.contentStart
  const digits: number[] = []
  for (let i = node.contentStart; i < node.end - 1; i++) {
    const c = der[i] as number
    if (c < 0x30 || c > 0x39) break
    digits.push(c - 0x30)
  }
  if (yearDigits === 0 || length !== yearDigits + 11 || digits.length !== yearDigits + 10 || der[node.end - 1] !== 0x5a) {
    throw new DerError(`"${contentsOf(der, node).toString('latin1')}" is not a UTCTime or GeneralizedTime as RFC 5280 writes them`)
  }
  const two = (at: number): number => (digits[at] as number) * 10 + (digits[at + 1] as number)
  const short = two(0)
  const year = yearDigits === 2 ? (short >= 50 ? 1900 : 2000) + short : short * 100 + two(2)
  const at = yearDigits
  return new Date(Date.UTC(year, two(at) - 1, two(at + 2), two(at + 4), two(at + 6), two(at + 8)))
}

function stringValue(der: Buffer, node: DerNode): string {
  const contents = contentsOf(der, node)
  switch (node.tag) {
    case TAG.utf8String:
      return contents.toString('utf8')
    case TAG.printableString:
    case TAG.ia5String:
    case 0x12: // NumericString
    case 0x14: // TeletexString
    case 0x1a: // VisibleString
      return contents.toString('latin1')
    case 0x1e: // BMPString
      return Buffer.from(contents).swap16().toString('utf16le')
    default:
      return `#${encodingOf(der, node).toString('hex')}`
  }
}

function nameOf(der: Buffer, node: DerNode): NameAttribute[][] {
  return childrenOf(der, node).map((set) =>
    childrenOf(der, set).map((attribute) => {
      const [type, value] = childrenOf(der, attribute)
      if (!value) throw new DerError('an attribute has no value')
      return { oid: oidOf(der, type), tag: value.tag, value: stringValue(der, value) }
    })
  )
}

export function parseCertificate(der: Buffer): ParsedCertificate {
  const certificate = readSingle(der)
  const [tbs, algorithm, signatureValue] = childrenOf(der, certificate)
  if (!tbs || !algorithm || signatureValue?.tag !== TAG.bitString) throw new DerError('not a certificate')
  const fields = childrenOf(der, tbs)
  let at = fields[0]?.tag === 0xa0 ? 1 : 0
  const serial = fields[at++]
  const signature = fields[at++]
  const issuer = fields[at++]
  const validity = fields[at++]
  const subject = fields[at++]
  const spki = fields[at++]
  if (!serial || serial.tag !== TAG.integer || !signature || !issuer || !validity || !subject || !spki) throw new DerError('the certificate lacks a field')
  const extensions: Extension[] = []
  const wrapper = fields.slice(at).find((node) => node.tag === 0xa3)
  const list = wrapper ? childrenOf(der, wrapper)[0] : undefined
  for (const extension of list ? childrenOf(der, list) : []) {
    const parts = childrenOf(der, extension)
    const critical = parts.length === 3 && parts[1]?.tag === TAG.boolean && der[parts[1].contentStart] !== 0
    const value = parts[parts.length - 1]
    if (!value || value.tag !== TAG.octetString) throw new DerError('an extension has no value')
    extensions.push({ oid: oidOf(der, parts[0]), critical, value: contentsOf(der, value), der: encodingOf(der, extension) })
  }
  const [notBefore, notAfter] = childrenOf(der, validity)
  const serialContents = contentsOf(der, serial)
  const signatureOuter = oidOf(der, childrenOf(der, algorithm)[0])
  const signatureInner = oidOf(der, childrenOf(der, signature)[0])
  if (signatureOuter !== signatureInner) throw new DerError('its two signature algorithms differ')
  return {
    der,
    tbsDer: encodingOf(der, tbs),
    signature: der.subarray(signatureValue.contentStart + 1, signatureValue.end),
    serialHex: serialContents.toString('hex').replace(/^00(?=[89a-f])/, ''),
    serialBytes: serialContents.length,
    signatureOid: signatureOuter,
    issuerDer: encodingOf(der, issuer),
    subject: nameOf(der, subject),
    subjectDer: encodingOf(der, subject),
    notBefore: timeOf(der, notBefore),
    notAfter: timeOf(der, notAfter),
    spkiDer: encodingOf(der, spki),
    extensions
  }
}

/** Key descriptions by AlgorithmIdentifier bytes, for the key types whose algorithm says it all (EC, Ed25519). */
const describedKeys = new Map<string, string>()

/** "EC P-256", "RSA 3072", "Ed25519" of a SubjectPublicKeyInfo, read from its DER. */
function describePublicKey(spki: Buffer): string {
  const [algorithm, key] = childrenOf(spki, readSingle(spki))
  if (!algorithm || !key) throw new DerError('the public key is incomplete')
  const cacheKey = spki.toString('latin1', algorithm.start, algorithm.end)
  const known = describedKeys.get(cacheKey)
  if (known !== undefined) return known
  const description = describeKeyOf(spki, algorithm, key)
  if (!description.startsWith('RSA ') && describedKeys.size < 64) describedKeys.set(cacheKey, description)
  return description
}

function describeKeyOf(spki: Buffer, algorithm: DerNode, key: DerNode): string {
  const [type, parameters] = childrenOf(spki, algorithm)
  const typeOid = oidOf(spki, type)
  if (typeOid === OID.ecPublicKey) return `EC ${parameters?.tag === TAG.oid ? (CURVE_NAMES[oidOf(spki, parameters)] ?? oidOf(spki, parameters)) : '(unnamed curve)'}`
  if (typeOid === OID.ed25519) return 'Ed25519'
  if (typeOid === OID.rsaEncryption) {
    const bits = spki.subarray(key.contentStart + 1, key.end)
    const [modulus] = childrenOf(bits, readSingle(bits))
    if (!modulus) throw new DerError('the RSA key has no modulus')
    let bytes = contentsOf(bits, modulus)
    while (bytes[0] === 0) bytes = bytes.subarray(1)
    return `RSA ${bytes.length * 8 - Math.clz32(bytes[0] ?? 0) + 24}`
  }
  return typeOid
}

const familyOf = (description: string): string => description.split(' ')[0] ?? description

function subjectPublicKeyBits(spki: Buffer): Buffer {
  const [, key] = childrenOf(spki, readSingle(spki))
  if (!key) throw new DerError('the public key is incomplete')
  return spki.subarray(key.contentStart + 1, key.end)
}

// ---- templates against what a certificate holds -------------------------------------------------------

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * A pattern for the values a template's segments give this device: {serial} and {device-id} are
 * the entry's own; any other field (a manifest column verify cannot see) may be anything, and is
 * captured so that the caller can see what it brought.
 */
const renderable = new WeakMap<Segment[], boolean>()

/** Whether `value` is what the segments can give this device (see segmentsPattern). */
function segmentsFit(segments: Segment[], device: ManifestDevice, value: string): boolean {
  let known = renderable.get(segments)
  if (known === undefined) {
    known = segments.every((s) => 'literal' in s || s.field === 'serial' || s.field === 'device-id')
    renderable.set(segments, known)
  }
  if (!known) return segmentsPattern(segments, device).test(value)
  // Only the entry's own fields: the value is fixed (no pattern to build per device).
  let rendered = ''
  for (const segment of segments) rendered += 'literal' in segment ? segment.literal : segment.field === 'serial' ? device.serial : device.deviceId
  return rendered === value
}

function segmentsPattern(segments: Segment[], device: ManifestDevice): RegExp {
  const source = segments
    .map((segment) => {
      if ('literal' in segment) return escapeRegExp(segment.literal)
      if (segment.field === 'serial') return escapeRegExp(device.serial)
      if (segment.field === 'device-id') return escapeRegExp(device.deviceId)
      return '([\\s\\S]*?)'
    })
    .join('')
  return new RegExp(`^${source}$`, 'u')
}

// ---- the checks ----------------------------------------------------------------------------------------

export interface CheckedCertificate {
  problems: string[]
  certificate?: ParsedCertificate
}

function iso(date: Date): string {
  return date.toISOString()
}

function sameInstant(a: Date, b: string): boolean {
  return a.getTime() === new Date(b).getTime()
}

/** The checks that need only the manifest header, the trust and the certificates: made once per worker. */
export class CertificateChecker {
  private readonly subjectTemplate: SubjectTemplate | string
  private readonly sanTemplate: SanTemplate | string | undefined
  /** CA certificates from bundles, by DER (the same few in every bundle). */
  private readonly authorities = new Map<string, Authority>()
  private readonly anchors: Authority[]
  /** Whether a CA chains to the trust, by the CA and the certificates it was given with. */
  private readonly upward = new Map<string, string | undefined>()
  /** Per issuing CA (by SHA-256): what differs between it and the header's fleetCa. */
  private readonly issuers = new Map<string, string[]>()
  private readonly known: Set<string>
  /** The profile's authorityKeyIdentifier value as bytes. */
  private readonly authorityKeyId: Buffer | undefined
  /** The header's profile compiled as issuance compiles it; undefined when it is not one credbake makes. */
  private readonly compiledProfile: CompiledProfile | undefined

  constructor(
    private readonly header: ManifestHeader,
    trust: readonly X509Certificate[]
  ) {
    this.anchors = trust.map((certificate) => new Authority(certificate, true))
    const { profile } = header
    this.subjectTemplate = attempt(() => validateSubjectTemplate(profile.subject))
    this.sanTemplate = profile.san === undefined ? undefined : attempt(() => validateSanTemplate(profile.san as string))
    this.known = new Set(profile.extensions.map((e) => e.oid))
    const compiledProfile = attempt(() => compileProfile(profile as unknown as CertificateProfile))
    this.compiledProfile = typeof compiledProfile === 'string' ? undefined : compiledProfile
    const aki = /^keyid:((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$/.exec(profile.extensions.find((e) => e.name === 'authorityKeyIdentifier')?.value ?? '')
    this.authorityKeyId = aki ? Buffer.from((aki[1] as string).replace(/:/g, ''), 'hex') : undefined
  }

  /**
   * Problems of the device certificate in `pemText` (the bundle's certificate file; further
   * certificates in it, and those of `chainPem`, are intermediates) against its manifest entry,
   * the header and the trust. `name` is how messages call the file, e.g. "client.pem".
   */
  check(name: string, pemText: string, device: ManifestDevice, chainPem?: string): CheckedCertificate {
    const blocks = certificateDers(pemText)
    if (typeof blocks === 'string') return { problems: [`${name} holds no readable certificate: ${blocks}`] }
    const [leafBlock, ...more] = blocks as [{ der: Buffer; line: number }, ...Array<{ der: Buffer; line: number }>]
    const problems: string[] = []
    const entry = device.certificate
    const sha256 = sha256Hex(leafBlock.der)
    if (sha256 !== entry.sha256) problems.push(`${name} holds certificate ${sha256}, the manifest records ${entry.sha256}`)
    let certificate: ParsedCertificate
    try {
      certificate = parseCertificate(leafBlock.der)
    } catch (error) {
      problems.push(`${name}: the certificate cannot be decoded (${messageOf(error)})`)
      return { problems }
    }
    const say = (text: string): void => void problems.push(`${name}: ${text}`)
    try {
      this.entryProblems(certificate, device, say)
      this.profileProblems(certificate, device, say)
      const intermediates = [...more.map((b) => b.der), ...(chainPem === undefined ? [] : chainDers(chainPem))].map((der) => this.authorityOf(der))
      this.issuerProblems(certificate, intermediates, say)
    } catch (error) {
      say(`the certificate cannot be decoded (${messageOf(error)})`)
    }
    return { problems, certificate }
  }

  /** What the manifest entry claims about this certificate. */
  private entryProblems(certificate: ParsedCertificate, device: ManifestDevice, say: (text: string) => void): void {
    const entry = device.certificate
    const serial = certificate.serialHex.padStart(32, '0')
    if (serial !== entry.serialNumber) say(`serial number ${serial}, the manifest records ${entry.serialNumber}`)
    const publicKeySha256 = sha256Hex(certificate.spkiDer)
    if (publicKeySha256 !== entry.publicKeySha256) say(`public key SHA-256 ${publicKeySha256}, the manifest records ${entry.publicKeySha256}`)
    const subject = formatName(certificate.subject.map((rdn) => rdn.map(({ oid, value }) => ({ oid, value }))))
    if (subject !== entry.subject) say(`subject "${subject}", the manifest records "${entry.subject}"`)
    if (!sameInstant(certificate.notBefore, entry.notBefore)) say(`valid from ${iso(certificate.notBefore)}, the manifest records ${entry.notBefore}`)
    if (!sameInstant(certificate.notAfter, entry.notAfter)) say(`valid until ${iso(certificate.notAfter)}, the manifest records ${entry.notAfter}`)
    const sanExtension = certificate.extensions.find((e) => e.oid === EXTENSION_OID.subjectAltName)
    const san = sanExtension ? describeSan(sanExtension.value) : undefined
    if (san !== entry.san) {
      if (san === undefined) say(`it has no subjectAltName, the manifest records "${entry.san}"`)
      else if (entry.san === undefined) say(`subjectAltName "${san}", the manifest records none`)
      else say(`subjectAltName "${san}", the manifest records "${entry.san}"`)
    }
    // The profile's subject template puts {device-id} into the CN (the device ID aktualizr uses).
    const commonNames = certificate.subject.flat().filter((a) => a.oid === '2.5.4.3')
    const cn = commonNames[0]?.value
    if (commonNames.length !== 1) say(`the subject has ${commonNames.length} CNs; the device ID is the one CN`)
    else if (cn !== device.deviceId) say(`deviceId "${device.deviceId}" is not the certificate's CN "${cn}" (the profile puts {device-id} there)`)
  }

  /** How the header's profile says the certificate was made. */
  private profileProblems(certificate: ParsedCertificate, device: ManifestDevice, say: (text: string) => void): void {
    const { profile } = this.header
    const keyType = describePublicKey(certificate.spkiDer)
    const wanted = KEY_DESCRIPTIONS[profile.keyType] ?? profile.keyType
    if (device.certificate.keySource === 'csr') {
      // A CSR's key may be any size of the key type's family (issuance checks just that).
      if (familyOf(keyType) !== familyOf(wanted)) say(`the key is ${keyType}, but the profile's key type ${profile.keyType} is of another family`)
    } else if (keyType !== wanted) say(`the key is ${keyType}, the profile's key type is ${profile.keyType} (${wanted})`)
    const signature = SIGNATURE_NAMES[certificate.signatureOid] ?? certificate.signatureOid
    if (signature !== profile.signatureAlgorithm) say(`signed with ${signature}, the profile says ${profile.signatureAlgorithm}`)
    if (certificate.serialBytes !== profile.serialNumberBytes) say(`its serial number is ${certificate.serialBytes} bytes, the profile says ${profile.serialNumberBytes}`)
    this.lifetimeProblems(certificate, say)
    this.templateProblems(certificate, device, say)
    this.extensionProblems(certificate, say)
  }

  private lifetimeProblems(certificate: ParsedCertificate, say: (text: string) => void): void {
    const { lifetime, backdateSeconds } = this.header.profile
    const { notBefore, notAfter } = certificate
    if (notAfter.getTime() < notBefore.getTime()) say(`it ends (${iso(notAfter)}) before it starts (${iso(notBefore)})`)
    const span = notAfter.getTime() - notBefore.getTime()
    switch (lifetime.kind) {
      case 'days': {
        const days = lifetime.days * 86_400_000
        const expected = days + backdateSeconds * 1000
        // notBefore is never before the fleet CA's: then the span is shorter by up to the backdating.
        const clamped = sameInstant(notBefore, this.header.fleetCa.notBefore) && span >= days && span <= expected
        if (span !== expected && !clamped) {
          say(`it is valid ${describeSpan(span)} (${iso(notBefore)} to ${iso(notAfter)}); the profile's lifetime is ${lifetime.days} days after ${backdateSeconds} s of backdating`)
        }
        break
      }
      case 'until':
        if (!sameInstant(notAfter, new Date(Math.floor(Date.parse(lifetime.notAfter) / 1000) * 1000).toISOString()))
          say(`it ends ${iso(notAfter)}, the profile's lifetime ends ${lifetime.notAfter}`)
        break
      case 'never':
        if (notAfter.getTime() !== NEVER_EXPIRES.getTime()) say(`it ends ${iso(notAfter)}, the profile's lifetime is "never" (${iso(NEVER_EXPIRES)})`)
        break
    }
  }

  /** The subject and SAN fit the profile's templates, with the entry's serial and device ID in their places. */
  private templateProblems(certificate: ParsedCertificate, device: ManifestDevice, say: (text: string) => void): void {
    const template = this.subjectTemplate
    if (typeof template === 'string') say(`the profile's subject template "${this.header.profile.subject}" is not one credbake accepts: ${template}`)
    else {
      const rdns = [...certificate.subject].reverse()
      const fits =
        rdns.length === template.rdns.length &&
        template.rdns.every((rdn, i) => {
          const actual = rdns[i] as NameAttribute[]
          return actual.length === rdn.length && rdn.every((attribute, j) => actual[j]?.oid === attribute.info.oid && segmentsFit(attribute.segments, device, actual[j].value))
        })
      if (!fits) say(`the subject does not fit the profile's subject template "${this.header.profile.subject}" for serial ${device.serial} and device ID ${device.deviceId}`)
      for (const attribute of rdns.flat()) {
        const info = SUBJECT_ATTRIBUTES.find((a) => a.oid === attribute.oid)
        if (info && attribute.tag !== info.stringTag)
          say(`subject attribute ${info.name}=${escapeRfc4514(attribute.value)} is encoded as tag ${attribute.tag}, credbake writes tag ${info.stringTag}`)
      }
    }
    const sanExtension = certificate.extensions.find((e) => e.oid === EXTENSION_OID.subjectAltName)
    const san = this.sanTemplate
    if (san === undefined || !sanExtension) return
    if (typeof san === 'string') return say(`the profile's san template "${this.header.profile.san}" is not one credbake accepts: ${san}`)
    const names = sanNames(sanExtension.value)
    const fits = names.length === san.entries.length && san.entries.every((entry, i) => sanEntryFits(entry, names[i], device))
    if (!fits) {
      say(
        `subjectAltName "${describeSan(sanExtension.value)}" does not fit the profile's san template "${this.header.profile.san}" for serial ${device.serial} and device ID ${device.deviceId}`
      )
      return
    }
    san.entries.forEach((entry, i) => {
      if (entry.kind.name !== 'DNS' || !entry.segments.some((s) => 'field' in s && s.field !== 'serial' && s.field !== 'device-id')) return
      // What the other fields brought (the entry's serial and device ID cannot hold a "*").
      const captured = segmentsPattern(entry.segments, device).exec(names[i]!.value) ?? []
      if (captured.slice(1).some((value) => value?.includes('*'))) say(`the DNS name ${names[i]!.value} has a "*" brought in by a manifest value, which credbake refuses`)
    })
  }

  /**
   * Whether the extensions are, byte for byte, those credbake encodes from the header's profile
   * (the same compiler issuance uses), in its order: the usual case, needing no decoding. The
   * subjectAltName is checked on its own (templateProblems).
   */
  private extensionsAsEncoded(certificate: ParsedCertificate): boolean {
    const compiled = this.compiledProfile
    if (!compiled || certificate.extensions.length !== compiled.extensions.length) return false
    const subjectPublicKey = subjectPublicKeyBits(certificate.spkiDer)
    return compiled.extensions.every((expected, i) => {
      const actual = certificate.extensions[i] as Extension
      if (Buffer.isBuffer(expected)) return actual.der.equals(expected)
      const spec = this.header.profile.extensions[i]
      if (spec?.name === 'subjectKeyIdentifier') return actual.der.equals(expected({ device: undefined as never, subjectPublicKey }))
      return actual.oid === spec?.oid && actual.critical === spec.critical
    })
  }

  /** Each extension the profile lists: present, as critical as it says, with its value; nothing else. */
  private extensionProblems(certificate: ParsedCertificate, say: (text: string) => void): void {
    if (this.extensionsAsEncoded(certificate)) return
    const spki = certificate.spkiDer
    for (const spec of this.header.profile.extensions) {
      const found = certificate.extensions.filter((e) => e.oid === spec.oid)
      if (found.length === 0) {
        say(`the ${spec.name} extension is missing`)
        continue
      }
      if (found.length > 1) say(`the ${spec.name} extension appears ${found.length} times`)
      const extension = found[0] as Extension
      if (extension.critical !== spec.critical) say(`${spec.name} is ${extension.critical ? '' : 'not '}critical, the profile says ${spec.critical ? 'critical' : 'not critical'}`)
      let actual: string
      let wanted = spec.value
      const list = (value: string): string =>
        value
          .split(',')
          .map((v) => v.trim())
          .filter(Boolean)
          .sort()
          .join(', ')
      try {
        switch (spec.name) {
          case 'basicConstraints':
            actual = basicConstraintsText(extension.value)
            break
          case 'keyUsage':
            actual = list(keyUsageText(extension.value))
            wanted = list(spec.value)
            break
          case 'extendedKeyUsage':
            actual = list(extendedKeyUsageText(extension.value))
            wanted = list(spec.value)
            break
          case 'subjectKeyIdentifier': {
            const keyId = contentsOf(extension.value, readSingle(extension.value))
            // Method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING's value.
            actual = keyId.equals(sha1(subjectPublicKeyBits(spki))) ? 'sha1(subjectPublicKey)' : `keyid:${colonHex(keyId)}`
            break
          }
          case 'authorityKeyIdentifier': {
            const keyId = authorityKeyId(extension.value)
            // Compared as bytes; the text is made only for a message.
            if (keyId && this.authorityKeyId?.equals(keyId)) continue
            actual = keyId ? `keyid:${colonHex(keyId)}` : 'no keyid'
            break
          }
          default:
            // subjectAltName: per device, checked against its template above.
            continue
        }
      } catch (error) {
        say(`the ${spec.name} extension cannot be decoded (${messageOf(error)})`)
        continue
      }
      if (actual !== wanted) say(`${spec.name} is ${actual}, the profile says ${spec.value}`)
    }
    for (const extension of certificate.extensions) if (!this.known.has(extension.oid)) say(`extension ${extension.oid} is not in the profile`)
  }

  /** The chain to the trust, and the issuing CA against the header's fleetCa. */
  private issuerProblems(certificate: ParsedCertificate, intermediates: Authority[], say: (text: string) => void): void {
    const issuer = this.issuerOf(certificate, intermediates)
    if (typeof issuer === 'string') return say(issuer)
    const fleetCa = this.header.fleetCa
    if (issuer.sha256 !== fleetCa.sha256) say(`issued by ${issuer.subject} (SHA-256 ${issuer.sha256}), not by the manifest's fleet CA (${fleetCa.sha256})`)
    for (const problem of this.issuerFacts(issuer)) say(problem)
    const keyId = certificate.extensions.find((e) => e.oid === EXTENSION_OID.authorityKeyIdentifier)
    const aki = keyId ? authorityKeyId(keyId.value) : undefined
    if (aki && !aki.equals(issuer.keyIdentifier)) say(`its authorityKeyIdentifier keyid:${colonHex(aki)} is not its CA's key identifier keyid:${colonHex(issuer.keyIdentifier)}`)
    if (certificate.notBefore.getTime() < issuer.notBefore.getTime() || certificate.notAfter.getTime() > issuer.notAfter.getTime()) {
      say(`validity ${iso(certificate.notBefore)}..${iso(certificate.notAfter)} is not within its CA's (${iso(issuer.notBefore)}..${iso(issuer.notAfter)})`)
    }
  }

  /**
   * The CA whose key made the certificate's signature (a trust anchor, or a CA certificate from the
   * bundle that chains to one), or why there is none. The device certificate's signature is checked
   * here, on its signed bytes, with the CA's key; links between CAs through node:crypto's X509Certificate.
   */
  private issuerOf(certificate: ParsedCertificate, intermediates: Authority[]): Authority | string {
    const candidates = [...this.anchors, ...intermediates]
    const issuerName = (): string => formatName(nameOf(certificate.issuerDer, readSingle(certificate.issuerDer)).map((rdn) => rdn.map(({ oid, value }) => ({ oid, value }))))
    const named = candidates.filter((c) => c.subjectDer.equals(certificate.issuerDer))
    if (named.length === 0) return `it does not chain to fleet-ca-cert (issuer ${issuerName()} is not there or did not sign it)`
    const signer = named.find((c) => signatureValid(certificate, c.key))
    if (!signer) return `its signature does not verify with the public key of its issuer (${issuerName()})`
    if (!signer.isCa) return `its issuer ${signer.subject} is not a CA`
    const problem = this.toTrust(signer, candidates)
    return problem ?? signer
  }

  /** Undefined when `authority` is a trust anchor or chains to one through `candidates`; else why not. */
  private toTrust(authority: Authority, candidates: Authority[]): string | undefined {
    if (authority.anchor) return undefined
    const key = `${authority.sha256} ${candidates.map((c) => c.sha256).join(' ')}`
    if (this.upward.has(key)) return this.upward.get(key)
    let problem: string | undefined = 'its chain is longer than 8 certificates'
    let current = authority
    for (let depth = 0; depth < 8; depth++) {
      if (current.anchor) {
        problem = undefined
        break
      }
      const next = candidates.find((c) => c.sha256 !== current.sha256 && current.certificate.checkIssued(c.certificate) && current.certificate.verify(c.key))
      if (!next) {
        problem = `it does not chain to fleet-ca-cert (issuer ${current.certificate.issuer.replace(/\n/g, ', ')} is not there or did not sign it)`
        break
      }
      if (!next.isCa) {
        problem = `its issuer ${next.subject} is not a CA`
        break
      }
      current = next
    }
    if (this.upward.size > 64) this.upward.clear()
    this.upward.set(key, problem)
    return problem
  }

  /** The header's fleetCa against the CA certificate that issued the device's: cached per CA. */
  private issuerFacts(issuer: Authority): string[] {
    let problems = this.issuers.get(issuer.sha256)
    if (problems) return problems
    problems = []
    const fleetCa = this.header.fleetCa
    if (issuer.subject !== fleetCa.subject) problems.push(`its CA's subject is "${issuer.subject}", the manifest's fleetCa.subject is "${fleetCa.subject}"`)
    if (!sameInstant(issuer.notBefore, fleetCa.notBefore)) problems.push(`its CA is valid from ${iso(issuer.notBefore)}, the manifest's fleetCa.notBefore is ${fleetCa.notBefore}`)
    if (!sameInstant(issuer.notAfter, fleetCa.notAfter)) problems.push(`its CA is valid until ${iso(issuer.notAfter)}, the manifest's fleetCa.notAfter is ${fleetCa.notAfter}`)
    const key = keyFacts(issuer.key)
    if ('unsupported' in key) problems.push(`its CA's key: ${key.unsupported}`)
    else {
      if (key.description !== fleetCa.keyType) problems.push(`its CA's key is ${key.description}, the manifest's fleetCa.keyType is ${fleetCa.keyType}`)
      if (key.signatureAlgorithmName !== fleetCa.signatureAlgorithm)
        problems.push(`its CA signs with ${key.signatureAlgorithmName}, the manifest's fleetCa.signatureAlgorithm is ${fleetCa.signatureAlgorithm}`)
    }
    if (issuer.intermediate !== fleetCa.intermediate)
      problems.push(`its CA is ${issuer.intermediate ? 'an intermediate' : 'a root (self-issued)'}, the manifest's fleetCa.intermediate is ${fleetCa.intermediate}`)
    this.issuers.set(issuer.sha256, problems)
    return problems
  }

  private authorityOf(der: Buffer): Authority {
    const key = der.toString('base64')
    let authority = this.authorities.get(key)
    if (!authority) {
      authority = new Authority(new X509Certificate(der), false)
      if (this.authorities.size > 64) this.authorities.clear()
      this.authorities.set(key, authority)
    }
    return authority
  }

  /** A problem when `keyPem` is not the private key of `certificate` (undefined when it is). */
  keyMatches(name: string, keyPem: Buffer, certificate: ParsedCertificate): string | undefined {
    const fast = ecKeyMatches(keyPem, certificate.spkiDer)
    if (fast === true) return undefined
    if (fast === 'inconsistent') return `${name} holds a public key that is not its private key's`
    let matches: boolean
    try {
      const publicDer = createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' })
      matches = publicDer.equals(createPublicKey({ key: certificate.spkiDer, format: 'der', type: 'spki' }).export({ type: 'spki', format: 'der' }))
    } catch (error) {
      return `${name} cannot be read as a private key (${messageOf(error).split('\n')[0]})`
    }
    return matches ? undefined : `${name} does not match the certificate`
  }
}

/** A CA certificate (a trust anchor or one from a bundle's chain), read once. */
class Authority {
  readonly sha256: string
  readonly subjectDer: Buffer
  readonly subject: string
  readonly key: KeyObject
  readonly isCa: boolean
  readonly notBefore: Date
  readonly notAfter: Date
  readonly intermediate: boolean
  /** Its subjectKeyIdentifier, or the SHA-1 of its public key when it has none. */
  readonly keyIdentifier: Buffer

  constructor(
    readonly certificate: X509Certificate,
    readonly anchor: boolean
  ) {
    const der = certificate.raw
    this.sha256 = sha256Hex(der)
    this.key = certificate.publicKey
    this.isCa = certificate.ca
    this.notBefore = new Date(certificate.validFrom)
    this.notAfter = new Date(certificate.validTo)
    // The fields are read leniently: a CA certificate need not be laid out as credbake's are.
    const tbs = readNode(der, readSingle(der).contentStart)
    const fields = childrenOf(der, tbs)
    const at = fields[0]?.tag === 0xa0 ? 1 : 0
    const issuer = fields[at + 2] as DerNode
    const subject = fields[at + 4] as DerNode
    const spki = fields[at + 5] as DerNode
    this.subjectDer = encodingOf(der, subject)
    this.intermediate = !this.subjectDer.equals(encodingOf(der, issuer))
    this.subject = attempt(() => formatName(nameOf(der, subject).map((rdn) => rdn.map(({ oid, value }) => ({ oid, value }))))) as string
    let keyIdentifier: Buffer | undefined
    try {
      const wrapper = fields.slice(at + 6).find((node) => node.tag === 0xa3)
      const list = wrapper ? childrenOf(der, wrapper)[0] : undefined
      for (const extension of list ? childrenOf(der, list) : []) {
        const parts = childrenOf(der, extension)
        if (oidOf(der, parts[0]) !== EXTENSION_OID.subjectKeyIdentifier) continue
        const value = contentsOf(der, parts[parts.length - 1] as DerNode)
        keyIdentifier = contentsOf(value, readSingle(value))
      }
    } catch {
      keyIdentifier = undefined
    }
    this.keyIdentifier = keyIdentifier ?? sha1(subjectPublicKeyBits(encodingOf(der, spki)))
  }
}

/** Whether the certificate's signature over its signed bytes verifies with `key`. */
function signatureValid(certificate: ParsedCertificate, key: KeyObject): boolean {
  const hash = SIGNATURE_HASHES[certificate.signatureOid]
  if (hash === undefined) return false
  try {
    return verify(hash, certificate.tbsDer, key, certificate.signature)
  } catch {
    return false
  }
}

/** SHA-1 in one call where node:crypto has it (RFC 5280 key identifiers only). */
function sha1(data: Uint8Array): Buffer {
  return oneShotHash ? (oneShotHash('sha1', data, 'buffer') as Buffer) : createHash('sha1').update(data).digest()
}

const oneShotHash = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'buffer') => Buffer }).hash

function attempt<T>(make: () => T): T | string {
  try {
    return make()
  } catch (error) {
    return messageOf(error)
  }
}

function chainDers(text: string): Buffer[] {
  const blocks = certificateDers(text)
  return typeof blocks === 'string' ? [] : blocks.map((b) => b.der)
}

function describeSpan(ms: number): string {
  const seconds = Math.round(ms / 1000)
  const days = Math.floor(seconds / 86_400)
  return `${days} days ${seconds - days * 86_400} s`
}

function sanNames(value: Buffer): Array<{ tag: number; value: string; bytes: Buffer }> {
  return childrenOf(value, readSingle(value)).map((node) => {
    const bytes = contentsOf(value, node)
    const tag = node.tag & 0x1f
    // IP addresses as describeSan writes them (RFC 5952 for IPv6).
    return { tag, value: tag === 7 ? (ipAddressText(bytes) ?? `#${bytes.toString('hex')}`) : bytes.toString('latin1'), bytes }
  })
}

/** One SAN name against one template entry: the same type, and a value the entry can render. */
function sanEntryFits(entry: SanTemplate['entries'][number], name: { tag: number; value: string; bytes: Buffer } | undefined, device: ManifestDevice): boolean {
  if (!name || name.tag !== entry.kind.tag) return false
  // A constant IP entry is compared as an address: the template may spell it otherwise ("2001:DB8::1").
  if (entry.kind.tag === 7 && entry.segments.every((s) => 'literal' in s)) {
    const bytes = ipAddressBytes(entry.segments.map((s) => ('literal' in s ? s.literal : '')).join(''))
    return bytes?.equals(name.bytes) === true
  }
  return segmentsFit(entry.segments, device, name.value)
}

function basicConstraintsText(value: Buffer): string {
  const parts = childrenOf(value, readSingle(value))
  const ca = parts[0]?.tag === TAG.boolean && value[parts[0].contentStart] !== 0
  const pathLength = parts.find((p) => p.tag === TAG.integer)
  return `CA:${ca ? 'TRUE' : 'FALSE'}${pathLength ? `, pathlen:${parseInt(contentsOf(value, pathLength).toString('hex') || '0', 16)}` : ''}`
}

function keyUsageText(value: Buffer): string {
  const node = readSingle(value)
  if (node.tag !== TAG.bitString) throw new DerError('keyUsage is not a BIT STRING')
  const bytes = contentsOf(value, node).subarray(1)
  const names: string[] = []
  for (let bit = 0; bit < bytes.length * 8; bit++) if (((bytes[bit >> 3] ?? 0) >> (7 - (bit & 7))) & 1) names.push(KEY_USAGE_BITS[bit] ?? `bit${bit}`)
  return names.join(', ')
}

function extendedKeyUsageText(value: Buffer): string {
  return childrenOf(value, readSingle(value))
    .map((node) => {
      const oid = oidOf(value, node)
      return PURPOSES[oid] ?? oid
    })
    .join(', ')
}

function authorityKeyId(value: Buffer): Buffer | undefined {
  const keyId = childrenOf(value, readSingle(value)).find((node) => node.tag === 0x80)
  return keyId ? contentsOf(value, keyId) : undefined
}

const ECDH_CURVES: Record<string, string> = { '1.2.840.10045.3.1.7': 'prime256v1', '1.3.132.0.34': 'secp384r1', '1.3.132.0.35': 'secp521r1' }
/** One ECDH object per curve, reused: making one costs more than the scalar multiplication. */
const ecdhByCurve = new Map<string, ECDH>()

/**
 * Whether a one-block PKCS#8 PEM holding an EC key (the layout credbake writes) is the private key
 * of the SPKI `spkiDer`: the public point derived from its scalar is the certificate's, on the
 * same curve. 'inconsistent' when the public key stored beside the scalar is another one;
 * undefined when the PEM is not of that layout (node:crypto's decoders decide then).
 */
function ecKeyMatches(keyPem: Buffer, spkiDer: Buffer): boolean | 'inconsistent' | undefined {
  const match = /^-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PRIVATE KEY-----\r?\n?$/.exec(keyPem.toString('latin1'))
  if (!match) return undefined
  try {
    const der = Buffer.from(match[1] as string, 'base64')
    const [version, algorithm, wrapped] = childrenOf(der, readSingle(der))
    if (version?.tag !== TAG.integer || algorithm?.tag !== TAG.sequence || wrapped?.tag !== TAG.octetString) return undefined
    const [type, curve] = childrenOf(der, algorithm)
    if (oidOf(der, type) !== OID.ecPublicKey) return undefined
    const curveOid = oidOf(der, curve)
    const ecdhName = ECDH_CURVES[curveOid]
    if (!ecdhName) return undefined
    const inner = contentsOf(der, wrapped)
    const parts = childrenOf(inner, readSingle(inner))
    const scalar = parts[1]
    if (scalar?.tag !== TAG.octetString) return undefined
    let ecdh = ecdhByCurve.get(ecdhName)
    if (!ecdh) {
      ecdh = createECDH(ecdhName)
      ecdhByCurve.set(ecdhName, ecdh)
    }
    ecdh.setPrivateKey(contentsOf(inner, scalar))
    const point = ecdh.getPublicKey()
    const stored = parts.find((node) => node.tag === 0xa1)
    if (stored) {
      const [bits] = childrenOf(inner, stored)
      if (bits?.tag === TAG.bitString && !inner.subarray(bits.contentStart + 1, bits.end).equals(point)) return 'inconsistent'
    }
    const [spkiAlgorithm] = childrenOf(spkiDer, readSingle(spkiDer))
    const [, spkiCurve] = spkiAlgorithm ? childrenOf(spkiDer, spkiAlgorithm) : []
    return spkiCurve?.tag === TAG.oid && oidOf(spkiDer, spkiCurve) === curveOid && subjectPublicKeyBits(spkiDer).equals(point)
  } catch {
    return undefined // not a key OpenSSL would read either, or a scalar out of range: node:crypto says what is wrong
  }
}
