import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { readDeviceManifest, parseDeviceManifest } from '../../src/manifest/read.js'
import type { Device } from '../../src/manifest/types.js'
import { FIXTURES, manifestFile } from './helpers.js'

const fixture = (name: string): string => path.join(FIXTURES, name)
const summary = (devices: Device[]) => devices.map((d) => [d.serial, d.deviceId, d.source.line])

describe('CSV', () => {
  it('reads the header, keeps cells as written (spaces too), keeps quoted commas and extra columns, resolves csr', async () => {
    const file = fixture('devices.csv')
    const devices = await readDeviceManifest(file)
    expect(summary(devices)).toEqual([
      ['SN-0001', 'aa:bb:cc:dd:ee:01', 2],
      ['SN-0002', 'SN-0002', 3],
      ['SN-0003', 'sensor-3', 4]
    ])
    expect(devices[0]?.fields).toEqual({
      serial: 'SN-0001',
      'device-id': 'aa:bb:cc:dd:ee:01',
      csr: '',
      site: 'Berlin',
      note: 'first, with a comma'
    })
    expect(devices[2]?.fields.note).toBe('  padded  ')
    expect(devices[0]?.csr).toBeUndefined()
    expect(devices[2]?.csr).toBe(path.join(FIXTURES, 'csr/SN-0003.csr'))
    expect(devices[1]?.source).toEqual({ file, line: 3 })
  })

  it('accepts a BOM, CRLF line ends, multi-line quoted values and keeps line numbers exact', async () => {
    const text = '\ufeffserial,note\r\nA1,"two\r\nlines"\r\n\r\nA2,"x, ""quoted"""\r\n,,\r\nA3,last'
    const devices = await readDeviceManifest(manifestFile('fleet.csv', text))
    expect(summary(devices)).toEqual([
      ['A1', 'A1', 2],
      ['A2', 'A2', 5],
      ['A3', 'A3', 7]
    ])
    expect(devices[0]?.fields.note).toBe('two\nlines')
    expect(devices[1]?.fields.note).toBe('x, "quoted"')
    expect(Object.keys(devices[0]?.fields ?? {})).toEqual(['serial', 'note', 'device-id'])
  })

  it('takes ";" or tab as the separator when the header uses it', async () => {
    const semi = await readDeviceManifest(manifestFile('semi.csv', 'serial;site\nA1;Berlin, Mitte\n'))
    expect(semi[0]?.fields.site).toBe('Berlin, Mitte')
    const tab = await readDeviceManifest(manifestFile('tab.csv', 'serial\tsite\nA1\tOslo\n'))
    expect(tab[0]?.fields).toEqual({ serial: 'A1', site: 'Oslo', 'device-id': 'A1' })
  })

  it('treats device-id, device_id and deviceId as one field', async () => {
    for (const column of ['device-id', 'device_id', 'deviceId']) {
      const devices = await readDeviceManifest(manifestFile('ids.csv', `serial,${column}\nA1,aa:bb:cc:dd:ee:ff\n`))
      expect(devices[0]?.deviceId).toBe('aa:bb:cc:dd:ee:ff')
      expect(devices[0]?.fields['device-id']).toBe('aa:bb:cc:dd:ee:ff')
      expect(devices[0]?.fields[column]).toBe('aa:bb:cc:dd:ee:ff')
    }
  })

  it('accepts a row with fewer cells (missing trailing values are empty)', async () => {
    const devices = await readDeviceManifest(manifestFile('short.csv', 'serial,device-id,site\nA1\n'))
    expect(devices[0]?.deviceId).toBe('A1')
    expect(devices[0]?.fields.site).toBe('')
  })
})

