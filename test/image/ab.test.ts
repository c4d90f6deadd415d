// Which partitions are the two slots of an A/B layout: names that differ only in the slot suffix
// (as Mender, RAUC and SWUpdate name them), the same file-system type and the same size.
import { describe, expect, it } from 'vitest'
import { abPartner, isSlotPair, persistentCandidates, selectorFor } from '../../src/image/ab.js'
import type { Partition } from '../../src/image/table.js'

describe('isSlotPair', () => {
  it('pairs the suffixes updaters use', () => {
    for (const [a, b] of [
      ['rootfsA', 'rootfsB'],
      ['rootfsa', 'rootfsb'],
      ['rootfs.0', 'rootfs.1'],
      ['rootfs_a', 'rootfs_b'],
      ['rootfs-b', 'rootfs-a'],
      ['system1', 'system2'],
      ['app0', 'app1']
    ]) {
      expect(isSlotPair(a!, b!), `${a} ${b}`).toBe(true)
    }
  })

  it('does not pair other names', () => {
    for (const [a, b] of [
      ['rootfs', 'rootfs2'],
      ['a', 'b'],
      ['data1', 'data3'],
      ['rootfsA', 'rootfsb'],
      ['rootfsA', 'rootfsA'],
      ['bootA', 'rootB']
    ]) {
      expect(isSlotPair(a!, b!), `${a} ${b}`).toBe(false)
    }
  })
})

function part(number: number, fs: string, size: number, label: string | null, name: string | null = null): Partition {
  return { number, start: number * 1000, size, type: '', typeName: null, name, kind: 'gpt', fileSystem: { type: fs as Partition['fileSystem']['type'], label, uuid: null, size } }
}

describe('abPartner', () => {
  const layout = [part(1, 'fat16', 10, 'BOOT'), part(2, 'ext4', 100, 'rootfsA'), part(3, 'ext4', 100, 'rootfsB'), part(4, 'ext4', 50, 'data')]

  it('finds the other slot, and none for the data partition', () => {
    expect(abPartner(layout, layout[1]!)?.number).toBe(3)
    expect(abPartner(layout, layout[2]!)?.number).toBe(2)
    expect(abPartner(layout, layout[3]!)).toBeUndefined()
    expect(persistentCandidates(layout, [layout[1]!, layout[2]!]).map((p) => p.number)).toEqual([4])
    expect(selectorFor(layout[3]!)).toBe('label=data')
  })

  it('pairs GPT names too (RAUC rootfs.0/rootfs.1 without labels)', () => {
    const rauc = [part(1, 'ext4', 100, null, 'rootfs.0'), part(2, 'ext4', 100, null, 'rootfs.1'), part(3, 'ext4', 40, null, 'persistent')]
    expect(abPartner(rauc, rauc[0]!)?.number).toBe(2)
    expect(persistentCandidates(rauc, [rauc[0]!, rauc[1]!]).map((p) => selectorFor(p))).toEqual(['name=persistent'])
  })

  it('needs the same file-system type and size', () => {
    const sizes = [part(1, 'ext4', 100, 'rootfsA'), part(2, 'ext4', 120, 'rootfsB')]
    expect(abPartner(sizes, sizes[0]!)).toBeUndefined()
    const types = [part(1, 'ext4', 100, 'rootfsA'), part(2, 'ext3', 100, 'rootfsB')]
    expect(abPartner(types, types[0]!)).toBeUndefined()
  })
})
