import { describe, expect, it } from 'vitest'
import { ManifestError } from '../../src/errors.js'
import { ManifestProblemsError, readDeviceManifest } from '../../src/manifest/read.js'
import { errorFor, manifestError, manifestFile } from './helpers.js'

describe('malformed files', () => {
  it('CSV with an unclosed quote: the row that opens it', async () => {
    const e = await errorFor('bad.csv', 'serial,note\nA1,ok\n\nA2,"never closed\nA3,x\nA4,y\n', 4)
    expect(e.message).toMatch(/never closed/)
  })

  it('CSV with text after a closing quote', async () => {
    const e = await errorFor('bad.csv', 'serial,note\nA1,ok\nA2,"a"b\n', 3)
    expect(e.message).toMatch(/not valid CSV/)
  })

  it('JSON: missing colon (V8 gives a position)', async () => {
    const e = await errorFor('bad.json', '[\n  {"serial": "A1"},\n  {"serial" "A2"}\n]\n', 3)
    expect(e.message).toMatch(/not valid JSON: Expected ':' after property name \(column 13\)/)
  })

  it('JSON: unexpected token (V8 gives no position; our scanner finds it)', async () => {
    const e = await errorFor('bad.json', '[\n  {"serial": "A1"},\n\n  {"serial": A2}\n]\n', 4)
    expect(e.message).toMatch(/Unexpected token 'A' \(column 14\)/)
  })

  it('JSON: trailing comma', async () => {
    await errorFor('bad.json', '[\n  {"serial": "A1"},\n  {"serial": "A2"},\n]\n', 4)
  })

  it('JSON: cut off at the end points at the last line with content', async () => {
    const e = await errorFor('bad.json', '[\n  {"serial": "A1"},\n  {"serial": "A2"\n\n', 3)
    expect(e.message).toMatch(/Expected ',' or '}' after property value/)
    await errorFor('cut.json', '[\n  {"serial": "A1"},\n  {"ser', 3)
  })

  it('JSON: a single object instead of a list', async () => {
    const e = await errorFor('one.json', '\n{"serial": "A1"}\n', 2)
    expect(e.message).toMatch(/looks like one device/)
  })

  it('JSON: "devices" that is not an array', async () => {
    await errorFor('w.json', '{\n  "devices":\n    {"serial": "A1"}\n}\n', 3)
  })

  it('YAML: the parser line for bad indentation and an unclosed flow sequence', async () => {
    const e = await errorFor('bad.yaml', '- serial: A1\n  site: x\n - serial: A2\n', 3)
    expect(e.message).toMatch(/bad\.yaml:3: not valid YAML: All sequence items must start at the same column/)
    await errorFor('flow.yaml', '- serial: A1\n- serial: [A2\n  site: x\n- serial: A3\n', 3)
  })

  it('YAML: duplicate key in a row', async () => {
    const e = await errorFor('dup.yaml', '- serial: A1\n- serial: A2\n  serial: A3\n', 3)
    expect(e.message).toMatch(/unique/)
  })

  it('YAML: an alias to an undefined anchor', async () => {
    await errorFor('alias.yaml', '- serial: A1\n- serial: A2\n  site: *nowhere\n', 3)
  })

  it('JSONL: a bad line 3 (and a non-object on line 5) are both reported', async () => {
    const e = await errorFor('bad.jsonl', '{"serial":"A1"}\n{"serial":"A2"}\n{"serial":"A3",}\n\n["A5"]\n{"serial":"A6"}\n', 3)
    expect(e.message).toMatch(/bad\.jsonl:3: not valid JSON/)
    expect(e.message).toMatch(/bad\.jsonl:5: a device must be an object/)
  })

  it('UTF-16 files are refused with a hint', async () => {
    const e = await manifestError(manifestFile('u16.csv', Buffer.from('\ufeffserial\nA1\n', 'utf16le')), 1)
    expect(e.message).toMatch(/UTF-8/)
  })
})

