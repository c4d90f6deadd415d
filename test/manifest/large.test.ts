// The design's scale: 100,000 devices. No timing assertions; it must simply work.
import { describe, expect, it } from 'vitest'
import { readDeviceManifest, selectShard } from '../../src/manifest/read.js'
import { manifestFile } from './helpers.js'

describe('100,000 devices', () => {
  it('reads a 100,000-row CSV and splits it into shards covering each device once', async () => {
    const count = 100_000
    const rows = ['serial,device-id,site,note']
    for (let k = 0; k < count; k++) {
      const mac = k
        .toString(16)
        .padStart(12, '0')
        .replace(/(..)(?!$)/g, '$1:')
      rows.push(`SN-${String(k).padStart(6, '0')},${mac},site-${k % 17},"row ${k}, ok"`)
    }
    const file = manifestFile('fleet.csv', `${rows.join('\r\n')}\r\n`)
    const devices = await readDeviceManifest(file)
    expect(devices).toHaveLength(count)
    expect(devices[count - 1]).toMatchObject({ serial: 'SN-099999', deviceId: '00:00:00:01:86:9f', source: { line: count + 1 } })
    expect(devices[0]?.fields.note).toBe('row 0, ok')

    const n = 8
    const seen = new Set<string>()
    let total = 0
    for (let index = 1; index <= n; index++) {
      const shard = selectShard(devices, { index, count: n })
      total += shard.length
      for (const d of shard) seen.add(d.serial)
    }
    expect(total).toBe(count)
    expect(seen.size).toBe(count)
  })

  it('reads a 20,000-device YAML list in slices with exact lines', async () => {
    const count = 20_000
    const rows = ['fleet: big', 'devices:']
    for (let k = 0; k < count; k++) rows.push(`  - serial: Y${k}`, `    site: "s${k % 5}"`)
    rows.push('owner: ops')
    const devices = await readDeviceManifest(manifestFile('fleet.yaml', `${rows.join('\n')}\n`))
    expect(devices).toHaveLength(count)
    expect(devices[count - 1]).toMatchObject({ serial: `Y${count - 1}`, source: { line: 2 * count + 1 } })
  })
})
