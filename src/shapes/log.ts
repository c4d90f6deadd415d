// The run's log as the stages below the pipeline see it: a line of information or a warning.
// The pipeline's Reporter (src/pipeline/reporter.ts) is one; stages take this, not the Reporter,
// so they do not depend on the pipeline.
export interface RunLog {
  /** One line. */
  info(message: string): void
  /** One line. */
  warning(message: string, where?: { file?: string; line?: number }): void
}
