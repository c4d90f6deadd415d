// Progress lines and the live line, driven with an injected clock: no real time passes.
import { describe, expect, it } from 'vitest'
import { formatDuration, throttledProgress } from '../../src/pipeline/reporter.js'

function harness(options: { live?: boolean; windowMs?: number } = {}) {
  let clock = 0
  const written: string[] = []
  const progress = throttledProgress((text) => written.push(text), { ...options, now: () => clock })
  /** From the current time and count, report one device every `msPerDevice` until `until` ms. */
  const run = (from: number, until: number, msPerDevice: number, total: number): number => {
    let done = from
    while (clock < until && done < total) {
      clock += msPerDevice
      progress(++done, total)
    }
    return done
  }
  return { written, progress, run, now: () => clock }
}

describe('progress in CI logs (lines)', () => {
  it('a run shorter than the 5 s interval prints nothing, not even at the end', () => {
    const h = harness()
    h.progress(0, 490)
    const done = h.run(0, 10_000, 10, 490) // 490 devices in 4.9 s
    expect(done).toBe(490)
    expect(h.written).toEqual([])
  })

  it('a line every 5 s with count, rate and ETA, then one with the average at the end', () => {
    const h = harness()
    h.progress(0, 20_000)
    h.run(0, 100_000, 1, 20_000) // 1,000 devices/s for 20 s
    expect(h.written).toEqual([
      'baked 5,000/20,000 devices (25%), 1,000 devices/s, ETA 15s',
      'baked 10,000/20,000 devices (50%), 1,000 devices/s, ETA 10s',
      'baked 15,000/20,000 devices (75%), 1,000 devices/s, ETA 5s',
      'baked 20,000/20,000 devices (100%), 1,000 devices/s (20s in all)'
    ])
    expect(h.written.every((line) => !line.includes('\r') && !line.includes('\n'))).toBe(true)
  })

  it('the rate is that of the recent window, and the ETA follows it', () => {
    const h = harness({ windowMs: 10_000 })
    h.progress(0, 1_000_000)
    let done = h.run(0, 40_000, 1, 1_000_000) // 1,000/s for 40 s
    done = h.run(done, 60_000, 10, 1_000_000) // then 100/s for 20 s
    expect(done).toBe(42_000)
    // At 45 s the window reaches back to the line at 35 s: (40,500 - 35,000) / 10 s = 550/s, 959,500 left.
    expect(h.written).toContain('baked 40,500/1,000,000 devices (4%), 550 devices/s, ETA 29m05s')
    // At 60 s it holds only the slow part: 100/s, 958,000 devices left (9,580 s).
    expect(h.written.at(-1)).toBe('baked 42,000/1,000,000 devices (4%), 100 devices/s, ETA 2h39m')
  })

  it('a resumed run counts only the devices baked now in its rate', () => {
    const h = harness()
    h.progress(9_000, 10_000) // 9,000 kept from an earlier run
    h.run(9_000, 100_000, 10, 10_000) // 100/s for 10 s
    expect(h.written).toEqual(['baked 9,500/10,000 devices (95%), 100 devices/s, ETA 5s', 'baked 10,000/10,000 devices (100%), 100 devices/s (10s in all)'])
  })

  it('a rate below 100 devices/s keeps a decimal; no progress at all yet gives an unknown ETA', () => {
    const h = harness()
    h.progress(0, 100)
    h.run(0, 100_000, 400, 100) // 2.5/s: the first line at 5.2 s
    expect(h.written[0]).toBe('baked 13/100 devices (13%), 2.5 devices/s, ETA 35s')
    // Time passes with no device done: the next call (the same count) shows an unknown ETA.
    const clock = { t: 0 }
    const lines: string[] = []
    const progress = throttledProgress((line) => lines.push(line), { now: () => clock.t })
    progress(3, 10)
    clock.t = 6000
    progress(3, 10)
    expect(lines).toEqual(['baked 3/10 devices (30%), 0.0 devices/s, ETA unknown'])
  })
})

describe('progress on a terminal (one live line)', () => {
  it('a run under a second: no live line while it runs, only the final line at the end', () => {
    const h = harness({ live: true })
    h.progress(0, 90)
    h.run(0, 100_000, 10, 90) // 0.9 s
    expect(h.written).toEqual(['\rbaked 90/90 devices (100%), 100 devices/s (1s in all)\n'])
  })

  it('a resumed run that keeps every device prints nothing', () => {
    const h = harness({ live: true })
    h.progress(90, 90)
    expect(h.written).toEqual([])
  })

  it('rewrites one line with \\r, at most every 250 ms after the first second, and leaves the final line with rate and total time', () => {
    const h = harness({ live: true })
    h.progress(0, 3_000)
    h.run(0, 100_000, 1, 3_000) // 3 s
    const draws = h.written.slice(0, -1)
    // Draws at 1 s, then every 250 ms up to 2.75 s.
    expect(draws).toHaveLength(8)
    expect(draws.every((text) => text.startsWith('\r') && !text.includes('\n'))).toBe(true)
    expect(draws[0]).toBe('\rbaked 1,000/3,000 devices (33%), 1,000 devices/s, ETA 2s')
    const longest = Math.max(...draws.map((text) => text.length - 1))
    const final = 'baked 3,000/3,000 devices (100%), 1,000 devices/s (3s in all)'
    // It overwrites the live line (padded over a longer one) and ends with a newline: it stays.
    expect(h.written.at(-1)).toBe(`\r${final}${' '.repeat(Math.max(0, longest - final.length))}\n`)
    // Nothing clears it afterwards.
    h.progress.end()
    h.progress(3_000, 3_000)
    expect(h.written.at(-1)).toBe(`\r${final}${' '.repeat(Math.max(0, longest - final.length))}\n`)
  })

  it('a shorter line pads over the longer one before it; end() clears the line once', () => {
    const clock = { t: 0 }
    const written: string[] = []
    const progress = throttledProgress((text) => written.push(text), { live: true, now: () => clock.t })
    progress(0, 100_000)
    clock.t = 1000
    progress(99_999, 100_000) // long line (ETA 0s, rate 99,999/s)
    clock.t = 1250
    progress(99_999, 100_000) // rate drops to 79,999/s: same length here, so compare widths
    const widths = written.map((text) => text.length)
    expect(widths[1]).toBeGreaterThanOrEqual(widths[0] as number)
    progress.end()
    progress.end()
    expect(written.at(-1)).toBe(`\r${' '.repeat((widths[0] as number) - 1)}\r`)
    expect(written.filter((text) => text.trim() === '')).toHaveLength(1)
  })
})

describe('formatDuration', () => {
  it('seconds, minutes and hours', () => {
    expect(formatDuration(45_000)).toBe('45s')
    expect(formatDuration(185_000)).toBe('3m05s')
    expect(formatDuration(2 * 3600_000 + 7 * 60_000)).toBe('2h07m')
  })
})
