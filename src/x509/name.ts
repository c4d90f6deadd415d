// X.500 names as credbake reads and prints them: the attribute types it knows (their OIDs, string
// types and RFC 5280 upper bounds) and RFC 4514 text of a Name. Shared by issuance (subject
// templates), the fleet CA check, verify and the CRL.
import { TAG } from './der.js'

export interface AttributeInfo {
  /** Name in templates and in printed subjects. */
  name: string
  /** Other accepted spellings (case-insensitive, like the name). */
  aliases: string[]
  oid: string
  /** ASN.1 string type the value is encoded as. */
  stringTag: number
  /** Upper bound from RFC 5280 Appendix A (ub-*), in characters. */
  maxLength: number
  /** Extra rule on the rendered value, with the sentence explaining it. */
  rule?: { pattern: RegExp; explain: string }
}

// PrintableString (X.680 §41.4) and IA5String character sets.
const PRINTABLE = /^[A-Za-z0-9 '()+,\-./:=?]*$/
const IA5 = /^[\u0000-\u007f]*$/

/**
 * Attributes a template may use. CN/O/OU/ST/L/STREET/UID are UTF8String (RFC 5280 says new
 * certificates use it); C and serialNumber are PrintableString and DC and emailAddress IA5String,
 * because their ASN.1 definitions allow nothing else.
 */
export const SUBJECT_ATTRIBUTES: readonly AttributeInfo[] = [
  { name: 'CN', aliases: ['commonName'], oid: '2.5.4.3', stringTag: TAG.utf8String, maxLength: 64 },
  { name: 'O', aliases: ['organizationName'], oid: '2.5.4.10', stringTag: TAG.utf8String, maxLength: 64 },
  { name: 'OU', aliases: ['organizationalUnitName'], oid: '2.5.4.11', stringTag: TAG.utf8String, maxLength: 64 },
  {
    name: 'C',
    aliases: ['countryName'],
    oid: '2.5.4.6',
    stringTag: TAG.printableString,
    maxLength: 2,
    rule: { pattern: /^[A-Z]{2}$/, explain: 'a two-letter upper-case ISO 3166 country code' }
  },
  { name: 'ST', aliases: ['stateOrProvinceName', 'S'], oid: '2.5.4.8', stringTag: TAG.utf8String, maxLength: 128 },
  { name: 'L', aliases: ['localityName'], oid: '2.5.4.7', stringTag: TAG.utf8String, maxLength: 128 },
  { name: 'STREET', aliases: ['streetAddress'], oid: '2.5.4.9', stringTag: TAG.utf8String, maxLength: 128 },
  {
    name: 'serialNumber',
    aliases: [],
    oid: '2.5.4.5',
    stringTag: TAG.printableString,
    maxLength: 64,
    rule: { pattern: PRINTABLE, explain: "PrintableString characters only (A-Z a-z 0-9 space ' ( ) + , - . / : = ?)" }
  },
  {
    name: 'emailAddress',
    aliases: ['E', 'email'],
    oid: '1.2.840.113549.1.9.1',
    stringTag: TAG.ia5String,
    maxLength: 255,
    rule: { pattern: IA5, explain: 'ASCII characters only' }
  },
  {
    name: 'DC',
    aliases: ['domainComponent'],
    oid: '0.9.2342.19200300.100.1.25',
    stringTag: TAG.ia5String,
    maxLength: 63,
    rule: { pattern: IA5, explain: 'ASCII characters only' }
  },
  { name: 'UID', aliases: ['userId'], oid: '0.9.2342.19200300.100.1.1', stringTag: TAG.utf8String, maxLength: 256 }
]

const ATTRIBUTE_BY_OID = new Map<string, AttributeInfo>(SUBJECT_ATTRIBUTES.map((info) => [info.oid, info]))

/** RFC 4514 text of a Name given in encoded order (as parsed from a certificate). */
export function formatName(encodedRdns: { oid: string; value: string }[][]): string {
  return [...encodedRdns]
    .reverse()
    .map((rdn) =>
      rdn
        .map(({ oid: type, value }) => `${ATTRIBUTE_BY_OID.get(type)?.name ?? type}=${value.startsWith('#') && !ATTRIBUTE_BY_OID.has(type) ? value : escapeRfc4514(value)}`)
        .join('+')
    )
    .join(',')
}

export function escapeRfc4514(value: string): string {
  let escaped = value.replace(/[\\,+"<>;=]/g, (c) => `\\${c}`).replace(/\u0000/g, '\\00')
  if (escaped.startsWith('#') || escaped.startsWith(' ')) escaped = `\\${escaped}`
  if (escaped.endsWith(' ') && escaped.length > 1) escaped = `${escaped.slice(0, -1)}\\ `
  return escaped
}

/**
 * The first CN of a Name in RFC 4514 text (as formatName writes it: most specific RDN first),
 * unescaped; undefined when there is none.
 */
export function commonNameOf(text: string): string | undefined {
  for (const rdn of splitUnescaped(text, ',')) {
    for (const attribute of splitUnescaped(rdn, '+')) {
      const equals = attribute.indexOf('=')
      const type = attribute.slice(0, equals).trim()
      if (equals > 0 && (type.toUpperCase() === 'CN' || type === '2.5.4.3')) return unescapeRfc4514(attribute.slice(equals + 1))
    }
  }
  return undefined
}

/** `text` split at each `separator` not escaped by a backslash. */
function splitUnescaped(text: string, separator: string): string[] {
  const parts: string[] = []
  let start = 0
  for (let at = 0; at < text.length; at++) {
    if (text[at] === '\\') at++
    else if (text[at] === separator) {
      parts.push(text.slice(start, at))
      start = at + 1
    }
  }
  parts.push(text.slice(start))
  return parts
}

/** An RFC 4514 value unescaped: `\,` and the like, and runs of `\XX` hex bytes (UTF-8). */
function unescapeRfc4514(value: string): string {
  return value.replace(/((?:\\[0-9A-Fa-f]{2})+)|\\(.)/gsu, (_all, hex: string | undefined, escaped: string | undefined) =>
    hex !== undefined ? Buffer.from(hex.replace(/\\/g, ''), 'hex').toString('utf8') : (escaped as string)
  )
}
