/** How the pipeline talks to the person running it; the action and the CLI each implement it. */
export interface Reporter {
  info(message: string): void
  warning(message: string, where?: { file?: string; line?: number }): void
  /** Called after every device; implementations throttle what they print. */
  progress(done: number, total: number): void
  /**
   * Told of what the run holds that must be released even if the process dies before its
   * `finally` (the action saves it for its post: step): the secret temp folder and the lock.
   */
  holding?(resource: { kind: 'secret-temp' | 'lock'; path: string }): void
}

/** Prints progress at most every `intervalMs` and at the end. */
export function throttledProgress(print: (line: string) => void, intervalMs = 2000): Reporter['progress'] {
  let last = 0
  return (done, total) => {
    const now = Date.now()
    if (done !== total && now - last < intervalMs) return
    last = now
    print(`baked ${done}/${total} devices (${Math.floor((done / Math.max(total, 1)) * 100)}%)`)
  }
}
