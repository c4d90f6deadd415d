// Signers outside the process that answer the start-up test signature correctly and then hand back
// bad signatures: made with another key, one signature repeated, garbage bytes. Through the bundled
// CLI (dist/cli.js), with an exec: signer program (test/fixtures/signers/faulty-signer.mjs) and the
// AWS KMS stand-in (test/helpers/kms-server.ts, reached by the real @aws-sdk/client-kms in the
// bundle): exit 3 naming the signer, the device and the fault; every certificate the journal holds
// verifies; no review is written; nothing is left held; and a rerun with a good signer resumes to
// a complete output-dir whose every certificate `openssl verify` accepts. Both issuing paths: the
// device workers that seal tar batches (600 devices), and the main thread (images; a small tar bake).
import { X509Certificate } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { credbakeTempDirs, readJournalFile, runCliAsync, tempLeftovers, type ChildResult } from '../helpers/faults.js'
import { buildBareExt4 } from '../helpers/images.js'
import { startKmsServer, type KmsKey, type KmsStandIn } from '../helpers/kms-server.js'
import { splitPems } from '../helpers/outputs.js'
import { cleanupPki, generateKey, makePkiDir, makeRootCa, opensslVerify, type CaFixture, type KeyFixture } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'
import { checkOutputDir } from '../robustness/invariants.js'

const SIGNER = path.join(ROOT, 'test/fixtures/signers/faulty-signer.mjs')
const ACCESS_KEY_ID = 'AKIDTESTCREDBAKE0017'
type Fault = 'other-key' | 'repeat' | 'garbage'
type SignerKind = 'exec' | 'kms'

/** What the refusal must say about each fault. */
const FAULT_MESSAGES: Record<Fault, RegExp> = {
  'other-key': /signed by another key \(or over other bytes\): it does not verify with the fleet CA certificate's public key/,
  repeat: /a repeated signature: the same bytes it handed back for (device [A-Z]+-\d+|the start-up test signature)/,
  garbage: /not a well-formed signature: not a DER Ecdsa-Sig-Value/
}

let work: string
let ca: CaFixture
let caKey: KeyFixture
let otherKey: KeyFixture
let kms: KmsStandIn
let kmsKey: KmsKey
let image: string

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-badsig-'))
  const keys = makePkiDir('credbake-badsig-ca-')
  caKey = generateKey('ec-p256', { dir: keys, name: 'fleet' })
  ca = makeRootCa({ key: caKey, dir: keys, subject: '/CN=Bad Signature Fleet CA/O=credbake tests' })
  otherKey = generateKey('ec-p256', { dir: keys, name: 'other' })
  kms = await startKmsServer({ accessKeyId: ACCESS_KEY_ID, region: 'eu-west-1' })
  kmsKey = kms.addKey({ privateKeyPem: caKey.pem, aliases: ['alias/fleet'] })
  image = (await buildBareExt4(work, { size: 8 << 20, file: 'base.ext4' })).path
})

