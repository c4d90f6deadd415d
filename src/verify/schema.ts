// The review manifest checked against schema/manifest.schema.json before anything else is read.
// The schema is bundled (imported as JSON), so dist/ needs no repository beside it. A small
// validator covers exactly the JSON Schema keywords that schema uses; an unknown keyword is a
// bug here, not a pass, so a schema change that needs more makes the check fail loudly.
import schemaJson from '../../schema/manifest.schema.json' with { type: 'json' }

type Schema = Record<string, unknown>

export const MANIFEST_SCHEMA: Schema = schemaJson as Schema

/** Keywords the validator implements; annotations (title, description, $schema, $id) are ignored. */
const HANDLED = new Set([
  'type',
  'required',
  'properties',
  'additionalProperties',
  'enum',
  'const',
  'pattern',
  'items',
  '$ref',
  'minimum',
  'maximum',
  'minItems',
  'oneOf',
  'anyOf',
  'format',
  '$defs',
  'title',
  'description',
  '$schema',
  '$id'
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

/** Where a value is, made into a JSON Pointer only when a problem is reported. */
type At = { up: At | undefined; key: string | number } | undefined

function pointerOf(at: At): string {
  let path = ''
  for (let node = at; node; node = node.up) path = pointer('', node.key) + path
  return path
}

/** Where problems go: a list, or a count (the alternatives of a oneOf, most of which fail, are only counted). */
type Sink = SchemaProblem[] | { count: number }

function report(out: Sink, at: At, message: () => string): void {
  if (Array.isArray(out)) out.push({ path: pointerOf(at), message: message() })
  else out.count++
}

type Validator = (value: unknown, at: At, out: Sink) => void

const compiled = new WeakMap<Schema, Validator>()

/**
 * A schema node as a function, made once: its keywords checked, its pattern compiled, its
 * constants and sub-schemas resolved. A manifest of 100,000 entries is checked entry by entry,
 * so only the per-value work remains. The checks and their order are those of JSON Schema's
 * keywords as the manifest schema uses them; messages are made only when a problem is reported.
 */
function compile(root: Schema, schema: Schema): Validator {
  const known = compiled.get(schema)
  if (known) return known
  for (const key of Object.keys(schema)) if (!HANDLED.has(key)) throw new Error(`manifest schema: keyword "${key}" is not supported by credbake's validator`)
  let self: Validator | undefined
  // A $ref may lead back here: the node is registered before its parts are compiled.
  compiled.set(schema, (value, at, out) => (self as Validator)(value, at, out))
  const ref = typeof schema.$ref === 'string' ? compile(root, resolveRef(root, schema.$ref)) : undefined
  const hasConst = 'const' in schema
  const constant = schema.const
  const constPrimitive = constant === null || typeof constant !== 'object'
  const constJson = JSON.stringify(constant)
  const enumValues = Array.isArray(schema.enum) ? (schema.enum as unknown[]) : undefined
  const enumSet = enumValues?.every((e) => e === null || typeof e !== 'object') ? new Set(enumValues) : undefined
  const enumJson = enumValues?.map((e) => JSON.stringify(e))
  const type = typeof schema.type === 'string' ? schema.type : undefined
  const alternatives = (['oneOf', 'anyOf'] as const).flatMap((keyword) =>
    Array.isArray(schema[keyword]) ? [{ keyword, options: (schema[keyword] as Schema[]).map((option) => compile(root, option)) }] : []
  )
  const pattern = typeof schema.pattern === 'string' ? new RegExp(schema.pattern, 'u') : undefined
  const dateTime = schema.format === 'date-time'
  const minimum = typeof schema.minimum === 'number' ? schema.minimum : undefined
  const maximum = typeof schema.maximum === 'number' ? schema.maximum : undefined
  const minItems = typeof schema.minItems === 'number' ? schema.minItems : undefined
  const items = schema.items ? compile(root, schema.items as Schema) : undefined
  const required = (schema.required ?? []) as string[]
  const properties = new Map(Object.entries((schema.properties ?? {}) as Record<string, Schema>).map(([name, sub]) => [name, compile(root, sub)]))
  const closed = schema.additionalProperties === false

  self = (value, at, out) => {
    if (ref) ref(value, at, out)
    if (hasConst && (constPrimitive ? value !== constant : JSON.stringify(value) !== constJson)) {
      report(out, at, () => `must be ${show(constant)}, is ${show(value)}`)
      return
    }
    if (enumValues && !(enumSet ? enumSet.has(value) : (enumJson as string[]).includes(JSON.stringify(value)))) {
      report(out, at, () => `must be one of ${enumValues.map(show).join(', ')}, is ${show(value)}`)
      return
    }
    if (type !== undefined && !matchesType(value, type)) {
      report(out, at, () => `must be ${type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${type}`}, is ${typeOf(value)}`)
      return
    }
    for (const { keyword, options } of alternatives) {
      // Counted first (cheap); the problems are spelled out only when the keyword fails.
      const counts = options.map((option) => {
        const tally = { count: 0 }
        option(value, at, tally)
        return tally.count
      })
      const passing = counts.filter((count) => count === 0).length
      if (keyword === 'anyOf' ? passing === 0 : passing !== 1) {
        if (passing > 1) report(out, at, () => 'matches more than one of the allowed forms')
        else if (Array.isArray(out)) {
          // Report the alternative that came closest (fewest problems): usually the intended one.
          ;(options[counts.indexOf(Math.min(...counts))] as Validator)(value, at, out)
        } else out.count++
      }
    }
    if (typeof value === 'string') {
      if (pattern && !pattern.test(value)) report(out, at, () => `${show(value)} does not match ${schema.pattern as string}`)
      if (dateTime && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) report(out, at, () => `${show(value)} is not an RFC 3339 date-time`)
    } else if (typeof value === 'number') {
      if (minimum !== undefined && value < minimum) report(out, at, () => `must be at least ${minimum}, is ${value}`)
      if (maximum !== undefined && value > maximum) report(out, at, () => `must be at most ${maximum}, is ${value}`)
    } else if (Array.isArray(value)) {
      if (minItems !== undefined && value.length < minItems) report(out, at, () => `must have at least ${minItems} item(s), has ${value.length}`)
      if (items) for (let i = 0; i < value.length; i++) items(value[i], { up: at, key: i }, out)
    } else if (value !== null && typeof value === 'object') {
      const object = value as Record<string, unknown>
      for (const name of required) if (!(name in object)) report(out, at, () => `lacks the required property "${name}"`)
      for (const name in object) {
        const sub = properties.get(name)
        if (sub) sub(object[name], { up: at, key: name }, out)
        else if (closed) report(out, { up: at, key: name }, () => 'is not allowed here (no such property in the schema)')
      }
    }
  }
  compiled.set(schema, self)
  return self
}

function check(root: Schema, schema: Schema, value: unknown, at: At, out: SchemaProblem[]): void {
  compile(root, schema)(value, at, out)
}

/** Every place `value` departs from the manifest schema (empty when it conforms). */
export function validateManifest(value: unknown, schema: Schema = MANIFEST_SCHEMA): SchemaProblem[] {
  const out: SchemaProblem[] = []
  check(schema, schema, value, undefined, out)
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
  check(schema, items, value, { up: { up: undefined, key: array }, key: index }, out)
  return out
}
