// The bundled action with the fleet CA key on a SoftHSM2 token: run from a copy of action.yml +
// dist/ alone (the native binding comes from dist/native), under Node 20 and Node 24; root and
// intermediate fleets, every certificate verified by openssl, a device accepted by a TLS server that
// trusts only the fleet root; the CLI's exit code 3 on a wrong PIN; the PIN in no log or output.
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import tls from 'node:tls'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, opensslVerify, type CaFixture } from '../helpers/pki.js'
import { splitPems } from '../helpers/outputs.js'
import { CLI, NODES, runCli } from '../helpers/run.js'
import { cleanupActionCopies, copyAction, runCopiedAction } from './action-run.js'
import { generateTokenKey, makeToken, makeTokenIntermediateCa, makeTokenRootCa, SOFTHSM_MODULE, type Token, type TokenCa } from './softhsm.js'

let token: Token
let rootCa: TokenCa
let fileRoot: CaFixture
let intermediate: TokenCa
let folder: string
let work: string
let manifest: string
const DEVICES = 300 // above the worker threshold: workers build, the main thread signs on the token

beforeAll(() => {
  token = makeToken({ pin: 'Pin-5829-secret' })
  generateTokenKey(token, { id: '01', label: 'root' })
  generateTokenKey(token, { id: '02', label: 'issuing', keyType: 'EC:secp384r1' })
  rootCa = makeTokenRootCa(token, { object: 'root' })
  fileRoot = makeRootCa({ keyType: 'ec-p256', subject: '/CN=offline file root' })
  intermediate = makeTokenIntermediateCa(token, fileRoot, { object: 'issuing', digest: 'sha384' })
  folder = copyAction()
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-p11-action-'))
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial\n${Array.from({ length: DEVICES }, (_, i) => `HSM-${i}`).join('\n')}\n`)
}, 60_000)
afterAll(() => {
  cleanupActionCopies()
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function expectNoPin(...texts: string[]): void {
  for (const text of texts) expect(text.includes(token.pin)).toBe(false)
}

describe.each(NODES)('the copied action under %s, key on a SoftHSM2 token', (name, node) => {
  it.each([
    ['root', () => rootCa, 'root', () => rootCa.certPem, [] as string[]],
    ['intermediate', () => intermediate, 'issuing', () => fileRoot.certPem, [] as string[]]
  ])(
    '%s fleet: every certificate verifies',
    (kind, ca, object, trusted) => {
      const out = path.join(work, `out-${name}-${kind}`)
      const run = runCopiedAction(
        folder,
        node,
        {
          manifest,
          'fleet-ca-cert': ca().chainPem,
          'fleet-ca-key': `pkcs11:token=${token.label};object=${object};type=private`,
          'fleet-ca-key-passphrase': token.pin,
          'pkcs11-module': SOFTHSM_MODULE,
          format: 'tar',
          'output-dir': out
        },
        { SOFTHSM2_CONF: token.conf }
      )
      expect(run.status, run.stdout + run.stderr).toBe(0)
      expect(run.outputs.devices).toBe(String(DEVICES))
      const certificates = splitPems(readFileSync(run.outputs.certificates as string, 'utf8'))
      expect(certificates).toHaveLength(DEVICES)
      const untrusted = kind === 'intermediate' ? [intermediate.certPem] : []
      const result = opensslVerify(certificates, { trustedPem: trusted(), untrustedPems: untrusted })
      expect(result.ok, result.output).toBe(true)
      // The runner consumes ::add-mask:: commands (the one place a secret may appear in the raw log).
      expect(run.stdout).toContain(`::add-mask::${token.pin}`)
      const shown = run.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n')
      expectNoPin(shown, run.stderr, run.outputsText, run.summary, readFileSync(run.outputs.manifest as string, 'utf8'))
    },
    120_000
  )
})

async function handshake(trusted: string, device: { client: string; key: string }, server: { cert: string; key: string }): Promise<{ accepted: boolean; peerCn?: string }> {
  let settle!: (verdict: { accepted: boolean; peerCn?: string }) => void
  const verdict = new Promise<{ accepted: boolean; peerCn?: string }>((resolve) => (settle = resolve))
  const listener = tls.createServer({ ...server, ca: [trusted], requestCert: true, rejectUnauthorized: false }, (socket) => {
    const cn = socket.getPeerCertificate().subject?.CN
    settle({ accepted: socket.authorized, peerCn: typeof cn === 'string' ? cn : undefined })
    socket.end()
  })
  listener.on('tlsClientError', () => settle({ accepted: false }))
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve))
  const client = tls.connect({ host: '127.0.0.1', port: (listener.address() as { port: number }).port, cert: device.client, key: device.key, rejectUnauthorized: false })
  client.on('error', () => {})
  const timer = setTimeout(() => settle({ accepted: false }), 10_000)
  try {
    return await verdict
  } finally {
    clearTimeout(timer)
    client.destroy()
    await new Promise<void>((resolve) => listener.close(() => resolve()))
  }
}

describe('a device of the token-held intermediate fleet CA', () => {
  it('is accepted in an mTLS handshake by a server trusting only the file root', async () => {
    const small = path.join(work, 'one.json')
    writeFileSync(small, JSON.stringify([{ serial: 'mtls-1' }]))
    const out = path.join(work, 'out-mtls')
    const run = runCopiedAction(
      folder,
      NODES[0]?.[1] as string,
      {
        manifest: small,
        'fleet-ca-cert': intermediate.chainPem,
        'fleet-ca-key': `pkcs11:token=${token.label};object=issuing?module-path=${SOFTHSM_MODULE}`,
        'fleet-ca-key-passphrase': token.pin,
        format: 'dir',
        'output-dir': out
      },
      { SOFTHSM2_CONF: token.conf }
    )
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const dir = path.join(out, 'devices', 'mtls-1', 'var/sota/import')
    const serverIdentity = makeRootCa({ subject: '/CN=127.0.0.1' })
    const verdict = await handshake(
      fileRoot.certPem,
      { client: readFileSync(path.join(dir, 'client.pem'), 'utf8'), key: readFileSync(path.join(dir, 'pkey.pem'), 'utf8') },
      { cert: serverIdentity.certPem, key: serverIdentity.keyPem }
    )
    expect(verdict).toEqual({ accepted: true, peerCn: 'mtls-1' })
  }, 60_000)
})

describe('a platform without a shipped binding (as on linux-arm64)', () => {
  it('fails with a FleetCaError naming fleet-ca-key and the limitation', () => {
    const bare = copyAction()
    rmSync(path.join(bare, 'dist/native'), { recursive: true, force: true })
    const small = path.join(work, 'bare.json')
    writeFileSync(small, JSON.stringify([{ serial: 'bare-1' }]))
    const out = path.join(work, 'out-bare')
    const run = runCopiedAction(
      bare,
      NODES[0]?.[1] as string,
      {
        manifest: small,
        'fleet-ca-cert': rootCa.certPem,
        'fleet-ca-key': `pkcs11:token=${token.label};object=root`,
        'fleet-ca-key-passphrase': token.pin,
        'pkcs11-module': SOFTHSM_MODULE,
        'output-dir': out
      },
      { SOFTHSM2_CONF: token.conf }
    )
    expect(run.status).not.toBe(0)
    expect(run.stdout).toMatch(/fleet-ca-key: pkcs11: keys need credbake's native PKCS#11 binding, which this build ships for linux-x64 only, not for linux-x64/)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
  })
})

describe('the CLI with a token key', () => {
  it('a wrong PIN: exit 3, names fleet-ca-key-passphrase, no manifest, the PIN not printed', () => {
    const out = path.join(work, 'out-wrong-pin')
    const wrong = 'Wrong-7710-pin'
    const run = runCli(
      [
        'bake',
        '--manifest',
        manifest,
        '--fleet-ca-cert',
        rootCa.certPath,
        '--fleet-ca-key',
        `pkcs11:token=${token.label};object=root`,
        '--pkcs11-module',
        SOFTHSM_MODULE,
        '--output-dir',
        out
      ],
      { env: { SOFTHSM2_CONF: token.conf, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: wrong } }
    )
    expect(run.status, run.stdout + run.stderr).toBe(3)
    expect(run.stderr).toMatch(/fleet-ca-key-passphrase/)
    expect(run.stderr + run.stdout).not.toContain(wrong)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    if (existsSync(out)) expect(readdirSync(out).filter((entry) => entry.endsWith('.tar.gz'))).toEqual([])
  })
})

describe('the token signer process dying mid-run', () => {
  it('exit 3 naming fleet-ca-key, no manifest; the next run resumes and every certificate verifies', async () => {
    const count = 3000
    const big = path.join(work, 'big.csv')
    writeFileSync(big, `serial\n${Array.from({ length: count }, (_, i) => `KILL-${i}`).join('\n')}\n`)
    const out = path.join(work, 'out-kill')
    const args = [
      CLI,
      'bake',
      '--manifest',
      big,
      '--fleet-ca-cert',
      rootCa.certPath,
      '--fleet-ca-key',
      `pkcs11:token=${token.label};object=root`,
      '--pkcs11-module',
      SOFTHSM_MODULE,
      '--format',
      'tar',
      '--output-dir',
      out
    ]
    const env = { ...process.env, SOFTHSM2_CONF: token.conf, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: token.pin }
    const run = spawn(NODES[0]?.[1] as string, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    run.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    const exited = new Promise<number | null>((resolve) => run.on('close', (code) => resolve(code)))
    // Once some devices are out, kill the signer process (the CLI's child running the bundle as a signer).
    let killed = false
    for (let i = 0; i < 600 && !killed; i++) {
      await new Promise((resolve) => setTimeout(resolve, 25))
      const overlays = path.join(out, 'overlays')
      const written = existsSync(overlays) ? readdirSync(overlays).length : 0
      if (written < 200) continue
      const children = readFileSync(`/proc/${run.pid}/task/${run.pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean)
      for (const child of children) {
        if (readFileSync(`/proc/${child}/environ`, 'utf8').includes('CREDBAKE_ROLE=pkcs11-signer')) {
          process.kill(Number(child), 'SIGKILL')
          killed = true
        }
      }
    }
    const code = await exited
    if (!killed) return expect.fail(`the run ended (${code}) before the signer process could be killed`)
    expect(code, stderr).toBe(3)
    expect(stderr).toMatch(/fleet-ca-key: credbake's PKCS#11 signer process was killed by SIGKILL/)
    expect(stderr).not.toContain(token.pin)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)

    const resumed = runCli(args.slice(1), { env: { SOFTHSM2_CONF: token.conf, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: token.pin } })
    expect(resumed.status, resumed.stdout + resumed.stderr).toBe(0)
    const certificates = splitPems(readFileSync(path.join(out, 'certificates.pem'), 'utf8'))
    expect(certificates).toHaveLength(count)
    const result = opensslVerify(certificates, { trustedPem: rootCa.certPem })
    expect(result.ok, result.output).toBe(true)
  }, 180_000)
})
