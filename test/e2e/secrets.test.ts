// No private-key material and no passphrase anywhere but the device's own key file.
import { createPrivateKey } from 'node:crypto'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, keyFormats, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction } from '../helpers/run.js'

const PASSPHRASE = 'correct horse battery staple 42'
let ca: CaFixture
let encryptedKeyPem: string
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Secret Test Root' })
  encryptedKeyPem = keyFormats(ca.key, { passphrase: PASSPHRASE }).encryptedPkcs8.pem
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-secrets-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

/** Every form of a private key that could leak: PEM bodies, their base64 lines, the DER as hex. */
function keyForms(pem: string, passphrase?: string): string[] {
  const forms = [pem.trim()]
  const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '')
  forms.push(body)
  for (const line of pem.split('\n')) if (line.length >= 40 && !line.startsWith('-----')) forms.push(line.trim())
  const der = createPrivateKey({ key: pem, passphrase }).export({ type: 'pkcs8', format: 'der' })
  forms.push(der.toString('hex'), der.toString('base64'), der.subarray(-40).toString('hex'))
  return forms
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile())
}

describe('secret hygiene', () => {
  it('leaks neither the CA key, its passphrase, nor device keys into logs, outputs, summary, manifest or certificates', () => {
    const manifest = path.join(work, 'devices.yaml')
    writeFileSync(manifest, 'devices:\n  - serial: S1\n  - serial: S2\n')
    const out = path.join(work, 'out')
    const run = runAction({
      manifest,
      'fleet-ca-cert': ca.certPem,
      'fleet-ca-key': encryptedKeyPem,
      'fleet-ca-key-passphrase': PASSPHRASE,
      format: 'dir',
      'output-dir': out
    })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    // The runner masks what setSecret was given: it must have been told about the key and passphrase.
    expect(run.stdout).toContain('::add-mask::')

    const deviceKeyFiles = filesUnder(out).filter((file) => file.endsWith('pkey.pem'))
    expect(deviceKeyFiles).toHaveLength(2)
    const forbidden = [
      ...keyForms(ca.keyPem),
      ...keyForms(encryptedKeyPem, PASSPHRASE).slice(0, -3),
      PASSPHRASE,
      ...deviceKeyFiles.flatMap((file) => keyForms(readFileSync(file, 'utf8')))
    ]
    // Everything a person or an artifact upload can see, minus the add-mask commands themselves
    // (which the runner consumes and never shows).
    const visible: Array<[string, string]> = [
      [
        'stdout',
        run.stdout
          .split('\n')
          .filter((line) => !line.startsWith('::add-mask::'))
          .join('\n')
      ],
      ['stderr', run.stderr],
      ['GITHUB_OUTPUT', run.outputsText],
      ['summary', run.summary],
      ...filesUnder(out)
        .filter((file) => !file.endsWith('pkey.pem'))
        .map((file): [string, string] => [file, readFileSync(file, 'latin1')])
    ]
    expect(visible.length).toBeGreaterThan(6)
    for (const [where, text] of visible) {
      for (const secret of forbidden) expect(text.includes(secret), `a secret is in ${where}`).toBe(false)
    }
    // The device key files hold their own key only, 0600.
    for (const file of deviceKeyFiles) expect(statSync(file).mode & 0o777).toBe(0o600)
    expect(readdirSync(run.runnerTemp)).toEqual([])
  })

  it('does not echo a malformed key secret in its error', () => {
    const manifest = path.join(work, 'one.csv')
    writeFileSync(manifest, 'serial\nX1\n')
    const garbage = 'not-a-key-but-a-secret-value-9f8e7d6c5b4a'
    const run = runAction({ manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': garbage, 'output-dir': path.join(work, 'o2') })
    expect(run.status).not.toBe(0)
    expect(run.stdout).toContain('fleet-ca-key')
    const shown =
      run.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n') + run.stderr
    expect(shown).not.toContain(garbage)
  })
})
