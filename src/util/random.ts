// CSPRNG bytes drawn from a block filled by one randomFillSync call: each randomBytes call costs
// a trip into OpenSSL, and a bake asks for two small pieces per device (a certificate serial and a
// temporary file name). The bytes are the same CSPRNG output, handed out once each.
import { randomFillSync } from 'node:crypto'

const BLOCK = 8192
const block = Buffer.alloc(BLOCK)
let used = BLOCK

/** `size` fresh random bytes (a copy: never shared with a later call). */
export function randomChunk(size: number): Buffer {
  if (size > BLOCK) return randomFillSync(Buffer.alloc(size))
  if (used + size > BLOCK) {
    randomFillSync(block)
    used = 0
  }
  const bytes = Buffer.from(block.subarray(used, used + size))
  block.fill(0, used, used + size)
  used += size
  return bytes
}
