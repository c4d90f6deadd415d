// The registration exports by name, for the `exports` input (a comma list).
import { InputError } from '../errors.js'
import { awsIotExport } from './aws-iot.js'
import { azureDpsExport } from './azure-dps.js'
import type { RegistryExport } from './types.js'

export const REGISTRY_EXPORTS: readonly RegistryExport[] = [awsIotExport, azureDpsExport]

/** The exports a comma list names, in the list's order, each once; an unknown name is an InputError. */
export function parseExports(value: string | undefined, input = 'exports'): RegistryExport[] {
  const names = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  const chosen: RegistryExport[] = []
  for (const name of names) {
    const found = REGISTRY_EXPORTS.find((candidate) => candidate.name === name)
    if (!found) throw new InputError(`${input}: "${name}" is not one of ${REGISTRY_EXPORTS.map((candidate) => candidate.name).join(', ')}`, { input })
    if (!chosen.includes(found)) chosen.push(found)
  }
  return chosen
}
