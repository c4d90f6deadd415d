import { bake, type BakeResult } from '../pipeline/bake.js'
import { reporterText, throttledProgress, type Reporter } from '../pipeline/reporter.js'
import { exportLines } from '../review/summary.js'
import { INPUTS } from '../settings/inputs.js'
import { parseSettings } from '../settings/parse.js'
import { EXIT_CODES } from '../errors.js'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

/** The action inputs a bake takes: all but `merge`, which is the command `credbake merge` here. */
const BAKE_INPUTS = INPUTS.filter((input) => input.name !== 'merge')

export const BAKE_FLAGS: FlagSpec = {
  command: 'bake',
  strings: BAKE_INPUTS.filter((input) => !input.boolean).map((input) => input.name),
  booleans: BAKE_INPUTS.filter((input) => input.boolean).map((input) => input.name),
  notHere: { merge: 'shard manifests are merged by their own command: credbake merge --output-dir DIR MANIFEST... (globs are expanded).' }
}

export const BAKE_HELP = `Usage: credbake bake --manifest FILE --fleet-ca-cert PEM|FILE --fleet-ca-key PEM|FILE [options]

Issue a certificate for every device of the manifest, signed by the fleet CA, and write each
device's credential bundle (as an image, a partition, a .tar.gz overlay or a folder), then the
review manifest credbake-manifest.json and certificates.pem into --output-dir.

The options are the action's inputs, under the same names and taking the same values
(\`resume: false\` is --resume=false, --resume false or --no-resume). Every option can also be
set in the environment: --fleet-ca-key-passphrase as CREDBAKE_FLEET_CA_KEY_PASSPHRASE, and so
on (upper case, - as _). Prefer that for secrets. To combine the shard manifests of a job
matrix, use credbake merge.

Options:
${BAKE_INPUTS.map((input) => formatOption(input.name, input.description, input.default, input.requiredToBake, input.boolean)).join('')}
  -h, --help       this text
  -v, --version    credbake's version
`

function formatOption(name: string, description: string, fallback?: string, required?: boolean, boolean?: boolean): string {
  const flag = boolean ? `--${name}[=true|false] / --no-${name}` : `--${name} VALUE`
  const note = required ? ' (required)' : fallback !== undefined ? ` (default: ${fallback})` : ''
  return `  ${flag}\n${wrap(`${description}${note}`, 6, 96)}\n`
}

function wrap(text: string, indent: number, width: number): string {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/)) {
    if (line && line.length + word.length + 1 > width - indent) {
      lines.push(line)
      line = word
    } else line = line ? `${line} ${word}` : word
  }
  if (line) lines.push(line)
  return lines.map((l) => `${' '.repeat(indent)}${l}`).join('\n')
}

export async function bakeCommand({ values }: ParsedFlags, out: Console): Promise<number> {
  const settings = parseSettings(values, { baseDir: process.cwd() })
  const reporter = cliReporter(out)
  const result = await bake(settings, reporter).finally(() => reporter.end())
  printResult(result, out)
  return EXIT_CODES.ok
}

/** Reporter on stderr; `end()` clears the live progress line (call it when bake fails, too). */
export function cliReporter(out: Console): Reporter & { end(): void } {
  const live = out.stderrIsTTY === true
  const progress = throttledProgress(live ? (text) => (out.stderrLive ?? out.stderr)(text) : (line) => out.stderr(`${line}\n`), { live })
  // A message clears the live line first; the next progress update draws it again.
  const say = (text: string): void => {
    progress.end()
    out.stderr(text)
  }
  return {
    info: (message) => say(`${reporterText(message)}\n`),
    warning: (message, where) => say(`${reporterText(`warning: ${where?.file ? `${where.file}${where.line ? `:${where.line}` : ''}: ` : ''}${message}`)}\n`),
    progress,
    end: progress.end
  }
}

export function printResult(result: BakeResult, out: Console): void {
  const baked = result.devices - result.skipped
  out.stdout(
    [
      `devices:          ${result.devices} in the review manifest: ${baked} baked now${result.skipped ? `, ${result.skipped} kept from an earlier run` : ''}`,
      ...(result.superseded ? [`superseded:       ${result.superseded} certificates to revoke, in ${result.supersededPath}`] : []),
      ...(result.revoked.length
        ? [`revoked:          ${result.revoked.length} devices${result.revokedHeld ? `, ${result.revokedHeld} kept revoked and not baked (reissue-revoked issues them anew)` : ''}`]
        : []),
      ...(result.crl ? [`crl:              number ${result.crl.number}, ${result.crl.entries} entries, next update ${result.crl.nextUpdate}, in ${result.crl.path}`] : []),
      `manifest:         ${result.manifestPath}`,
      `certificates:     ${result.certificatesPath}`,
      ...exportLines(result.exported, result.outputDir).map((line) => `export:           ${line}`),
      `output-dir:       ${result.outputDir}`,
      `fleet-ca-sha256:  ${result.fleetCaSha256}`,
      ''
    ].join('\n')
  )
}
