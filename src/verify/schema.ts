// The review manifest checked against schema/manifest.schema.json before anything else is read.
// The schema is bundled (imported as JSON), so dist/ needs no repository beside it. A small
// validator covers exactly the JSON Schema keywords that schema uses; an unknown keyword is a
// bug here, not a pass, so a schema change that needs more makes the check fail loudly.
import schemaJson from '../../schema/manifest.schema.json' with { type: 'json' }

type Schema = Record<string, unknown>

export const MANIFEST_SCHEMA: Schema = schemaJson as Schema

/** Keywords the validator implements; annotations (title, description, $schema, $id) are ignored. */
const HANDLED = new Set([
  'type', 'required', 'properties', 'additionalProperties', 'enum', 'const', 'pattern', 'items', '$ref',
  'minimum', 'maximum', 'minItems', 'oneOf', 'anyOf', 'format', '$defs',
  'title', 'description', '$schema', '$id'
])

export interface SchemaProblem {
  /** JSON Pointer-like path into the manifest, e.g. "/devices/1/output/sha256"; "" for the root. */
  path: string
  message: string
}

// RFC 3339 date-time, as the schema's "format": "date-time" means.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

function matchesType(value: unknown, type: string): boolean {
  const actual = typeOf(value)
  return actual === type || (type === 'number' && actual === 'integer')
}

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function pointer(base: string, key: string | number): string {
  return `${base}/${String(key).replace(/~/g, '~0').replace(/\//g, '~1')}`
}

function resolveRef(root: Schema, ref: string): Schema {
  const match = /^#\/\$defs\/([^/]+)$/.exec(ref)
  const defs = root.$defs as Record<string, Schema> | undefined
  const target = match ? defs?.[match[1]!] : undefined
  if (!target) throw new Error(`manifest schema: unsupported $ref ${ref}`)
  return target
}

function check(root: Schema, schema: Schema, value: unknown, at: string, out: SchemaProblem[]): void {
  for (const key of Object.keys(schema)) if (!HANDLED.has(key)) throw new Error(`manifest schema: keyword "${key}" is not supported by credbake's validator`)
  if (typeof schema.$ref === 'string') check(root, resolveRef(root, schema.$ref), value, at, out)
  if ('const' in schema && JSON.stringify(value) !== JSON.stringify(schema.const)) {
    out.push({ path: at, message: `must be ${show(schema.const)}, is ${show(value)}` })
    return
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    out.push({ path: at, message: `must be one of ${schema.enum.map(show).join(', ')}, is ${show(value)}` })
    return
  }
  if (typeof schema.type === 'string' && !matchesType(value, schema.type)) {
    out.push({ path: at, message: `must be ${schema.type === 'object' || schema.type === 'array' || schema.type === 'integer' ? `an ${schema.type}` : `a ${schema.type}`}, is ${typeOf(value)}` })
    return
  }
  for (const keyword of ['oneOf', 'anyOf'] as const) {
    const options = schema[keyword] as Schema[] | undefined
    if (!options) continue
    const results = options.map((option) => {
      const problems: SchemaProblem[] = []
      check(root, option, value, at, problems)
      return problems
    })
    const passing = results.filter((r) => r.length === 0).length
    if (keyword === 'anyOf' ? passing === 0 : passing !== 1) {
      if (passing > 1) out.push({ path: at, message: 'matches more than one of the allowed forms' })
      else {
        // Report the alternative that came closest (fewest problems): usually the intended one.
        const closest = results.reduce((a, b) => (b.length < a.length ? b : a))
        out.push(...closest)
      }
    }
  }
  if (typeof value === 'string') {
    if (typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) out.push({ path: at, message: `${show(value)} does not match ${schema.pattern}` })
    if (schema.format === 'date-time' && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) out.push({ path: at, message: `${show(value)} is not an RFC 3339 date-time` })
  }
  if (typeof value === 'number') {
    if (typeof schema.minimum === 'number' && value < schema.minimum) out.push({ path: at, message: `must be at least ${schema.minimum}, is ${value}` })
    if (typeof schema.maximum === 'number' && value > schema.maximum) out.push({ path: at, message: `must be at most ${schema.maximum}, is ${value}` })
  }
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) out.push({ path: at, message: `must have at least ${schema.minItems} item(s), has ${value.length}` })
    const items = schema.items as Schema | undefined
    if (items) value.forEach((item, i) => check(root, items, item, pointer(at, i), out))
  }
  if (typeOf(value) === 'object') {
    const object = value as Record<string, unknown>
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    for (const name of (schema.required ?? []) as string[]) if (!(name in object)) out.push({ path: at, message: `lacks the required property "${name}"` })
    for (const [name, member] of Object.entries(object)) {
      const sub = properties[name]
      if (sub) check(root, sub, member, pointer(at, name), out)
      else if (schema.additionalProperties === false) out.push({ path: pointer(at, name), message: 'is not allowed here (no such property in the schema)' })
    }
  }
}

/** Every place `value` departs from the manifest schema (empty when it conforms). */
export function validateManifest(value: unknown, schema: Schema = MANIFEST_SCHEMA): SchemaProblem[] {
  const out: SchemaProblem[] = []
  check(schema, schema, value, '', out)
  return out
}

/**
 * Every place one element of the manifest's `devices` (or `superseded`) array departs from the
 * schema, with paths as in the whole manifest ("/devices/7/output/sha256"): a streamed manifest is
 * checked piece by piece, the header with empty arrays (validateManifest) and each element here.
 */
export function validateArrayElement(array: 'devices' | 'superseded', index: number, value: unknown, schema: Schema = MANIFEST_SCHEMA): SchemaProblem[] {
  const properties = schema.properties as Record<string, Schema>
  const items = properties[array]?.items as Schema | undefined
  if (!items) throw new Error(`manifest schema: no items schema for ${array}`)
  const out: SchemaProblem[] = []
  check(schema, items, value, pointer(`/${array}`, index), out)
  return out
}
