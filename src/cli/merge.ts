// `credbake merge --output-dir DIR MANIFEST...`: combine the shard manifests of a job matrix into
// one review in DIR (see src/merge/merge.ts for what is checked and how outputs are placed).
import { existsSync } from 'node:fs'
import path from 'node:path'
import { EXIT_CODES, InputError } from '../errors.js'
import { expandGlobs } from '../merge/glob.js'
import { mergeShards, type MergeResult } from '../merge/merge.js'
import { exportLines } from '../review/summary.js'
import { defaultOf } from '../settings/parse.js'
import { escapeText } from '../util/log-text.js'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

export const MERGE_FLAGS: FlagSpec = { command: 'merge', strings: ['output-dir'], positionals: { max: Number.MAX_SAFE_INTEGER, name: 'MANIFEST arguments' } }

export const MERGE_HELP = `Usage: credbake merge --output-dir DIR MANIFEST...

MANIFEST is a shard's credbake-manifest.json, or a glob of them: credbake expands globs itself
(*, ?, [a-z], ** for any depth of folders), so a quoted 'shards/*/credbake-manifest.json' works
as the action's merge input does, and so does one the shell expanded.

Combine the review manifests of the shards of one job matrix (each baked with shard: i/n into
its own output-dir, e.g. downloaded as shards/shard-1/, shards/shard-2/, ...) into one review in
DIR: credbake-manifest.json, certificates.pem, superseded.pem and SHA256SUMS covering every
shard. Each shard's outputs are hard-linked into DIR at the same relative path (copied when DIR
is on another file system), so every path in the merged manifest and SHA256SUMS resolves from
DIR; the shard folders are left as they are.

Refused (exit 2), before anything is written: files that are not credbake review manifests;
shards of different device manifests (by SHA-256), fleet CAs, certificate profiles, layouts or
output formats, or whose devices got another server CA or gateway URL; a shard given twice; a
missing shard (each named as i/n); a serial in two shards; a missing output or certificate bundle
beside a shard manifest. The problems of the set as a whole come first, then the serials in two
shards (one line per pair of shard manifests), then missing outputs. DIR must be new, empty or
hold an earlier merge (which is replaced), complete or not: a merge that was killed or stopped is
run again to the same result. One merge at a time per DIR (a second one exits 6).

Options:
  --output-dir DIR
      Where the merged review goes (default: ${defaultOf('output-dir')}). Also CREDBAKE_OUTPUT_DIR.
`

export async function mergeCommand({ values, positionals }: ParsedFlags, out: Console): Promise<number> {
  if (positionals.length === 0) {
    throw new InputError("merge needs the shard manifests to combine: credbake merge --output-dir DIR 'shards/*/credbake-manifest.json'", { input: 'merge' })
  }
  const baseDir = process.cwd()
  const manifests = expandArguments(positionals, baseDir)
  const shown = (file: string): string => path.relative(baseDir, file) || file
  out.stderr(`Merging ${manifests.length} shard manifest${manifests.length === 1 ? '' : 's'}: ${manifests.map((file) => escapeText(shown(file))).join(', ')}\n`)
  const result = await mergeShards({
    outputDir: values['output-dir'] ?? defaultOf('output-dir'),
    manifests,
    baseDir: process.cwd(),
    info: (message) => out.stderr(`${message}\n`),
    warn: (message) => out.stderr(`warning: ${message}\n`)
  })
  printMergeResult(result, out)
  return EXIT_CODES.ok
}

/**
 * The manifests the arguments name: a file that exists as written is taken as it is (its name may
 * hold `[` or `*`); any other argument with glob characters is expanded (src/merge/glob.ts, as the
 * action's merge input), and one that matches nothing is refused; the rest are passed on, for
 * merge to say what is wrong with them. The same file named twice is merged once.
 */
function expandArguments(args: readonly string[], baseDir: string): string[] {
  const files: string[] = []
  for (const arg of args) {
    const absolute = path.resolve(baseDir, arg)
    if (existsSync(absolute) || !/[*?[]/.test(arg)) {
      files.push(absolute)
      continue
    }
    const matched = expandGlobs(arg, baseDir)
    if (matched.length === 0) {
      throw new InputError(
        `merge: ${JSON.stringify(escapeText(arg))} matches no file in ${escapeText(baseDir)}; give the shard manifests, e.g. 'shards/*/credbake-manifest.json'.`,
        {
          input: 'merge'
        }
      )
    }
    files.push(...matched)
  }
  return [...new Set(files)]
}

export function printMergeResult(result: MergeResult, out: Console): void {
  out.stdout(
    [
      `shards:           ${result.shards.map((shard) => `${shard.shard} (${shard.devices})`).join(', ')}`,
      `devices:          ${result.devices}`,
      `superseded:       ${result.superseded}`,
      `manifest:         ${result.manifestPath}`,
      `certificates:     ${result.certificatesPath}`,
      `sha256sums:       ${result.checksumsPath}`,
      ...exportLines(result.exported, result.outputDir).map((line) => `export:           ${line}`),
      `output-dir:       ${result.outputDir}`,
      `fleet-ca-sha256:  ${result.fleetCaSha256}`,
      ''
    ].join('\n')
  )
}