afterAll(async () => {
  await kms?.close()
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

interface Bake {
  signer: SignerKind
  manifest: string
  out: string
  /** A temp root of the run's own, to see that nothing is left in it. */
  tmp: string
  format: 'tar' | 'image'
}

function manifest(name: string, prefix: string, count: number): { file: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(4, '0')}`)
  const file = path.join(work, `${name}.csv`)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return { file, serials }
}

function awsEnv(): Record<string, string | undefined> {
  return {
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: 'bad-signature-test-secret',
    AWS_SESSION_TOKEN: undefined,
    AWS_REGION: 'eu-west-1',
    AWS_DEFAULT_REGION: undefined,
    AWS_PROFILE: undefined,
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'no-credentials'),
    AWS_CONFIG_FILE: path.join(work, 'no-config'),
    AWS_EC2_METADATA_DISABLED: 'true'
  }
}

/** One bake; `fault` with `good` correct device signatures before it (after the start-up one), or a good signer throughout. */
async function bake(run: Bake, fault?: { kind: Fault; good: number }): Promise<ChildResult> {
  const key = run.signer === 'exec' ? `exec:${SIGNER}` : `awskms://${kms.hostPort}/alias/fleet`
  const args = ['bake', '--manifest', run.manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', key, '--format', run.format, '--output-dir', run.out]
  if (run.format === 'image') args.push('--image', image)
  const env: Record<string, string | undefined> = {
    TMPDIR: run.tmp,
    // Images: one device per batch, so the devices before the fault are journaled and written.
    CREDBAKE_IMAGE_IN_FLIGHT: '1',
    ...(run.signer === 'exec'
      ? {
          CREDBAKE_TEST_SIGNER_KEY: caKey.path,
          CREDBAKE_TEST_SIGNER_OTHER_KEY: otherKey.path,
          CREDBAKE_TEST_SIGNER_MODE: fault?.kind ?? 'good',
          CREDBAKE_TEST_SIGNER_GOOD: String(fault?.good ?? 0)
        }
      : awsEnv())
  }
  if (run.signer === 'kms' && fault) kmsKey.signFault = { kind: fault.kind, afterSigns: kmsKey.signs + 1 + fault.good }
  try {
    return await runCliAsync(args, { env })
  } finally {
    kmsKey.signFault = undefined
  }
}

/** The signer's description as credbake names it. */
function signerName(signer: SignerKind): RegExp {
  return signer === 'exec' ? new RegExp(`the signer program ${SIGNER.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}`) : /AWS KMS key alias\/fleet \(EC P-256, [^)]*\)/
}

/**
 * After a refused signature: exit 3 with one message naming signer, device and fault (no stack
 * trace); the journal whole, each `issued` certificate verifying with the CA and not the refused
 * device's; no review written; no lock, temp file or secret temp folder left. Returns the
 * certificates the journal holds.
 */
function expectRefused(run: Bake, result: ChildResult, fault: Fault): string[] {
  expect(result.status, result.stdout + result.stderr).toBe(3)
  const message = new RegExp(`fleet-ca-key: ${signerName(run.signer).source} handed back a bad signature for device ([A-Z]+-\\d{4}): ${FAULT_MESSAGES[fault].source}`)
  const match = message.exec(result.stderr)
  expect(match, result.stderr).not.toBeNull()
  expect(result.stderr).toMatch(/a rerun|run again: the run resumes/)
  expect(result.stderr).not.toMatch(/\n\s+at /)
  const refusedSerial = match![1]

  const journal = readJournalFile(run.out)
  expect(journal.badChecksums).toEqual([])
  expect(journal.torn).toEqual([])
  expect(journal.unterminated).toBe(false)
  const issued = journal.records.flatMap((record) => (record.type === 'issued' ? [record] : []))
  expect(issued.map((record) => record.serial)).not.toContain(refusedSerial)
  const pems = issued.map((record) => record.certificate.pem)
  if (pems.length) {
    const verified = opensslVerify(pems, { trustedPem: ca.certPem })
    expect(verified.ok, verified.output.slice(0, 600)).toBe(true)
  }
  const issuedSha = new Set(issued.map((record) => record.certificate.sha256))
  for (const record of journal.records) if (record.type === 'written') expect(issuedSha.has(record.certificateSha256)).toBe(true)

  for (const name of ['credbake-manifest.json', 'certificates.pem', 'SHA256SUMS']) expect(existsSync(path.join(run.out, name)), name).toBe(false)
  expect(existsSync(path.join(run.out, 'credbake.lock'))).toBe(false)
  expect(tempLeftovers(run.out)).toEqual([])
  expect(credbakeTempDirs(run.tmp)).toEqual([])
  return pems
}

/** The rerun with a good signer: complete, everything verifies, what the failed run journaled kept. */
async function expectRerunCompletes(run: Bake, serials: string[], journaledBefore: string[]): Promise<void> {
  const rerun = await bake(run)
  expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0)
  const check = checkOutputDir({ outputDir: run.out, rootPem: ca.certPem, serials, tempRoots: [run.tmp] })
  expect(check.problems).toEqual([])
  const certificates = splitPems(readFileSync(path.join(run.out, 'certificates.pem'), 'utf8'))
  expect(certificates).toHaveLength(serials.length)
  const verified = opensslVerify(certificates, { trustedPem: ca.certPem })
  expect(verified.ok, verified.output.slice(0, 600)).toBe(true)
  // Devices finished before the refusal were resumed, not issued again.
  const fingerprints = new Set(check.manifest.devices.map((device: { certificate: { sha256: string } }) => device.certificate.sha256))
  for (const pem of journaledBefore) expect(fingerprints.has(new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase())).toBe(true)
}

function newRun(name: string, signer: SignerKind, format: Bake['format'], file: string): Bake {
  const tmp = path.join(work, `tmp-${name}`)
  mkdirSync(tmp)
  return { signer, manifest: file, out: path.join(work, `out-${name}`), tmp, format }
}

const FAULTS: Fault[] = ['other-key', 'repeat', 'garbage']
const SIGNERS: SignerKind[] = ['exec', 'kms']

describe('bad signatures on the device workers (tar, 600 devices)', () => {
  // Batches of 128 are journaled in turn, three signed at once: with 384 good device signatures
  // the first batch is always complete and journaled, and a later one is refused.
  describe.each(SIGNERS)('%s signer', (signer) => {
    it.each(FAULTS)(
      '%s: exit 3, a consistent journal, and a rerun with a good signer completes',
      async (fault) => {
        const { file, serials } = manifest(`workers-${signer}-${fault}`, 'WRK', 600)
        const run = newRun(`workers-${signer}-${fault}`, signer, 'tar', file)
        const failed = await bake(run, { kind: fault, good: 384 })
        const journaled = expectRefused(run, failed, fault)
        expect(journaled.length).toBeGreaterThanOrEqual(128)
        expect(journaled.length).toBeLessThan(600)
        await expectRerunCompletes(run, serials, journaled)
      },
      240_000
    )
  })
})

describe('bad signatures on the main thread', () => {
  // Images: one device per batch; exec gets one good device signature first, KMS none (so a
  // repeat is of the start-up test signature).
  describe.each(SIGNERS)('%s signer, image outputs', (signer) => {
    it.each(FAULTS)(
      '%s: exit 3, a consistent journal, and a rerun with a good signer completes',
      async (fault) => {
        const { file, serials } = manifest(`image-${signer}-${fault}`, 'IMG', 4)
        const run = newRun(`image-${signer}-${fault}`, signer, 'image', file)
        const good = signer === 'exec' ? 1 : 0
        const failed = await bake(run, { kind: fault, good })
        const journaled = expectRefused(run, failed, fault)
        expect(journaled).toHaveLength(good)
        if (fault === 'repeat')
          expect(failed.stderr).toContain(signer === 'exec' ? 'the same bytes it handed back for device IMG-0000' : 'the same bytes it handed back for the start-up test signature')
        await expectRerunCompletes(run, serials, journaled)
      },
      240_000
    )
  })

  it('tar with few devices (no worker threads): garbage from the signer program', async () => {
    const { file, serials } = manifest('few-exec-garbage', 'FEW', 40)
    const run = newRun('few-exec-garbage', 'exec', 'tar', file)
    const failed = await bake(run, { kind: 'garbage', good: 0 })
    expect(expectRefused(run, failed, 'garbage')).toEqual([])
    await expectRerunCompletes(run, serials, [])
  }, 240_000)
})
