// The Reporter the stages talk through, and the progress both front ends print.
//
// Why progress of its own rather than a progress-bar package: it is called after every device
// (100,000 calls in a large bake, so a call is a counter and a clock read unless an interval has
// passed), prints one plain line every 5 s to CI logs (where bars are noise) and a live line every
// 250 ms on a terminal, and every line goes through neutraliseLine so no text can start a workflow
// command. That is this file's 100 lines; the bar packages do the drawing, which is not needed.
import type { RunLog } from '../shapes/log.js'
import { neutraliseLine } from '../util/log-text.js'

/**
 * How the pipeline talks to the person running it; the action and the CLI each implement it.
 * Messages carry text from inputs (labels, partition names, file names, tool output): an
 * implementation prints each through reporterText, never raw.
 */
export interface Reporter extends RunLog {
  /** Called after every device; implementations throttle what they print. */
  progress(done: number, total: number): void
  /**
   * Told once the run is planned, before anything is issued: the devices in scope and how many of
   * them an earlier run completed (kept as they are). The action's summary of a failed step uses it.
   */
  planned?(plan: { total: number; kept: number }): void
  /**
   * Told of what the run holds that must be released even if the process dies before its
   * `finally` (the action saves it for its post: step): the secret temp folder and the lock.
   */
  holding?(resource: { kind: 'secret-temp' | 'lock'; path: string }): void
}

/**
 * A reporter message as it may reach a log: one line (a line break inside shows as `\n`), control
 * and format characters escaped, never the start of a workflow command (src/util/log-text.ts).
 */
export function reporterText(message: string): string {
  return neutraliseLine(message)
}

export interface ProgressOptions {
  /**
   * Terminal: one live line, rewritten with `\r`; when the run ends it becomes the final line
   * (count, average rate, total time) and stays. `write` gets raw text: the live line without a
   * newline, the final one with. Otherwise (CI logs) `write` gets one line at a time, without
   * newline.
   */
  live?: boolean
  /** Lines: the first after this long (shorter runs print nothing), then one per interval. */
  intervalMs?: number
  /** The rate is measured over about this much of the recent past. */
  windowMs?: number
  /** Injected clock (ms) for tests. */
  now?: () => number
  /** What the count says was done: "baked" (default), "verified". */
  verb?: string
}

export type Progress = Reporter['progress'] & {
  /**
   * Clears the live line (a no-op for lines, when nothing is shown, or once the final line is
   * written); safe to call twice. For a run that stops before it is done.
   */
  end(): void
}

const LIVE_INTERVAL_MS = 250
const LIVE_DELAY_MS = 1000

/**
 * Progress for long runs: count, rate over the recent window and ETA. Lines every `intervalMs`
 * (5 s) in CI logs, nothing for a run shorter than that; on a terminal a live line, refreshed
 * every 250 ms after the first second. At the end, a line with the count, the average rate and
 * the total time: in logs when lines were printed, on a terminal whenever this run did anything
 * (the live line turns into it, and it stays). The clock starts at the first call (a resumed
 * run's first call counts the devices kept), so the rate is this run's.
 */
export function throttledProgress(write: (text: string) => void, options: ProgressOptions = {}): Progress {
  const now = options.now ?? Date.now
  const live = options.live ?? false
  const intervalMs = options.intervalMs ?? (live ? LIVE_INTERVAL_MS : 5000)
  const firstAfterMs = live ? Math.max(intervalMs, LIVE_DELAY_MS) : intervalMs
  const windowMs = options.windowMs ?? 30_000
  const verb = options.verb ?? 'baked'
  let samples: { at: number; done: number }[] = []
  let started: number | undefined
  let startDone = 0
  let lastShown = 0
  let shown = false
  let width = 0

  const clear = (): void => {
    if (live && width > 0) write(`\r${' '.repeat(width)}\r`)
    width = 0
  }
  const show = (line: string): void => {
    shown = true
    if (!live) return write(line)
    write(`\r${line}${' '.repeat(Math.max(0, width - line.length))}`)
    width = line.length
  }

  const progress = (done: number, total: number): void => {
    const at = now()
    if (started === undefined) {
      started = at
      startDone = done
      lastShown = at
      samples = [{ at, done }]
      return
    }
    if (done >= total) {
      const final = `${describeCount(verb, done, total)}, ${formatRate(ratePerSecond(done - startDone, at - started))} (${formatDuration(at - started)} in all)`
      if (live && done > startDone) {
        write(`\r${final}${' '.repeat(Math.max(0, width - final.length))}\n`)
        width = 0
      } else if (!live && shown) show(final)
      shown = false
      // Further calls (a review's own count) draw nothing more.
      startDone = done
      return
    }
    if (at - lastShown < (shown ? intervalMs : firstAfterMs)) return
    lastShown = at
    samples.push({ at, done })
    while (samples.length > 2 && at - (samples[1] as { at: number }).at >= windowMs) samples.shift()
    const oldest = samples[0] as { at: number; done: number }
    const rate = ratePerSecond(done - oldest.done, at - oldest.at)
    const eta = rate > 0 ? formatDuration(((total - done) / rate) * 1000) : 'unknown'
    show(`${describeCount(verb, done, total)}, ${formatRate(rate)}, ETA ${eta}`)
  }
  return Object.assign(progress, { end: clear })
}

function ratePerSecond(devices: number, ms: number): number {
  return devices / Math.max(ms / 1000, 1e-3)
}

function describeCount(verb: string, done: number, total: number): string {
  return `${verb} ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} devices (${Math.floor((done / Math.max(total, 1)) * 100)}%)`
}

function formatRate(perSecond: number): string {
  return `${perSecond >= 100 ? Math.round(perSecond).toLocaleString('en-US') : perSecond.toFixed(1)} devices/s`
}

/** 45s, 3m05s, 2h07m. */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.round(ms / 1000))
  if (seconds < 60) return `${seconds}s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`
}
