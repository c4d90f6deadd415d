// Offset → 1-based line number for the JSON readers. Lookups usually come in increasing order
// (rows are visited front to back), so the counter walks forward from the last answer instead of
// keeping an index of every newline; an earlier offset restarts it from the top.

export class LineIndex {
  private offset = 0
  private line = 1

  constructor(private readonly text: string) {}

  lineOf(offset: number): number {
    if (offset < this.offset) {
      this.offset = 0
      this.line = 1
    }
    const end = Math.min(offset, this.text.length)
    let i = this.text.indexOf('\n', this.offset)
    while (i !== -1 && i < end) {
      this.line++
      i = this.text.indexOf('\n', i + 1)
    }
    this.offset = end
    return this.line
  }

  /** Line of the last non-blank character: where "unexpected end of file" belongs. */
  lastContentLine(): number {
    const trimmed = this.text.trimEnd()
    return this.lineOf(Math.max(0, trimmed.length - 1))
  }
}

export function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}
