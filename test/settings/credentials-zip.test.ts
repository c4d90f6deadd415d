// Input credentials-zip: real zips made here with Python's zipfile (and Info-ZIP `zip`), real
// PKCS#12 files from `openssl pkcs12 -export`, and the malformed zips a hostile or broken upload
// could hold. Only server_ca.pem / the p12's CA certificates and autoprov.url are taken.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { readCredentialsZip } from '../../src/settings/credentials-zip.js'
import { parseSettings } from '../../src/settings/parse.js'
import { runCli } from '../helpers/run.js'
import { cleanupPki, makeNonCaCert, makePkiDir, makeRootCa, openssl, type CaFixture, type CertFixture } from '../helpers/pki.js'

let dir: string
let fleet: CaFixture
let serverCa: CaFixture
let otherCa: CaFixture
let client: CertFixture
let p12: Buffer
let p12Legacy: Buffer
let p12Password: Buffer

beforeAll(() => {
  dir = makePkiDir('credbake-zip-')
  fleet = makeRootCa({ subject: '/CN=Zip Test Fleet CA', dir })
  serverCa = makeRootCa({ subject: '/CN=OTA Connect Server CA', dir })
  otherCa = makeRootCa({ subject: '/CN=Explicit Server CA', dir })
  client = makeNonCaCert({ issuer: serverCa, subject: '/CN=autoprov client', dir })
  const p12Path = path.join(dir, 'autoprov.p12')
  const exportArgs = ['pkcs12', '-export', '-inkey', client.keyPath, '-in', client.certPath, '-certfile', serverCa.certPath]
  openssl([...exportArgs, '-passout', 'pass:', '-out', p12Path])
  p12 = readFileSync(p12Path)
  // OpenSSL 1.x's algorithms (RC2-40 for the certificates): what older OTA Connect accounts hold.
  openssl([...exportArgs, '-legacy', '-passout', 'pass:', '-out', p12Path])
  p12Legacy = readFileSync(p12Path)
  openssl([...exportArgs, '-passout', 'pass:hunter2', '-out', p12Path])
  p12Password = readFileSync(p12Path)
})
afterAll(cleanupPki)

let zipCounter = 0
/** A zip made by Python's zipfile: entries name → content, deflated unless `stored`. */
function makeZip(entries: Record<string, string | Buffer>, opts: { stored?: boolean } = {}): string {
  const file = path.join(dir, `credentials-${++zipCounter}.zip`)
  const spec = Object.entries(entries).map(([name, content]) => [name, Buffer.from(content).toString('base64')])
  const script = `
import base64, json, sys, zipfile
entries = json.loads(sys.stdin.read())
with zipfile.ZipFile(sys.argv[1], 'w', compression=zipfile.${opts.stored ? 'ZIP_STORED' : 'ZIP_DEFLATED'}) as z:
    for name, data in entries:
        z.writestr(zipfile.ZipInfo(name) if name.endswith('/') else name, base64.b64decode(data))
`
  execFileSync('python3', ['-c', script, file], { input: JSON.stringify(spec) })
  return file
}

/** What OTA Connect's credentials.zip holds (its private keys are stand-ins here). */
function otaEntries(): Record<string, string | Buffer> {
  return {
    'autoprov.url': 'https://abc123.device-gateway.ota.api.here.com:443\n',
    'autoprov_credentials.p12': p12,
    'server_ca.pem': serverCa.certPem,
    'api_gateway.url': 'https://api.example.com\n',
    'treehub.json': '{"oauth2":{}}',
    'targets.sec': '{"keytype":"ED25519","keyval":{"private":"not a real key"}}'
  }
}

function refusal(action: () => unknown): InputError {
  try {
    action()
  } catch (error) {
    expect(error).toBeInstanceOf(InputError)
    expect((error as InputError).input).toBe('credentials-zip')
    return error as InputError
  }
  throw new Error('the zip was accepted')
}

