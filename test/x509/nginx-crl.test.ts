// A real gateway enforces credbake's CRL: nginx (Debian nginx-light) with ssl_verify_client on,
// ssl_client_certificate and ssl_crl, and curl presenting device certificates issued by credbake.
// A live device gets through; every certificate the CRL lists is refused; a certificate revoked
// later is refused once the new CRL is in place and nginx reloaded; a CRL past nextUpdate shuts
// everyone out; and with an intermediate fleet CA, nginx needs the root's CRL in the same file.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetCa } from '../../src/ca/load.js'
import type { FleetCa } from '../../src/ca/types.js'
import { buildProfile } from '../../src/issue/profile.js'
import type { IssuedCredential } from '../../src/issue/types.js'
import type { CaSigner } from '../../src/signer/types.js'
import { crlPeriod, signCrl, type CrlContent, type CrlEntry, type SignedCrl } from '../../src/x509/crl.js'
import { startNginx, type ClientCredentials, type Nginx } from '../helpers/nginx.js'
import { cleanupPki, makeIntermediateCa, makePkiDir, makeRootCa, openssl, type CaFixture } from '../helpers/pki.js'
import { DAYS_30, issueCredential, loadFixtureCa, makeDevice, pemText } from '../issue/support.js'

afterAll(cleanupPki)

interface Fleet {
  fixture: CaFixture
  ca: FleetCa
  signer: CaSigner
  devices: Record<string, IssuedCredential>
}

async function makeFleet(fixture: CaFixture, serials: string[]): Promise<Fleet> {
  const issuing = loadFixtureCa(fixture)
  const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: DAYS_30 }, issuing)
  const devices = Object.fromEntries(serials.map((serial) => [serial, issueCredential(issuing, profile, makeDevice(serial))]))
  const { ca, signer } = await openFleetCa({ cert: pemText('fleet-ca-cert', fixture.chainPem), key: pemText('fleet-ca-key', fixture.keyPem), lifetime: DAYS_30 })
  return { fixture, ca, signer, devices }
}

/** What aktualizr's client.pem holds: the device certificate, then the chain above it for an intermediate. */
function client(fleet: Fleet, serial: string): ClientCredentials {
  const device = fleet.devices[serial] as IssuedCredential
  const chain = fleet.fixture.issuer ? fleet.fixture.certPem : ''
  return { certPem: device.certificatePem + chain, keyPem: device.privateKeyPem as string }
}

function entry(fleet: Fleet, serial: string, reason: CrlEntry['reason']): CrlEntry {
  return { serialNumber: (fleet.devices[serial] as IssuedCredential).serialNumber, revokedAt: new Date(Date.now() - 60_000), reason }
}

async function crl(fleet: Fleet, number: bigint, entries: CrlEntry[], period: Pick<CrlContent, 'thisUpdate' | 'nextUpdate'> = crlPeriod(7)): Promise<SignedCrl> {
  return signCrl(fleet.ca, fleet.signer, { number, ...period, entries })
}

/** The root's own CRL, made as field notes say: `openssl ca -gencrl` with a minimal configuration. */
function rootCrl(root: CaFixture): string {
  const dir = makePkiDir('credbake-root-crl-')
  mkdirSync(path.join(dir, 'db'))
  writeFileSync(path.join(dir, 'db/index.txt'), '')
  writeFileSync(path.join(dir, 'db/crlnumber'), '01\n')
  const config = path.join(dir, 'root-ca.cnf')
  writeFileSync(
    config,
    ['[ ca ]', 'default_ca = root', '[ root ]', `database = ${dir}/db/index.txt`, `crlnumber = ${dir}/db/crlnumber`, 'default_md = sha384', 'default_crl_days = 30', ''].join('\n')
  )
  const out = path.join(dir, 'root.crl.pem')
  openssl(['ca', '-gencrl', '-batch', '-config', config, '-cert', root.certPath, '-keyfile', root.keyPath, '-out', out])
  return readFileSync(out, 'utf8')
}

async function status(gateway: Nginx, credentials?: ClientCredentials): Promise<number> {
  return (await gateway.request(credentials)).status
}