describe('empty manifests', () => {
  const cases: Array<[string, string, number]> = [
    ['empty.csv', '', 1],
    ['blank.csv', '\n\n', 1],
    ['header-only.csv', '\nserial,device-id\n\n', 2],
    ['empty.json', '', 1],
    ['array.json', '\n[ ]\n', 2],
    ['wrapped.json', '{\n  "devices": []\n}\n', 2],
    ['empty.jsonl', '\n\n', 1],
    ['empty.yaml', '# nothing\n', 1],
    ['seq.yaml', '[]\n', 1],
    ['wrapped.yml', 'fleet: a\ndevices: []\n', 2],
    ['null.yml', 'devices:\n', 1]
  ]
  for (const [name, text, line] of cases) {
    it(name, async () => {
      const e = await errorFor(name, text, line)
      expect(e.message).toMatch(/empty|no devices|no device rows/)
    })
  }
})

describe('rows', () => {
  it('missing serial column names the columns and hints at case', async () => {
    const e = await errorFor('cols.csv', 'Serial,device-id\nA1,x\n', 1)
    expect(e.message).toMatch(/no "serial" column/)
    expect(e.message).toMatch(/found "Serial" \(column names are case-sensitive\)/)
  })

  it('missing serial field in a JSON row', async () => {
    const e = await errorFor('m.json', '[\n{"serial":"A1"},\n{"device-id":"x"}\n]', 3)
    expect(e.message).toMatch(/no "serial" field/)
    const cased = await errorFor('c.json', '[{"Serial":"A1"}]', 1)
    expect(cased.message).toMatch(/found "Serial"; field names are case-sensitive/)
  })

  it('empty serial cell', async () => {
    const e = await errorFor('e.csv', 'serial,site\nA1,x\n,y\n', 3)
    expect(e.message).toMatch(/serial is empty/)
  })

  it('a serial of spaces, or with a space at an end, is refused, not trimmed', async () => {
    const e = await errorFor('s.csv', 'serial,site\nA1,x\n ,y\n', 3)
    expect(e.message).toMatch(/serial " " has leading white space; values are taken as written, not trimmed/)
    const j = await errorFor('s.json', '[{"serial": "A1 "}]', 1)
    expect(j.message).toMatch(/serial "A1 " has trailing white space/)
  })

  it('duplicate serial names both lines', async () => {
    const e = await errorFor('dup.csv', 'serial\nA1\nA2\nA3\nA1\n', 5)
    expect(e.message).toContain('duplicate serial "A1" on lines 2 and 5')
    expect(e.message).toBe(`${e.file}:5: duplicate serial "A1" on lines 2 and 5; serials must be unique (input "manifest")`)
  })

  it('serials that differ only in case are duplicates', async () => {
    const e = await errorFor('case.csv', 'serial\nab-1\nAB-1\n', 3)
    expect(e.message).toMatch(/differ only in case/)
    expect(e.message).toMatch(/line 2/)
  })

  it('duplicate device-id names both lines (also when one is the default)', async () => {
    const e = await errorFor('dupid.yaml', '- serial: A1\n  device-id: "aa:bb"\n- serial: A2\n- serial: A3\n  device-id: "aa:bb"\n', 4)
    expect(e.message).toContain('duplicate device-id "aa:bb" on lines 1 and 4')
    await errorFor('dupdefault.csv', 'serial,device-id\nA1,\nA2,A1\n', 3)
  })

  it('device-id and device_id that disagree', async () => {
    const e = await errorFor('two.json', '[{"serial":"A1","device-id":"x","device_id":"y"}]', 1)
    expect(e.message).toMatch(/disagree/)
  })

  const badSerials: Array<[string, RegExp]> = [
    ['a/b', /contains "\/"/],
    ['..', /must not start with "."/],
    ['.hidden', /must not start with "."/],
    ['back\\slash', /contains "\\\\"/],
    ['with space', /contains space/],
    ['x'.repeat(65), /65 characters long; at most 64/]
  ]
  for (const [serial, message] of badSerials) {
    it(`serial ${JSON.stringify(serial.length > 20 ? `${serial.slice(0, 8)}… (${serial.length})` : serial)} is refused`, async () => {
      const e = await errorFor('bad.json', `[\n{"serial":"ok-1"},\n${JSON.stringify({ serial: serial })}\n]`, 3)
      expect(e.message).toMatch(message)
    })
  }

  it('64-character serials and device IDs are fine; 65-character device IDs are not', async () => {
    const ok = 'x'.repeat(64)
    expect(await readDeviceManifest(manifestFile('ok.csv', `serial,device-id\n${ok},${ok}\n`))).toHaveLength(1)
    await errorFor('long.csv', `serial,device-id\nA1,${'y'.repeat(65)}\n`, 2)
  })

  it('device-id with a character outside the set', async () => {
    const e = await errorFor('id.csv', 'serial,device-id\nA1,dev/1\n', 2)
    expect(e.message).toMatch(/device-id "dev\/1" contains "\/"/)
  })

  it('nested object value names the field and its own line (JSON)', async () => {
    const e = await errorFor('nested.json', '[\n  {\n    "serial": "A1",\n    "meta": { "a": 1 }\n  }\n]\n', 4)
    expect(e.message).toMatch(/field "meta" is an object/)
  })

  it('nested list value (YAML) and nested object (JSONL)', async () => {
    const y = await errorFor('nested.yaml', '- serial: A1\n  tags:\n    - a\n', 2)
    expect(y.message).toMatch(/field "tags" is a list/)
    const j = await errorFor('nested.jsonl', '{"serial":"A1"}\n{"serial":"A2","x":{"y":1}}\n', 2)
    expect(j.message).toMatch(/field "x" is an object/)
  })

  it('a JSON number too large to keep its digits', async () => {
    const e = await errorFor('big.json', '[{"serial": 12345678901234567890}]', 1)
    expect(e.message).toMatch(/write it as a string/)
  })

  it('a CSV row with more values than columns', async () => {
    const e = await errorFor('wide.csv', 'serial,site\nA1,Berlin,Mitte\n', 2)
    expect(e.message).toMatch(/must be quoted/)
  })

  it('lists up to ten problems, first line first, and counts the rest', async () => {
    const rows = ['serial', 'ok-1']
    for (let k = 0; k < 12; k++) rows.push(`bad/${k}`)
    rows.push('ok-1')
    const file = manifestFile('many.csv', `${rows.join('\n')}\n`)
    const e = (await manifestError(file, 3)) as ManifestProblemsError
    expect(e).toBeInstanceOf(ManifestProblemsError)
    const listed = e.message.split('\n')
    expect(listed).toHaveLength(11)
    expect(listed[10]).toBe(`Input "manifest": 13 problems in ${file}; the first 10 are listed.`)
    expect(listed[0]).toMatch(/many\.csv:3: serial "bad\/0"/)
    expect(listed[9]).toMatch(/many\.csv:12: serial "bad\/9"/)
    expect(e.total).toBe(13)
    expect(e.problems.map((p) => p.line)).toEqual([3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15])
  })
})

describe('the file itself', () => {
  it('unknown extension names the file and the accepted ones', async () => {
    const file = manifestFile('devices.txt', 'serial\nA1\n')
    const e = await manifestError(file, undefined)
    expect(e.message).toContain(file)
    expect(e.message).toMatch(/Input "manifest": .* has the extension \.txt; use one of \.csv, \.json, \.jsonl, \.yaml, \.yml/)
    const none = await manifestError(manifestFile('devices', 'serial\nA1\n'), undefined)
    expect(none.message).toMatch(/has no file extension/)
  })

  it('file not found names the path and the manifest input', async () => {
    const file = '/nonexistent/credbake/devices.csv'
    const e = await manifestError(file, undefined)
    expect(e.message).toContain(file)
    expect(e.message).toMatch(/manifest/)
    expect(e.message).toMatch(/not found/)
  })

  it('a directory is not a manifest', async () => {
    const dir = manifestFile('x.csv', '').replace(/x\.csv$/, 'sub.csv')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(dir)
    const e = await readDeviceManifest(dir).catch((error: unknown) => error)
    expect(e).toBeInstanceOf(ManifestError)
    expect((e as Error).message).toMatch(/is a directory/)
  })
})