const both = { serverCa: true, gatewayUrl: true }
const context = { baseDir: '/work/place', tempRoot: '/runner/temp' }
const base = (): Record<string, string> => ({ manifest: 'devices.csv', 'fleet-ca-cert': fleet.certPem, 'fleet-ca-key': fleet.keyPem })
const certsOf = (pem: string): string[] => pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
const der = (pem: string): string => execFileSync('openssl', ['x509', '-outform', 'DER'], { input: pem }).toString('hex')

describe('credentials-zip', () => {
  it("reads server_ca.pem and autoprov.url from OTA Connect's zip (deflated and stored)", () => {
    for (const stored of [false, true]) {
      const zip = makeZip(otaEntries(), { stored })
      const read = readCredentialsZip(zip, both)
      expect(read.gatewayUrl).toBe('https://abc123.device-gateway.ota.api.here.com:443')
      expect(read.serverCa?.text).toBe(serverCa.certPem)
      expect(read.serverCa?.input).toBe('credentials-zip')
    }
  })

  it('through parseSettings: becomes serverCa (root.crt) and gatewayUrl (gateway.url)', () => {
    const zip = makeZip(otaEntries())
    const settings = parseSettings({ ...base(), 'credentials-zip': zip }, context)
    expect(settings.serverCa?.text).toBe(serverCa.certPem)
    expect(settings.gatewayUrl).toBe('https://abc123.device-gateway.ota.api.here.com:443')
    expect(settings.credentialsZip).toBe(zip)
  })

  it('a zip made by Info-ZIP zip reads the same', () => {
    const folder = makePkiDir('credbake-zipdir-')
    writeFileSync(path.join(folder, 'autoprov.url'), 'https://gw.example.com:8443')
    writeFileSync(path.join(folder, 'server_ca.pem'), serverCa.certPem)
    const zip = path.join(dir, 'infozip.zip')
    execFileSync('zip', ['-q', '-j', zip, path.join(folder, 'autoprov.url'), path.join(folder, 'server_ca.pem')])
    expect(readCredentialsZip(zip, both)).toMatchObject({ gatewayUrl: 'https://gw.example.com:8443', serverCa: { text: serverCa.certPem } })
  })

  it('without server_ca.pem: the CA certificates of autoprov_credentials.p12, not its client certificate', () => {
    for (const [label, file] of [
      ['OpenSSL 3 (PBES2/AES)', p12],
      ['legacy (RC2-40, 3DES)', p12Legacy]
    ] as const) {
      const { 'server_ca.pem': _dropped, ...entries } = otaEntries()
      const zip = makeZip({ ...entries, 'autoprov_credentials.p12': file })
      const text = readCredentialsZip(zip, both).serverCa?.text ?? ''
      const found = certsOf(text)
      expect(found, label).toHaveLength(1)
      expect(der(found[0] as string), label).toBe(der(serverCa.certPem))
      expect(text, label).not.toContain('PRIVATE KEY')
      expect(der(found[0] as string)).not.toBe(der(client.certPem))
    }
  })

  it('a p12 with a password or no CA certificate: a clear error, suggesting server-ca', () => {
    const { 'server_ca.pem': _dropped, ...entries } = otaEntries()
    let error = refusal(() => readCredentialsZip(makeZip({ ...entries, 'autoprov_credentials.p12': p12Password }), both))
    expect(error.message).toMatch(/password/)
    expect(error.message).toMatch(/server-ca/)
    expect(error.message).not.toContain('hunter2')
    const clientOnly = path.join(dir, 'client-only.p12')
    openssl(['pkcs12', '-export', '-inkey', client.keyPath, '-in', client.certPath, '-passout', 'pass:', '-out', clientOnly])
    error = refusal(() => readCredentialsZip(makeZip({ ...entries, 'autoprov_credentials.p12': readFileSync(clientOnly) }), both))
    expect(error.message).toMatch(/holds no CA certificate/)
    error = refusal(() => readCredentialsZip(makeZip({ ...entries, 'autoprov_credentials.p12': 'not a p12 at all' }), both))
    expect(error.message).toMatch(/autoprov_credentials\.p12 cannot be read/)
  })

  it('explicit server-ca and gateway-url win, and then the zip need not hold those entries', () => {
    const zip = makeZip(otaEntries())
    const settings = parseSettings({ ...base(), 'credentials-zip': zip, 'server-ca': otherCa.certPem, 'gateway-url': 'https://mine.example.com' }, context)
    expect(settings.serverCa?.text.trim()).toBe(otherCa.certPem.trim())
    expect(settings.serverCa?.input).toBe('server-ca')
    expect(settings.gatewayUrl).toBe('https://mine.example.com')
    // One explicit, one from the zip.
    const mixed = parseSettings({ ...base(), 'credentials-zip': zip, 'gateway-url': 'https://mine.example.com' }, context)
    expect(mixed.serverCa?.text).toBe(serverCa.certPem)
    expect(mixed.gatewayUrl).toBe('https://mine.example.com')
    // A zip with neither entry is fine when both are explicit.
    const empty = makeZip({ 'treehub.json': '{}' })
    expect(() => parseSettings({ ...base(), 'credentials-zip': empty, 'server-ca': otherCa.certPem, 'gateway-url': 'https://x.example.com' }, context)).not.toThrow()
  })

  it('names what is missing', () => {
    let error = refusal(() => readCredentialsZip(makeZip({ 'server_ca.pem': serverCa.certPem }), both))
    expect(error.message).toMatch(/holds no autoprov\.url/)
    expect(error.message).toMatch(/gateway-url/)
    error = refusal(() => readCredentialsZip(makeZip({ 'autoprov.url': 'https://gw.example.com' }), both))
    expect(error.message).toMatch(/neither server_ca\.pem nor autoprov_credentials\.p12/)
    // Entries in a sub-folder are not OTA Connect's layout.
    error = refusal(() => readCredentialsZip(makeZip({ 'creds/autoprov.url': 'https://gw.example.com', 'creds/server_ca.pem': serverCa.certPem }), both))
    expect(error.message).toMatch(/holds no autoprov\.url/)
  })

  it('refuses an http (or non-URL) autoprov.url, naming credentials-zip', () => {
    let error = refusal(() => readCredentialsZip(makeZip({ ...otaEntries(), 'autoprov.url': 'http://gw.example.com:8000' }), both))
    expect(error.message).toMatch(/autoprov\.url must be an https URL/)
    expect(error.message).toContain('http://gw.example.com:8000')
    expect(error.message).toContain('"credentials-zip"')
    error = refusal(() => readCredentialsZip(makeZip({ ...otaEntries(), 'autoprov.url': 'gw.example.com' }), both))
    expect(error.message).toMatch(/not a URL/)
  })

  it('refuses a server_ca.pem that holds a private key or no certificate', () => {
    const error = (() => {
      try {
        parseSettings({ ...base(), 'credentials-zip': makeZip({ ...otaEntries(), 'server_ca.pem': serverCa.keyPem }) }, context)
      } catch (caught) {
        return caught as InputError
      }
      throw new Error('accepted')
    })()
    expect(error).toBeInstanceOf(InputError)
    expect(error.input).toBe('credentials-zip')
    expect(error.message).toMatch(/private key/)
    expect(error.message).not.toContain(serverCa.keyPem.split('\n')[1] as string)
  })

  it('refuses entry names with "..", absolute paths or backslashes, whatever the entry', () => {
    for (const name of ['../server_ca.pem', 'a/../../etc/passwd', '/etc/passwd', 'C:/x', 'a\\..\\b']) {
      const error = refusal(() => readCredentialsZip(makeZip({ ...otaEntries(), [name]: 'x' }), both))
      expect(error.message, name).toMatch(/refusing the zip/)
    }
  })

  it('refuses a zip bomb: nothing inflates past its declared size, and no declared size past 1 MiB', () => {
    let error = refusal(() => readCredentialsZip(makeZip({ ...otaEntries(), 'server_ca.pem': Buffer.alloc(8 << 20) }), both))
    expect(error.message).toMatch(/zip bomb/)
    // Headers that lie: 4 MiB of zeros whose sizes are patched to claim 100 bytes.
    const zip = makeZip({ 'autoprov.url': Buffer.alloc(4 << 20), 'server_ca.pem': serverCa.certPem })
    const bytes = readFileSync(zip)
    const cd = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
    bytes.writeUInt32LE(100, cd + 24)
    const local = bytes.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]))
    bytes.writeUInt32LE(100, local + 22)
    writeFileSync(zip, bytes)
    // The entry inflates into a buffer of the 100 bytes declared and no further; what it holds is
    // then not what the CRC-32 describes.
    error = refusal(() => readCredentialsZip(zip, both))
    expect(error.message).toMatch(/entry autoprov\.url is damaged \(CRC-32 mismatch\)/)
    // Declared sizes that promise a ratio no credentials file has: refused before inflating.
    error = refusal(() => readCredentialsZip(makeZip({ ...otaEntries(), 'server_ca.pem': Buffer.alloc(512 << 10) }), both))
    expect(error.message).toMatch(/inflates \d+ times its size.*zip bomb/)
  })

  it('reads ZIP64 zips and entries whose sizes follow their data, as Info-ZIP zip writes them', () => {
    const folder = makePkiDir('credbake-zipdir-')
    const files = [path.join(folder, 'autoprov.url'), path.join(folder, 'server_ca.pem')] as const
    writeFileSync(files[0], 'https://gw.example.com:8443')
    writeFileSync(files[1], serverCa.certPem)
    const zip64 = path.join(dir, 'zip64.zip')
    execFileSync('zip', ['-q', '-j', '-fz', zip64, ...files])
    // The ZIP64 end of central directory record, and a classic one whose offset says "see ZIP64".
    expect(readFileSync(zip64).includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true)
    // Written to a pipe, zip cannot seek back: each entry's CRC-32 and sizes follow its data
    // (general purpose flag bit 3, a data descriptor).
    const streamed = path.join(dir, 'streamed.zip')
    writeFileSync(streamed, execFileSync('zip', ['-q', '-j', '-', ...files]))
    expect(readFileSync(streamed).includes(Buffer.from([0x50, 0x4b, 0x07, 0x08]))).toBe(true)
    for (const zip of [zip64, streamed]) {
      expect(readCredentialsZip(zip, both), zip).toMatchObject({ gatewayUrl: 'https://gw.example.com:8443', serverCa: { text: serverCa.certPem } })
    }
    // A flipped byte in a streamed entry's data is still caught by the CRC-32 its descriptor gives.
    const flipped = readFileSync(streamed)
    const at = flipped.indexOf('server_ca.pem') + 'server_ca.pem'.length + 80
    flipped[at] = (flipped[at] as number) ^ 0x01
    writeFileSync(streamed, flipped)
    expect(refusal(() => readCredentialsZip(streamed, both)).message).toMatch(/server_ca\.pem is damaged/)
  })

  it('refuses encrypted entries and compression methods other than stored and deflated', () => {
    const folder = makePkiDir('credbake-zipdir-')
    const files = [path.join(folder, 'autoprov.url'), path.join(folder, 'server_ca.pem')] as const
    writeFileSync(files[0], 'https://gw.example.com:8443')
    writeFileSync(files[1], serverCa.certPem)
    const encrypted = path.join(dir, 'encrypted.zip')
    execFileSync('zip', ['-q', '-j', '-P', 'hunter2', encrypted, ...files])
    let error = refusal(() => readCredentialsZip(encrypted, both))
    expect(error.message).toMatch(/entry autoprov\.url is encrypted/)
    expect(error.message).not.toContain('hunter2')
    const bzip2 = path.join(dir, 'bzip2.zip')
    execFileSync('zip', ['-q', '-j', '-Z', 'bzip2', bzip2, ...files])
    error = refusal(() => readCredentialsZip(bzip2, { serverCa: true, gatewayUrl: false }))
    expect(error.message).toMatch(/entry server_ca\.pem uses compression method 12; only stored and deflated/)
  })

  it('refuses corrupt zips: truncated, not a zip, flipped data bytes', () => {
    const good = readFileSync(makeZip(otaEntries()))
    const write = (bytes: Buffer): string => {
      const file = path.join(dir, `corrupt-${++zipCounter}.zip`)
      writeFileSync(file, bytes)
      return file
    }
    expect(refusal(() => readCredentialsZip(write(good.subarray(0, good.length >> 1)), both)).message).toMatch(/not a valid zip file/)
    // One byte short: the end of central directory record is cut.
    expect(refusal(() => readCredentialsZip(write(good.subarray(0, good.length - 1)), both)).message).toMatch(/not a valid zip file \(no end of central directory record\)/)
    // Cut inside the central directory, with its end record put back.
    const cdStart = good.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]))
    const cut = Buffer.concat([good.subarray(0, cdStart + 60), good.subarray(good.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06])))])
    expect(refusal(() => readCredentialsZip(write(cut), both)).message).toMatch(/not a valid zip file/)
    expect(refusal(() => readCredentialsZip(write(Buffer.from('PK not really')), both)).message).toMatch(/not a valid zip file/)
    // A byte inside server_ca.pem's deflated data.
    const flipped = Buffer.from(good)
    const name = flipped.indexOf('server_ca.pem')
    const at = name + 'server_ca.pem'.length + 40
    flipped[at] = (flipped[at] as number) ^ 0xff
    expect(refusal(() => readCredentialsZip(write(flipped), both)).message).toMatch(/damaged/)
    // The central directory pointing past the end.
    const bad = Buffer.from(good)
    const eocd = bad.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]))
    bad.writeUInt32LE(bad.length, eocd + 16)
    expect(refusal(() => readCredentialsZip(write(bad), both)).message).toMatch(/not a valid zip file/)
    expect(refusal(() => readCredentialsZip(path.join(dir, 'absent.zip'), both)).message).toMatch(/not found/)
  })
})

