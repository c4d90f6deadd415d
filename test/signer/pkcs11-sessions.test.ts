// The PKCS#11 signer's sessions: one login, several sessions, signatures on libuv's thread pool
// (pkcs11js' C_SignCallback), against real SoftHSM2 tokens made here. In this process (src/) and
// in the signer process of the bundle (dist/cli.js started with CREDBAKE_ROLE=pkcs11-signer), whose
// diagnostics file (CREDBAKE_PKCS11_DIAGNOSTICS) says how many signatures each session made; every
// signature verified by node:crypto, every baked certificate by openssl.
import { randomBytes, verify } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEFAULT_PROCESS_SESSIONS, openPkcs11SignerInProcess, openPkcs11SignerProcess, processSessions, sessionBudget } from '../../src/signer/pkcs11.js'
import { cleanupPki, makePkiDir, opensslVerify } from '../helpers/pki.js'
import { splitPems } from '../helpers/outputs.js'
import { CLI, runCli } from '../helpers/run.js'
import { generateTokenKey, makeToken, makeTokenRootCa, SOFTHSM_MODULE, type Token, type TokenCa } from './softhsm.js'

afterAll(cleanupPki)

interface Diagnostics {
  sessions: number
  mode: string
  perSession: number[]
  maxInFlight: number
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)

describe('session budget', () => {
  it('the wanted count, or what the token allows beside the sessions already open', () => {
    expect(sessionBudget(4, 0, 1)).toBe(4) // CK_EFFECTIVELY_INFINITE
    expect(sessionBudget(4, 0xffffffff, 0xffffffff)).toBe(4) // CK_UNAVAILABLE_INFORMATION
    expect(sessionBudget(4, 2, 1)).toBe(2)
    expect(sessionBudget(4, 3, 2)).toBe(2) // another application holds one
    expect(sessionBudget(4, 1, 1)).toBe(1)
    expect(sessionBudget(4, 8, 0xffffffff)).toBe(4)
    expect(sessionBudget(1, 8, 1)).toBe(1)
  })
  it('CREDBAKE_PKCS11_SESSIONS: a whole number 1–64, else the default', () => {
    expect(processSessions(undefined)).toBe(DEFAULT_PROCESS_SESSIONS)
    expect(processSessions('1')).toBe(1)
    expect(processSessions(' 8 ')).toBe(8)
    for (const bad of ['0', '65', '2.5', 'four', '']) expect(processSessions(bad)).toBe(DEFAULT_PROCESS_SESSIONS)
  })
})

