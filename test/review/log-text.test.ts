// The log neutraliser (src/util/log-text.ts) and the job summary's escaping: what input text can
// and cannot do once it is printed.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { renderSummary } from '../../src/review/summary.js'
import type { ManifestDevice, ManifestHeader } from '../../src/shapes/review.js'
import { escapeText, hasUnsafeText, neutraliseLine, neutraliseOutput, quoteText } from '../../src/util/log-text.js'
import { runnerCommands } from '../helpers/runner-commands.js'

const PAYLOADS = [
  '\n::error::pwned',
  '\n::add-mask::pwned',
  '\n::stop-commands::pwned',
  '\r::warning::pwned',
  '\r\n::notice::pwned',
  '\u0085::debug::pwned',
  '\u2028::group::pwned',
  '\n\u00a0\u3000\t ::set-output name=x::pwned',
  '\n::echo::on',
  'text ##[error]pwned',
  '##[add-mask]pwned',
  '\n\u202e::error::pwned',
  '\n\ufeff::error::pwned'
]

describe('neutraliseOutput', () => {
  it.each(PAYLOADS)('%j cannot start a command, and its control characters show as escapes', (payload) => {
    const out = neutraliseOutput(`label: ${payload}\nnext line\n`)
    expect(runnerCommands(out)).toEqual([])
    if (payload.includes('pwned')) expect(out).toContain('pwned')
    expect(out.split('\n')).toHaveLength(payload.split('\n').length + 2)
    expect(out).not.toMatch(/[\r\u0085\u2028\u202e\ufeff]/)
  })

  it('leaves ordinary output alone and keeps its line breaks and tabs', () => {
    const text = 'credbake: 3 devices\n\tdetail: a::b, c:: d\nhttps://x.example/y\n'
    expect(neutraliseOutput(text)).toBe(text)
  })

  it('defuses a line of our own output that starts with "::" after white space', () => {
    expect(neutraliseOutput('::error::x\n  ::warning::y\n')).toBe('\\::error::x\n  \\::warning::y\n')
  })

  it('keeps JSON valid and meaning the same', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (value) => {
        const json = JSON.stringify({ label: value, list: [value] }, null, 2)
        const out = neutraliseOutput(json)
        expect(JSON.parse(out)).toEqual(JSON.parse(json))
        expect(runnerCommands(out)).toEqual([])
        expect(hasUnsafeText(out.replace(/\n/g, ''))).toBe(false)
      }),
      { numRuns: 300 }
    )
  })

  it('any text: no command, no raw control or format character', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.constantFrom(...PAYLOADS), (text, payload) => {
        const out = neutraliseOutput(`${text}${payload}${text}`)
        expect(runnerCommands(out)).toEqual([])
        expect(hasUnsafeText(out.replace(/[\n\t]/g, ''))).toBe(false)
      }),
      { numRuns: 300 }
    )
  })
})

describe('neutraliseLine, escapeText, quoteText', () => {
  it('a one-line message stays one line', () => {
    expect(neutraliseLine('writing into partition 2 (x\n::error::pwned)')).toBe('writing into partition 2 (x\\n::error::pwned)')
  })

  it('escapes visibly, as JSON would', () => {
    expect(escapeText('a\nb\tc\u0085d\u202ee\ud800f\u{e0001}')).toBe('a\\nb\\tc\\u0085d\\u202ee\\ud800f\\udb40\\udc01')
    expect(quoteText('say "hi"\\\n')).toBe('"say \\"hi\\"\\\\\\n"')
    expect(quoteText('x'.repeat(100))).toBe(`"${'x'.repeat(64)}…"`)
  })
})

describe('the job summary', () => {
  const header = {
    fleetCa: { subject: 'CN=Fleet\n\n![x](https://attacker.invalid/t.png)\u202e', sha256: 'ab'.repeat(32), notBefore: 'a', notAfter: 'b', intermediate: false },
    profile: { keyType: 'ec-p256', signatureAlgorithm: 'ecdsa-with-SHA256', subject: 'CN={device-id},O=<b>x</b>', lifetime: { kind: 'days', days: 365 } },
    layout: { name: 'aktualizr', credentialsDir: '/var/sota/import' },
    output: { format: 'image', image: { path: 'base\n\n## heading.img' } },
    shard: { index: 1, count: 1 }
  } as unknown as ManifestHeader
  const device = {
    serial: 'A1',
    deviceId: 'a1',
    certificate: { serialNumber: '01', sha256: 'cd'.repeat(32), notAfter: 'c' },
    output: { path: 'images/A1.img' }
  } as unknown as ManifestDevice

  it('no value can end the HTML block, open a tag or reorder the text', () => {
    const html = renderSummary({
      header,
      devices: [device],
      total: 1,
      kept: 0,
      superseded: { count: 1, byReason: { 'output-redone': 1 }, path: 'out/superseded.pem' },
      manifestPath: 'out/credbake-manifest.json',
      certificatesPath: 'out/certificates.pem',
      outputDir: 'out',
      serverCa: { from: 'server-ca', certificates: [{ subject: 'CN=OTA\n\n<b>x</b>', sha256: 'ef'.repeat(32) }] },
      gatewayUrl: 'https://gw.example.com/\n\n<b>'
    })
    // Parts are joined by single line breaks: a blank line would end the HTML block and let the
    // rest be read as Markdown.
    expect(html).not.toMatch(/\n\s*\n/)
    expect(html).not.toContain('<b>')
    expect(html).not.toMatch(/[\u202e]/)
    expect(html).toContain('CN=Fleet\\n\\n![x](https://attacker.invalid/t.png)\\u202e')
    expect(html).toContain('base\\n\\n## heading.img')
    expect(html).toContain('CN=OTA\\n\\n&#60;b&#62;x&#60;/b&#62;')
    expect(html).toContain('https://gw.example.com/\\n\\n&#60;b&#62;')
  })
})
