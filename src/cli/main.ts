// CLI adapter: argv → command. Flags share the action's input names (`--fleet-ca-cert`), and each
// may also come from the environment as CREDBAKE_FLEET_CA_CERT etc., which keeps keys and
// passphrases out of the process list and shell history (src/cli/flags.ts).
import { CancelledError, EXIT_CODES, InputError, isCredbakeError } from '../errors.js'
import { gracefully } from '../util/cancel.js'
import { VERSION } from '../version.js'
import { BAKE_FLAGS, BAKE_HELP, bakeCommand } from './bake.js'
import { CRL_FLAGS, CRL_HELP, crlCommand } from './crl.js'
import type { Console } from './console.js'
import { processConsole } from './console.js'
import { DEMO_FLAGS, DEMO_HELP, demoCommand } from './demo.js'
import { type FlagSpec, listed, type ParsedFlags, parseFlags, suggest } from './flags.js'
import { INSPECT_FLAGS, INSPECT_HELP, inspectCommand } from './inspect.js'
import { MERGE_FLAGS, MERGE_HELP, mergeCommand } from './merge.js'
import { REVOKE_FLAGS, REVOKE_HELP, revokeCommand } from './revoke.js'
import { VERIFY_FLAGS, VERIFY_HELP, verifyCommand } from './verify.js'

/** The exit codes, one table for every command (README "Exit codes" and docs/cli.md say the same). */
export const EXIT_CODE_HELP = `Exit codes (the same for every command):
  0  success
  1  unexpected failure (a bug: please report it)
  2  bad option, argument or device manifest (an unknown flag, a value a flag does not take, a
     missing input file such as --image or inspect IMAGE, a refused merge)
  3  the fleet CA cannot be used (not a CA, wrong key or passphrase, expired, lifetime too long,
     a signer that fails)
  4  image or tool problem (no partition table, partition not found, file system unsupported,
     debugfs/mtools missing or failing)
  5  outputs cannot be written (output-dir not writable, disk or partition full, a damaged journal)
  6  another credbake run holds the output directory
  7  verify: an output or the review differs from its review manifest
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM (bake and merge finish what is in flight and
                 release everything; run the same command again to resume)
`

export const MAIN_HELP = `credbake ${VERSION}: bake per-device X.509 credentials into firmware images

Usage: credbake <command> [options]

Commands:
  bake      issue a certificate per device of a manifest and write the bundles (the main job)
  verify    check a bake's outputs as they are now against its review manifest
  merge     combine the shard manifests of a job matrix into one review (merge --output-dir DIR MANIFEST...)
  revoke    revoke a device's live certificate (revoke --output-dir DIR --serial SERIAL [--reason R])
  crl       sign the fleet CA's CRL for an output-dir (crl.pem, crl.der)
  inspect   show an image's partition table and file systems, and the files baked into it
  demo      throwaway CA, sample manifest and image, then bake (never for production)
  help      this text; \`credbake <command> --help\` for a command's options

Every command also takes --help (-h) and --version (-v).

${EXIT_CODE_HELP}`

interface Command {
  flags: FlagSpec
  run(parsed: ParsedFlags, out: Console): Promise<number>
  help: string
  /**
   * Stops cleanly on a first SIGINT/SIGTERM/SIGHUP (finishes what is in flight, releases
   * everything, prints one line); other commands stop at once, removing their temp folder.
   */
  graceful?: boolean
}

const COMMANDS: Record<string, Command> = {
  bake: { flags: BAKE_FLAGS, run: bakeCommand, help: BAKE_HELP, graceful: true },
  verify: { flags: VERIFY_FLAGS, run: verifyCommand, help: VERIFY_HELP },
  merge: { flags: MERGE_FLAGS, run: mergeCommand, help: MERGE_HELP, graceful: true },
  revoke: { flags: REVOKE_FLAGS, run: revokeCommand, help: REVOKE_HELP },
  crl: { flags: CRL_FLAGS, run: crlCommand, help: CRL_HELP },
  inspect: { flags: INSPECT_FLAGS, run: inspectCommand, help: INSPECT_HELP },
  demo: { flags: DEMO_FLAGS, run: demoCommand, help: DEMO_HELP }
}

/** The commands that take a flag (for "--json is an option of credbake verify and credbake inspect"). */
function commandsTaking(flag: string, except: string): string[] {
  return Object.entries(COMMANDS)
    .filter(([name, command]) => name !== except && [...command.flags.strings, ...(command.flags.booleans ?? []), ...(command.flags.optionalValues ?? [])].includes(flag))
    .map(([name]) => name)
}

export async function main(argv: string[], out: Console = processConsole): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]]
    out.stdout(topic ? topic.help : MAIN_HELP)
    return name === undefined ? EXIT_CODES.input : EXIT_CODES.ok
  }
  if (name === '--version' || name === '-v' || name === '-V' || name === 'version') {
    out.stdout(`${VERSION}\n`)
    return EXIT_CODES.ok
  }
  const command = COMMANDS[name]
  if (!command) return reportError(new InputError(unknownCommand(name)), out)
  try {
    const parsed = parseFlags(rest, command.flags, { elsewhere: (flag) => commandsTaking(flag, name) })
    if (parsed.help) {
      out.stdout(command.help)
      return EXIT_CODES.ok
    }
    if (parsed.version) {
      out.stdout(`${VERSION}\n`)
      return EXIT_CODES.ok
    }
    return command.graceful ? await gracefully(() => command.run(parsed, out)) : await command.run(parsed, out)
  } catch (error) {
    return reportError(error, out)
  }
}

function unknownCommand(name: string): string {
  const names = Object.keys(COMMANDS)
  if (name.startsWith('-')) {
    return `the first argument is the command (${names.join(', ')}), then its options, e.g. credbake bake ${name} ...; see credbake --help.`
  }
  const closest = suggest(name, names)
  return `unknown command ${JSON.stringify(name)}.${closest.length ? ` Did you mean ${listed(closest)}?` : ''} Commands: ${names.join(', ')}. See credbake --help.`
}

export function reportError(error: unknown, out: Console): number {
  if (error instanceof CancelledError) {
    // The one line that says what was done and how to go on.
    out.stderr(`credbake: ${error.message}\n`)
    return error.exitCode
  }
  if (isCredbakeError(error)) {
    const where = error.file ? `${error.file}${error.line ? `:${error.line}` : ''}: ` : ''
    out.stderr(`credbake: error: ${where && !error.message.includes(error.file ?? '\0') ? where : ''}${error.message}\n`)
    return EXIT_CODES[error.kind]
  }
  out.stderr(`credbake: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  return EXIT_CODES.internal
}
