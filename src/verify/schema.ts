// The review manifest checked against schema/manifest.schema.json before anything else is read.
// The validators are ajv's, compiled from the schema at build time (scripts/build-validators.mjs
// writes manifest-validators.generated.js): nothing is compiled when credbake runs. Their errors
// become sentences that name the place ("/devices/7/output/sha256 "x" does not match ^[0-9a-f]{64}$").
import { validateDevice, validateManifest as validateWhole, validateSuperseded } from './manifest-validators.generated.js'

export interface SchemaProblem {
  /** JSON Pointer-like path into the manifest, e.g. "/devices/1/output/sha256"; "" for the root. */
  path: string
  message: string
}

/** An ajv error object, as the generated code makes them. */
interface AjvError {
  instancePath: string
  schemaPath: string
  keyword: string
  params: Record<string, unknown>
}

type GeneratedValidator = ((value: unknown, context?: { instancePath?: string }) => boolean) & { errors?: AjvError[] | null }

function show(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value)
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

function typeOf(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number'
  return typeof value
}

/** The value at `pointer` (relative to the validated value, which sits at `base`). */
function valueAt(value: unknown, pointer: string, base: string): unknown {
  let node = value
  for (const part of pointer.slice(base.length).split('/').slice(1)) {
    if (node === null || typeof node !== 'object') return undefined
    node = (node as Record<string, unknown>)[part.replace(/~1/g, '/').replace(/~0/g, '~')]
  }
  return node
}

function sentence(error: AjvError, value: unknown): SchemaProblem {
  const { params } = error
  const path = error.instancePath
  switch (error.keyword) {
    case 'required':
      return { path, message: `lacks the required property "${params.missingProperty as string}"` }
    case 'additionalProperties':
      return { path: `${path}/${String(params.additionalProperty).replace(/~/g, '~0').replace(/\//g, '~1')}`, message: 'is not allowed here (no such property in the schema)' }
    case 'pattern':
      return { path, message: `${show(value)} does not match ${params.pattern as string}` }
    case 'format':
      return { path, message: `${show(value)} is not an RFC 3339 date-time` }
    case 'const':
      return { path, message: `must be ${show(params.allowedValue)}, is ${show(value)}` }
    case 'enum':
      return { path, message: `must be one of ${(params.allowedValues as unknown[]).map(show).join(', ')}, is ${show(value)}` }
    case 'type': {
      const type = params.type as string
      return { path, message: `must be ${type === 'object' || type === 'array' || type === 'integer' ? `an ${type}` : `a ${type}`}, is ${typeOf(value)}` }
    }
    case 'minimum':
      return { path, message: `must be at least ${params.limit as number}, is ${value as number}` }
    case 'maximum':
      return { path, message: `must be at most ${params.limit as number}, is ${value as number}` }
    case 'minItems':
      return { path, message: `must have at least ${params.limit as number} item(s), has ${(value as unknown[]).length}` }
    case 'oneOf':
    case 'anyOf':
      return { path, message: params.passingSchemas ? 'matches more than one of the allowed forms' : 'matches none of the allowed forms' }
    default:
      return { path, message: `fails the schema's "${error.keyword}"` }
  }
}

/**
 * Of the errors inside a oneOf/anyOf that failed, only those of the alternative that came closest
 * (fewest errors: usually the intended one) are kept, as the sentence for the keyword itself.
 */
function closestAlternatives(errors: AjvError[]): AjvError[] {
  let kept = errors
  for (const choice of errors.filter((error) => error.keyword === 'oneOf' || error.keyword === 'anyOf')) {
    if (choice.params.passingSchemas) continue
    const prefix = `${choice.schemaPath}/`
    const byBranch = new Map<string, AjvError[]>()
    for (const error of kept) {
      if (!error.schemaPath.startsWith(prefix)) continue
      const branch = error.schemaPath.slice(prefix.length).split('/')[0] as string
      byBranch.set(branch, [...(byBranch.get(branch) ?? []), error])
    }
    if (byBranch.size === 0) continue
    const closest = [...byBranch.values()].reduce((best, next) => (next.length < best.length ? next : best))
    kept = kept.filter((error) => error !== choice && (!error.schemaPath.startsWith(prefix) || closest.includes(error)))
  }
  return kept
}

function run(validate: GeneratedValidator, value: unknown, base: string): SchemaProblem[] {
  if (validate(value, { instancePath: base })) return []
  return closestAlternatives(validate.errors ?? []).map((error) => sentence(error, valueAt(value, error.instancePath, base)))
}

/** Every place `value` departs from the manifest schema (empty when it conforms). */
export function validateManifest(value: unknown): SchemaProblem[] {
  return run(validateWhole as GeneratedValidator, value, '')
}

/**
 * Every place one element of the manifest's `devices` (or `superseded`) array departs from the
 * schema, with paths as in the whole manifest ("/devices/7/output/sha256"): a streamed manifest is
 * checked piece by piece, the header with empty arrays (validateManifest) and each element here.
 */
export function validateArrayElement(array: 'devices' | 'superseded', index: number, value: unknown): SchemaProblem[] {
  return run((array === 'devices' ? validateDevice : validateSuperseded) as GeneratedValidator, value, `/${array}/${index}`)
}
