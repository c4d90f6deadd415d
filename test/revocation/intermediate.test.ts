// An intermediate fleet CA end to end: a bake with crl: true (fleet-ca-cert holds the chain),
// `credbake revoke` and `credbake crl`, and nginx trusting the root: with credbake's CRL alone nginx
// refuses every device (it checks CRLs at every level of the chain); with the root's CRL appended
// as the docs show (`cat crl.pem root-crl.pem`), the live device gets 200 and the revoked one 400.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bake } from '../../src/pipeline/bake.js'
import type { Reporter } from '../../src/pipeline/reporter.js'
import { refreshCrl } from '../../src/revocation/refresh.js'
import { revokeDevice } from '../../src/revocation/revoke.js'
import { parseSettings, readKeyReference, readPem } from '../../src/settings/parse.js'
import { startNginx, type ClientCredentials, type Nginx } from '../helpers/nginx.js'
import { cleanupPki, makeIntermediateCa, makePkiDir, makeRootCa, openssl, type CaFixture } from '../helpers/pki.js'
import { opensslCrlVerify } from '../x509/support.js'

let root: CaFixture
let fleet: CaFixture
let work: string
let gateway: Nginx | undefined
const reporter: Reporter = { info: () => {}, warning: () => {}, progress: () => {} }

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p384', subject: '/CN=Revocation root CA' })
  fleet = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Revocation intermediate fleet CA' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-crl-intermediate-'))
})
afterAll(async () => {
  await gateway?.stop()
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

/** The root's CRL, made where the root key lives, as docs/revocation-and-registries.md shows. */
function rootCrl(): string {
  const dir = makePkiDir('credbake-root-crl-')
  mkdirSync(path.join(dir, 'root-db'))
  writeFileSync(path.join(dir, 'root-db/index.txt'), '')
  writeFileSync(path.join(dir, 'root-db/crlnumber'), '01\n')
  const config = path.join(dir, 'root-ca.cnf')
  writeFileSync(
    config,
    ['[ ca ]', 'default_ca = root', '[ root ]', 'database = root-db/index.txt', 'crlnumber = root-db/crlnumber', 'default_md = sha384', 'default_crl_days = 365', ''].join('\n')
  )
  openssl(['ca', '-gencrl', '-batch', '-config', config, '-cert', root.certPath, '-keyfile', root.keyPath, '-out', 'root-crl.pem'], { cwd: dir })
  return readFileSync(path.join(dir, 'root-crl.pem'), 'utf8')
}

function credentials(out: string, serial: string): ClientCredentials {
  const dir = path.join(out, 'devices', serial, 'var/sota/import')
  return { certPem: readFileSync(path.join(dir, 'client.pem'), 'utf8'), keyPem: readFileSync(path.join(dir, 'pkey.pem'), 'utf8') }
}

describe('an intermediate fleet CA behind nginx', () => {
  it("credbake's CRL alone locks everyone out; with the root's CRL appended, live 200 and revoked 400", async () => {
    const manifest = path.join(work, 'devices.csv')
    writeFileSync(manifest, 'serial\nI-LIVE\nI-STOLEN\n')
    const out = path.join(work, 'out')
    const settings = parseSettings(
      { manifest, 'fleet-ca-cert': fleet.chainPath, 'fleet-ca-key': fleet.keyPath, 'output-dir': out, format: 'dir', 'validity-days': '20', concurrency: '1', crl: 'true' },
      { baseDir: work, tempRoot: work }
    )
    await bake(settings, reporter)
    await revokeDevice({ outputDir: out, serial: 'I-STOLEN', reason: 'keyCompromise' })
    await refreshCrl({ outputDir: out, fleetCaCert: readPem('fleet-ca-cert', fleet.chainPath, (p) => p, false), fleetCaKey: readKeyReference(fleet.keyPath, (p) => p), days: 7 })
    const fleetCrl = readFileSync(path.join(out, 'crl.pem'), 'utf8')
    const check = opensslCrlVerify(fleet.certPem, fleetCrl)
    expect(check.ok, check.output).toBe(true)
    // client.pem carries the fleet CA after the device certificate: nginx trusts only the root.
    expect(credentials(out, 'I-LIVE').certPem.match(/BEGIN CERTIFICATE/g)).toHaveLength(2)

    gateway = await startNginx({ clientCaPem: root.certPem, crlPem: fleetCrl })
    const before = gateway.errorLog().length
    expect((await gateway.request(credentials(out, 'I-LIVE'))).status).toBe(400)
    expect(gateway.errorLog().slice(before)).toMatch(/unable to get certificate CRL/)

    await gateway.reload({ crlPem: fleetCrl + rootCrl() })
    expect((await gateway.request(credentials(out, 'I-LIVE'))).status).toBe(200)
    expect((await gateway.request(credentials(out, 'I-STOLEN'))).status).toBe(400)
    expect(gateway.errorLog()).toMatch(/certificate revoked/)
  })
})
