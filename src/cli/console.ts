import { neutraliseOutput } from '../util/log-text.js'

/** Where CLI commands print; tests pass their own. */
export interface Console {
  stdout(text: string): void
  stderr(text: string): void
  /** stderr is a terminal: progress is one live line rewritten in place instead of log lines. */
  stderrIsTTY?: boolean
  /**
   * The live progress line, written as is (its `\r` rewrites the line; it holds only numbers).
   * Consoles without it get the progress through `stderr`.
   */
  stderrLive?(text: string): void
}

/**
 * The process's stdout and stderr. Everything printed passes through neutraliseOutput: messages
 * carry labels, partition names, manifest values, file names and tool output, and a line of them
 * must never start a workflow command when the CLI runs in a CI step (src/util/log-text.ts).
 */
export const processConsole: Console = {
  stdout: (text) => process.stdout.write(neutraliseOutput(text)),
  stderr: (text) => process.stderr.write(neutraliseOutput(text)),
  stderrIsTTY: process.stderr.isTTY === true,
  stderrLive: (text) => process.stderr.write(text)
}
