// The settings parser: gateway-url is https only (aktualizr's mutual TLS), and every default comes
// from the INPUTS table of src/settings/inputs.ts (no second copy in the parser).
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { INPUTS, type InputSpec } from '../../src/settings/inputs.js'
import { defaultOf, parseSettings, type RawInputs } from '../../src/settings/parse.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'

let ca: CaFixture
beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Settings Test CA' })
})
afterAll(cleanupPki)

const context = { baseDir: '/work/place', tempRoot: '/runner/temp' }
const base = (): Record<string, string> => ({ manifest: 'devices.csv', 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem })

function refusal(raw: RawInputs): InputError {
  try {
    parseSettings(raw, context)
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    return error as InputError
  }
  throw new Error('parseSettings accepted the inputs')
}

describe('gateway-url', () => {
  it('accepts an https URL, kept as given', () => {
    expect(parseSettings({ ...base(), 'gateway-url': 'https://gw.example.com:8443' }, context).gatewayUrl).toBe('https://gw.example.com:8443')
    expect(parseSettings({ ...base(), 'gateway-url': 'HTTPS://gw.example.com/' }, context).gatewayUrl).toBe('HTTPS://gw.example.com/')
  })

  it('refuses http, saying why: aktualizr presents the device certificate only over TLS', () => {
    for (const url of ['http://gw.example.com:8000', 'HTTP://gw.example.com']) {
      const error = refusal({ ...base(), 'gateway-url': url })
      expect(error.input).toBe('gateway-url')
      expect(error.message).toContain('"gateway-url" must be an https URL')
      expect(error.message).toContain(url)
      expect(error.message).toMatch(/mutual TLS/)
      expect(error.message).toMatch(/never authenticate/)
    }
  })

  it('refuses other schemes and non-URLs, naming the input', () => {
    for (const url of ['ftp://gw.example.com', 'wss://gw.example.com', 'gw.example.com:443', 'not a url']) {
      expect(refusal({ ...base(), 'gateway-url': url }).input).toBe('gateway-url')
    }
  })

  it('is optional', () => {
    expect(parseSettings(base(), context).gatewayUrl).toBeUndefined()
  })
})

describe('defaults', () => {
  const withDefault = INPUTS.filter((input) => input.default !== undefined || input.impliedDefault !== undefined)

  it('are declared for the inputs the parser fills in', () => {
    expect(withDefault.map((input) => input.name).sort()).toEqual(
      [
        'bmap',
        'compress',
        'concurrency',
        'credentials-dir',
        'crl',
        'crl-days',
        'key-type',
        'layout',
        'output-dir',
        'overwrite',
        'resume',
        'shard',
        'subject',
        'validity-days'
      ].sort()
    )
    expect(() => defaultOf('gateway-url')).toThrow(/declares no default/)
  })

  it('an input left empty or unset parses as its declared default given explicitly', () => {
    const declared = parseSettings({ ...base(), ...Object.fromEntries(withDefault.map((input) => [input.name, (input.default ?? input.impliedDefault) as string])) }, context)
    expect(parseSettings(base(), context)).toEqual(declared)
    expect(parseSettings({ ...base(), ...Object.fromEntries(withDefault.map((input) => [input.name, ' '])) }, context)).toEqual(declared)
  })

  it('are the documented values', () => {
    const settings = parseSettings(base(), context)
    expect(settings).toMatchObject({
      layout: 'aktualizr',
      credentialsDir: '/var/sota/import',
      keyType: 'ec-p256',
      lifetime: { kind: 'days', days: 365 },
      subject: 'CN={device-id}',
      format: 'tar',
      compress: 'none',
      outputDir: '/work/place/credbake-out',
      shard: { index: 1, count: 1 },
      resume: true,
      overwrite: false,
      concurrency: 0
    })
  })

  // Changing a default in the table changes what the parser applies: there is no second copy.
  const changed: Array<[string, string, (settings: ReturnType<typeof parseSettings>) => unknown, unknown]> = [
    ['layout', 'flat', (s) => s.layout, 'flat'],
    ['credentials-dir', '/etc/creds', (s) => s.credentialsDir, '/etc/creds'],
    ['key-type', 'ed25519', (s) => s.keyType, 'ed25519'],
    ['validity-days', '30', (s) => s.lifetime, { kind: 'days', days: 30 }],
    ['subject', 'CN={serial}', (s) => s.subject, 'CN={serial}'],
    ['output-dir', 'elsewhere', (s) => s.outputDir, '/work/place/elsewhere'],
    ['shard', '2/3', (s) => s.shard, { index: 2, count: 3 }],
    ['resume', 'false', (s) => s.resume, false],
    ['overwrite', 'true', (s) => s.overwrite, true],
    ['concurrency', '3', (s) => s.concurrency, 3]
  ]
  it.each(changed)('%s follows the table (default changed to %s)', (name, value, pick, expected) => {
    const input = INPUTS.find((spec) => spec.name === name) as InputSpec
    const key = input.default !== undefined ? 'default' : 'impliedDefault'
    const original = input[key]
    try {
      input[key] = value
      expect(pick(parseSettings(base(), context))).toEqual(expected)
    } finally {
      input[key] = original
    }
  })
})

