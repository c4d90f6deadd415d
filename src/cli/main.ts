// CLI adapter: argv → command. Flags share the action's input names (`--fleet-ca-cert`), and each
// may also come from the environment as CREDBAKE_FLEET_CA_CERT etc., which keeps keys and
// passphrases out of the process list and shell history.
import { CancelledError, EXIT_CODES, isCredbakeError, messageOf } from '../errors.js'
import { gracefully } from '../util/cancel.js'
import { VERSION } from '../version.js'
import { bakeCommand, BAKE_HELP } from './bake.js'
import { demoCommand, DEMO_HELP } from './demo.js'
import { inspectCommand, INSPECT_HELP } from './inspect.js'
import { mergeCommand, MERGE_HELP } from './merge.js'
import { verifyCommand, VERIFY_HELP } from './verify.js'
import type { Console } from './console.js'
import { processConsole } from './console.js'

export const MAIN_HELP = `credbake ${VERSION}: bake per-device X.509 credentials into firmware images

Usage: credbake <command> [options]

Commands:
  bake      issue a certificate per device of a manifest and write the bundles (the main job)
  inspect   show an image's partition table and file systems
  merge     combine the shard manifests of a job matrix into one review (merge --output-dir DIR MANIFEST...)
  verify    check a bake's outputs as they are now against its review manifest
  demo      throwaway CA, sample manifest and image, then bake (never for production)
  help      this text; \`credbake <command> --help\` for a command's options

Exit codes:
  0  success
  1  unexpected failure (a bug: please report it)
  2  bad option or device manifest
  3  the fleet CA cannot be used (not a CA, wrong key or passphrase, expired, lifetime too long)
  4  image or tool problem (partition not found, file system unsupported, debugfs/mtools missing)
  5  outputs cannot be written (output-dir not writable, disk or partition full)
  6  another credbake run holds the output directory
  7  verify: an output differs from its review manifest
  129, 130, 143  stopped by SIGHUP, SIGINT, SIGTERM (bake and merge finish what is in flight and
                 release everything; run the same command again to resume)
`

interface Command {
  run(args: string[], out: Console): Promise<number>
  help: string
  /**
   * Stops cleanly on a first SIGINT/SIGTERM/SIGHUP (finishes what is in flight, releases
   * everything, prints one line); other commands stop at once, removing their temp folder.
   */
  graceful?: boolean
}

const COMMANDS: Record<string, Command> = {
  bake: { run: bakeCommand, help: BAKE_HELP, graceful: true },
  demo: { run: demoCommand, help: DEMO_HELP },
  inspect: { run: inspectCommand, help: INSPECT_HELP },
  merge: { run: mergeCommand, help: MERGE_HELP, graceful: true },
  verify: { run: verifyCommand, help: VERIFY_HELP }
}

export async function main(argv: string[], out: Console = processConsole): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    const topic = rest[0] === undefined ? undefined : COMMANDS[rest[0]]
    out.stdout(topic ? topic.help : MAIN_HELP)
    return name === undefined ? EXIT_CODES.input : EXIT_CODES.ok
  }
  if (name === '--version' || name === '-V' || name === 'version') {
    out.stdout(`${VERSION}\n`)
    return EXIT_CODES.ok
  }
  const command = COMMANDS[name]
  if (!command) {
    out.stderr(`credbake: unknown command "${name}". Commands: ${Object.keys(COMMANDS).join(', ')}. See credbake --help.\n`)
    return EXIT_CODES.input
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out.stdout(command.help)
    return EXIT_CODES.ok
  }
  try {
    return command.graceful ? await gracefully(() => command.run(rest, out)) : await command.run(rest, out)
  } catch (error) {
    return reportError(error, out)
  }
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
  if ((error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
    out.stderr(`credbake: ${messageOf(error)}. See --help.\n`)
    return EXIT_CODES.input
  }
  out.stderr(`credbake: unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
  return EXIT_CODES.internal
}
