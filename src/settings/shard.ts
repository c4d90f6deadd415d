// The `shard` input (`i/n`): which of n deterministic shards of the device manifest this job bakes.
// Which devices fall into a shard is the manifest stage's business (src/manifest/shard.ts).
import { InputError } from '../errors.js'
import type { Shard } from './types.js'

/** Parses `i/n` (1 ≤ i ≤ n). Whitespace around the numbers is allowed. */
export function parseShard(text: string): Shard {
  const match = /^\s*(\d{1,9})\s*\/\s*(\d{1,9})\s*$/.exec(text)
  const index = Number(match?.[1])
  const count = Number(match?.[2])
  if (!match || count < 1 || index < 1 || index > count) {
    const why = match
      ? count < 1
        ? 'the shard count must be at least 1'
        : `the shard number must be between 1 and ${count}`
      : 'write it as i/n, e.g. 2/8 for the second of eight shards'
    throw new InputError(`Input "shard": ${JSON.stringify(text)} is not a valid shard; ${why}.`, { input: 'shard' })
  }
  return { index, count }
}
