import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { selectShard, shardOf } from '../../src/manifest/read.js'
import { parseShard } from '../../src/settings/shard.js'
import type { Device } from '../../src/manifest/types.js'

const device = (serial: string, line = 1): Device => ({
  serial,
  deviceId: serial,
  fields: { serial, 'device-id': serial },
  source: { file: 'm.csv', line }
})

describe('parseShard', () => {
  it('reads i/n', () => {
    expect(parseShard('1/1')).toEqual({ index: 1, count: 1 })
    expect(parseShard('2/8')).toEqual({ index: 2, count: 8 })
    expect(parseShard(' 8 / 8 ')).toEqual({ index: 8, count: 8 })
  })

  for (const text of ['0/2', '3/2', 'a/b', '1/0', '0/0', '', '2', '1/2/3', '-1/2', '1.5/2', '1 2']) {
    it(`refuses ${JSON.stringify(text)} naming the shard input`, () => {
      let error: unknown
      try {
        parseShard(text)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(InputError)
      expect((error as InputError).input).toBe('shard')
      expect((error as Error).message).toContain('shard')
      expect((error as Error).message).toContain(JSON.stringify(text))
    })
  }
})

describe('selectShard', () => {
  it('uses the first four bytes of SHA-256(serial), big-endian, modulo n, plus one', () => {
    for (const serial of ['A1', 'SN-0001', 'aa.bb_cc-dd']) {
      const expected = (createHash('sha256').update(serial).digest().readUInt32BE(0) % 8) + 1
      expect(shardOf(serial, 8)).toBe(expected)
    }
    // Pinned, so a change of the scheme (which would move devices between shards) is noticed.
    expect([shardOf('A1', 8), shardOf('SN-0001', 8), shardOf('SN-0001', 3)]).toEqual([
      (createHash('sha256').update('A1').digest().readUInt32BE(0) % 8) + 1,
      (createHash('sha256').update('SN-0001').digest().readUInt32BE(0) % 8) + 1,
      (createHash('sha256').update('SN-0001').digest().readUInt32BE(0) % 3) + 1
    ])
  })

  it('covers every device exactly once across n shards, independent of row order', () => {
    const devices = Array.from({ length: 5000 }, (_, k) => device(`SN-${String(k).padStart(5, '0')}`, k + 2))
    const reversed = [...devices].reverse()
    for (const count of [1, 2, 3, 7, 16]) {
      const seen = new Map<string, number>()
      for (let index = 1; index <= count; index++) {
        const part = selectShard(devices, { index, count })
        // Manifest order is kept within a shard.
        expect(part.map((d) => d.source.line)).toEqual([...part.map((d) => d.source.line)].sort((a, b) => a - b))
        for (const d of part) seen.set(d.serial, (seen.get(d.serial) ?? 0) + 1)
        const again = selectShard(reversed, { index, count })
          .map((d) => d.serial)
          .sort()
        expect(again).toEqual(part.map((d) => d.serial).sort())
        if (count > 1) expect(part.length).toBeGreaterThan((devices.length / count) * 0.8)
      }
      expect(seen.size).toBe(devices.length)
      expect([...seen.values()].every((n) => n === 1)).toBe(true)
    }
  })

  it('refuses an invalid shard object', () => {
    expect(() => selectShard([device('A1')], { index: 3, count: 2 })).toThrow(InputError)
    expect(() => selectShard([device('A1')], { index: 0, count: 2 })).toThrow(InputError)
  })
})
