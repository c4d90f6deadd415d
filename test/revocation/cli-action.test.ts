// The revocation commands as users meet them, through the bundled CLI and action (`npm run bundle`
// first): help lists revoke and crl; their refusals are one line, exit 2, naming the flag; a bake
// with --crl, a revoke, a crl and a verify end to end; the action with crl: true writes the CRL
// and says so in the job summary, and merge with crl: true signs the merged set's CRL.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction, runCli, type CliRun } from '../helpers/run.js'
import { opensslCrlVerify } from '../x509/support.js'

let ca: CaFixture
let work: string
let manifest: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=CLI Revocation Fleet' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-revocation-cli-'))
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial\nC-1\nC-2\nC-3\nC-4\n')
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function refused(result: CliRun, pattern: RegExp): void {
  expect(result.status, result.stdout + result.stderr).toBe(2)
  expect(result.stdout).toBe('')
  const lines = result.stderr.trimEnd().split('\n')
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^credbake: error: /)
  expect(lines[0]).toMatch(pattern)
  expect(result.stderr).not.toMatch(/\n\s+at /)
}

describe('credbake revoke and crl', () => {
  it('help lists both; each has its own help', () => {
    const help = runCli(['help'])
    expect(help.stdout).toMatch(/^ {2}revoke {4}revoke a device's live certificate/m)
    expect(help.stdout).toMatch(/^ {2}crl {7}sign the fleet CA's CRL/m)
    for (const command of ['revoke', 'crl']) {
      const own = runCli([command, '--help'])
      expect(own.status).toBe(0)
      expect(own.stdout).toMatch(new RegExp(`^Usage: credbake ${command} --output-dir DIR`))
    }
  })

  it('bake --crl, revoke, crl and verify end to end; the refusals name their flag', () => {
    const out = path.join(work, 'out')
    const baked = runCli([
      'bake',
      '--manifest',
      manifest,
      '--fleet-ca-cert',
      ca.certPath,
      '--fleet-ca-key',
      ca.keyPath,
      '--output-dir',
      out,
      '--format',
      'tar',
      '--validity-days',
      '30',
      '--crl'
    ])
    expect(baked.status, baked.stderr).toBe(0)
    expect(baked.stdout).toMatch(/^crl: +number 1, 0 entries, next update \S+, in .*crl\.pem$/m)

    refused(runCli(['revoke', '--output-dir', out]), /exactly one of --serial SERIAL .* and --certificate-serial HEX/)
    refused(runCli(['revoke', '--output-dir', out, '--serial', 'C-9']), /serial C-9 is not a device baked into this output-dir/)
    refused(
      runCli(['revoke', '--output-dir', out, '--serial', 'C-1', '--reason', 'stolen']),
      /reason "stolen" is not one of key-compromise, affiliation-changed, superseded, cessation-of-operation/
    )
    refused(runCli(['revoke', '--output-dir', path.join(work, 'nowhere'), '--serial', 'C-1']), /holds no credbake journal/)
    refused(runCli(['crl', '--output-dir', out, '--fleet-ca-key', ca.keyPath]), /crl needs --fleet-ca-cert/)
    refused(
      runCli(['crl', '--output-dir', out, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--crl-days', '400']),
      /crl-days "400" must be a whole number of days from 1 to 365/
    )

    const revoked = runCli(['revoke', '--output-dir', out, '--serial', 'C-2', '--reason', 'cessation-of-operation'])
    expect(revoked.status, revoked.stderr).toBe(0)
    expect(revoked.stdout).toMatch(/^revoked: +device C-2, certificate [0-9a-f]+ \(cessationOfOperation\) at /m)
    refused(runCli(['revoke', '--output-dir', out, '--serial', 'C-2']), /already revoked: since .*, reason cessationOfOperation/)

    const crl = runCli(['crl', '--output-dir', out, '--fleet-ca-cert', ca.certPath], { env: { CREDBAKE_FLEET_CA_KEY: readFileSync(ca.keyPath, 'utf8') } })
    expect(crl.status, crl.stderr).toBe(0)
    expect(crl.stdout).toMatch(/^crl number: +2\nentries: +1 \(1 revoked, 0 superseded\)/m)
    const check = opensslCrlVerify(ca.certPem, readFileSync(path.join(out, 'crl.pem'), 'utf8'))
    expect(check.ok, check.output).toBe(true)

    const verified = runCli(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
    expect(verified.status, verified.stdout + verified.stderr).toBe(0)
    expect(verified.stdout).toMatch(/^C-2: revoked \(cessationOfOperation\) at /m)
    expect(verified.stdout).toMatch(/verified 4 devices: 4 passed, 0 failed/)
    const json = runCli(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath, '--json'])
    expect(json.status, json.stdout + json.stderr).toBe(0)
    expect(JSON.parse(json.stdout)).toMatchObject({ failed: 0, problems: [], revoked: [{ serial: 'C-2', reason: 'cessationOfOperation', active: true }] })
  })
})

describe('the action', () => {
  it('crl: true writes crl.pem and the summary shows its number; merge with crl: true signs the merged CRL', () => {
    const shards = path.join(work, 'shards')
    for (const index of [1, 2]) {
      const run = runAction(
        {
          manifest,
          'fleet-ca-cert': ca.certPath,
          'fleet-ca-key': ca.keyPath,
          'output-dir': path.join(shards, `shard-${index}`),
          shard: `${index}/2`,
          format: 'tar',
          'validity-days': '30',
          crl: 'true'
        },
        { cwd: work }
      )
      expect(run.status, run.stdout + run.stderr).toBe(0)
      expect(run.summary).toMatch(/CRL number 1 with 0 entries in <code>shards\/shard-\d\/crl\.pem<\/code>/)
      expect(run.outputs.crl).toBe(path.join(shards, `shard-${index}`, 'crl.pem'))
      expect(run.outputs['crl-number']).toBe('1')
    }
    const merged = runAction(
      { merge: 'shards/*/credbake-manifest.json', 'output-dir': 'merged', crl: 'true', 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath },
      { cwd: work }
    )
    expect(merged.status, merged.stdout + merged.stderr).toBe(0)
    expect(merged.stdout).toMatch(/CRL number 2 for the merged set: 0 entries/)
    expect(merged.outputs.crl).toBe(path.join(work, 'merged', 'crl.pem'))
    expect(merged.outputs['crl-number']).toBe('2')
    const check = opensslCrlVerify(ca.certPem, readFileSync(path.join(work, 'merged/crl.pem'), 'utf8'))
    expect(check.ok, check.output).toBe(true)
    // Without the fleet CA inputs, merge with crl: true is refused before merging.
    const refusedMerge = runAction({ merge: 'shards/*/credbake-manifest.json', 'output-dir': 'merged-2', crl: 'true' }, { cwd: work })
    expect(refusedMerge.status).not.toBe(0)
    expect(refusedMerge.stdout).toMatch(/Input "crl" with "merge" signs the merged set's CRL: it needs fleet-ca-cert and fleet-ca-key/)
  })
})
