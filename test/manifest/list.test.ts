// The compact device list a bake keeps: each device it makes on demand must be the object the
// reader would have made, and its serial index must find exactly the listed serials.
import { describe, expect, it } from 'vitest'
import { RowIndex } from '../../src/manifest/list.js'
import { parseDeviceList, selectShard, selectShardOf } from '../../src/manifest/read.js'
import { DeviceCollector } from '../../src/manifest/rows.js'
import { readCsv } from '../../src/manifest/csv.js'

describe('DeviceList', () => {
  const csv = 'serial,device-id,site,csr\nA1,,Oslo,\nb2,id-2,,b2.csr\nC3,,,\n'
  const yaml = '- serial: A1\n- serial: B2\n  device-id: x\n- {device-id: y, serial: C3}\n- serial: D4\n  deviceId: z\n'

  for (const [name, text] of [
    ['m.csv', csv],
    ['m.yaml', yaml],
    ['m.jsonl', '{"serial":"A1"}\n{"serial":"B2","device_id":"q","n":"1"}\n']
  ] as const) {
    it(`makes the same devices as the object reader (${name})`, () => {
      const format = name.endsWith('.csv') ? 'csv' : name.endsWith('.yaml') ? 'yaml' : 'jsonl'
      const list = parseDeviceList(text, `/fleet/${name}`, format)
      const objects = [...list]
      expect(list.toArray()).toEqual(objects)
      for (let row = 0; row < list.length; row++) {
        // Same keys in the same order (messages list them).
        expect(Object.keys(list.device(row).fields)).toEqual(Object.keys(objects[row]!.fields))
        expect(list.indexOf(list.serial(row))).toBe(row)
      }
      expect(list.has('nope')).toBe(false)
      // Exact: the index is case-folded, the answer is not.
      expect(list.has('a1')).toBe(false)
    })
  }

  it('keeps every field, the csr path and the line', () => {
    const list = parseDeviceList(csv, '/fleet/m.csv', 'csv')
    expect(list.device(1)).toEqual({
      serial: 'b2',
      deviceId: 'id-2',
      csr: '/fleet/b2.csr',
      fields: { serial: 'b2', 'device-id': 'id-2', site: '', csr: 'b2.csr' },
      source: { file: '/fleet/m.csv', line: 3 }
    })
    expect(list.device(0).fields).toEqual({ serial: 'A1', 'device-id': 'A1', site: 'Oslo', csr: '' })
    const bare = parseDeviceList('serial\nS1\nS2\n', '/fleet/b.csv', 'csv')
    expect(bare.device(1)).toEqual({ serial: 'S2', deviceId: 'S2', fields: { serial: 'S2', 'device-id': 'S2' }, source: { file: '/fleet/b.csv', line: 3 } })
  })

  it('selects a shard as selectShard does', () => {
    const text = `serial\n${Array.from({ length: 500 }, (_, k) => `S${k}`).join('\n')}\n`
    const list = parseDeviceList(text, '/fleet/m.csv', 'csv')
    for (const index of [1, 2, 3]) {
      const shard = selectShardOf(list, { index, count: 3 })
      expect(shard.toArray()).toEqual(selectShard(list.toArray(), { index, count: 3 }))
      for (let row = 0; row < shard.length; row++) expect(shard.indexOf(shard.serial(row))).toBe(row)
      expect(shard.has('S-none')).toBe(false)
    }
    expect(selectShardOf(list, { index: 1, count: 1 })).toBe(list)
  })

  it('still reports duplicates, case-folded serials and duplicate IDs with their lines', () => {
    const rows = new DeviceCollector('/fleet/d.csv')
    readCsv('serial,device-id\nAB,x\nab,y\nAB,z\nC,x\nD,y\nE,\nF,E\n', rows)
    let message = ''
    try {
      rows.finishList({ line: 1, message: 'empty' })
    } catch (error) {
      message = (error as Error).message
    }
    expect(message).toContain('/fleet/d.csv:3: serial "ab" (line 3) and serial "AB" (line 2) differ only in case')
    expect(message).toContain('/fleet/d.csv:4: duplicate serial "AB" on lines 2 and 4')
    expect(message).toContain('/fleet/d.csv:5: duplicate device-id "x" on lines 2 and 5')
    // A rejected row's device ID still counts.
    expect(message).toContain('/fleet/d.csv:6: duplicate device-id "y" on lines 3 and 6')
    expect(message).toContain('/fleet/d.csv:8: duplicate device-id "E" on lines 7 and 8')
    expect(rows.problems.size).toBe(5)
  })
})

describe('RowIndex', () => {
  it('finds every key among many, and nothing else, through growth', () => {
    const keys = Array.from({ length: 20_000 }, (_, k) => `K-${k.toString(36)}`)
    const index = new RowIndex((row) => keys[row]!)
    keys.forEach((_, row) => index.add(row))
    expect(index.size).toBe(keys.length)
    for (const [row, key] of keys.entries()) expect(index.find(key)).toBe(row)
    expect(index.find('K-none')).toBe(-1)
    const folded = new RowIndex((row) => keys[row]!, true)
    keys.forEach((_, row) => folded.add(row))
    expect(folded.find('k-A')).toBe(keys.indexOf('K-a'))
    expect(folded.find('K-a-')).toBe(-1)
  })
})
