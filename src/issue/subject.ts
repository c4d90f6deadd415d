// Subject DN templates, e.g. `CN={device-id},O=Acme,OU=Fleet {region}`.
//
// The template is RFC 4514 text: most specific RDN first, so it reads like the DN strings of LDAP
// and Go (and like the subject credbake prints); the certificate encodes the RDNs in the reverse
// order (RFC 4514 §2.1), giving the usual C/O/OU/CN order in `openssl x509 -text`.
// Escapes: `\,` `\+` `\=` `\\` `\"` `\<` `\>` `\;` `\#` `\ ` `\{` `\}` and `\XX` hex (RFC 4514).
// An unescaped `+` joins attributes into one multi-valued RDN. Placeholders are substituted after
// parsing, so a comma inside a manifest value is data, never syntax.
import { InputError, ManifestError } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { misleadingCharIn } from '../util/text-class.js'
import { oid, sequence, setOf, TAG, tlv } from '../x509/der.js'
import { escapeRfc4514, SUBJECT_ATTRIBUTES, type AttributeInfo } from '../x509/name.js'
import { checkFieldsKnown, fieldsOf, indexOfUnescaped, isConstant, literalText, parseSegments, renderSegments, splitUnescaped, type Fail, type Segment } from './template.js'

const ATTRIBUTE_BY_NAME = new Map<string, AttributeInfo>(SUBJECT_ATTRIBUTES.flatMap((info) => [info.name, ...info.aliases].map((name) => [name.toLowerCase(), info] as const)))

export interface TemplateAttribute {
  info: AttributeInfo
  segments: Segment[]
  /** Precomputed AttributeTypeAndValue DER when the value has no placeholder. */
  constantDer?: Buffer
}

export interface SubjectTemplate {
  source: string
  /** RDNs in template (RFC 4514) order; each holds one or more attributes. */
  rdns: TemplateAttribute[][]
  /** Every placeholder name used. */
  fields: string[]
}

export interface RenderedSubject {
  /** DER of the Name (RDNSequence). */
  der: Buffer
  /** RFC 4514 text. */
  text: string
  commonName: string
}

/**
 * Parses and checks a subject template once, before any device. Throws InputError naming
 * `input` (default "subject"). With `knownFields`, placeholders must name one of them.
 */
export function validateSubjectTemplate(template: string, knownFields?: Iterable<string>, input = 'subject'): SubjectTemplate {
  const fail: Fail = (message) => {
    throw new InputError(`${input} "${template}": ${message}`, { input })
  }
  if (template.trim().length === 0) fail('is empty; the certificate needs at least CN={device-id}')

  const rdns = splitUnescaped(template, ',', fail).map((rdnText) => splitUnescaped(rdnText, '+', fail).map((attributeText) => parseAttribute(attributeText, fail)))

  const attributes = rdns.flat()
  const commonNames = attributes.filter((attribute) => attribute.info.name === 'CN')
  // aktualizr takes the device ID from the CN and the manifest records it: keep them one value.
  if (commonNames.length !== 1) fail(`must contain exactly one CN (found ${commonNames.length}); the CN is the device ID`)
  const cn = commonNames[0]?.segments
  if (!(cn?.length === 1 && cn[0] && 'field' in cn[0] && cn[0].field === 'device-id')) {
    fail('CN must be exactly {device-id}: the certificate profile makes the CN the device ID (set device-id in the manifest to change it)')
  }
  if (attributes.filter((attribute) => attribute.info.name === 'C').length > 1) fail('has more than one C')

  const fields = [...new Set(attributes.flatMap((attribute) => fieldsOf(attribute.segments)))]
  if (knownFields) checkFieldsKnown(fields, knownFields, input, template)
  return { source: template, rdns, fields }
}

/**
 * Renders the template for one device. An unknown placeholder is an InputError naming `subject`;
 * a value that breaks an attribute's rules (CN over 64 characters, empty, control characters)
 * is a ManifestError pointing at the device's row.
 */
export function renderSubject(template: SubjectTemplate, device: Device, input = 'subject'): RenderedSubject {
  let commonName = ''
  const textRdns: string[] = []
  const derRdns: Buffer[] = []
  for (const rdn of template.rdns) {
    const textParts: string[] = []
    const encoded: Buffer[] = []
    for (const attribute of rdn) {
      const value = renderSegments(attribute.segments, device, input, template.source)
      if (!attribute.constantDer) checkValue(attribute.info, value, device, input)
      if (attribute.info.name === 'CN') commonName = value
      textParts.push(`${attribute.info.name}=${escapeRfc4514(value)}`)
      encoded.push(attribute.constantDer ?? encodeAttribute(attribute.info, value))
    }
    textRdns.push(textParts.join('+'))
    derRdns.push(setOf(encoded))
  }
  // Template order is RFC 4514 order; the RDNSequence is encoded the other way round.
  return { der: sequence(...derRdns.reverse()), text: textRdns.join(','), commonName }
}

/** Value rules that depend on what a device's fields render to. */
function checkValue(info: AttributeInfo, value: string, device: Device, input: string): void {
  const problem = valueProblem(info, value)
  if (problem === undefined) return
  throw new ManifestError(`device ${device.serial}: ${input} attribute ${info.name} ${problem}`, {
    file: device.source.file,
    line: device.source.line,
    serial: device.serial
  })
}

function valueProblem(info: AttributeInfo, value: string): string | undefined {
  if (value.length === 0) return 'is empty'
  const length = [...value].length
  if (length > info.maxLength) return `is ${length} characters long; at most ${info.maxLength} are allowed (RFC 5280)`
  // Controls and format characters (bidi overrides, zero-width characters) would make the subject
  // read differently from what it is.
  const hidden = misleadingCharIn(value)
  if (hidden !== undefined) return `contains ${hidden}`
  if (info.rule && !info.rule.pattern.test(value)) return `must be ${info.rule.explain}`
  return undefined
}

function encodeAttribute(info: AttributeInfo, value: string): Buffer {
  return sequence(oid(info.oid), tlv(info.stringTag, Buffer.from(value, info.stringTag === TAG.utf8String ? 'utf8' : 'latin1')))
}

function parseAttribute(text: string, fail: Fail): TemplateAttribute {
  const equals = indexOfUnescaped(text, '=')
  if (equals === -1) fail(`"${text.trim()}" is not TYPE=value`)
  const typeName = text.slice(0, equals).trim()
  const info = ATTRIBUTE_BY_NAME.get(typeName.toLowerCase())
  if (!info) return fail(`unknown attribute type "${typeName}"; supported: ${SUBJECT_ATTRIBUTES.map((a) => a.name).join(', ')}`)
  const segments = parseSegments(text.slice(equals + 1), fail)
  const attribute: TemplateAttribute = { info, segments }
  if (isConstant(segments)) {
    const value = literalText(segments)
    const problem = valueProblem(info, value)
    if (problem !== undefined) fail(`${info.name} ${problem}`)
    attribute.constantDer = encodeAttribute(info, value)
  }
  return attribute
}
