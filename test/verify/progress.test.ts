// verify's progress lines are the bake's (src/pipeline/reporter.ts) with its own verb: CI logs get
// a line every 5 s after the first 5 s, with the count, the rate and the time left.
import { describe, expect, it } from 'vitest'
import { throttledProgress } from '../../src/pipeline/reporter.js'

describe('verify progress', () => {
  it('says "verified", at the pace of the bake\'s lines', () => {
    const lines: string[] = []
    let now = 0
    const progress = throttledProgress((line) => lines.push(line), { verb: 'verified', now: () => now })
    progress(0, 100_000)
    for (let done = 1000; done <= 100_000; done += 1000) {
      now += 1000
      progress(done, 100_000)
    }
    expect(lines[0]).toBe('verified 5,000/100,000 devices (5%), 1,000 devices/s, ETA 1m35s')
    expect(lines).toHaveLength(20)
    expect(lines.at(-1)).toBe('verified 100,000/100,000 devices (100%), 1,000 devices/s (1m40s in all)')
  })

  it('the bake still says "baked"', () => {
    const lines: string[] = []
    let now = 0
    const progress = throttledProgress((line) => lines.push(line), { now: () => now })
    progress(0, 10)
    now = 6000
    progress(5, 10)
    expect(lines).toEqual(['baked 5/10 devices (50%), 0.8 devices/s, ETA 6s'])
  })
})
