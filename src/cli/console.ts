/** Where CLI commands print; tests pass their own. */
export interface Console {
  stdout(text: string): void
  stderr(text: string): void
}

export const processConsole: Console = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text)
}
