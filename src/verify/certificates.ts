// Certificate checks of `credbake verify`: the device certificate found in the output is the one
// its manifest entry describes (fingerprint, serial number, public key, validity, subject, SAN,
// device ID), was made as the profile in the manifest header says (key type, lifetime, serial
// size, signature algorithm, extensions, subject and SAN templates), chains to the trust given
// (signatures checked by node:crypto, intermediates from the bundle's chain), and was issued by the
// fleet CA the header describes (fingerprint, subject, validity, key, key identifier); the private
// key found beside it is its key. The certificate is read with the lean DER reader credbake
// issues with (strict DER, no library objects per field), which keeps verify at the bake's pace.
import { createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { InputError, messageOf } from '../errors.js'
import { keyFacts, OID } from '../issue/algorithms.js'
import { childrenOf, contentsOf, decodeOid, DerError, encodingOf, readNode, readSingle, TAG, type DerNode } from '../issue/der.js'
import { ecSpkiOfPkcs8 } from '../issue/keys.js'
import { describeSan, ipAddressBytes, ipAddressText, validateSanTemplate, type SanTemplate } from '../issue/san.js'
import { escapeRfc4514, formatName, SUBJECT_ATTRIBUTES, validateSubjectTemplate, type SubjectTemplate } from '../issue/subject.js'
import type { Segment } from '../issue/template.js'
import { NEVER_EXPIRES } from '../issue/validity.js'
import type { ManifestDevice, ManifestHeader } from '../review/types.js'
import { colonHex, sha1, sha256Hex } from '../util/hash.js'
import { readPemBlocks } from '../util/pem.js'

/** The certificates of a PEM file given as --fleet-ca-cert (the trust anchors). */
export async function loadTrust(file: string): Promise<X509Certificate[]> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
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

function certificateDers(text: string): Array<{ der: Buffer; line: number }> | string {
  const blocks = readPemBlocks(text)
  if ('problem' in blocks) return blocks.problem
  const found = blocks.filter((b) => b.label === 'CERTIFICATE')
  return found.length > 0 ? found : 'it holds no CERTIFICATE block'
}

// ---- the certificate as DER ------------------------------------------------------------------------

const id = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extendedKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17'
}

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
}