describe('credentials-zip through the CLI', () => {
  it("a dir bake installs the zip's server CA as root.crt and autoprov.url as gateway.url; the zip's other files go nowhere", () => {
    const manifest = path.join(dir, 'devices.csv')
    writeFileSync(manifest, 'serial\nSN-Z1\n')
    const { 'server_ca.pem': _dropped, ...entries } = otaEntries()
    for (const [label, zip] of [
      ['server_ca.pem', makeZip(otaEntries())],
      ['p12 only', makeZip(entries)]
    ] as const) {
      const out = path.join(dir, `out-${label.replace(/\W/g, '')}`)
      const result = runCli([
        'bake',
        '--manifest',
        manifest,
        '--fleet-ca-cert',
        fleet.certPath,
        '--fleet-ca-key',
        fleet.keyPath,
        '--format',
        'dir',
        '--credentials-zip',
        zip,
        '--output-dir',
        out
      ])
      expect(result.status, result.stdout + result.stderr).toBe(0)
      const importDir = path.join(out, 'devices/SN-Z1/var/sota/import')
      expect(readdirSync(importDir).sort(), label).toEqual(['client.pem', 'gateway.url', 'pkey.pem', 'root.crt'])
      expect(der(readFileSync(path.join(importDir, 'root.crt'), 'utf8')), label).toBe(der(serverCa.certPem))
      expect(readFileSync(path.join(importDir, 'gateway.url'), 'utf8').trim(), label).toBe('https://abc123.device-gateway.ota.api.here.com:443')
      const everything = readdirSync(out, { recursive: true }).map(String).join('\n')
      expect(everything, label).not.toMatch(/targets\.sec|treehub|p12/)
      expect(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'), label).not.toContain('not a real key')
    }
    // A bad zip: exit 2, naming the input.
    const bad = runCli([
      'bake',
      '--manifest',
      manifest,
      '--fleet-ca-cert',
      fleet.certPath,
      '--fleet-ca-key',
      fleet.keyPath,
      '--format',
      'dir',
      '--credentials-zip',
      makeZip({ '../x': 'y' }),
      '--output-dir',
      path.join(dir, 'out-bad')
    ])
    expect(bad.status).toBe(2)
    expect(bad.stderr).toMatch(/credentials-zip/)
  })
})
