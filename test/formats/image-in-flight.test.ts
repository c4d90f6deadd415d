// How many image devices are in flight at once: sized from the base so the work copies stay
// within about 2 GiB, never fewer than 2 or more than 32.
import { describe, expect, it } from 'vitest'
import { imageWritesInFlight } from '../../src/formats/image-sink.js'

const MiB = 1024 * 1024

describe('imageWritesInFlight', () => {
  it('sizes the batch from the bytes each copy allocates', () => {
    // The benchmark's base: 256 MiB, 73 MiB allocated.
    expect(imageWritesInFlight(73 * MiB + 64 * 1024)).toBe(28)
    expect(imageWritesInFlight(1 * MiB)).toBe(32)
    expect(imageWritesInFlight(0)).toBe(32)
    expect(imageWritesInFlight(512 * MiB)).toBe(4)
    expect(imageWritesInFlight(1536 * MiB)).toBe(2)
    expect(imageWritesInFlight(16 * 1024 * MiB)).toBe(2)
  })
})
