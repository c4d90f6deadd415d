// Command-line flags. They share the action's input names, and every value an input takes works
// as the flag's value: `--resume=false`, `--resume false`, `--no-resume` and a bare `--bmap` all
// mean what `resume: false` and `bmap: true` mean. Each flag may also come from the environment as
// CREDBAKE_<NAME> (keeps keys and passphrases out of the process list and shell history).
//
// Hand-written rather than node:util parseArgs: parseArgs cannot take `--bmap true`, and its
// errors are its own text ("Option '--resume' does not take an argument"). Every mistake here is
// an InputError (exit 2) that names the flag and, for an unknown one, the closest known flag.
import { InputError } from '../errors.js'

export interface FlagSpec {
  /** The command, for messages ("bake"). */
  command: string
  /** Flags that take a value: `--name VALUE` or `--name=VALUE`. */
  strings: readonly string[]
  /** true/false flags: `--name`, `--no-name`, `--name=true|false`, `--name true|false`. */
  booleans?: readonly string[]
  /** Flags whose value is optional and given only as `--name=VALUE`; bare, their value is "". */
  optionalValues?: readonly string[]
  /** Arguments that are not flags: how many at most, and what they are (for messages). */
  positionals?: { max: number; name: string }
  /** Why a flag this command does not take is not here, said instead of a suggestion. */
  notHere?: Readonly<Record<string, string>>
}

export interface ParsedFlags {
  /** Every flag of the spec: its value, else CREDBAKE_<NAME> from the environment, else undefined. Booleans as "true"/"false". */
  values: Record<string, string | undefined>
  positionals: string[]
  /** `--help` or `-h` was given (then nothing else is checked). */
  help: boolean
  /** `--version`, `-v` or `-V` was given. */
  version: boolean
}

export interface ParseOptions {
  /** Other commands that take a flag this one does not, for the message ("verify, inspect"). */
  elsewhere?: (flag: string) => string[]
}

/** The spellings of true and false an action input takes (YAML 1.2 core, as @actions/core's getBooleanInput). */
const TRUE = ['true', 'True', 'TRUE']
const FALSE = ['false', 'False', 'FALSE']
const isBooleanText = (text: string): boolean => TRUE.includes(text) || FALSE.includes(text)

/** An argument that is meant as a flag, not a value: `--name`, `--name=…`, `-x`. (`-----BEGIN …` is a value.) */
function looksLikeFlag(arg: string): boolean {
  return /^--[A-Za-z][A-Za-z0-9_-]*(=|$)/.test(arg) || /^-[A-Za-z]$/.test(arg)
}

export function parseFlags(args: readonly string[], spec: FlagSpec, options: ParseOptions = {}): ParsedFlags {
  const strings = new Set(spec.strings)
  const booleans = new Set(spec.booleans ?? [])
  const optional = new Set(spec.optionalValues ?? [])
  const given: Record<string, string> = {}
  const positionals: string[] = []
  let help = false
  let version = false
  // The first mistake is reported once every argument is read: `--help` anywhere still wins.
  let mistake: InputError | undefined
  const refuse = (message: string, flag: string): void => {
    mistake ??= new InputError(message, { input: flag })
  }
  // The boolean flag just before an argument, for the hint when that argument is not taken.
  let afterBoolean: string | undefined

  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string
    const previousBoolean = afterBoolean
    afterBoolean = undefined
    if (arg === '--') {
      positionals.push(...args.slice(i + 1))
      break
    }
    if (arg === '--help' || arg === '-h') {
      help = true
      continue
    }
    if (arg === '--version' || arg === '-v' || arg === '-V') {
      version = true
      continue
    }
    if (!arg.startsWith('-') || arg === '-' || !looksLikeFlag(arg.split('=')[0] as string)) {
      if (positionals.length >= (spec.positionals?.max ?? 0)) refuse(unexpectedArgument(spec, arg, previousBoolean), previousBoolean ?? arg)
      positionals.push(arg)
      continue
    }
    if (!arg.startsWith('--')) {
      refuse(unknownFlag(spec, arg, options), arg.replace(/^-+/, ''))
      continue
    }
    const equals = arg.indexOf('=')
    const name = arg.slice(2, equals < 0 ? undefined : equals)
    const inline = equals < 0 ? undefined : arg.slice(equals + 1)
    if (strings.has(name)) {
      if (inline !== undefined) given[name] = inline
      else if (i + 1 < args.length && !looksLikeFlag(args[i + 1] as string)) given[name] = args[++i] as string
      else refuse(`--${name} needs a value: --${name} VALUE (or --${name}=VALUE for a value that starts with "-"). See credbake ${spec.command} --help.`, name)
    } else if (optional.has(name)) {
      given[name] = inline ?? ''
    } else if (booleans.has(name)) {
      if (inline === undefined) {
        // `--bmap true` as well as a bare `--bmap`: the next argument is taken only when it is a boolean.
        const next = args[i + 1]
        if (next !== undefined && isBooleanText(next)) {
          given[name] = booleanValue(next)
          i++
        } else {
          given[name] = 'true'
          afterBoolean = name
        }
      } else if (isBooleanText(inline)) given[name] = booleanValue(inline)
      else refuse(`--${name} takes true or false (or --${name} / --no-${name}); got ${JSON.stringify(inline)}.`, name)
    } else if (name.startsWith('no-') && booleans.has(name.slice(3))) {
      if (inline !== undefined) refuse(`--${name} takes no value; write --${name.slice(3)}=${inline} or --${name} alone.`, name.slice(3))
      else given[name.slice(3)] = 'false'
    } else {
      refuse(unknownFlag(spec, `--${name}`, options), name)
    }
  }
  if (help || version) return { values: {}, positionals: [], help, version }
  if (mistake) throw mistake

  const values: Record<string, string | undefined> = {}
  for (const name of [...strings, ...booleans, ...optional]) values[name] = given[name] ?? fromEnv(name)
  return { values, positionals, help, version }
}

