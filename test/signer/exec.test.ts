// The exec: signer with a real signer program (test/fixtures/signers/openssl-signer.mjs, which signs
// with `openssl pkeyutl`): certificates verify with openssl; a program that is missing, answers
// garbage, holds another key or dies mid-run fails with FleetCaError naming fleet-ca-key (CLI exit
// 3, no manifest), and the run that died resumes to completion.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openFleetCa } from '../../src/ca/load.js'
import { CredbakeError, FleetCaError } from '../../src/errors.js'
import { buildProfile } from '../../src/issue/profile.js'
import { cleanupPki, generateKey, keyFormats, makeRootCa, opensslVerify, type CaFixture } from '../helpers/pki.js'
import { splitPems } from '../helpers/outputs.js'
import { ROOT, runCli } from '../helpers/run.js'
import { issueThroughPool, makeDevice, pemText } from '../issue/support.js'

const SIGNER = path.join(ROOT, 'test/fixtures/signers/openssl-signer.mjs')
const DAYS = { kind: 'days', days: 30 } as const
let ec: CaFixture
let rsa: CaFixture
let work: string

beforeAll(() => {
  ec = makeRootCa({ keyType: 'ec-p256', subject: '/CN=exec fleet root' })
  rsa = makeRootCa({ keyType: 'rsa-2048', subject: '/CN=exec rsa root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-exec-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function withEnv<T>(env: Record<string, string | undefined>, run: () => Promise<T>): Promise<T> {
  const previous = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]))
  Object.assign(process.env, env)
  for (const [name, value] of Object.entries(env)) if (value === undefined) delete process.env[name]
  return run().finally(() => {
    for (const [name, value] of Object.entries(previous)) {
      if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
  })
}

async function bakeInProcess(ca: CaFixture, env: Record<string, string | undefined>, count: number, passphrase?: string): Promise<{ pems: string[]; warnings: string[] }> {
  const warnings: string[] = []
  return withEnv(env, async () => {
    const { ca: fleet, signer } = await openFleetCa({
      cert: pemText('fleet-ca-cert', ca.certPem),
      key: pemText('fleet-ca-key', `exec:${SIGNER}`),
      lifetime: DAYS,
      warn: (message) => warnings.push(message),
      ...(passphrase ? { passphrase } : {})
    })
    try {
      const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id}', lifetime: DAYS }, fleet)
      const pems = await issueThroughPool(
        fleet,
        profile,
        signer,
        Array.from({ length: count }, (_, i) => makeDevice(`EXEC-${i}`))
      )
      return { pems, warnings }
    } finally {
      await signer.close()
    }
  })
}

async function refusal(promise: Promise<unknown>): Promise<CredbakeError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(FleetCaError)
    return error as CredbakeError
  }
  throw new Error('expected a refusal')
}