/** The fields of a certificate verify compares, read from its DER. */
export interface ParsedCertificate {
  der: Buffer
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

function oidOf(der: Buffer, node: DerNode | undefined): string {
  if (!node || node.tag !== TAG.oid) throw new DerError('an OBJECT IDENTIFIER was expected')
  return decodeOid(contentsOf(der, node))
}

function timeOf(der: Buffer, node: DerNode | undefined): Date {
  if (!node) throw new DerError('a time is missing')
  const text = contentsOf(der, node).toString('latin1')
  const match = node.tag === TAG.utcTime ? /^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text) : node.tag === TAG.generalizedTime ? /^(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)Z$/.exec(text) : null
  if (!match) throw new DerError(`"${text}" is not a UTCTime or GeneralizedTime credbake writes`)
  const [, y = '', mo = '', d = '', h = '', mi = '', s = ''] = match
  const year = node.tag === TAG.utcTime ? (Number(y) >= 50 ? 1900 : 2000) + Number(y) : Number(y)
  return new Date(Date.UTC(year, Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)))
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
  const [tbs, algorithm] = childrenOf(der, certificate)
  if (!tbs || !algorithm) throw new DerError('not a certificate')
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
    extensions.push({ oid: oidOf(der, parts[0]), critical, value: contentsOf(der, value) })
  }
  const [notBefore, notAfter] = childrenOf(der, validity)
  const serialContents = contentsOf(der, serial)
  const signatureOuter = oidOf(der, childrenOf(der, algorithm)[0])
  const signatureInner = oidOf(der, childrenOf(der, signature)[0])
  if (signatureOuter !== signatureInner) throw new DerError('its two signature algorithms differ')
  return {
    der,
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

/** "EC P-256", "RSA 3072", "Ed25519" of a SubjectPublicKeyInfo, read from its DER. */
function describePublicKey(spki: Buffer): string {
  const [algorithm, key] = childrenOf(spki, readSingle(spki))
  if (!algorithm || !key) throw new DerError('the public key is incomplete')
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
  /** Parsed intermediates from bundles, by DER (the same few in every bundle). */
  private readonly parsed = new Map<string, X509Certificate>()
  private readonly keys = new Map<X509Certificate, KeyObject>()
  /** Per issuing CA (by SHA-256): what differs between it and the header's fleetCa, and its key identifier. */
  private readonly issuers = new Map<string, { problems: string[]; keyIdentifier: Buffer }>()
  private readonly known: Set<string>

  constructor(
    private readonly header: ManifestHeader,
    private readonly trust: readonly X509Certificate[]
  ) {
    const { profile } = header
    this.subjectTemplate = attempt(() => validateSubjectTemplate(profile.subject))
    this.sanTemplate = profile.san === undefined ? undefined : attempt(() => validateSanTemplate(profile.san as string))
    this.known = new Set(profile.extensions.map((e) => e.oid))
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
    let node: X509Certificate
    try {
      certificate = parseCertificate(leafBlock.der)
      node = new X509Certificate(leafBlock.der)
    } catch (error) {
      problems.push(`${name}: the certificate cannot be decoded (${messageOf(error)})`)
      return { problems }
    }
    const say = (text: string): void => void problems.push(`${name}: ${text}`)
    try {
      this.entryProblems(certificate, device, say)
      this.profileProblems(certificate, device, say)
      const intermediates = [...more.map((b) => b.der), ...(chainPem === undefined ? [] : chainDers(chainPem))].map((der) => this.certificateOf(der))
      this.issuerProblems(certificate, node, intermediates, say)
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
    const sanExtension = certificate.extensions.find((e) => e.oid === id.subjectAltName)
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
        if (!sameInstant(notAfter, new Date(Math.floor(Date.parse(lifetime.notAfter) / 1000) * 1000).toISOString())) say(`it ends ${iso(notAfter)}, the profile's lifetime ends ${lifetime.notAfter}`)
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
          return actual.length === rdn.length && rdn.every((attribute, j) => actual[j]?.oid === attribute.info.oid && segmentsPattern(attribute.segments, device).test(actual[j].value))
        })
      if (!fits) say(`the subject does not fit the profile's subject template "${this.header.profile.subject}" for serial ${device.serial} and device ID ${device.deviceId}`)
      for (const attribute of rdns.flat()) {
        const info = SUBJECT_ATTRIBUTES.find((a) => a.oid === attribute.oid)
        if (info && attribute.tag !== info.stringTag) say(`subject attribute ${info.name}=${escapeRfc4514(attribute.value)} is encoded as tag ${attribute.tag}, credbake writes tag ${info.stringTag}`)
      }
    }
    const sanExtension = certificate.extensions.find((e) => e.oid === id.subjectAltName)
    const san = this.sanTemplate
    if (san === undefined || !sanExtension) return
    if (typeof san === 'string') return say(`the profile's san template "${this.header.profile.san}" is not one credbake accepts: ${san}`)
    const names = sanNames(sanExtension.value)
    const fits = names.length === san.entries.length && san.entries.every((entry, i) => sanEntryFits(entry, names[i], device))
    if (!fits) {
      say(`subjectAltName "${describeSan(sanExtension.value)}" does not fit the profile's san template "${this.header.profile.san}" for serial ${device.serial} and device ID ${device.deviceId}`)
      return
    }
    san.entries.forEach((entry, i) => {
      if (entry.kind.name !== 'DNS') return
      // What the other fields brought (the entry's serial and device ID cannot hold a "*").
      const captured = segmentsPattern(entry.segments, device).exec(names[i]!.value) ?? []
      if (captured.slice(1).some((value) => value?.includes('*'))) say(`the DNS name ${names[i]!.value} has a "*" brought in by a manifest value, which credbake refuses`)
    })
  }

  /** Each extension the profile lists: present, as critical as it says, with its value; nothing else. */
  private extensionProblems(certificate: ParsedCertificate, say: (text: string) => void): void {
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
      const list = (value: string): string => value.split(',').map((v) => v.trim()).filter(Boolean).sort().join(', ')
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
  private issuerProblems(certificate: ParsedCertificate, node: X509Certificate, intermediates: X509Certificate[], say: (text: string) => void): void {
    const chain = this.chainToTrust(node, intermediates)
    if (typeof chain === 'string') return say(chain)
    const issuer = chain[1] as X509Certificate
    const issuerSha256 = sha256Hex(issuer.raw)
    const fleetCa = this.header.fleetCa
    if (issuerSha256 !== fleetCa.sha256) say(`issued by ${issuer.subject.replace(/\n/g, ', ')} (SHA-256 ${issuerSha256}), not by the manifest's fleet CA (${fleetCa.sha256})`)
    const facts = this.issuerFacts(issuer, issuerSha256)
    for (const problem of facts.problems) say(problem)
    const keyId = certificate.extensions.find((e) => e.oid === id.authorityKeyIdentifier)
    const aki = keyId ? authorityKeyId(keyId.value) : undefined
    if (aki && !aki.equals(facts.keyIdentifier)) say(`its authorityKeyIdentifier keyid:${colonHex(aki)} is not its CA's key identifier keyid:${colonHex(facts.keyIdentifier)}`)
    const from = new Date(issuer.validFrom).getTime()
    const to = new Date(issuer.validTo).getTime()
    if (certificate.notBefore.getTime() < from || certificate.notAfter.getTime() > to) {
      say(`validity ${iso(certificate.notBefore)}..${iso(certificate.notAfter)} is not within its CA's (${iso(new Date(from))}..${iso(new Date(to))})`)
    }
  }

  /** The header's fleetCa against the CA certificate that issued the device's: cached per CA. */
  private issuerFacts(issuer: X509Certificate, sha256: string): { problems: string[]; keyIdentifier: Buffer } {
    let facts = this.issuers.get(sha256)
    if (facts) return facts
    const problems: string[] = []
    const fleetCa = this.header.fleetCa
    let keyIdentifier: Buffer = Buffer.alloc(0)
    try {
      const parsed = parseCertificate(issuer.raw)
      const subject = formatName(parsed.subject.map((rdn) => rdn.map(({ oid, value }) => ({ oid, value }))))
      if (subject !== fleetCa.subject) problems.push(`its CA's subject is "${subject}", the manifest's fleetCa.subject is "${fleetCa.subject}"`)
      if (!sameInstant(parsed.notBefore, fleetCa.notBefore)) problems.push(`its CA is valid from ${iso(parsed.notBefore)}, the manifest's fleetCa.notBefore is ${fleetCa.notBefore}`)
      if (!sameInstant(parsed.notAfter, fleetCa.notAfter)) problems.push(`its CA is valid until ${iso(parsed.notAfter)}, the manifest's fleetCa.notAfter is ${fleetCa.notAfter}`)
      const key = keyFacts(this.keyOf(issuer))
      if ('unsupported' in key) problems.push(`its CA's key: ${key.unsupported}`)
      else {
        if (key.description !== fleetCa.keyType) problems.push(`its CA's key is ${key.description}, the manifest's fleetCa.keyType is ${fleetCa.keyType}`)
        if (key.signatureAlgorithmName !== fleetCa.signatureAlgorithm) problems.push(`its CA signs with ${key.signatureAlgorithmName}, the manifest's fleetCa.signatureAlgorithm is ${fleetCa.signatureAlgorithm}`)
      }
      const intermediate = !parsed.subjectDer.equals(parsed.issuerDer)
      if (intermediate !== fleetCa.intermediate) problems.push(`its CA is ${intermediate ? 'an intermediate' : 'a root (self-issued)'}, the manifest's fleetCa.intermediate is ${fleetCa.intermediate}`)
      const ski = parsed.extensions.find((e) => e.oid === id.subjectKeyIdentifier)
      keyIdentifier = ski ? contentsOf(ski.value, readSingle(ski.value)) : sha1(subjectPublicKeyBits(parsed.spkiDer))
    } catch (error) {
      problems.push(`its CA certificate cannot be decoded (${messageOf(error)})`)
    }
    facts = { problems, keyIdentifier }
    this.issuers.set(sha256, facts)
    return facts
  }

  private certificateOf(der: Buffer): X509Certificate {
    const key = der.toString('base64')
    let certificate = this.parsed.get(key)
    if (!certificate) {
      certificate = new X509Certificate(der)
      if (this.parsed.size > 64) this.parsed.clear()
      this.parsed.set(key, certificate)
    }
    return certificate
  }

  private keyOf(certificate: X509Certificate): KeyObject {
    let key = this.keys.get(certificate)
    if (!key) {
      key = certificate.publicKey
      this.keys.set(certificate, key)
    }
    return key
  }

  /** The chain from `leaf` up to a certificate in the trust, each link's signature checked; or why there is none. */
  private chainToTrust(leaf: X509Certificate, intermediates: readonly X509Certificate[]): X509Certificate[] | string {
    const candidates = [...this.trust, ...intermediates]
    const chain = [leaf]
    let current = leaf
    for (let depth = 0; depth < 8; depth++) {
      if (depth > 0 && this.trust.some((t) => t.raw.equals(current.raw))) return chain
      const issuer = candidates.find((c) => !c.raw.equals(current.raw) && current.checkIssued(c) && current.verify(this.keyOf(c)))
      if (!issuer) {
        if (depth === 0 && candidates.some((c) => current.checkIssued(c))) return `its signature does not verify with the public key of its issuer (${current.issuer.replace(/\n/g, ', ')})`
        return `it does not chain to fleet-ca-cert (issuer ${current.issuer.replace(/\n/g, ', ')} is not there or did not sign it)`
      }
      if (!issuer.ca) return `its issuer ${issuer.subject.replace(/\n/g, ', ')} is not a CA`
      chain.push(issuer)
      current = issuer
    }
    return 'its chain is longer than 8 certificates'
  }

  /** A problem when `keyPem` is not the private key of `certificate` (undefined when it is). */
  keyMatches(name: string, keyPem: Buffer, certificate: ParsedCertificate): string | undefined {
    const fast = fastSpki(keyPem)
    if (fast?.equals(certificate.spkiDer)) return undefined
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
    return bytes !== undefined && bytes.equals(name.bytes)
  }
  return segmentsPattern(entry.segments, device).test(name.value)
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

/** The SPKI of a one-block PKCS#8 PEM of credbake's EC layout, without OpenSSL's decoders. */
function fastSpki(keyPem: Buffer): Buffer | undefined {
  const match = /^-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PRIVATE KEY-----\r?\n?$/.exec(keyPem.toString('latin1'))
  return match ? ecSpkiOfPkcs8(Buffer.from(match[1] as string, 'base64')) : undefined
}
