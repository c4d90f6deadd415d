// subjectAltName templates: "DNS:{serial}.devices.example.com,URI:urn:dev:{device-id},IP:10.0.0.1".
// Entries are separated by unescaped commas; each is TYPE:value with {field} placeholders.
import { isIP } from 'node:net'
import { InputError, ManifestError } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { EXTENSION_OID } from '../x509/algorithms.js'
import { childrenOf, contentsOf, decodeOid, implicitPrimitive, readNode, readSingle, sequence, TAG } from '../x509/der.js'
import { checkFieldsKnown, fieldBringing, fieldsOf, indexOfUnescaped, parseSegments, renderSegments, splitUnescaped, type Fail, type Segment } from './template.js'

interface GeneralNameKind {
  /** Name in templates (matched case-insensitively). */
  name: string
  /** Context tag of the GeneralName CHOICE (RFC 5280 §4.2.1.6). */
  tag: number
  /** Encodes a checked value, or returns a sentence saying what is wrong. */
  encode: (value: string) => Buffer | string
}

const DNS_LABEL = /^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$/
const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[\x21-\x7e]+$/
const EMAIL = /^[\x21-\x3f\x41-\x7e]+@[A-Za-z0-9.-]+$/

const KINDS: GeneralNameKind[] = [
  { name: 'email', tag: 1, encode: (value) => (EMAIL.test(value) ? Buffer.from(value, 'ascii') : 'is not an ASCII e-mail address (local@domain)') },
  {
    name: 'DNS',
    tag: 2,
    encode: (value) => {
      const labels = value.split('.')
      const wildcard = labels[0] === '*' && labels.length > 2
      const ok = value.length <= 253 && labels.slice(wildcard ? 1 : 0).every((label) => DNS_LABEL.test(label))
      return ok ? Buffer.from(value, 'ascii') : 'is not a DNS name (letters, digits and hyphens in dot-separated labels; IDNs in punycode)'
    }
  },
  { name: 'URI', tag: 6, encode: (value) => (URI.test(value) ? Buffer.from(value, 'ascii') : 'is not an absolute ASCII URI (scheme:rest, no spaces)') },
  { name: 'IP', tag: 7, encode: (value) => ipAddressBytes(value) ?? 'is not an IPv4 or IPv6 address' }
]
const KIND_BY_NAME = new Map(KINDS.map((kind) => [kind.name.toLowerCase(), kind]))
KIND_BY_NAME.set('rfc822', KINDS[0] as GeneralNameKind)

interface SanEntry {
  kind: GeneralNameKind
  segments: Segment[]
  /** Precomputed GeneralName DER for entries without placeholders. */
  constantDer?: Buffer
}

export interface SanTemplate {
  source: string
  entries: SanEntry[]
  fields: string[]
}

/** Parses and checks a SAN template once; InputError naming `input` (default "san"). */
export function validateSanTemplate(template: string, knownFields?: Iterable<string>, input = 'san'): SanTemplate {
  const fail: Fail = (message) => {
    throw new InputError(`${input} "${template}": ${message}`, { input })
  }
  if (template.trim().length === 0) fail('is empty; leave it unset for no subjectAltName')
  const entries = splitUnescaped(template, ',', fail).map((entryText): SanEntry => {
    const colon = indexOfUnescaped(entryText, ':')
    const kindName = colon === -1 ? '' : entryText.slice(0, colon).trim()
    const kind = KIND_BY_NAME.get(kindName.toLowerCase())
    if (!kind) return fail(`"${entryText.trim()}" must start with DNS:, URI:, IP: or email:`)
    const segments = parseSegments(entryText.slice(colon + 1), fail)
    const entry: SanEntry = { kind, segments }
    if (segments.every((segment) => 'literal' in segment)) {
      const value = segments.map((segment) => ('literal' in segment ? segment.literal : '')).join('')
      const encoded = kind.encode(value)
      if (typeof encoded === 'string') fail(`${kind.name}:${value} ${encoded}`)
      else entry.constantDer = implicitPrimitive(kind.tag, encoded)
    }
    return entry
  })
  const fields = [...new Set(entries.flatMap((entry) => fieldsOf(entry.segments)))]
  if (knownFields) checkFieldsKnown(fields, knownFields, input, template)
  return { source: template, entries, fields }
}

/** The manifest fields that the template's DNS names take their values from. */
export function dnsNameFieldsOf(template: SanTemplate): string[] {
  return [...new Set(template.entries.filter((entry) => entry.kind.tag === DNS_TAG).flatMap((entry) => fieldsOf(entry.segments)))]
}

/** GeneralNames DER (the extension value) for one device. */
export function renderSan(template: SanTemplate, device: Device, input = 'san'): Buffer {
  return sequence(
    ...template.entries.map((entry) => {
      if (entry.constantDer) return entry.constantDer
      const value = renderSegments(entry.segments, device, input, template.source)
      if (entry.kind.tag === DNS_TAG) refuseWildcardFromField(entry, device, value, input, template.source)
      const encoded = entry.kind.encode(value)
      if (typeof encoded === 'string') {
        throw new ManifestError(`device ${device.serial}: ${input} entry ${entry.kind.name}:${value} ${encoded}`, {
          file: device.source.file,
          line: device.source.line,
          serial: device.serial
        })
      }
      return implicitPrimitive(entry.kind.tag, encoded)
    })
  )
}

const DNS_TAG = 2

/**
 * A `*` in a DNS name makes a wildcard certificate, valid for every name of that domain. Written in
 * the template it is the user's choice (the review shows it per device); brought in by a manifest
 * value it is refused before the device's certificate is issued: a row must not widen what its
 * certificate is good for.
 */
