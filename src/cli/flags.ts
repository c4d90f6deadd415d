// Flags share the action's input names; each may also come from the environment as
// CREDBAKE_<NAME> (keeps keys and passphrases out of the process list and shell history).
import { parseArgs } from 'node:util'
import { InputError } from '../errors.js'

/** Parse `--name value` flags for the given option names, plus `--name`/`--no-name` booleans. */
export function parseFlags(
  args: string[],
  names: { strings: readonly string[]; booleans: readonly string[] },
  positionals = 0
): { values: Record<string, string | undefined>; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean' }> = {}
  for (const name of names.strings) options[name] = { type: 'string' }
  for (const name of names.booleans) {
    options[name] = { type: 'boolean' }
    options[`no-${name}`] = { type: 'boolean' }
  }
  const parsed = parseArgs({ args, options, allowPositionals: positionals > 0, strict: true })
  if (parsed.positionals.length > positionals) {
    throw new InputError(`unexpected argument "${parsed.positionals[positionals]}"`)
  }
  const values: Record<string, string | undefined> = {}
  for (const name of names.strings) {
    const value = parsed.values[name]
    values[name] = typeof value === 'string' ? value : fromEnv(name)
  }
  for (const name of names.booleans) {
    if (parsed.values[name] === true) values[name] = 'true'
    else if (parsed.values[`no-${name}`] === true) values[name] = 'false'
    else values[name] = fromEnv(name)
  }
  return { values, positionals: parsed.positionals }
}

function fromEnv(name: string): string | undefined {
  return process.env[`CREDBAKE_${name.toUpperCase().replace(/-/g, '_')}`]
}
