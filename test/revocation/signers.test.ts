// The CRL of a bake (input crl) and of `credbake crl`, signed through each kind of fleet CA key the
// bake takes: a SoftHSM2 token (pkcs11:), the KMS stand-in through the AWS SDK (awskms://) and a
// signer program (exec:). Each CRL is read and its signature checked by openssl and GnuTLS, and
// lists the certificate the second bake superseded.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { EXIT_CODES, FleetCaError } from '../../src/errors.js'
import { bake } from '../../src/pipeline/bake.js'
import type { Reporter } from '../../src/pipeline/reporter.js'
import { refreshCrl } from '../../src/revocation/refresh.js'
import { parseSettings, readKeyReference, readPem } from '../../src/settings/parse.js'
import type { ReviewManifest } from '../../src/shapes/review.js'
import { startKmsServer, type KmsStandIn } from '../helpers/kms-server.js'
import { cleanupPki, generateKey, makeRootCa } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'
import { generateTokenKey, makeToken, makeTokenRootCa, SOFTHSM_MODULE } from '../signer/softhsm.js'
import { certtoolCrlInfo, certtoolVerifyCrl, opensslCrlText, opensslCrlVerify, opensslReasons } from '../x509/support.js'

let work: string
const reporter: Reporter = { info: () => {}, warning: () => {}, progress: () => {} }

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-crl-signers-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

interface Signing {
  certPath: string
  certPem: string
  key: string
  passphrase?: string
  pkcs11Module?: string
}

