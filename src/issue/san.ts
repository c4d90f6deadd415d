// subjectAltName templates: "DNS:{serial}.devices.example.com,URI:urn:dev:{device-id},IP:10.0.0.1".
// Entries are separated by unescaped commas; each is TYPE:value with {field} placeholders.
import { isIP } from 'node:net'
import { InputError, ManifestError } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { implicitPrimitive, sequence } from './der.js'
import { checkFieldsKnown, fieldsOf, indexOfUnescaped, parseSegments, renderSegments, splitUnescaped, type Fail, type Segment } from './template.js'

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

/** GeneralNames DER (the extension value) for one device. */
export function renderSan(template: SanTemplate, device: Device, input = 'san'): Buffer {
  return sequence(
    ...template.entries.map((entry) => {
      if (entry.constantDer) return entry.constantDer
      const value = renderSegments(entry.segments, device, input, template.source)
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
