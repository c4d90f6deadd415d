// Stopping on SIGINT, SIGTERM and SIGHUP (docs/output-dir-boundary.md, "Cancellation").
//
// The entry points (the CLI, the action's main step) call handleStopSignals once. While a command
// that can stop cleanly runs (bake, merge: inside `gracefully`), the first signal only sets
// `cancellation`: the pipeline stops issuing, lets what is in flight land or roll back as on a
// failure, releases everything in its `finally`, and throws a CancelledError whose message is the
// one line the user sees (exit 128 + the signal's number). A second signal, or any signal while
// nothing can stop cleanly (verify, inspect, between commands), stops at once: what was
// registered with `releaseAtExit` (the secret temp folder, the lock) is released synchronously,
// one line says so, and the process exits.
import { CancelledError, SIGNAL_NUMBERS } from '../errors.js'

export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
export type StopSignal = (typeof STOP_SIGNALS)[number]

export function exitCodeFor(signal: StopSignal): number {
  return 128 + SIGNAL_NUMBERS[signal]
}

class Cancellation {
  private received: StopSignal | undefined

  /** The first stop signal received inside `gracefully`, if any. */
  get signal(): StopSignal | undefined {
    return this.received
  }

  get requested(): boolean {
    return this.received !== undefined
  }

  request(signal: StopSignal): void {
    this.received ??= signal
  }

  /** Throws a CancelledError (with a plain message: callers that know more say more) once a stop was requested. */
  throwIfRequested(): void {
    if (this.received) throw new CancelledError(this.received, `stopped by ${this.received}`)
  }

  /** For tests that run several commands in one process. */
  reset(): void {
    this.received = undefined
  }
}

export const cancellation = new Cancellation()

// ---- synchronous releases: what a stop at once (or an unexpected exit) still releases ----------

interface Release {
  what: string
  release: () => void
}

const releases = new Set<Release>()
let exitHookInstalled = false

/**
 * Register a synchronous release of a resource (removing the secret temp folder, the lock) for a
 * stop at once and for any exit that skipped the normal clean-up. Returns the unregister function,
 * to be called once the resource was released normally.
 */
export function releaseAtExit(what: string, release: () => void): () => void {
  const entry: Release = { what, release }
  releases.add(entry)
  if (!exitHookInstalled) {
    exitHookInstalled = true
    process.on('exit', () => void releaseAllNow())
  }
  return () => void releases.delete(entry)
}

/** Run every registered release once (errors ignored); returns what was released. */
export function releaseAllNow(): string[] {
  const done: string[] = []
  for (const entry of [...releases].reverse()) {
    releases.delete(entry)
    try {
      entry.release()
      done.push(entry.what)
    } catch {
      // best effort: the process is going away
    }
  }
  return done
}

// ---- the signal handlers --------------------------------------------------------------------------

let graceful = 0
let installed: { say: (line: string) => void } | undefined

/**
 * Install the handlers for SIGINT, SIGTERM and SIGHUP (once per process; later calls only change
 * where the stop-at-once line goes). `say` prints one line (stderr for the CLI, the log for the action).
 */
export function handleStopSignals(options: { say: (line: string) => void }): void {
  const first = installed === undefined
  installed = options
  if (!first) return
  for (const signal of STOP_SIGNALS) process.on(signal, () => onSignal(signal))
}

/** Run `work` as a command that stops cleanly on the first signal (see above). */
export async function gracefully<T>(work: () => Promise<T>): Promise<T> {
  graceful++
  try {
    return await work()
  } finally {
    graceful--
  }
}

function onSignal(signal: StopSignal): void {
  if (graceful > 0 && !cancellation.requested) {
    cancellation.request(signal)
    return
  }
  stopAtOnce(signal, cancellation.requested)
}

function stopAtOnce(signal: StopSignal, second: boolean): never {
  const released = releaseAllNow()
  const why = second ? `stopped at once by a second signal (${signal})` : `stopped by ${signal}`
  const what = released.length ? `removed ${released.join(' and ')}` : 'nothing to release'
  installed?.say(`credbake: ${why}: ${what}; what was in flight did not finish. Run the same command again${second ? ' (a bake resumes where it stopped)' : ''}.`)
  process.exit(exitCodeFor(signal))
}
