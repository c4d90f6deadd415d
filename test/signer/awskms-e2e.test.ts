// End to end: the bundled CLI (dist/cli.js) bakes a fleet with `fleet-ca-key: awskms://…` through
// the real @aws-sdk/client-kms inside the bundle, against the KMS stand-in on 127.0.0.1. The CA
// certificate is made by openssl for the key the stand-in holds. Every device certificate must
// pass `openssl verify`; a KMS that starts refusing mid-run must leave a resumable output-dir.
// (The SDK is dist/aws-kms.js, loaded beside the bundle: awskms-dist.test.ts runs a copy of dist/.)
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readJournalFile, runCliAsync, startAction, type ChildResult } from '../helpers/faults.js'
import { startKmsServer, type KmsKey, type KmsStandIn } from '../helpers/kms-server.js'
import { cleanupPki, generateKey, makePkiDir, makeRootCa, openssl, type CaFixture } from '../helpers/pki.js'
import { NODE24, parseOutputs } from '../helpers/run.js'
import { checkOutputDir } from '../robustness/invariants.js'

const ACCESS_KEY_ID = 'AKIDTESTCREDBAKE0002'
const SECRET = 'e2e-secret-access-key-never-printed/0123456789abcdef'

let kms: KmsStandIn
let key: KmsKey
let ca: CaFixture
let work: string

function awsEnv(): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: undefined,
    AWS_PROFILE: undefined,
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'no-credentials'),
    AWS_CONFIG_FILE: path.join(work, 'no-config'),
    AWS_EC2_METADATA_DISABLED: 'true'
  }
}

function manifest(name: string, count: number): { file: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `KMS-${String(i).padStart(4, '0')}`)
  const file = path.join(work, name)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return { file, serials }
}