/** Two bakes (the second reissues D-2) with crl: true, then `credbake crl`; every CRL checked by both tools. */
async function bakeAndRefresh(name: string, signing: Signing): Promise<void> {
  const out = path.join(work, name)
  const manifest = path.join(work, `${name}.csv`)
  const inputs = {
    manifest,
    'fleet-ca-cert': signing.certPath,
    'fleet-ca-key': signing.key,
    ...(signing.passphrase ? { 'fleet-ca-key-passphrase': signing.passphrase } : {}),
    ...(signing.pkcs11Module ? { 'pkcs11-module': signing.pkcs11Module } : {}),
    'output-dir': out,
    format: 'tar',
    'validity-days': '10',
    concurrency: '1',
    crl: 'true'
  }
  writeFileSync(manifest, 'serial,device-id\nD-1,D-1\nD-2,D-2\n')
  const first = await bake(parseSettings(inputs, { baseDir: work, tempRoot: work }), reporter)
  expect(first.crl).toMatchObject({ number: '1', entries: 0 })
  const before = (JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8')) as ReviewManifest).devices.find((device) => device.serial === 'D-2')
  writeFileSync(manifest, 'serial,device-id\nD-1,D-1\nD-2,D-2-renamed\n')
  const second = await bake(parseSettings(inputs, { baseDir: work, tempRoot: work }), reporter)
  expect(second.crl).toMatchObject({ number: '2', entries: 1 })
  checked(out, signing.certPem, 2n, before!.certificate.serialNumber)

  const refreshed = await refreshCrl({
    outputDir: out,
    fleetCaCert: readPem('fleet-ca-cert', signing.certPath, (p) => p, false),
    fleetCaKey: readKeyReference(signing.key, (p) => p),
    ...(signing.passphrase ? { passphrase: signing.passphrase } : {}),
    ...(signing.pkcs11Module ? { pkcs11Module: signing.pkcs11Module } : {}),
    days: 3
  })
  expect(refreshed.record).toMatchObject({ number: '3', entries: 1 })
  checked(out, signing.certPem, 3n, before!.certificate.serialNumber)
}

function checked(out: string, caPem: string, number: bigint, supersededSerial: string): void {
  const pem = readFileSync(path.join(out, 'crl.pem'), 'utf8')
  const openssl = opensslCrlVerify(caPem, pem)
  expect(openssl.ok, openssl.output).toBe(true)
  const gnutls = certtoolVerifyCrl(caPem, pem)
  expect(gnutls.ok, gnutls.output).toBe(true)
  const info = certtoolCrlInfo(pem)
  expect(info.number).toBe(number)
  expect(info.entries.map((entry) => entry.serial.replace(/^0+/, ''))).toEqual([supersededSerial.replace(/^0+/, '')])
  const reasons = opensslReasons(opensslCrlText(pem))
  expect([...reasons.values()]).toEqual(['Superseded'])
}

describe('the CRL through each kind of signer', () => {
  it('a PEM key', async () => {
    const fixture = makeRootCa({ keyType: 'rsa-2048', subject: '/CN=PEM CRL fleet' })
    await bakeAndRefresh('pem', { certPath: fixture.certPath, certPem: fixture.certPem, key: fixture.keyPath })
  })

  it('a SoftHSM2 token (pkcs11:)', async () => {
    const previousConf = process.env.SOFTHSM2_CONF
    try {
      const token = makeToken({ label: 'crlbake' })
      process.env.SOFTHSM2_CONF = token.conf
      generateTokenKey(token, { id: '01', label: 'fleet-ca' })
      const tokenCa = makeTokenRootCa(token, { object: 'fleet-ca', days: 60 })
      await bakeAndRefresh('pkcs11', {
        certPath: tokenCa.certPath,
        certPem: tokenCa.certPem,
        key: 'pkcs11:token=crlbake;object=fleet-ca',
        passphrase: token.pin,
        pkcs11Module: SOFTHSM_MODULE
      })
    } finally {
      if (previousConf === undefined) delete process.env.SOFTHSM2_CONF
      else process.env.SOFTHSM2_CONF = previousConf
    }
  })

  it('the KMS stand-in (awskms://)', async () => {
    const saved = { ...process.env }
    let kms: KmsStandIn | undefined
    try {
      const dir = path.dirname(generateKey('ec-p256').path)
      Object.assign(process.env, {
        AWS_ACCESS_KEY_ID: 'AKIDTESTCREDBAKE0002',
        AWS_SECRET_ACCESS_KEY: 'crl-bake-secret/0123456789',
        AWS_REGION: 'eu-west-1',
        AWS_SHARED_CREDENTIALS_FILE: path.join(dir, 'no-credentials'),
        AWS_CONFIG_FILE: path.join(dir, 'no-config'),
        AWS_EC2_METADATA_DISABLED: 'true'
      })
      for (const name of ['AWS_SESSION_TOKEN', 'AWS_PROFILE', 'AWS_DEFAULT_REGION', 'AWS_ROLE_ARN', 'AWS_WEB_IDENTITY_TOKEN_FILE', 'AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_KMS'])
        delete process.env[name]
      kms = await startKmsServer({ accessKeyId: 'AKIDTESTCREDBAKE0002', region: 'eu-west-1' })
      const caKey = generateKey('ec-p384')
      const fixture = makeRootCa({ key: caKey, subject: '/CN=KMS CRL bake fleet' })
      kms.addKey({ privateKeyPem: caKey.pem, aliases: ['alias/fleet-crl'] })
      await bakeAndRefresh('kms', { certPath: fixture.certPath, certPem: fixture.certPem, key: `awskms://${kms.hostPort}/alias/fleet-crl` })
    } finally {
      await kms?.close()
      for (const name of Object.keys(process.env)) if (!(name in saved)) delete process.env[name]
      Object.assign(process.env, saved)
    }
  })

  it('a signer program (exec:)', async () => {
    const fixture = makeRootCa({ keyType: 'ec-p256', subject: '/CN=exec CRL bake fleet' })
    const previous = process.env.CREDBAKE_TEST_SIGNER_KEY
    process.env.CREDBAKE_TEST_SIGNER_KEY = fixture.keyPath
    try {
      await bakeAndRefresh('exec', { certPath: fixture.certPath, certPem: fixture.certPem, key: `exec:${path.join(ROOT, 'test/fixtures/signers/openssl-signer.mjs')}` })
    } finally {
      if (previous === undefined) delete process.env.CREDBAKE_TEST_SIGNER_KEY
      else process.env.CREDBAKE_TEST_SIGNER_KEY = previous
    }
  })
})

describe('refused before anything is signed or issued', () => {
  it('crl: true with a fleet CA whose keyUsage lacks cRLSign: exit 3 naming fleet-ca-cert, no device issued', async () => {
    const fixture = makeRootCa({ keyType: 'ec-p256', subject: '/CN=No CRL signing', keyUsage: 'critical,keyCertSign' })
    const manifest = path.join(work, 'no-crlsign.csv')
    writeFileSync(manifest, 'serial\nN-1\n')
    const out = path.join(work, 'no-crlsign')
    const settings = parseSettings(
      { manifest, 'fleet-ca-cert': fixture.certPath, 'fleet-ca-key': fixture.keyPath, 'output-dir': out, format: 'tar', 'validity-days': '10', crl: 'true' },
      { baseDir: work, tempRoot: work }
    )
    const failure = await bake(settings, reporter).catch((error: unknown) => error)
    expect(failure).toBeInstanceOf(FleetCaError)
    expect(EXIT_CODES[(failure as FleetCaError).kind]).toBe(3)
    expect(failure).toMatchObject({ input: 'fleet-ca-cert' })
    expect(String(failure)).toMatch(/keyUsage without cRLSign/)
    expect(existsSync(path.join(out, 'credbake-journal.jsonl'))).toBe(false)
  })

  it('crl-days out of range, and credbake crl with another fleet CA than the one that baked', async () => {
    const fixture = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Days fleet' })
    const manifest = path.join(work, 'days.csv')
    writeFileSync(manifest, 'serial\nY-1\n')
    const out = path.join(work, 'days')
    const inputs = { manifest, 'fleet-ca-cert': fixture.certPath, 'fleet-ca-key': fixture.keyPath, 'output-dir': out, format: 'tar', 'validity-days': '10' }
    expect(() => parseSettings({ ...inputs, 'crl-days': '0' }, { baseDir: work })).toThrow(/crl-days "0" must be a whole number of days from 1 to 365/)
    await bake(parseSettings(inputs, { baseDir: work, tempRoot: work }), reporter)
    const other = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Days fleet' })
    const refused = refreshCrl({
      outputDir: out,
      fleetCaCert: readPem('fleet-ca-cert', other.certPath, (p) => p, false),
      fleetCaKey: readKeyReference(other.keyPath, (p) => p),
      days: 7
    })
    await expect(refused).rejects.toThrow(/was baked with the fleet CA of SHA-256 [0-9a-f]{64}, not this one/)
    expect(existsSync(path.join(out, 'crl.pem'))).toBe(false)
  })
})
