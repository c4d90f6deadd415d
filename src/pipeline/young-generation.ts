// The main thread's young generation, capped while a bake runs. V8 grows the two semi-spaces of
// the young generation (16 MiB each at most on 64-bit, all of it resident once used) whenever
// enough objects survive scavenges, and the journal lines of a big bake make them survive: 32 MiB
// of a 256 MiB budget for objects that live a few milliseconds. The action cannot pass
// --max-semi-space-size, and V8 reads that flag only when the heap is set up; the growth factor,
// though, is read each time the young generation grows, so setting it to 1 once the young
// generation reached `limit` keeps it there (measured: 100,000 tar devices peak 20-30 MiB lower,
// same throughput). The flag is process-wide and stays set: this process does nothing else.
import v8 from 'node:v8'

/** Young generation (both semi-spaces) at which growth stops. */
export const YOUNG_GENERATION_LIMIT = 16 << 20
/** How often the size is looked at (a few microseconds each time) until growth stopped. */
const CHECK_EVERY_MS = 10

export interface YoungGenerationCap {
  /** Stops the growth once the young generation reached the limit. */
  check(): void
  /**
   * Runs `work` with the young generation kept as it is: for a long synchronous stretch the
   * timer cannot look into (parsing the manifest). Afterwards it may grow up to the limit again.
   */
  holding<T>(work: () => Promise<T>): Promise<T>
  /** True once growth was stopped. */
  readonly capped: boolean
  /** No more checks (the growth factor stays as it is). */
  stop(): void
}

/**
 * Looks at the young generation now and every CHECK_EVERY_MS (the timer does not keep the
 * process alive) until it reached `limit`, then stops its growth.
 */
export function capYoungGeneration(limit = YOUNG_GENERATION_LIMIT, heap: YoungGenerationHeap = v8Heap, every = CHECK_EVERY_MS): YoungGenerationCap {
  let capped = false
  let timer: NodeJS.Timeout | undefined
  const cap = {
    check(): void {
      if (capped || heap.newSpaceSize() < limit) return
      heap.grow(false)
      capped = true
      cap.stop()
    },
    async holding<T>(work: () => Promise<T>): Promise<T> {
      if (capped) return work()
      heap.grow(false)
      try {
        return await work()
      } finally {
        cap.check()
        if (!capped) heap.grow(true)
      }
    },
    get capped(): boolean {
      return capped
    },
    stop(): void {
      if (timer) clearInterval(timer)
      timer = undefined
    }
  }
  cap.check()
  if (!capped && every > 0) {
    timer = setInterval(() => cap.check(), every)
    timer.unref()
  }
  return cap
}

export interface YoungGenerationHeap {
  newSpaceSize(): number
  /** false: the young generation stays as large as it is; true: V8's default growth. */
  grow(yes: boolean): void
}

const v8Heap: YoungGenerationHeap = {
  newSpaceSize(): number {
    return v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0
  },
  grow(yes: boolean): void {
    // 2 is V8's default factor (Node 20 and 24 alike).
    v8.setFlagsFromString(`--semi-space-growth-factor=${yes ? 2 : 1}`)
  }
}
