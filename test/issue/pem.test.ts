import { createHash, randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { FleetCaError, InputError } from '../../src/errors.js'
import { colonHex, sha1, sha256, sha256Hex } from '../../src/util/hash.js'
import { parsePem, toPem } from '../../src/util/pem.js'

const source = { input: 'server-ca', origin: 'input server-ca' }

function pemOf(label: string, der: Buffer): string {
  return toPem(label, der)
}

describe('toPem', () => {
  it('writes 64-column base64 lines between BEGIN and END with a final newline', () => {
    const der = randomBytes(200)
    const pem = toPem('CERTIFICATE', der)
    const lines = pem.split('\n')
    expect(lines[0]).toBe('-----BEGIN CERTIFICATE-----')
    expect(lines.at(-2)).toBe('-----END CERTIFICATE-----')
    expect(lines.at(-1)).toBe('')
    const body = lines.slice(1, -2)
    expect(body.slice(0, -1).every((line) => line.length === 64)).toBe(true)
    expect((body.at(-1) ?? '').length).toBeLessThanOrEqual(64)
    expect(Buffer.from(body.join(''), 'base64').equals(der)).toBe(true)
  })
})

describe('parsePem', () => {
  const der = randomBytes(150)
  const pem = pemOf('CERTIFICATE', der)

  it('reads every block in order with its label, ignoring text around blocks', () => {
    const other = randomBytes(40)
    const text = `Bag Attributes\n  friendlyName: ca\nsubject=CN=x\n${pem}\nsome trailer\n${pemOf('PRIVATE KEY', other)}`
    const blocks = parsePem(text, source)
    expect(blocks.map((block) => block.label)).toEqual(['CERTIFICATE', 'PRIVATE KEY'])
    expect(blocks[0]?.der.equals(der)).toBe(true)
    expect(blocks[1]?.der.equals(other)).toBe(true)
    expect(blocks[0]?.line).toBe(4)
    // Counted on from block to block: the line of the second BEGIN, counted here from the start.
    expect(blocks[1]?.line).toBe(text.slice(0, text.indexOf('-----BEGIN PRIVATE KEY')).split('\n').length)
  })

  it('numbers the BEGIN line of every block of a large bundle', () => {
    const bundle = Array.from({ length: 300 }, (_, i) => `# ${i}\n${pem}`).join('')
    const blocks = parsePem(bundle, source)
    expect(blocks).toHaveLength(300)
    const begins = bundle.split('\n').flatMap((text, index) => (text.startsWith('-----BEGIN') ? [index + 1] : []))
    expect(blocks.map((block) => block.line)).toEqual(begins)
  })

  it('tolerates CRLF, indentation, one-line PEM and literal \\n escapes', () => {
    const variants = [
      pem.replace(/\n/g, '\r\n'),
      pem
        .split('\n')
        .map((line) => `    ${line}  `)
        .join('\n'),
      pem.replace(/\n/g, ' '),
      pem.replace(/\n/g, '\\n')
    ]
    for (const variant of variants) {
      const blocks = parsePem(variant, source)
      expect(blocks).toHaveLength(1)
      expect(blocks[0]?.der.equals(der)).toBe(true)
    }
  })

  it('keeps RFC 1421 headers of legacy encrypted keys', () => {
    const text = pemOf('RSA PRIVATE KEY', der).replace('-----\n', '-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00112233445566778899AABBCCDDEEFF\n\n')
    const [block] = parsePem(text, source)
    expect(block?.headers['Proc-Type']).toBe('4,ENCRYPTED')
    expect(block?.der.equals(der)).toBe(true)
  })

  const bad: Array<[string, string, RegExp]> = [
    ['empty text', '   \n', /is empty/],
    ['text without a block', 'not a certificate at all', /no PEM block/],
    ['binary data', '\u0030\u0082\u0001\u0002\u0000\u0001', /binary/],
    ['garbage inside a block', pem.replace(/^(-----BEGIN CERTIFICATE-----\n)/, '$1!!not base64!!\n'), /not valid base64/],
    ['a block without END', pem.replace('-----END CERTIFICATE-----', ''), /no -----END/],
    ['a truncated first of two blocks', pem.replace('-----END CERTIFICATE-----', '') + pem, /no -----END/],
    ['mismatched labels', pem.replace('END CERTIFICATE', 'END PRIVATE KEY'), /begins as CERTIFICATE but ends as PRIVATE KEY/],
    ['an empty body', '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n', /not valid base64/]
  ]
  it.each(bad)('rejects %s with an error naming the input', (_name, text, reason) => {
    expect(() => parsePem(text, source)).toThrow(InputError)
    try {
      parsePem(text, source)
    } catch (error) {
      expect((error as InputError).input).toBe('server-ca')
      expect((error as Error).message).toContain('input server-ca')
      expect((error as Error).message).toMatch(reason)
    }
  })

  it('uses the error class it is given and names the file', () => {
    const fromFile = { input: 'fleet-ca-cert', origin: '/secrets/ca.pem' }
    expect(() => parsePem('garbage', fromFile, FleetCaError)).toThrow(FleetCaError)
    expect(() => parsePem('garbage', fromFile, FleetCaError)).toThrow(/input fleet-ca-cert \(file \/secrets\/ca\.pem\)/)
  })

  it('never quotes the text it rejects', () => {
    const secret = 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASC'
    const text = `-----BEGIN PRIVATE KEY-----\n${secret}\n@@@\n-----END PRIVATE KEY-----\n`
    expect(() => parsePem(text, source)).toThrow(InputError)
    try {
      parsePem(text, source)
    } catch (error) {
      expect((error as Error).message).not.toContain(secret)
    }
  })
})

describe('hash helpers', () => {
  it('agree with node:crypto directly', () => {
    const data = randomBytes(99)
    expect(sha256Hex(data)).toBe(createHash('sha256').update(data).digest('hex'))
    expect(sha256(data).toString('hex')).toBe(sha256Hex(data))
    expect(sha1(data).equals(createHash('sha1').update(data).digest())).toBe(true)
    expect(colonHex(Buffer.from([0xab, 0x01, 0xff]))).toBe('AB:01:FF')
  })
})
