// The flag parser on its own: the cases a user rarely types but must get right (PEM text after a
// space, `--`, the environment, help winning over a mistake), and the suggestions.
import { afterEach, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { type FlagSpec, parseFlags, suggest } from '../../src/cli/flags.js'

const SPEC: FlagSpec = {
  command: 'test',
  strings: ['manifest', 'fleet-ca-cert', 'output-dir'],
  booleans: ['resume', 'bmap'],
  optionalValues: ['files'],
  positionals: { max: 1, name: 'IMAGE' }
}

function refusal(args: string[]): InputError {
  try {
    parseFlags(args, SPEC)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return error as InputError
  }
  throw new Error(`${args.join(' ')} was accepted`)
}

afterEach(() => {
  delete process.env.CREDBAKE_OUTPUT_DIR
  delete process.env.CREDBAKE_RESUME
})

describe('parseFlags', () => {
  it('values after a space or an =, PEM text too; booleans in every spelling', () => {
    const pem = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'
    const parsed = parseFlags(['--manifest', 'd.csv', `--fleet-ca-cert`, pem, '--output-dir=o=1', '--resume', 'FALSE', '--bmap', 'img'], SPEC)
    expect(parsed.values).toEqual({ manifest: 'd.csv', 'fleet-ca-cert': pem, 'output-dir': 'o=1', resume: 'false', bmap: 'true', files: undefined })
    expect(parsed.positionals).toEqual(['img'])
    expect(parseFlags(['--no-bmap', '--resume=True'], SPEC).values).toMatchObject({ bmap: 'false', resume: 'true' })
    expect(parseFlags(['--files'], SPEC).values.files).toBe('')
    expect(parseFlags(['--files=/etc', 'x.img'], SPEC).values.files).toBe('/etc')
  })

  it('-- ends the options; the environment fills what the line leaves out, and the line wins', () => {
    process.env.CREDBAKE_OUTPUT_DIR = 'from-env'
    process.env.CREDBAKE_RESUME = 'false'
    expect(parseFlags(['--', '--odd.img'], SPEC)).toMatchObject({ positionals: ['--odd.img'], values: { 'output-dir': 'from-env', resume: 'false' } })
    expect(parseFlags(['--output-dir', 'given', '--resume'], SPEC).values).toMatchObject({ 'output-dir': 'given', resume: 'true' })
  })

  it('help and version win over any mistake on the line', () => {
    expect(parseFlags(['--nonsense', '--help'], SPEC)).toMatchObject({ help: true })
    expect(parseFlags(['--manifest', '-v'], SPEC)).toMatchObject({ version: true })
  })

  it('every mistake is an InputError naming the flag', () => {
    expect(refusal(['--manifest']).message).toMatch(/^--manifest needs a value/)
    expect(refusal(['--manifest', '--resume']).message).toMatch(/^--manifest needs a value/)
    expect(refusal(['--resume=yes'])).toMatchObject({ input: 'resume' })
    expect(refusal(['--manfest', 'x']).message).toMatch(/Did you mean --manifest\?/)
    expect(refusal(['-x']).message).toMatch(/^unknown option -x\./)
    expect(refusal(['a.img', 'b.img']).message).toMatch(/unexpected argument "b\.img": credbake test takes at most 1 IMAGE/)
  })
})

describe('suggest', () => {
  const known = ['manifest', 'fleet-ca-cert', 'fleet-ca-key', 'fleet-ca-key-passphrase', 'output-dir', 'resume', 'no-resume', 'json']
  it('a typo within a few edits, a swap counted as one; a prefix names what it starts', () => {
    expect(suggest('manfest', known)).toEqual(['manifest'])
    expect(suggest('mainfest', known)).toEqual(['manifest'])
    expect(suggest('ouptut-dir', known)).toEqual(['output-dir'])
    expect(suggest('fleet-ca', known)).toEqual(['fleet-ca-cert', 'fleet-ca-key', 'fleet-ca-key-passphrase'])
    expect(suggest('jsn', known)).toEqual(['json'])
  })

  it('nothing for a word that is not close to any', () => {
    expect(suggest('colour', known)).toEqual([])
    expect(suggest('x', known)).toEqual([])
  })
})
