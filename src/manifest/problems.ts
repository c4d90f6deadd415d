// Collects what is wrong with a manifest so one run reports every bad row (up to a limit) instead
// of making the user fix a 5,000-row file one error at a time.
import { ManifestError } from '../errors.js'
import { escapeText, quoteText } from '../util/log-text.js'

export interface ManifestProblem {
  file: string
  /** 1-based. */
  line: number
  message: string
}

/** How many problems the error message lists; the rest are counted. */
export const LISTED_PROBLEMS = 10
/** How many are kept on the error (for annotations); bounds memory for a file that is all bad. */
const KEPT_PROBLEMS = 1000

/**
 * A ManifestError for one or more bad rows. `line` is the first problem's line (the annotation);
 * `problems` holds each of them, sorted by line, for callers that annotate every row.
 */
export class ManifestProblemsError extends ManifestError {
  readonly problems: readonly ManifestProblem[]
  readonly total: number

  constructor(problems: ManifestProblem[], total: number) {
    const first = problems[0]
    if (first === undefined) throw new Error('ManifestProblemsError needs at least one problem')
    super(formatProblems(problems, total), { file: first.file, line: first.line })
    this.problems = problems
    this.total = total
  }
}

export class Problems {
  private readonly kept: ManifestProblem[] = []
  private count = 0

  constructor(readonly file: string) {}

  add(line: number, message: string): void {
    this.count++
    if (this.kept.length < KEPT_PROBLEMS) this.kept.push({ file: this.file, line, message })
  }

  clear(): void {
    this.kept.length = 0
    this.count = 0
  }

  get size(): number {
    return this.count
  }

  throwIfAny(): void {
    if (this.count === 0) return
    // Stable sort: problems on the same line keep the order they were found in.
    const sorted = [...this.kept].sort((a, b) => a.line - b.line)
    throw new ManifestProblemsError(sorted, this.count)
  }
}

function formatProblems(problems: ManifestProblem[], total: number): string {
  const file = escapeText(problems[0]?.file ?? '')
  const lines = problems.slice(0, LISTED_PROBLEMS).map((p) => `${escapeText(p.file)}:${p.line}: ${p.message}`)
  // file:line first (editors and terminals link it); the input is named once, at the end.
  if (total === 1) return `${lines[0]} (input "manifest")`
  const listed = total > lines.length ? `; the first ${lines.length} are listed` : ''
  lines.push(`Input "manifest": ${total} problems in ${file}${listed}.`)
  return lines.join('\n')
}

/**
 * A value quoted for a message: control and format characters escaped visibly (a manifest value
 * must not break or hide a log line), very long values shortened.
 */
export function show(value: string): string {
  return quoteText(value)
}