describe('exec: signer program', () => {
  it.each([
    ['EC P-256', () => ec],
    ['RSA 2048', () => rsa]
  ])("%s: devices verify with openssl; the program's stderr becomes warnings", async (_name, ca) => {
    const { pems, warnings } = await bakeInProcess(ca(), { CREDBAKE_TEST_SIGNER_KEY: ca().keyPath, CREDBAKE_TEST_SIGNER_MODE: 'good' }, 24)
    const result = opensslVerify(pems, { trustedPem: ca().certPem })
    expect(result.ok, result.output).toBe(true)
    expect(warnings).toContain('signer program: openssl-signer: ready (mode good)')
  })

  it('an encrypted key: the passphrase reaches the program as CREDBAKE_SIGNER_PASSPHRASE', async () => {
    const encrypted = path.join(work, 'encrypted.key')
    writeFileSync(encrypted, keyFormats(ec.key, { passphrase: 'exec-pass-3391' }).encryptedPkcs8.pem)
    const { pems } = await bakeInProcess(ec, { CREDBAKE_TEST_SIGNER_KEY: encrypted, CREDBAKE_TEST_SIGNER_MODE: 'good' }, 3, 'exec-pass-3391')
    expect(opensslVerify(pems, { trustedPem: ec.certPem }).ok).toBe(true)
  })

  it('a missing program', async () => {
    const error = await refusal(
      openFleetCa({ cert: pemText('fleet-ca-cert', ec.certPem), key: pemText('fleet-ca-key', `exec:${path.join(work, 'no-such-signer')}`), lifetime: DAYS })
    )
    expect(error.input).toBe('fleet-ca-key')
    expect(error.message).toMatch(/cannot be started: no such program/)
  })

  it('a program that is not executable', async () => {
    const script = path.join(work, 'not-executable.sh')
    writeFileSync(script, '#!/bin/sh\n', { mode: 0o644 })
    const error = await refusal(openFleetCa({ cert: pemText('fleet-ca-cert', ec.certPem), key: pemText('fleet-ca-key', `exec:${script}`), lifetime: DAYS }))
    expect(error.message).toMatch(/not executable/)
  })

  it('a program that answers garbage', async () => {
    const error = await refusal(bakeInProcess(ec, { CREDBAKE_TEST_SIGNER_KEY: ec.keyPath, CREDBAKE_TEST_SIGNER_MODE: 'garbage' }, 5))
    expect(error.input).toBe('fleet-ca-key')
    expect(error.message).toMatch(/not credbake's JSON-lines protocol: a line that is not JSON/)
  })

  it('a program holding another key', async () => {
    const other = generateKey('ec-p256')
    const error = await refusal(bakeInProcess(ec, { CREDBAKE_TEST_SIGNER_KEY: ec.keyPath, CREDBAKE_TEST_SIGNER_MODE: 'wrong-key', CREDBAKE_TEST_SIGNER_OTHER_KEY: other.path }, 1))
    expect(error.message).toMatch(/does not match the fleet CA certificate/)
  })

  it('a program that signs with another key than it reports: the test signature catches it', async () => {
    const other = generateKey('ec-p256')
    // Reports the CA's public key but signs with `other`.
    const error = await refusal(
      withEnv({ CREDBAKE_TEST_SIGNER_KEY: other.path, CREDBAKE_TEST_SIGNER_MODE: 'wrong-key', CREDBAKE_TEST_SIGNER_OTHER_KEY: ec.keyPath }, () =>
        openFleetCa({ cert: pemText('fleet-ca-cert', ec.certPem), key: pemText('fleet-ca-key', `exec:${SIGNER}`), lifetime: DAYS })
      )
    )
    expect(error.message).toMatch(/test signature .* does not verify/)
  })
})

describe('exec: a signer that dies mid-run (bundled CLI, worker threads)', () => {
  it('exit 3 and no manifest; the next run resumes and completes; the passphrase is never printed', () => {
    const manifest = path.join(work, 'devices.csv')
    const count = 400
    writeFileSync(manifest, `serial\n${Array.from({ length: count }, (_, i) => `DIE-${i}`).join('\n')}\n`)
    const out = path.join(work, 'out-die')
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', ec.certPath, '--fleet-ca-key', `exec:${SIGNER}`, '--format', 'tar', '--output-dir', out]
    const env = { CREDBAKE_TEST_SIGNER_KEY: ec.keyPath, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: 'unused-pass-6620' }
    const died = runCli(args, { env: { ...env, CREDBAKE_TEST_SIGNER_MODE: 'die-after-150' } })
    expect(died.status, died.stdout + died.stderr).toBe(3)
    expect(died.stderr).toMatch(/fleet-ca-key: the signer program .* exited with code 1/)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)

    const resumed = runCli(args, { env: { ...env, CREDBAKE_TEST_SIGNER_MODE: 'good' } })
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(0)
    const certificates = splitPems(readFileSync(path.join(out, 'certificates.pem'), 'utf8'))
    expect(certificates).toHaveLength(count)
    const result = opensslVerify(certificates, { trustedPem: ec.certPem })
    expect(result.ok, result.output).toBe(true)
    for (const run of [died, resumed]) expect(run.stdout + run.stderr).not.toContain('unused-pass-6620')
  }, 180_000)
})

describe('exec: a signer program whose descendants keep its output pipes open after it exits', () => {
  // The program leaves a background process holding its stdout and stderr; credbake ends the
  // program's input, the program exits, and the pipes close only when that process ends. Waiting
  // for them must keep credbake alive: it once let the event loop empty there, and the process
  // left with exit code 0 before it had finished (no review, no last lines).
  it('the bake waits for the pipes, finishes and says so', () => {
    const wrapper = path.join(work, 'lingering-signer.sh')
    writeFileSync(wrapper, `#!/bin/sh\n(sleep 3 </dev/null) &\nexec node ${JSON.stringify(SIGNER)}\n`, { mode: 0o755 })
    const manifest = path.join(work, 'lingering.csv')
    writeFileSync(manifest, `serial\n${Array.from({ length: 5 }, (_, i) => `LING-${i}`).join('\n')}\n`)
    const out = path.join(work, 'out-lingering')
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', ec.certPath, '--fleet-ca-key', `exec:${wrapper}`, '--format', 'tar', '--output-dir', out]
    const result = runCli(args, { env: { CREDBAKE_TEST_SIGNER_KEY: ec.keyPath, CREDBAKE_TEST_SIGNER_MODE: 'good' } })
    expect(result.status, result.stdout + result.stderr).toBe(0)
    expect(result.stderr).not.toMatch(/internal error/)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(true)
    expect(result.stdout + result.stderr).toMatch(/Baked 5 devices|5 devices/)
  }, 120_000)
})
