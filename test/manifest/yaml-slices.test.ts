// Large block-style YAML is parsed a slice of items at a time (memory); it must give exactly what
// parsing the whole document gives: the same devices, lines and problems.
import { describe, expect, it } from 'vitest'
import { DeviceCollector } from '../../src/manifest/rows.js'
import { readYaml } from '../../src/manifest/yaml.js'

function read(text: string, options: { itemsPerSlice?: number; slice?: boolean }): unknown {
  const rows = new DeviceCollector('/fleet/m.yaml')
  try {
    return rows.finish(readYaml(text, rows, options))
  } catch (error) {
    return (error as Error).message
  }
}

function expectSameBothWays(text: string): unknown {
  const whole = read(text, { slice: false })
  for (const itemsPerSlice of [1, 2, 3, 1000]) expect(read(text, { itemsPerSlice })).toEqual(whole)
  return whole
}

const rootList = `# fleet A
- serial: A1
  device-id: "aa:bb:cc:dd:ee:01"
  note: |
    two lines,
    - not an item
# between items, at column 0

- serial: A2
  note: >-
    folded
    text
  site: "quoted
    over two lines"
-   serial: A3
    rack: 007
- {serial: A4, site: flow}
-
  serial: A5
  plain: multi
    line plain
`

const wrapped = `fleet: A
owners:
- ops
- dev
devices:
  # comment inside the list
  - serial: B1
    site: x

  - serial: B2
# comment at column 0
  - serial: B3
    tags: a-b
firmware:
  version: 2
`

describe('YAML slices', () => {
  it('a root list with comments, block scalars and multi-line scalars', () => {
    const devices = expectSameBothWays(rootList) as Array<{ serial: string; source: { line: number }; fields: Record<string, string> }>
    expect(devices.map((d) => [d.serial, d.source.line])).toEqual([
      ['A1', 2],
      ['A2', 9],
      ['A3', 15],
      ['A4', 17],
      ['A5', 19] // the mapping starts on the line after the bare "-"
    ])
    expect(devices[0]?.fields.note).toBe('two lines,\n- not an item\n') // as YAML reads it: a "|" block keeps its final newline
    expect(devices[1]?.fields.site).toBe('quoted over two lines')
    expect(devices[2]?.fields.rack).toBe('007')
  })

  it('the same with CRLF line ends', () => {
    expectSameBothWays(rootList.replace(/\n/g, '\r\n'))
  })

  it('a devices list inside a mapping with keys before and after it', () => {
    const devices = expectSameBothWays(wrapped) as Array<{ serial: string; source: { line: number } }>
    expect(devices.map((d) => [d.serial, d.source.line])).toEqual([
      ['B1', 7],
      ['B2', 10],
      ['B3', 12]
    ])
    expectSameBothWays(wrapped.replace(/^ {2}(?=[- ])/gm, ''))
  })

  it('anchors defined above the list, merged and aliased in its items: the same in slices', () => {
    const text = [
      'defaults: &d',
      '  site: berlin',
      '  region: eu',
      'gateway: &gw "gw-1"',
      'devices:',
      '  - <<: *d',
      '    serial: G1',
      '  - <<: *d',
      '    serial: G2',
      '    site: lisbon',
      '    gateway: *gw',
      '  - serial: G3',
      '    <<: [*d]',
      '  - <<: *d',
      '    serial: G/4',
      ''
    ].join('\n')
    const message = expectSameBothWays(text) as string
    expect(message).toMatch(/^\/fleet\/m\.yaml:14: serial "G\/4" contains "\/"/)
    const devices = expectSameBothWays(text.replace('G/4', 'G4')) as Array<{ serial: string; source: { line: number }; fields: Record<string, string> }>
    expect(devices.map((d) => [d.serial, d.source.line, d.fields.site, d.fields.region, d.fields.gateway])).toEqual([
      ['G1', 6, 'berlin', 'eu', undefined],
      ['G2', 8, 'lisbon', 'eu', 'gw-1'],
      ['G3', 12, 'berlin', 'eu', undefined],
      ['G4', 14, 'berlin', 'eu', undefined]
    ])
  })

  it('an anchor inside the list (read whole) is found by items after it', () => {
    const text = '- &first\n  serial: H1\n  site: oslo\n- <<: *first\n  serial: H2\n- serial: H3\n  site: *first\n'
    const message = read(text, { slice: false }) as string
    // The merge works; the alias of a mapping as a value is refused, naming the line.
    expect(message).toBe('/fleet/m.yaml:7: field "site" is a mapping; values must be text, numbers or booleans (input "manifest")')
    const devices = read(text.replace('  site: *first\n', ''), {}) as Array<{ serial: string; fields: Record<string, string> }>
    expect(devices.map((d) => [d.serial, d.fields.site])).toEqual([
      ['H1', 'oslo'],
      ['H2', 'oslo'],
      ['H3', undefined]
    ])
  })

  it('row problems keep their lines across slices', () => {
    const text = '- serial: C1\n- serial: C/2\n- serial: C1\n- serial: C4\n  meta:\n    a: 1\n- serial: C5\n  device-id: "x y"\n'
    const message = expectSameBothWays(text) as string
    const lines = message.split('\n')
    expect(lines.pop()).toBe('Input "manifest": 4 problems in /fleet/m.yaml.')
    expect(lines.map((l) => l.replace(/:\s.*$/, ''))).toEqual(['/fleet/m.yaml:2', '/fleet/m.yaml:3', '/fleet/m.yaml:5', '/fleet/m.yaml:7'])
  })

  it('syntax errors inside an item and around the list are reported on their lines', () => {
    const inItem = '- serial: D1\n- serial: D2\n  site: x: y\n- serial: D3\n'
    expect(read(inItem, { itemsPerSlice: 1 })).toMatch(/^\/fleet\/m\.yaml:3: not valid YAML/)
    expect(read(inItem, { itemsPerSlice: 1 })).toEqual(read(inItem, { slice: false }))
    const unclosed = '- serial: D1\n- serial: D2\n  note: "open\n- serial: D3\n- serial: D/4\n'
    expect(read(unclosed, { itemsPerSlice: 1 })).toEqual(read(unclosed, { slice: false }))
    const twice = 'devices:\n  - serial: E1\ndevices:\n  - serial: E2\n'
    expect(read(twice, { itemsPerSlice: 1 })).toMatch(/^\/fleet\/m\.yaml:3: not valid YAML: Map keys must be unique/)
    const after = '- serial: F1\n- serial: F2\nnot: a list item\n'
    expect(read(after, { itemsPerSlice: 1 })).toEqual(read(after, { slice: false }))
  })
})
