// Text a reviewer can trust (docs/input-limits.md): values a subject or SAN template uses are
// refused when they hold control or format characters or white space at either end, in every
// format; serials Windows reserves are refused; device IDs that differ only in case are warned
// about; nothing is trimmed.
import { describe, expect, it } from 'vitest'
import { ManifestError } from '../../src/errors.js'
import { readDeviceManifest, type ManifestFormat } from '../../src/manifest/read.js'
import { hasUnsafeText } from '../../src/util/log-text.js'
import { manifestFile } from './helpers.js'

const TEMPLATE_FIELDS = { textFields: ['site', 'device-id'] }

/** One device whose `site` is `value`, written the way each format writes a string. */
function manifestWith(format: ManifestFormat, value: string): string {
  switch (format) {
    case 'csv':
      return `serial,site\nA1,"${value.replace(/"/g, '""')}"\n`
    case 'json':
      return `[\n  {"serial": "A1", "site": ${JSON.stringify(value)}}\n]\n`
    case 'jsonl':
      return `${JSON.stringify({ serial: 'A1', site: value })}\n`
    case 'yaml':
      // A double-quoted YAML scalar with every non-ASCII or control character as \uXXXX.
      return `- serial: A1\n  site: "${[...value].map((c) => (/[ -~]/.test(c) && c !== '"' && c !== '\\' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)).join('')}"\n`
  }
}

async function readWith(format: ManifestFormat, value: string): Promise<{ site?: string; error?: ManifestError }> {
  const file = manifestFile(`m.${format}`, manifestWith(format, value))
  try {
    const [device] = await readDeviceManifest(file, TEMPLATE_FIELDS)
    return { site: device?.fields.site }
  } catch (error) {
    expect(error).toBeInstanceOf(ManifestError)
    const e = error as ManifestError
    expect(e.file).toBe(file)
    expect(e.line).toBe(format === 'json' ? 2 : format === 'csv' ? 2 : 1)
    return { error: e }
  }
}

const FORMATS: ManifestFormat[] = ['csv', 'json', 'jsonl', 'yaml']

const MISLEADING: Array<[string, string, RegExp]> = [
  ['a line feed (C0)', 'Ber\nlin', /a control character \(U\+000A\)/],
  ['a tab (C0)', 'Ber\tlin', /a control character \(U\+0009\)/],
  ['an escape (C0)', 'Ber\u001b[31mlin', /a control character \(U\+001B\)/],
  ['DEL', 'Ber\u007flin', /a control character \(U\+007F\)/],
  ['NEL, U+0085 (C1)', 'Ber\u0085lin', /a control character \(U\+0085\)/],
  ['CSI, U+009B (C1)', 'Ber\u009blin', /a control character \(U\+009B\)/],
  ['a right-to-left override', 'Ber\u202elin', /a bidi control \(U\+202E\)/],
  ['a left-to-right embedding', '\u202aBerlin', /a bidi control \(U\+202A\)/],
  ['a first-strong isolate', 'Ber\u2068lin', /a bidi control \(U\+2068\)/],
  ['a right-to-left mark', 'Berlin\u200f', /a bidi control \(U\+200F\)/],
  ['a zero-width space', 'Ber\u200blin', /an invisible zero-width character \(U\+200B\)/],
  ['a zero-width joiner', 'Ber\u200dlin', /an invisible zero-width character \(U\+200D\)/],
  ['a word joiner', 'Ber\u2060lin', /an invisible zero-width character \(U\+2060\)/],
  ['a byte order mark inside', 'Ber\ufefflin', /an invisible zero-width character \(U\+FEFF\)/],
  ['a soft hyphen (other Cf)', 'Ber\u00adlin', /an invisible format character \(U\+00AD\)/],
  ['a line separator', 'Ber\u2028lin', /a line or paragraph separator \(U\+2028\)/]
]

describe('control and format characters in values a template uses', () => {
  for (const [name, value, why] of MISLEADING) {
    it(`${name}: refused in every format, naming the row and the field, never shown raw`, async () => {
      for (const format of FORMATS) {
        const { error } = await readWith(format, value)
        expect(error, `${format} accepted ${JSON.stringify(value)}`).toBeDefined()
        expect(error!.message).toMatch(why)
        expect(error!.message).toMatch(/field "site": value/)
        expect(error!.message).toMatch(/the subject or SAN uses this field/)
        expect(hasUnsafeText(error!.message), error!.message).toBe(false)
      }
    })
  }

  it('an unpaired surrogate (only JSON can write one) is refused too', async () => {
    const file = manifestFile('s.json', '[{"serial": "A1", "site": "Ber\\ud800lin"}]')
    const error = await readDeviceManifest(file, TEMPLATE_FIELDS).catch((e: unknown) => e as ManifestError)
    expect((error as ManifestError).message).toMatch(/an unpaired surrogate \(U\+D800\)/)
  })

  it('a field no template uses keeps them (it is never printed or certified)', async () => {
    const file = manifestFile('n.csv', 'serial,note\nA1,"line one\nline two\u202e"\n')
    const [device] = await readDeviceManifest(file, TEMPLATE_FIELDS)
    expect(device?.fields.note).toBe('line one\nline two\u202e')
  })

  it('the csr path is refused with them, whatever the templates', async () => {
    const file = manifestFile('c.jsonl', '{"serial": "A1", "csr": "a\\u202e.csr"}\n')
    const error = await readDeviceManifest(file).catch((e: unknown) => e as ManifestError)
    expect((error as ManifestError).message).toMatch(/csr path "a\\u202e\.csr" contains a bidi control \(U\+202E\)/)
  })
})

