// How a GitHub runner reads a step's output for workflow commands, written from its documented
// behaviour (actions/runner, ActionCommand.TryParseV2 and TryParse, tried in that order per line):
// a line is read up to CR, LF or CRLF; `::name props::data` once leading white space is trimmed;
// the legacy `##[name props]data` anywhere in the line. Used to check that nothing credbake
// prints can be taken for a command it did not mean to give.

/** The commands a runner acts on. */
export const RUNNER_COMMANDS = new Set([
  'set-env',
  'set-output',
  'save-state',
  'add-mask',
  'add-path',
  'add-matcher',
  'remove-matcher',
  'debug',
  'warning',
  'error',
  'notice',
  'group',
  'endgroup',
  'echo',
  'stop-commands'
])

export interface RunnerCommand {
  syntax: 'v2' | 'legacy'
  name: string
  /** The data as the runner unescapes it. */
  data: string
  line: string
}

// .NET's String.TrimStart: Unicode white space, including U+0085 and U+00A0.
const LEADING_WHITE_SPACE = /^[\s\u0085]+/

function unescapeData(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%')
}

/** Every workflow command a runner would see in `output`. */
export function runnerCommands(output: string): RunnerCommand[] {
  const found: RunnerCommand[] = []
  for (const line of output.split(/\r\n|\r|\n/)) {
    const trimmed = line.replace(LEADING_WHITE_SPACE, '')
    if (trimmed.startsWith('::')) {
      const end = trimmed.indexOf('::', 2)
      if (end >= 0) {
        const info = trimmed.slice(2, end)
        const name = info.split(' ')[0] ?? ''
        if (RUNNER_COMMANDS.has(name)) {
          found.push({ syntax: 'v2', name, data: unescapeData(trimmed.slice(end + 2)), line })
          continue
        }
      }
    }
    const prefix = line.indexOf('##[')
    if (prefix >= 0) {
      const close = line.indexOf(']', prefix)
      if (close >= 0) {
        const name = line.slice(prefix + 3, close).split(' ')[0] ?? ''
        if (RUNNER_COMMANDS.has(name)) found.push({ syntax: 'legacy', name, data: line.slice(close + 1), line })
      }
    }
  }
  return found
}
