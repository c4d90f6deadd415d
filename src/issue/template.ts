// The text templates of the profile (subject, SAN): `{field}` placeholders filled from a device's
// manifest row, RFC 4514-style backslash escapes. Parsed once, rendered per device.
import { InputError } from '../errors.js'
import type { Device } from '../manifest/types.js'

/** A piece of a value: literal text or a `{field}` placeholder. */
export type Segment = { literal: string } | { field: string }

export type Fail = (message: string) => never

const PLACEHOLDER_NAME = /^[A-Za-z0-9_.-]+$/
/** Characters `\` may escape literally; anything else after `\` must be two hex digits. */
const ESCAPABLE = new Set([',', '+', '=', '\\', '"', '<', '>', ';', '#', ' ', '{', '}', ':'])

/** Splits on unescaped `separator`, keeping escapes for parseSegments to interpret. */
export function splitUnescaped(text: string, separator: string, fail: Fail): string[] {
  const parts: string[] = []
  let start = 0
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1
    else if (text[i] === '{') {
      // Separators inside braces belong to the (then invalid) placeholder name, not the structure.
      const close = text.indexOf('}', i)
      if (close !== -1) i = close
    } else if (text[i] === separator) {
      parts.push(text.slice(start, i))
      start = i + 1
    }
  }
  parts.push(text.slice(start))
  if (parts.some((part) => part.trim().length === 0)) fail(`has an empty element between "${separator}" separators`)
  return parts
}

/** Index of the first unescaped `char`, or -1. */
export function indexOfUnescaped(text: string, char: string): number {
  for (let i = 0; i < text.length; i += 1) {
    if (text[i] === '\\') i += 1
    else if (text[i] === char) return i
  }
  return -1
}

/**
 * Value text → segments: unescapes, finds `{field}` placeholders and trims unescaped spaces at
 * both ends (people write "CN=x, O=y"); `\ ` keeps a space.
 */
export function parseSegments(raw: string, fail: Fail): Segment[] {
  const segments: Segment[] = []
  let literal = ''
  let leading = true
  // Unescaped spaces at the end of `literal`, dropped if nothing but spaces follows.
  let trailingSpaces = 0
  const pushLiteral = (): void => {
    if (literal) segments.push({ literal })
    literal = ''
  }
  for (let i = 0; i < raw.length; i += 1) {
    const c = raw[i] as string
    if (c === '\\') {
      const next = raw[i + 1]
      if (next !== undefined && ESCAPABLE.has(next)) {
        literal += next
        i += 1
      } else if (/^[0-9A-Fa-f]{2}$/.test(raw.slice(i + 1, i + 3))) {
        literal += String.fromCharCode(parseInt(raw.slice(i + 1, i + 3), 16))
        i += 2
      } else {
        fail('a backslash must escape one of , + = \\ " < > ; # : space { } or two hex digits')
      }
      leading = false
      trailingSpaces = 0
      continue
    }
    if (c === ' ' && leading) continue
    leading = false
    if (c === '{') {
      const close = raw.indexOf('}', i)
      const name = close === -1 ? '' : raw.slice(i + 1, close)
      if (!PLACEHOLDER_NAME.test(name)) {
        fail(`bad placeholder "${raw.slice(i, close === -1 ? undefined : close + 1)}"; use {field-name}, and \\{ for a literal brace`)
      }
      pushLiteral()
      segments.push({ field: name })
      trailingSpaces = 0
      i = close
      continue
    }
    if (c === '}') fail('unmatched "}"; use \\} for a literal brace')
    trailingSpaces = c === ' ' ? trailingSpaces + 1 : 0
    literal += c
  }
  if (trailingSpaces > 0) literal = literal.slice(0, literal.length - trailingSpaces)
  pushLiteral()
  return segments
}

export function fieldsOf(segments: Segment[]): string[] {
  return segments.flatMap((segment) => ('field' in segment ? [segment.field] : []))
}

export function isConstant(segments: Segment[]): boolean {
  return segments.every((segment) => 'literal' in segment)
}

export function literalText(segments: Segment[]): string {
  return segments.map((segment) => ('literal' in segment ? segment.literal : `{${segment.field}}`)).join('')
}

export function unknownFieldMessage(field: string, known: Iterable<string>): string {
  const available = [...known].sort()
  const nearMiss = available.find((name) => name.toLowerCase() === field.toLowerCase())
  return (
    `placeholder {${field}} is not a manifest field` +
    (nearMiss ? ` (did you mean {${nearMiss}}? names are case-sensitive)` : '') +
    `; available fields: ${available.map((name) => `{${name}}`).join(', ') || '(none)'}`
  )
}

/** Throws InputError naming `input` when a placeholder is not among `knownFields`. */
export function checkFieldsKnown(fields: string[], knownFields: Iterable<string>, input: string, template: string): void {
  const known = new Set(knownFields)
  const unknown = fields.find((field) => !known.has(field))
  if (unknown !== undefined) throw new InputError(`${input} "${template}": ${unknownFieldMessage(unknown, known)}`, { input })
}

/** The value for one device; an unknown placeholder is an InputError naming `input` and the row. */
export function renderSegments(segments: Segment[], device: Device, input: string, template: string): string {
  let value = ''
  for (const segment of segments) {
    if ('literal' in segment) {
      value += segment.literal
      continue
    }
    const fieldValue = device.fields[segment.field]
    if (fieldValue === undefined) {
      throw new InputError(
        `${input} "${template}": ${unknownFieldMessage(segment.field, Object.keys(device.fields))} (device ${device.serial}, ${device.source.file}:${device.source.line})`,
        { input, serial: device.serial }
      )
    }
    value += fieldValue
  }
  return value
}

/**
 * The first placeholder of `segments` whose value for `device` contains `needle`, with that value;
 * undefined when none does. Tells a character written in a template from one a manifest value brings.
 */
export function fieldBringing(segments: Segment[], device: Device, needle: string): { field: string; value: string } | undefined {
  for (const segment of segments) {
    if (!('field' in segment)) continue
    const value = device.fields[segment.field]
    if (value?.includes(needle)) return { field: segment.field, value }
  }
  return undefined
}