describe('white space at either end of a value', () => {
  it('is kept in a field no template uses, exactly as written, in every format', async () => {
    const file = (format: ManifestFormat): string => manifestFile(`k.${format}`, manifestWith(format, '  padded  ').replace(/site/g, 'note'))
    for (const format of FORMATS) {
      const [device] = await readDeviceManifest(file(format), TEMPLATE_FIELDS)
      expect(device?.fields.note, format).toBe('  padded  ')
    }
  })

  it('is refused in a field a template uses, in every format (never dropped)', async () => {
    for (const [value, edge] of [
      [' Berlin', 'leading'],
      ['Berlin ', 'trailing'],
      ['\u00a0Berlin', 'leading'],
      ['Berlin\u3000', 'trailing']
    ] as const) {
      for (const format of FORMATS) {
        const { error } = await readWith(format, value)
        expect(error?.message, `${format} ${JSON.stringify(value)}`).toMatch(new RegExp(`has ${edge} white space`))
      }
    }
  })

  it('CSV: an unquoted cell keeps its spaces too; a space next to a quote is not valid CSV', async () => {
    const [device] = await readDeviceManifest(manifestFile('u.csv', 'serial,note\nA1, x \n'))
    expect(device?.fields.note).toBe(' x ')
    const bad = await readDeviceManifest(manifestFile('q.csv', 'serial,note\nA1, "x"\n')).catch((e: unknown) => e as ManifestError)
    expect((bad as ManifestError).message).toMatch(/q\.csv:2: not valid CSV: .*a quoted value starts right after the separator/)
  })

  it('CSV: a column name with spaces around it is refused, not taken for another column', async () => {
    const error = await readDeviceManifest(manifestFile('h.csv', 'serial, device-id\nA1,dev-1\n')).catch((e: unknown) => e as ManifestError)
    expect((error as ManifestError).message).toMatch(/h\.csv:1: column name " device-id" has white space around it/)
  })

  it("YAML: a plain scalar has no surrounding spaces by YAML's rules; a quoted one keeps them", async () => {
    const [plain] = await readDeviceManifest(manifestFile('p.yaml', '- serial: A1\n  note:   spaced   \n'))
    expect(plain?.fields.note).toBe('spaced')
    const [quoted] = await readDeviceManifest(manifestFile('q.yaml', '- serial: A1\n  note: "  spaced  "\n'))
    expect(quoted?.fields.note).toBe('  spaced  ')
  })
})

describe('serials Windows reserves', () => {
  const reserved = ['CON', 'prn', 'Aux', 'NUL', 'nul.txt', 'NUL.tar', 'COM1', 'com9', 'COM0', 'LPT1', 'lpt9.x.y', 'CON.']
  const fine = ['CONSOLE', 'NULL', 'COM10', 'LPT', 'A-CON', 'AUX1', 'CON-1', 'COMA', 'PRN_2']

  it.each(reserved)('%s is refused', async (serial) => {
    const error = await readDeviceManifest(manifestFile('w.csv', `serial\n${serial}\n`)).catch((e: unknown) => e as ManifestError)
    expect(error).toBeInstanceOf(ManifestError)
    expect((error as ManifestError).message).toMatch(/is a device name Windows reserves/)
    expect((error as ManifestError).line).toBe(2)
  })

  it('look-alikes are accepted', async () => {
    const devices = await readDeviceManifest(manifestFile('ok.csv', `serial\n${fine.join('\n')}\n`))
    expect(devices.map((d) => d.serial)).toEqual(fine)
  })

  it('superscript forms (COM¹) cannot be serials at all: the serial character set is ASCII', async () => {
    const error = await readDeviceManifest(manifestFile('s.csv', 'serial\nCOM\u00b9\n')).catch((e: unknown) => e as ManifestError)
    expect((error as ManifestError).message).toMatch(/only A-Z a-z 0-9 \. _ - are allowed/)
  })
})

describe('device IDs that differ only in case', () => {
  it('one warning naming a few pairs and the count; the devices are read', async () => {
    const rows = ['serial,device-id', 'S1,Dev-1', 'S2,dev-1', 'S3,Gw-7', 'S4,GW-7', 'S5,gw-7', 'S6,other', 'S7,DEV-1']
    const file = manifestFile('ids.csv', `${rows.join('\n')}\n`)
    const warnings: Array<{ message: string; file: string }> = []
    const devices = await readDeviceManifest(file, { warn: (message, where) => warnings.push({ message, file: where.file }) })
    expect(devices).toHaveLength(7)
    expect(warnings).toHaveLength(1)
    expect(warnings[0]?.file).toBe(file)
    expect(warnings[0]?.message).toContain('4 device IDs differ from an earlier one only in case')
    expect(warnings[0]?.message).toContain('"Dev-1" (line 2) and "dev-1" (line 3)')
    expect(warnings[0]?.message).toContain('"Gw-7" (line 4) and "GW-7" (line 5)')
    expect(warnings[0]?.message).toContain(', …')
  })

  it('no warning when IDs differ otherwise, or when every ID is its serial', async () => {
    const warnings: string[] = []
    await readDeviceManifest(manifestFile('a.csv', 'serial,device-id\nS1,dev-1\nS2,dev-2\n'), { warn: (m) => warnings.push(m) })
    await readDeviceManifest(manifestFile('b.csv', 'serial\nS1\nS2\n'), { warn: (m) => warnings.push(m) })
    expect(warnings).toEqual([])
  })
})
