// A/B layouts (Mender, RAUC, SWUpdate's double copy): two root file system slots of the same type
// and size whose labels or GPT names differ only in the slot suffix (rootfsA/rootfsB, rootfsa/
// rootfsb, rootfs.0/rootfs.1, rootfs_a/rootfs_b, system1/system2), and a persistent data
// partition. An update writes the slot that is not running and boots it: what was baked into one
// slot is gone after the first update.
import type { Partition } from './table.js'
import { isWritable } from './table.js'

/** Slot suffixes that pair up, as the usual updaters name their slots. */
const SLOT_PAIRS: ReadonlyArray<readonly [string, string]> = [
  ['A', 'B'],
  ['a', 'b'],
  ['0', '1'],
  ['1', '2']
]

/** True when `one` and `other` differ only in a last character that is a pair of slot suffixes. */
export function isSlotPair(one: string, other: string): boolean {
  if (one.length !== other.length || one.length < 2) return false
  const prefix = one.slice(0, -1)
  if (other.slice(0, -1) !== prefix) return false
  const last = [one.at(-1)!, other.at(-1)!]
  return SLOT_PAIRS.some(([x, y]) => (last[0] === x && last[1] === y) || (last[0] === y && last[1] === x))
}

/** The other slot of the pair `partition` belongs to, or undefined when it is no slot. */
export function abPartner(partitions: readonly Partition[], partition: Partition): Partition | undefined {
  const names = (p: Partition): string[] => [p.fileSystem.label, p.name].filter((n): n is string => !!n)
  return partitions.find(
    (other) =>
      other !== partition &&
      other.kind !== 'extended' &&
      other.fileSystem.type === partition.fileSystem.type &&
      other.size === partition.size &&
      // A label pairs with a label, a GPT name with a GPT name.
      ((partition.fileSystem.label && other.fileSystem.label && isSlotPair(partition.fileSystem.label, other.fileSystem.label)) ||
        (partition.name && other.name && isSlotPair(partition.name, other.name)) ||
        false) &&
      names(other).length > 0
  )
}

const PERSISTENT = /data|persist|storage|home/i

/** Partitions outside the pair whose label or GPT name says they keep data across updates. */
export function persistentCandidates(partitions: readonly Partition[], pair: readonly Partition[]): Partition[] {
  return partitions.filter((p) => !pair.includes(p) && p.kind !== 'extended' && isWritable(p) && [p.fileSystem.label, p.name].some((n) => !!n && PERSISTENT.test(n)))
}

/** How a user selects `p`: label= when it has a label, else name=, else its number. */
export function selectorFor(p: Partition): string {
  if (p.fileSystem.label) return `label=${p.fileSystem.label}`
  if (p.name) return `name=${p.name}`
  return String(p.number)
}