describe('what a bake requires (action.yml requires nothing, since a merge goes without)', () => {
  it.each(['manifest', 'fleet-ca-cert', 'fleet-ca-key'])('a bake without %s is refused, naming it and saying only a merge goes without', (name) => {
    const raw = base()
    delete raw[name]
    const error = refusal(raw)
    expect(error.input).toBe(name)
    expect(error.message).toBe(`Input "${name}" is required: a bake needs it (merging shard manifests, with input "merge" or \`credbake merge\`, does not).`)
  })

  it('an empty value counts as missing, as the runner passes an unset input', () => {
    expect(refusal({ ...base(), manifest: '  ' }).input).toBe('manifest')
  })

  it('names the first missing input in the order of the INPUTS table', () => {
    expect(refusal({}).input).toBe('manifest')
    expect(refusal({ manifest: 'devices.csv' }).input).toBe('fleet-ca-cert')
    expect(INPUTS.filter((input) => input.requiredToBake).map((input) => input.name)).toEqual(['manifest', 'fleet-ca-cert', 'fleet-ca-key'])
  })

  it('a merge without manifest or fleet CA inputs is not a bake: the refusal names merge, not what a bake would need', () => {
    const error = refusal({ merge: 'shards/*/credbake-manifest.json' })
    expect(error.input).toBe('merge')
    expect(error.message).toContain('credbake merge')
    expect(error.message).not.toContain('required')
  })
})

describe('ostree-os', () => {
  it('is optional and kept as given', () => {
    expect(parseSettings(base(), context).ostreeOs).toBeUndefined()
    expect(parseSettings({ ...base(), 'ostree-os': 'poky' }, context).ostreeOs).toBe('poky')
    expect(parseSettings({ ...base(), 'ostree-os': 'fedora-coreos', 'credentials-dir': '/var/lib/creds', format: 'dir' }, context).ostreeOs).toBe('fedora-coreos')
  })

  it('refuses a name that is no stateroot name, naming the input', () => {
    for (const name of ['..', 'a/b', 'with space', '.hidden', 'x"y']) {
      const error = refusal({ ...base(), 'ostree-os': name })
      expect(error.input).toBe('ostree-os')
      expect(error.message).toContain('stateroot')
    }
  })

  it('refuses a credentials-dir outside /var before anything is issued, saying why and what to use', () => {
    const usr = refusal({ ...base(), 'ostree-os': 'poky', 'credentials-dir': '/usr/share/creds' })
    expect(usr.input).toBe('credentials-dir')
    expect(usr.message).toMatch(/read-only deployment/)
    expect(usr.message).toMatch(/every update replaces it/)
    expect(usr.message).toContain('/var/sota/import')
    const etc = refusal({ ...base(), 'ostree-os': 'poky', 'credentials-dir': '/etc/sota' })
    expect(etc.message).toMatch(/three-way merged/)
    expect(etc.message).toContain('/ostree/deploy/poky/deploy/CHECKSUM.N/etc')
    const other = refusal({ ...base(), 'ostree-os': 'poky', 'credentials-dir': '/data/sota' })
    expect(other.message).toMatch(/outside \/var/)
    // Not a prefix match: /variant is not /var.
    expect(refusal({ ...base(), 'ostree-os': 'poky', 'credentials-dir': '/variant' }).input).toBe('credentials-dir')
  })
})
