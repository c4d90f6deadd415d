// Issue 17, item 6 (SAN): a "*" that a manifest value brings into a DNS subjectAltName is refused
// before that device's certificate is issued (ManifestError, exit 2, naming the row and the field);
// a wildcard written in the san template itself is the user's choice, and the review shows each
// device's SAN as the certificate holds it (certificate.san), which openssl agrees with and verify
// checks. Through node dist/cli.js; openssl reads the certificates independently.
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeSan, ipAddressText } from '../../src/issue/san.js'
import { runCliAsync } from '../helpers/faults.js'
import { cleanupScratch, scratchDir } from '../helpers/images.js'
import { splitPems } from '../helpers/outputs.js'
import { cleanupPki, makeRootCa, openssl, type CaFixture } from '../helpers/pki.js'

let work: string
let fleet: CaFixture

beforeAll(async () => {
  work = await scratchDir('credbake-verify-san-')
  fleet = makeRootCa({ keyType: 'ec-p256', subject: '/CN=SAN Fleet Root' })
})

afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

function bake(name: string, csv: string, san: string, extra: string[] = []) {
  const devices = path.join(work, `${name}.csv`)
  writeFileSync(devices, csv)
  const out = path.join(work, name)
  return {
    out,
    devices,
    result: runCliAsync([
      'bake',
      '--manifest',
      devices,
      '--fleet-ca-cert',
      fleet.certPath,
      '--fleet-ca-key',
      fleet.keyPath,
      '--format',
      'tar',
      '--san',
      san,
      '--output-dir',
      out,
      ...extra
    ])
  }
}

/** The subjectAltName line of `openssl x509 -ext subjectAltName`, as openssl prints it. */
function opensslSan(pem: string): string {
  return openssl(['x509', '-noout', '-ext', 'subjectAltName'], { input: pem }).split('\n')[1]!.trim()
}

describe('a wildcard from a manifest value', () => {
  it('is refused with the manifest, before any certificate is issued, naming the row and the field', async () => {
    const { out, devices, result } = bake('wild-field', 'serial,host\nSW-01,alpha\nSW-02,*\nSW-03,gamma\n', 'DNS:{host}.example.com')
    const run = await result
    expect(run.status).toBe(2)
    expect(run.stderr).toContain(`${devices}:3: field "host": value "*" puts "*" into a DNS name of the san template`)
    expect(run.stderr).toContain('write the wildcard in the san template itself')
    expect(run.stderr.split('\n').filter((line) => line.startsWith('credbake: error:'))).toHaveLength(1)
    expect(run.stderr).not.toMatch(/\n\s+at /)
    // Nothing issued at all, not even the rows before it: no journal.
    expect(existsSync(path.join(out, 'credbake-journal.jsonl'))).toBe(false)
  })

  it('also inside a label ("a*b"), in a second DNS entry, while other name types may hold "*"', async () => {
    const mixed = await bake('wild-label', 'serial,host,path\nSX-01,ok,x*y\nSX-02,a*b,p\n', 'URI:urn:dev:{path}, DNS:{serial}.example.com, DNS:{host}.example.com').result
    expect(mixed.status).toBe(2)
    expect(mixed.stderr).toContain(':3: field "host": value "a*b" puts "*" into a DNS name')
    expect(mixed.stderr).not.toContain('field "path"')
  })
})

