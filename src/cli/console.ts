/** Where CLI commands print; tests pass their own. */
export interface Console {
  stdout(text: string): void
  stderr(text: string): void
  /** stderr is a terminal: progress is one live line rewritten in place instead of log lines. */
  stderrIsTTY?: boolean
}

export const processConsole: Console = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTTY: process.stderr.isTTY === true
}