function refuseWildcardFromField(entry: SanEntry, device: Device, value: string, input: string, template: string): void {
  const brought = fieldBringing(entry.segments, device, '*')
  if (!brought) return
  throw new ManifestError(
    `device ${device.serial} (${device.source.file}:${device.source.line}): field "${brought.field}" (${JSON.stringify(brought.value)}) puts "*" into the DNS name ${value} of ${input} "${template}": ` +
      `a wildcard certificate is valid for every name of its domain, and credbake does not let a manifest value make one. Fix the row, or write the wildcard in the ${input} template itself if every device is meant to have it.`,
    { file: device.source.file, line: device.source.line, serial: device.serial, input }
  )
}

/** 4 or 16 octets of an IP address, or undefined. */
export function ipAddressBytes(text: string): Buffer | undefined {
  const version = isIP(text)
  if (version === 4) return Buffer.from(text.split('.').map(Number))
  if (version !== 6) return undefined
  // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hextets.
  let address = text
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (v4?.[1]) {
    const [a = 0, b = 0, c = 0, d = 0] = v4[1].split('.').map(Number)
    address = `${address.slice(0, -v4[1].length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`
  }
  const [head = '', tail] = address.split('::')
  const parse = (part: string): number[] => (part ? part.split(':').map((hextet) => parseInt(hextet, 16)) : [])
  const headWords = parse(head)
  const tailWords = tail === undefined ? [] : parse(tail)
  const words = [...headWords, ...new Array<number>(8 - headWords.length - tailWords.length).fill(0), ...tailWords]
  const bytes = Buffer.alloc(16)
  words.forEach((word, index) => bytes.writeUInt16BE(word, index * 2))
  return bytes
}

// ---------------------------------------------------------------------------------------------
// Reading back: the subjectAltName of a certificate as text, the form the review manifest records
// (`certificate.san`) and `credbake verify` compares. One line, the names in certificate order as
// TYPE:value joined by ", ", in the template syntax: a `\`, `,`, `{` or `}` inside a value is
// escaped with `\`, so the text is itself a SAN template that renders to the same names.

const NAME_OF_TAG = new Map<number, string>(KINDS.map((kind) => [kind.tag, kind.name]))
const OTHER_NAMES = ['otherName', 'email', 'DNS', 'x400Address', 'dirName', 'ediPartyName', 'URI', 'IP', 'RID']

/** Text of a GeneralNames DER (the subjectAltName extension's value). Throws DerError on bad DER. */
export function describeSan(der: Uint8Array): string {
  const bytes = Buffer.from(der.buffer, der.byteOffset, der.byteLength)
  const names = childrenOf(bytes, readSingle(bytes))
  return names
    .map((node) => {
      const number = node.tag & 0x1f
      const contents = contentsOf(bytes, node)
      const kind = NAME_OF_TAG.get(number)
      const primitive = (node.tag & 0xe0) === 0x80
      if (kind && primitive) {
        const value = number === 7 ? (ipAddressText(contents) ?? `#${contents.toString('hex')}`) : contents.toString('latin1')
        return `${kind}:${escapeSanValue(value)}`
      }
      return `${OTHER_NAMES[number] ?? `[${number}]`}:#${contents.toString('hex')}`
    })
    .join(', ')
}

function escapeSanValue(value: string): string {
  return value.replace(/[\\,{}]/g, (c) => `\\${c}`).replace(/[^\x20-\x7e]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** Text of the subjectAltName extension of a certificate DER; undefined when it has none. Throws DerError on bad DER. */
export function sanOfCertificate(certificateDer: Uint8Array): string | undefined {
  const value = extensionValue(certificateDer, EXTENSION_OID.subjectAltName)
  return value === undefined ? undefined : describeSan(value)
}

/** The extnValue contents of the certificate's extension `extensionOid`, or undefined. */
export function extensionValue(certificateDer: Uint8Array, extensionOid: string): Buffer | undefined {
  const der = Buffer.from(certificateDer.buffer, certificateDer.byteOffset, certificateDer.byteLength)
  const certificate = readSingle(der)
  const tbs = readNode(der, certificate.contentStart, certificate.end)
  const wrapper = childrenOf(der, tbs).find((node) => node.tag === 0xa3)
  if (!wrapper) return undefined
  const [extensions] = childrenOf(der, wrapper)
  if (!extensions) return undefined
  for (const extension of childrenOf(der, extensions)) {
    const parts = childrenOf(der, extension)
    const id = parts[0]
    const value = parts[parts.length - 1]
    if (id?.tag === TAG.oid && value?.tag === TAG.octetString && decodeOid(contentsOf(der, id)) === extensionOid) return contentsOf(der, value)
  }
  return undefined
}

/** The text of 4 or 16 address octets (IPv6 as RFC 5952 writes it), or undefined for another length. */
export function ipAddressText(bytes: Uint8Array): string | undefined {
  if (bytes.length === 4) return [...bytes].join('.')
  if (bytes.length !== 16) return undefined
  const words: number[] = []
  for (let i = 0; i < 16; i += 2) words.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0))
  // The longest run of two or more zero words (the first of equal runs) becomes "::".
  let bestStart = -1
  let bestLength = 1
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && words[j] === 0) j++
    if (j - i > bestLength) {
      bestStart = i
      bestLength = j - i
    }
    i = j
  }
  const hex = (list: number[]): string => list.map((word) => word.toString(16)).join(':')
  if (bestStart === -1) return hex(words)
  return `${hex(words.slice(0, bestStart))}::${hex(words.slice(bestStart + bestLength))}`
}
