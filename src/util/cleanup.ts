// Releasing what a run holds (workers, journal, sink, secret folder, lock) so that every step
// runs even when one throws, in the reverse order of acquiring, and the error that caused the
// cleanup stays the one reported.

export class Cleanup {
  private readonly steps: Array<{ name: string; release: () => Promise<void> | void }> = []

  /** Register `release` for `resource` (released after everything registered later). */
  add<T>(name: string, resource: T, release: (resource: T) => Promise<void> | void): T {
    this.steps.push({ name, release: () => release(resource) })
    return resource
  }

  /**
   * Run every step, newest first. With `failed` (the run already threw), release errors are passed
   * to `onError` and swallowed so the first error stays the one reported; otherwise the first
   * release error is thrown after all steps ran.
   */
  async run(options: { failed: boolean; onError?: (name: string, error: unknown) => void }): Promise<void> {
    let first: { error: unknown } | undefined
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step.release()
      } catch (error) {
        if (options.failed || first) options.onError?.(step.name, error)
        else first = { error }
      }
    }
    if (first) throw first.error
  }
}