describe('the SAN in the review', () => {
  it("a wildcard written in the template is the user's choice: baked, shown per device, checked by verify", async () => {
    const { out, result } = bake('wild-template', 'serial\nST-01\nST-02\n', 'DNS:*.{serial}.example.com')
    const run = await result
    expect(run.status, run.stderr).toBe(0)
    const manifest = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
    expect(manifest.devices.map((d: any) => d.certificate.san)).toEqual(['DNS:*.ST-01.example.com', 'DNS:*.ST-02.example.com'])
    const pems = splitPems(readFileSync(path.join(out, 'certificates.pem'), 'utf8'))
    expect(pems.map(opensslSan)).toEqual(['DNS:*.ST-01.example.com', 'DNS:*.ST-02.example.com'])
    const verified = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', fleet.certPath])
    expect(verified.stdout).toBe('verified 2 devices: 2 passed, 0 failed\n')
    expect(verified.status).toBe(0)
  })

  it('every name type, as the certificate holds it (an IPv6 address in RFC 5952 form), agreeing with openssl', async () => {
    const { out, result } = bake(
      'all-types',
      'serial,ip\nSA-01,10.0.0.1\nSA-02,2001:DB8:0:0:1::7\n',
      'IP:2001:DB8::1, URI:urn:dev:{serial}, email:ops+{serial}@example.com, IP:{ip}, DNS:{serial}.example.com'
    )
    const run = await result
    expect(run.status, run.stderr).toBe(0)
    const manifest = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
    expect(manifest.devices.map((d: any) => d.certificate.san)).toEqual([
      'IP:2001:db8::1, URI:urn:dev:SA-01, email:ops+SA-01@example.com, IP:10.0.0.1, DNS:SA-01.example.com',
      // Two runs of two zero words: the first becomes "::" (RFC 5952 §4.2.3).
      'IP:2001:db8::1, URI:urn:dev:SA-02, email:ops+SA-02@example.com, IP:2001:db8::1:0:0:7, DNS:SA-02.example.com'
    ])
    // openssl spells the types otherwise and writes IPv6 in full: the same names.
    const pems = splitPems(readFileSync(path.join(out, 'certificates.pem'), 'utf8'))
    expect(opensslSan(pems[1]!)).toBe('IP Address:2001:DB8:0:0:0:0:0:1, URI:urn:dev:SA-02, email:ops+SA-02@example.com, IP Address:2001:DB8:0:0:1:0:0:7, DNS:SA-02.example.com')
    const verified = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', fleet.certPath])
    expect(verified.stdout).toBe('verified 2 devices: 2 passed, 0 failed\n')
  })

  it('without a san template, no entry has certificate.san', async () => {
    const { out, result } = bake('no-san', 'serial\nSN-01\n', 'DNS:x.example.com')
    expect((await result).status).toBe(0)
    const plain = path.join(work, 'no-san-plain')
    const devices = path.join(work, 'no-san.csv')
    const run = await runCliAsync(['bake', '--manifest', devices, '--fleet-ca-cert', fleet.certPath, '--fleet-ca-key', fleet.keyPath, '--format', 'tar', '--output-dir', plain])
    expect(run.status, run.stderr).toBe(0)
    const manifest = JSON.parse(readFileSync(path.join(plain, 'credbake-manifest.json'), 'utf8'))
    expect('san' in manifest.devices[0].certificate).toBe(false)
    expect(JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8')).devices[0].certificate.san).toBe('DNS:x.example.com')
  })
})

describe('describeSan', () => {
  it('escapes what would read as template syntax, and names types it does not know', () => {
    // SEQUENCE { [6] "urn:a,b{c}\\d", [4] directoryName (constructed), [7] 4 octets }
    const uri = Buffer.from('urn:a,b{c}\\d', 'latin1')
    const der = Buffer.concat([
      Buffer.from([0x30, 2 + uri.length + 4 + 6]),
      Buffer.from([0x86, uri.length]),
      uri,
      Buffer.from([0xa4, 0x02, 0x30, 0x00]),
      Buffer.from([0x87, 0x04, 192, 0, 2, 1])
    ])
    expect(describeSan(der)).toBe('URI:urn:a\\,b\\{c\\}\\\\d, dirName:#3000, IP:192.0.2.1')
  })

  it('writes IPv6 as RFC 5952 does', () => {
    const words = (hex: string): Buffer => Buffer.from(hex.replace(/:/g, ''), 'hex')
    expect(ipAddressText(words('2001:0db8:0000:0000:0000:0000:0000:0001'))).toBe('2001:db8::1')
    expect(ipAddressText(words('2001:0db8:0000:0001:0000:0000:0000:0001'))).toBe('2001:db8:0:1::1')
    expect(ipAddressText(words('2001:0db8:0000:0000:0001:0000:0000:0001'))).toBe('2001:db8::1:0:0:1')
    expect(ipAddressText(words('0000:0000:0000:0000:0000:0000:0000:0000'))).toBe('::')
    expect(ipAddressText(words('2001:0db8:0001:0001:0001:0001:0000:0001'))).toBe('2001:db8:1:1:1:1:0:1')
  })
})