describe('nginx enforces the fleet CA CRL', () => {
  let fleet: Fleet
  let gateway: Nginx
  beforeAll(async () => {
    fleet = await makeFleet(makeRootCa({ keyType: 'ec-p256', subject: '/CN=nginx fleet CA/O=credbake tests' }), ['LIVE-1', 'LIVE-2', 'REISSUED', 'LEFT', 'STOLEN', 'NEVER-WRITTEN'])
    const first = await crl(fleet, 1n, [
      entry(fleet, 'REISSUED', 'superseded'),
      entry(fleet, 'LEFT', 'cessationOfOperation'),
      entry(fleet, 'STOLEN', 'keyCompromise'),
      entry(fleet, 'NEVER-WRITTEN', 'superseded')
    ])
    gateway = await startNginx({ clientCaPem: fleet.fixture.certPem, crlPem: first.pem })
  })
  afterAll(async () => {
    await gateway?.stop()
    await fleet?.signer.close()
  })

  it('listens on 127.0.0.1 and requires a client certificate', async () => {
    expect(gateway.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/$/)
    const answer = await gateway.request()
    expect(answer.status).toBe(400)
    expect(answer.body).toMatch(/No required SSL certificate was sent/)
  })

  it('a live device gets through, verified, with its own serial', async () => {
    const answer = await gateway.request(client(fleet, 'LIVE-1'))
    expect(answer.status).toBe(200)
    expect(answer.body.trim().toLowerCase()).toBe(`verify success serial ${(fleet.devices['LIVE-1'] as IssuedCredential).serialNumber}`)
  })

  it.each(['REISSUED', 'LEFT', 'STOLEN', 'NEVER-WRITTEN'])('%s, listed in the CRL, is refused as revoked', async (serial) => {
    const before = gateway.errorLog().length
    const answer = await gateway.request(client(fleet, serial))
    expect(answer.status).toBe(400)
    expect(answer.body).toMatch(/The SSL certificate error/)
    expect(gateway.errorLog().slice(before)).toMatch(/client SSL certificate verify error: \(23:certificate revoked\)/)
  })

  it('a device revoked later: allowed until the new CRL is in place and nginx reloaded, refused after', async () => {
    expect(await status(gateway, client(fleet, 'LIVE-2'))).toBe(200)
    const second = await crl(fleet, 2n, [
      entry(fleet, 'REISSUED', 'superseded'),
      entry(fleet, 'LEFT', 'cessationOfOperation'),
      entry(fleet, 'STOLEN', 'keyCompromise'),
      entry(fleet, 'NEVER-WRITTEN', 'superseded'),
      entry(fleet, 'LIVE-2', 'keyCompromise')
    ])
    // nginx reads ssl_crl when it loads its configuration: a new file alone changes nothing.
    writeFileSync(path.join(gateway.prefix, 'tls/crl.pem'), second.pem)
    expect(await status(gateway, client(fleet, 'LIVE-2'))).toBe(200)
    await gateway.reload({ crlPem: second.pem })
    expect(await status(gateway, client(fleet, 'LIVE-2'))).toBe(400)
    expect(await status(gateway, client(fleet, 'LIVE-1'))).toBe(200)
  })

  it('a CRL past its nextUpdate locks every device out: refreshing it is not optional', async () => {
    const stale = await crl(fleet, 3n, [entry(fleet, 'STOLEN', 'keyCompromise')], {
      thisUpdate: new Date(Date.now() - 9 * 86_400_000),
      nextUpdate: new Date(Date.now() - 2 * 86_400_000)
    })
    await gateway.reload({ crlPem: stale.pem })
    const before = gateway.errorLog().length
    expect(await status(gateway, client(fleet, 'LIVE-1'))).toBe(400)
    expect(gateway.errorLog().slice(before)).toMatch(/\(12:CRL has expired\)/)
    const fresh = await crl(fleet, 4n, [entry(fleet, 'STOLEN', 'keyCompromise')])
    await gateway.reload({ crlPem: fresh.pem })
    expect(await status(gateway, client(fleet, 'LIVE-1'))).toBe(200)
    expect(await status(gateway, client(fleet, 'STOLEN'))).toBe(400)
  })
})

describe('nginx with an intermediate fleet CA', () => {
  let root: CaFixture
  let fleet: Fleet
  let fleetCrl: SignedCrl
  let gateway: Nginx | undefined
  beforeAll(async () => {
    root = makeRootCa({ keyType: 'ec-p384', subject: '/CN=nginx root CA/O=credbake tests' })
    fleet = await makeFleet(makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=nginx intermediate fleet CA/O=credbake tests' }), ['LIVE', 'STOLEN'])
    fleetCrl = await crl(fleet, 1n, [entry(fleet, 'STOLEN', 'keyCompromise')])
  })
  afterAll(async () => {
    await gateway?.stop()
    await fleet?.signer.close()
  })

  it("with the fleet CA's CRL alone, nginx refuses every device: it checks CRLs at every level", async () => {
    gateway = await startNginx({ clientCaPem: root.certPem + fleet.fixture.certPem, crlPem: fleetCrl.pem })
    const before = gateway.errorLog().length
    expect(await status(gateway, client(fleet, 'LIVE'))).toBe(400)
    expect(gateway.errorLog().slice(before)).toMatch(/\(3:unable to get certificate CRL\)/)
  })

  it("with the root's CRL in the same file (cat fleet.crl.pem root.crl.pem): live 200, revoked 400", async () => {
    const combined = fleetCrl.pem + rootCrl(root)
    expect(combined.match(/BEGIN X509 CRL/g)).toHaveLength(2)
    await (gateway as Nginx).reload({ crlPem: combined })
    expect(await status(gateway as Nginx, client(fleet, 'LIVE'))).toBe(200)
    const before = (gateway as Nginx).errorLog().length
    expect(await status(gateway as Nginx, client(fleet, 'STOLEN'))).toBe(400)
    expect((gateway as Nginx).errorLog().slice(before)).toMatch(/\(23:certificate revoked\)/)
  })
})
