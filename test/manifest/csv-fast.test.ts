// CSV manifests without quotes are split by hand (src/manifest/csv.ts): for any such text the
// devices, or the problems reported, are exactly what csv-parse's reading gives.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { readCsv } from '../../src/manifest/csv.js'
import { DeviceCollector } from '../../src/manifest/rows.js'

function read(text: string, parser: 'auto' | 'csv-parse'): unknown {
  const rows = new DeviceCollector('devices.csv')
  const empty = readCsv(text, rows, { parser })
  try {
    return { devices: rows.finish(empty) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

const cell = fc.oneof(
  fc.constantFrom('', ' ', 'A1', 'A2', ' A3 ', 'a1', 'x', 'dev-1', 'serial', 'device-id', 'site', 'csr', 'é', '.hidden', 'has space', '\u00a0B\u00a0'),
  fc.stringMatching(/^[A-Za-z0-9 ._:-]{0,8}$/)
)

describe('CSV without quotes: the hand split reads what csv-parse reads', () => {
  it('for generated manifests (header, rows, blank lines, ragged rows, both delimiters)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(',', ';'),
        fc.array(fc.constantFrom('serial', 'device-id', 'site', 'Serial', '', 'csr', 'deviceId'), { minLength: 1, maxLength: 4 }),
        fc.array(fc.oneof(fc.array(cell, { minLength: 0, maxLength: 5 }), fc.constant([] as string[])), { maxLength: 12 }),
        fc.boolean(),
        (delimiter, header, rows, trailingNewline) => {
          const lines = [header.join(delimiter), ...rows.map((row) => row.join(delimiter))]
          const text = lines.join('\n') + (trailingNewline ? '\n' : '')
          expect(read(text, 'auto')).toEqual(read(text, 'csv-parse'))
        }
      ),
      { numRuns: 400 }
    )
  })

  it('for fixed cases: leading blank lines, only separators, CRLF, a missing header column', () => {
    for (const text of [
      '\n\nserial,site\nA1,x\n,,\nA2,y',
      'serial\r\nA1\r\nA2\r\n',
      'site\nA1\n',
      'serial;device-id\nA1;d1\nA2;d1\n',
      'serial,site\nA1,x,extra\n',
      '  \n serial \n A1 \n'
    ]) {
      expect(read(text, 'auto')).toEqual(read(text, 'csv-parse'))
    }
  })
})
