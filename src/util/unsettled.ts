// A promise that nobody will ever settle does not keep Node alive: once the event loop is empty
// the process exits with code 0. For credbake that would turn a bake that stopped half-way (a lost
// wake-up between threads or processes) into a green step with no review. This guard turns it into
// a failure that says so.

/** The message printed when the run ended without finishing. */
export const UNSETTLED_MESSAGE =
  'credbake: internal error: the run stopped before it finished (nothing was left that could finish it); no review was written for this run. Run it again (the journal resumes it) and please report this.'

/**
 * Watch `work` until it settles: if the event loop empties first, `fail` is told once and the exit
 * code becomes `code`. Returns `work` itself.
 */
export function failIfUnsettled<T>(work: Promise<T>, fail: (message: string) => void, code = 1): Promise<T> {
  let told = false
  const beforeExit = (): void => {
    if (told) return
    told = true
    fail(UNSETTLED_MESSAGE)
    process.exitCode = code
  }
  process.on('beforeExit', beforeExit)
  const settled = (): void => {
    process.off('beforeExit', beforeExit)
  }
  work.then(settled, settled)
  return work
}