describe('several sessions on SoftHSM2', () => {
  let token: Token
  let previousConf: string | undefined
  let root: TokenCa
  let work: string
  beforeAll(() => {
    token = makeToken({ pin: 'Sessions-4417-pin' })
    generateTokenKey(token, { id: '01', label: 'root' })
    generateTokenKey(token, { id: '02', label: 'rsa', keyType: 'rsa:2048' })
    root = makeTokenRootCa(token, { object: 'root' })
    previousConf = process.env.SOFTHSM2_CONF
    process.env.SOFTHSM2_CONF = token.conf
    work = makePkiDir('credbake-p11-sessions-')
  }, 60_000)
  afterAll(() => {
    if (previousConf === undefined) delete process.env.SOFTHSM2_CONF
    else process.env.SOFTHSM2_CONF = previousConf
  })
  const uri = (object: string): string => `pkcs11:token=${token.label};object=${object}`
  const context = (): { passphrase: string; pkcs11Module: string } => ({ passphrase: token.pin, pkcs11Module: SOFTHSM_MODULE })

  it.each([
    ['EC P-256', 'root', 400],
    ['RSA 2048', 'rsa', 60]
  ])('%s in this process: 4 sessions, several signatures in flight, each one verifies', async (_kind, object, count) => {
    const signer = await openPkcs11SignerInProcess(uri(object), context(), { sessions: 4, async: true })
    try {
      expect(signer.sessions).toBe(4)
      expect(signer.mode).toBe('async')
      const messages = Array.from({ length: count }, () => randomBytes(300))
      const signatures = await Promise.all(messages.map((message) => signer.sign(message)))
      messages.forEach((message, i) => {
        const key = signer.publicKey.asymmetricKeyType === 'ec' ? { key: signer.publicKey, dsaEncoding: 'der' as const } : signer.publicKey
        expect(verify('sha256', message, key, signatures[i] as Buffer), `signature ${i}`).toBe(true)
      })
      const usage = signer.usage()
      expect(usage.perSession).toHaveLength(4)
      expect(sum(usage.perSession)).toBe(count)
      for (const made of usage.perSession) expect(made).toBeGreaterThan(0)
      expect(usage.maxInFlight).toBeGreaterThan(1)
      expect(usage.maxInFlight).toBeLessThanOrEqual(4)
    } finally {
      await signer.close()
    }
  })

  it('without options: one session, synchronous (as the src/ path has always been)', async () => {
    const signer = await openPkcs11SignerInProcess(uri('root'), context())
    try {
      expect([signer.sessions, signer.mode]).toEqual([1, 'sync'])
      const message = randomBytes(100)
      expect(verify('sha256', message, { key: signer.publicKey, dsaEncoding: 'der' }, await signer.sign(message))).toBe(true)
    } finally {
      await signer.close()
    }
  })

  it('the signer process of the bundle: requests answered out of order match, diagnostics count every session', async () => {
    const diagnostics = path.join(work, 'direct.json')
    // The signer process inherits this process's environment.
    process.env.CREDBAKE_PKCS11_DIAGNOSTICS = diagnostics
    const opening = openPkcs11SignerProcess(uri('root'), context(), { script: CLI })
    delete process.env.CREDBAKE_PKCS11_DIAGNOSTICS
    const signer = await opening
    const messages = Array.from({ length: 500 }, () => randomBytes(400))
    try {
      expect(signer.concurrency).toBeGreaterThanOrEqual(DEFAULT_PROCESS_SESSIONS)
      const signatures = await Promise.all(messages.map((message) => signer.sign(message)))
      messages.forEach((message, i) => expect(verify('sha256', message, { key: signer.publicKey, dsaEncoding: 'der' }, signatures[i] as Buffer), `signature ${i}`).toBe(true))
    } finally {
      await signer.close()
    }
    const report = JSON.parse(readFileSync(diagnostics, 'utf8')) as Diagnostics
    expect(report.sessions).toBe(DEFAULT_PROCESS_SESSIONS)
    expect(report.mode).toBe('async')
    expect(sum(report.perSession)).toBe(messages.length)
    for (const made of report.perSession) expect(made).toBeGreaterThan(0)
    expect(report.maxInFlight).toBeGreaterThan(1)
  })

  it.each([
    ['the default 4 sessions', {}, DEFAULT_PROCESS_SESSIONS],
    ['CREDBAKE_PKCS11_SESSIONS=1', { CREDBAKE_PKCS11_SESSIONS: '1' }, 1]
  ])('a bake from dist/cli.js with %s: every session signs, every certificate verifies', (name, extra, sessions) => {
    const devices = 600 // above the worker threshold: workers build, the signer process signs
    const manifest = path.join(work, `devices-${sessions}.csv`)
    writeFileSync(manifest, `serial\n${Array.from({ length: devices }, (_, i) => `SESS-${sessions}-${i}`).join('\n')}\n`)
    const out = path.join(work, `out-${sessions}`)
    const diagnostics = path.join(work, `bake-${sessions}.json`)
    const run = runCli(
      ['bake', '--manifest', manifest, '--fleet-ca-cert', root.certPath, '--fleet-ca-key', uri('root'), '--pkcs11-module', SOFTHSM_MODULE, '--format', 'tar', '--output-dir', out],
      { env: { SOFTHSM2_CONF: token.conf, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: token.pin, CREDBAKE_PKCS11_DIAGNOSTICS: diagnostics, ...extra } }
    )
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.stdout + run.stderr).not.toContain(token.pin)
    const text = readFileSync(diagnostics, 'utf8')
    expect(text).not.toContain(token.pin)
    const report = JSON.parse(text) as Diagnostics
    expect(report.sessions, name).toBe(sessions)
    expect(report.perSession).toHaveLength(sessions)
    // Every device, plus the test signature made before anything is issued.
    expect(sum(report.perSession)).toBe(devices + 1)
    for (const made of report.perSession) expect(made).toBeGreaterThan(0)
    if (sessions > 1) expect(report.maxInFlight).toBeGreaterThan(1)
    const certificates = splitPems(readFileSync(path.join(out, 'certificates.pem'), 'utf8'))
    expect(certificates).toHaveLength(devices)
    const result = opensslVerify(certificates, { trustedPem: root.certPem })
    expect(result.ok, result.output).toBe(true)
  })
})