function booleanValue(text: string): 'true' | 'false' {
  return TRUE.includes(text) ? 'true' : 'false'
}

function fromEnv(name: string): string | undefined {
  return process.env[`CREDBAKE_${name.toUpperCase().replace(/-/g, '_')}`]
}

function unexpectedArgument(spec: FlagSpec, arg: string, previousBoolean: string | undefined): string {
  const shown = JSON.stringify(arg.length > 60 ? `${arg.slice(0, 57)}...` : arg)
  const takes = spec.positionals ? `takes at most ${spec.positionals.max} ${spec.positionals.name}` : 'takes no arguments besides its options'
  const hint = previousBoolean
    ? ` --${previousBoolean} takes true or false (--${previousBoolean}=VALUE, --${previousBoolean} true, --no-${previousBoolean}); it does not take ${shown}.`
    : ` See credbake ${spec.command} --help.`
  return `unexpected argument ${shown}: credbake ${spec.command} ${takes}.${hint}`
}

function unknownFlag(spec: FlagSpec, flag: string, options: ParseOptions): string {
  const name = flag.replace(/^-+/, '')
  const why = spec.notHere?.[name]
  if (why) return `credbake ${spec.command} takes no --${name}: ${why}`
  const known = [...spec.strings, ...(spec.optionalValues ?? []), ...(spec.booleans ?? []), ...(spec.booleans ?? []).map((b) => `no-${b}`)]
  const closest = suggest(name.replace(/_/g, '-'), known)
  const elsewhere = options.elsewhere?.(name) ?? []
  const hint =
    closest.length > 0
      ? ` Did you mean ${listed(closest.map((c) => `--${c}`))}?`
      : elsewhere.length > 0
        ? ` --${name} is an option of credbake ${elsewhere.join(' and credbake ')}.`
        : ''
  return `unknown option ${flag.length > 60 ? `${flag.slice(0, 57)}...` : flag}.${hint} See credbake ${spec.command} --help.`
}

/** "a", "a or b", "a, b or c". */
export function listed(items: readonly string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} or ${items.at(-1)}`
}

/**
 * The known names closest to a mistyped one: those it is a prefix of (`--fleet-ca` →
 * `--fleet-ca-cert`, `--fleet-ca-key`, …, three at most), else those within an edit distance that
 * grows with its length (one edit up to 4 characters, two up to 9, three beyond).
 */
export function suggest(name: string, known: readonly string[]): string[] {
  const lower = name.toLowerCase()
  if (lower.length >= 3) {
    const prefixed = known.filter((k) => k.startsWith(lower) && k !== lower)
    if (prefixed.length > 0 && prefixed.length <= 3) return prefixed
  }
  const limit = lower.length <= 4 ? 1 : lower.length <= 9 ? 2 : 3
  let best = Number.POSITIVE_INFINITY
  let found: string[] = []
  for (const candidate of known) {
    const distance = editDistance(lower, candidate)
    if (distance > limit || distance > best) continue
    if (distance < best) found = []
    best = distance
    found.push(candidate)
  }
  return found.slice(0, 3)
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
function editDistance(a: string, b: string): number {
  const rows = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)])
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[]
    const above = rows[i - 1] as number[]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let value = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, ((rows[i - 2] as number[])[j - 2] as number) + 1)
      row[j] = value
    }
  }
  return (rows[a.length] as number[])[b.length] as number
}