describe('JSON', () => {
  it('reads an array of objects with the line each object starts on', async () => {
    const devices = await readDeviceManifest(fixture('devices.json'))
    expect(summary(devices)).toEqual([
      ['SN-0001', 'aa:bb:cc:dd:ee:01', 2],
      ['SN-0002', 'SN-0002', 3],
      ['SN-0003', 'sensor-3', 9]
    ])
    // Numbers and booleans become text; the deviceId alias is kept next to the canonical key.
    expect(devices[1]?.fields).toEqual({ serial: 'SN-0002', site: 'Lisbon', rack: '7', active: 'true', 'device-id': 'SN-0002' })
    expect(devices[2]?.fields).toMatchObject({ deviceId: 'sensor-3', 'device-id': 'sensor-3' })
    expect(devices[2]?.csr).toBe(path.join(FIXTURES, 'csr/SN-0003.csr'))
  })

  it('reads {"devices": [...]}', async () => {
    const devices = await readDeviceManifest(fixture('devices-wrapped.json'))
    expect(summary(devices)).toEqual([
      ['SN-0001', 'aa:bb:cc:dd:ee:01', 4],
      ['SN-0002', 'SN-0002', 5]
    ])
    expect(devices[0]?.fields.device_id).toBe('aa:bb:cc:dd:ee:01')
  })

  it('finds lines in a one-line file, with strings that hold brackets, and after a BOM', async () => {
    const text = '\ufeff[{"serial":"A1","note":"[{\\"}],"},\n {"serial":"A2","nested":"}"}, {"serial":"A3"}]'
    expect(summary(await readDeviceManifest(manifestFile('one.json', text)))).toEqual([
      ['A1', 'A1', 1],
      ['A2', 'A2', 2],
      ['A3', 'A3', 2]
    ])
  })

  it('treats null as not given and keeps strings as written', async () => {
    const devices = await readDeviceManifest(manifestFile('n.json', '[{"serial":"A1","device-id":null,"csr":null,"site":" x "}]'))
    expect(devices[0]?.fields.site).toBe(' x ')
    expect(devices[0]).toMatchObject({ serial: 'A1', deviceId: 'A1' })
    expect(devices[0]?.csr).toBeUndefined()
  })
})

describe('JSON Lines', () => {
  it('reads one object per line, skipping blank lines, with exact line numbers', async () => {
    const devices = await readDeviceManifest(fixture('devices.jsonl'))
    expect(summary(devices)).toEqual([
      ['SN-0001', 'aa:bb:cc:dd:ee:01', 1],
      ['SN-0002', 'SN-0002', 3],
      ['SN-0003', 'SN-0003', 4]
    ])
    expect(devices[1]?.fields.site).toBe('Lisbon')
  })

  it('accepts CRLF and a BOM', async () => {
    const devices = await readDeviceManifest(manifestFile('crlf.jsonl', '\ufeff{"serial":"A1"}\r\n\r\n{"serial":"A2"}\r\n'))
    expect(summary(devices)).toEqual([
      ['A1', 'A1', 1],
      ['A2', 'A2', 3]
    ])
  })
})

describe('YAML', () => {
  it('reads a sequence of mappings, keeping values as written', async () => {
    const devices = await readDeviceManifest(fixture('devices.yaml'))
    expect(summary(devices)).toEqual([
      ['SN-0001', 'aa:bb:cc:dd:ee:01', 2],
      ['SN-0002', 'SN-0002', 5],
      ['SN-0003', 'sensor-3', 10]
    ])
    // 007 would be the number 7; the manifest means the text.
    expect(devices[1]?.fields).toEqual({ serial: 'SN-0002', site: 'Lisbon', rack: '007', active: 'true', 'device-id': 'SN-0002' })
    expect(devices[2]?.csr).toBe(path.join(FIXTURES, 'csr/SN-0003.csr'))
  })

  it('reads {devices: [...]} with anchors and << merges (own fields win)', async () => {
    const devices = await readDeviceManifest(fixture('devices-wrapped.yml'))
    expect(summary(devices)).toEqual([
      ['SN-0001', 'aa:bb:cc:dd:ee:01', 5],
      ['SN-0002', 'SN-0002', 8]
    ])
    expect(devices[0]?.fields).toMatchObject({ site: 'Berlin', firmware: '2.1', device_id: 'aa:bb:cc:dd:ee:01' })
    expect(devices[1]?.fields).toMatchObject({ site: 'Lisbon', firmware: '2.1' })
  })

  it('reads flow style and numeric serials as written', async () => {
    const devices = parseDeviceManifest('[{serial: 00123}, {serial: "0x1F", device-id: 1.50}]\n', '/tmp/x.yml')
    expect(summary(devices)).toEqual([
      ['00123', '00123', 1],
      ['0x1F', '1.50', 1]
    ])
  })
})

describe('every format gives the same devices', () => {
  it('CSV, JSON, JSONL and YAML agree on serials, IDs and csr', async () => {
    const shape = (devices: Device[]) => devices.map((d) => ({ serial: d.serial, deviceId: d.deviceId, csr: d.csr }))
    const csv = shape(await readDeviceManifest(fixture('devices.csv')))
    expect(shape(await readDeviceManifest(fixture('devices.json')))).toEqual(csv)
    expect(shape(await readDeviceManifest(fixture('devices.yaml')))).toEqual(csv)
    const jsonl = shape(await readDeviceManifest(fixture('devices.jsonl')))
    expect(jsonl.map((d) => d.serial)).toEqual(csv.map((d) => d.serial))
  })

  it('accepts upper-case extensions', async () => {
    expect(await readDeviceManifest(manifestFile('FLEET.CSV', 'serial\nA1\n'))).toHaveLength(1)
  })
})
