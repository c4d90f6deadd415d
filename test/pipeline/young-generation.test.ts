// The main thread's young generation is capped during a bake by setting V8's growth factor once it
// reached the limit. The premise (V8 reads the factor whenever it grows the young generation, even
// after start-up) is checked on the running Node, in fresh isolates (worker threads).
import v8 from 'node:v8'
import { Worker } from 'node:worker_threads'
import { afterAll, describe, expect, it } from 'vitest'
import { capYoungGeneration } from '../../src/pipeline/young-generation.js'

function churn(stop: boolean): Promise<{ start: number; max: number }> {
  const code = `
    const v8 = require('node:v8')
    const { parentPort, workerData } = require('node:worker_threads')
    const size = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size
    if (workerData.stop) v8.setFlagsFromString('--semi-space-growth-factor=1')
    const start = size()
    let max = start
    const keep = []
    for (let i = 0; i < 400000; i++) {
      keep.push({ i, text: 'x' + i })
      if (keep.length > 20000) keep.splice(0, 10000)
      if (i % 1000 === 0) max = Math.max(max, size())
    }
    parentPort.postMessage({ start, max })`
  return new Promise((resolve, reject) => {
    const worker = new Worker(code, { eval: true, workerData: { stop } })
    worker.once('message', resolve)
    worker.once('error', reject)
  })
}

describe('capYoungGeneration', () => {
  afterAll(() => v8.setFlagsFromString('--semi-space-growth-factor=2')) // V8's default

  it('V8 grows the young generation of objects that survive, and stops once the growth factor is 1', async () => {
    const free = await churn(false)
    expect(free.max).toBeGreaterThan(free.start * 2)
    const stopped = await churn(true)
    // Node 20 keeps it as it is; Node 24 still adds a page now and then.
    expect(stopped.max).toBeLessThan(free.max / 2)
  })

  it('stops the growth once, when the young generation reached the limit', () => {
    let size = 1 << 20
    let stops = 0
    const cap = capYoungGeneration(16 << 20, { newSpaceSize: () => size, grow: (yes) => void (yes || stops++) }, 0)
    expect(cap.capped).toBe(false)
    size = 8 << 20
    cap.check()
    expect(stops).toBe(0)
    size = 16 << 20
    cap.check()
    cap.check()
    expect(stops).toBe(1)
    expect(cap.capped).toBe(true)
    // Already past the limit when created: stopped at once.
    const late = capYoungGeneration(16 << 20, { newSpaceSize: () => 32 << 20, grow: (yes) => void (yes || stops++) }, 0)
    expect(late.capped).toBe(true)
    expect(stops).toBe(2)
  })

  it('keeps the young generation as it is while holding, lets it grow again after, unless capped meanwhile', async () => {
    const calls: boolean[] = []
    let size = 1 << 20
    const cap = capYoungGeneration(16 << 20, { newSpaceSize: () => size, grow: (yes) => void calls.push(yes) }, 0)
    const result = await cap.holding(async () => {
      expect(calls).toEqual([false])
      return 42
    })
    expect(result).toBe(42)
    expect(calls).toEqual([false, true])
    await expect(
      cap.holding(async () => {
        size = 32 << 20
        throw new Error('parse failed')
      })
    ).rejects.toThrow('parse failed')
    // Grown past the limit meanwhile (not by this thread's doing): capped, not let grow again.
    expect(calls).toEqual([false, true, false, false])
    expect(cap.capped).toBe(true)
  })

  it('keeps looking on a timer until the limit is reached, then stops looking', async () => {
    let size = 1 << 20
    let looks = 0
    let stops = 0
    const cap = capYoungGeneration(16 << 20, { newSpaceSize: () => (looks++, size), grow: (yes) => void (yes || stops++) }, 1)
    while (looks < 3) await new Promise((resolve) => setTimeout(resolve, 2))
    expect(cap.capped).toBe(false)
    size = 16 << 20
    while (!cap.capped) await new Promise((resolve) => setTimeout(resolve, 2))
    const after = looks
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(looks).toBe(after)
    expect(stops).toBe(1)
    cap.stop()
  })
})