function bake(manifestFile: string, out: string): Promise<ChildResult> {
  return runCliAsync(
    ['bake', '--manifest', manifestFile, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', `awskms://${kms.hostPort}/alias/fleet`, '--format', 'tar', '--output-dir', out],
    { env: awsEnv() }
  )
}

/** No file of output-dir and no output stream holds the AWS secret. */
function expectNoSecret(out: string, ...texts: string[]): void {
  for (const text of texts) expect(text).not.toContain(SECRET)
  for (const name of readdirSync(out, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(out, name)
    if (statSync(file).isFile()) expect(readFileSync(file).includes(SECRET), name).toBe(false)
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kmstest-e2e-'))
  const keyDir = makePkiDir('kmstest-ca-')
  const caKey = generateKey('ec-p256', { dir: keyDir, name: 'kms-fleet' })
  // openssl self-signs the CA certificate with the key the stand-in will hold.
  ca = makeRootCa({ key: caKey, dir: keyDir, subject: '/CN=KMS Fleet CA/O=credbake tests' })
  kms = await startKmsServer({ accessKeyId: ACCESS_KEY_ID, region: 'eu-west-1' })
  key = kms.addKey({ privateKeyPem: caKey.pem, aliases: ['alias/fleet'] })
  // The PEM key stays in the test only: credbake sees the URI.
  rmSync(caKey.path)
})

afterAll(async () => {
  await kms?.close()
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

describe('awskms: bake through the bundle', () => {
  it('bakes 50 devices (tar); every certificate verifies against the CA made for the KMS key', async () => {
    const { file, serials } = manifest('fleet.csv', 50)
    const out = path.join(work, 'out-ok')
    const signsBefore = key.signs
    const result = await bake(file, out)
    expect(result.status, result.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [os.tmpdir()] })
    expect(check.problems).toEqual([])
    expect(check.manifest.devices).toHaveLength(50)
    // 50 certificates and credbake's test signature, all signed by the stand-in.
    expect(key.signs - signsBefore).toBe(51)
    expectNoSecret(out, result.stdout, result.stderr)
  })

  it('KMS refusing Sign mid-run: exit 3 naming fleet-ca-key, a consistent journal, and a rerun completes', async () => {
    // The bake journals and writes in batches (a few issued ahead, signing side by side): with 1,000
    // devices and the key refused after 600 signatures, the first batches are complete and written
    // whatever the batch size (up to a few hundred), and later ones fail in the middle.
    const { file, serials } = manifest('fleet-deny.csv', 1000)
    const out = path.join(work, 'out-deny')
    key.denyAfterSigns = key.signs + 1 + 600
    let failed: ChildResult
    try {
      failed = await bake(file, out)
    } finally {
      key.denyAfterSigns = undefined
    }
    expect(failed.status, failed.stderr).toBe(3)
    expect(failed.stderr).toMatch(/fleet-ca-key alias\/fleet: AWS KMS .* denied Sign: the role needs kms:Sign and kms:GetPublicKey on alias\/fleet/)
    expectNoSecret(out, failed.stdout, failed.stderr)
    const journal = readJournalFile(out)
    expect(journal.badChecksums).toEqual([])
    expect(journal.torn).toEqual([])
    expect(journal.unterminated).toBe(false)
    const issuedBefore = journal.records.filter((r) => r.type === 'issued').length
    expect(issuedBefore).toBeGreaterThan(0)
    expect(issuedBefore).toBeLessThan(1000)

    const rerun = await bake(file, out)
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [os.tmpdir()] })
    expect(check.problems).toEqual([])
    // Whatever the failed run journaled is accounted for (active or superseded).
    expect(check.issued.length).toBeGreaterThanOrEqual(1000)
    expect(check.issued.slice(0, issuedBefore)).toEqual(
      journal.records.filter((r) => r.type === 'issued').map((r) => (r as { certificate: { sha256: string } }).certificate.sha256)
    )
  })

  it("an intermediate fleet CA made for the KMS key with the README's openssl steps (no private key)", async () => {
    const fleetKms = kms.addKey({ spec: 'ECC_NIST_P384', aliases: ['alias/fleet-intermediate'] })
    const dir = makePkiDir('kmstest-intermediate-')
    const rootCa = makeRootCa({ keyType: 'ec-p256', dir, subject: '/CN=Offline Root/O=credbake tests' })
    // `aws kms get-public-key`: the real SDK against the stand-in.
    const { KMSClient, GetPublicKeyCommand } = await import('@aws-sdk/client-kms')
    const client = new KMSClient({ region: 'eu-west-1', endpoint: kms.url, credentials: { accessKeyId: ACCESS_KEY_ID, secretAccessKey: SECRET } })
    const answer = await client.send(new GetPublicKeyCommand({ KeyId: 'alias/fleet-intermediate' }))
    client.destroy()
    writeFileSync(path.join(dir, 'fleet-ca.pub.der'), answer.PublicKey!)
    openssl(['pkey', '-pubin', '-inform', 'DER', '-in', 'fleet-ca.pub.der', '-out', 'fleet-ca.pub.pem'], { cwd: dir })
    writeFileSync(
      path.join(dir, 'fleet-ca.ext'),
      'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n'
    )
    openssl(
      [
        'x509',
        '-new',
        '-subj',
        '/CN=Example Fleet CA/O=Example',
        '-force_pubkey',
        'fleet-ca.pub.pem',
        '-CA',
        rootCa.certPath,
        '-CAkey',
        rootCa.keyPath,
        '-days',
        '1825',
        '-extfile',
        'fleet-ca.ext',
        '-out',
        'fleet-ca.pem'
      ],
      { cwd: dir }
    )
    const fleetPem = readFileSync(path.join(dir, 'fleet-ca.pem'), 'utf8')
    const chain = path.join(dir, 'fleet-ca-chain.pem')
    writeFileSync(chain, fleetPem + rootCa.certPem)

    const { file, serials } = manifest('fleet-intermediate.csv', 20)
    const out = path.join(work, 'out-intermediate')
    const result = await runCliAsync(
      ['bake', '--manifest', file, '--fleet-ca-cert', chain, '--fleet-ca-key', 'awskms://' + kms.hostPort + '/alias/fleet-intermediate', '--format', 'tar', '--output-dir', out],
      { env: awsEnv() }
    )
    expect(result.status, result.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: rootCa.certPem, untrustedPems: [fleetPem], serials })
    expect(check.problems).toEqual([])
    expect(fleetKms.signs).toBe(21)
  })

  it('an access-denied key at start: exit 3 before anything is written', async () => {
    const { file } = manifest('fleet-closed.csv', 5)
    const out = path.join(work, 'out-closed')
    key.denied = true
    let result: ChildResult
    try {
      result = await bake(file, out)
    } finally {
      key.denied = false
    }
    expect(result.status, result.stderr).toBe(3)
    expect(result.stderr).toMatch(/fleet-ca-key alias\/fleet: .*denied GetPublicKey/)
    expect(readJournalFile(out).records.filter((r) => r.type === 'issued')).toEqual([])
  })

  it('the action (dist/index.js under Node 24) bakes with fleet-ca-key: awskms://', async () => {
    const runner = mkdtempSync(path.join(work, 'runner-'))
    const files = {
      outputFile: path.join(runner, 'github_output'),
      summaryFile: path.join(runner, 'step_summary'),
      runnerTemp: path.join(runner, 'temp'),
      workspace: path.join(runner, 'workspace')
    }
    mkdirSync(files.runnerTemp)
    mkdirSync(files.workspace)
    writeFileSync(files.outputFile, '')
    writeFileSync(files.summaryFile, '')
    const { file, serials } = manifest('fleet-action.csv', 10)
    const out = path.join(files.workspace, 'out')
    const result = await startAction(
      { manifest: file, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': `awskms://${kms.hostPort}/alias/fleet`, format: 'tar', 'output-dir': out },
      files,
      { node: NODE24, env: awsEnv() as Record<string, string> }
    ).done
    expect(result.status, result.stderr + result.stdout).toBe(0)
    const outputs = parseOutputs(readFileSync(files.outputFile, 'utf8'))
    expect(outputs.devices).toBe('10')
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials })
    expect(check.problems).toEqual([])
    expectNoSecret(out, result.stdout, result.stderr, readFileSync(files.summaryFile, 'utf8'), readFileSync(files.outputFile, 'utf8'))
  })
})
