// The job summary as a runner gets it: `node dist/index.js` with INPUT_* variables and a
// GITHUB_STEP_SUMMARY file. What a reviewer needs is in it (the server CA and gateway every device
// got, the base image's SHA-256, the certificates to revoke by reason and where they are, how many
// devices were baked now and how many kept), every path relative to the workspace; and a step that
// fails still writes one, saying what failed and what running it again does.
import { spawnSync } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { makeFakeDebugfs, runCliAsync } from '../helpers/faults.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction } from '../helpers/run.js'

const GATEWAY = 'https://gateway.example.com:8443'

let ca: CaFixture
let serverCa: CaFixture
let workspace: string

beforeAll(async () => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Summary Fleet Root' })
  serverCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Summary OTA Server CA/O=Acme' })
  workspace = await scratchDir('credbake-summary-')
  writeFileSync(path.join(workspace, 'devices.csv'), 'serial\nSM-01\nSM-02\nSM-03\nSM-04\n')
  await buildBareExt4(workspace, { size: 8 * MiB, file: 'base.img' })
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

/** The text of the summary's HTML: tags dropped, entities decoded. */
function text(html: string): string {
  return html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&#(\d+);/g, (_, code: string) => String.fromCharCode(Number(code)))
    .replace(/\s+/g, ' ')
}

function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex')
}

const bakeInputs = (extra: Record<string, string> = {}): Record<string, string> => ({
  manifest: 'devices.csv',
  'fleet-ca-cert': ca.certPath,
  'fleet-ca-key': ca.keyPath,
  'server-ca': serverCa.certPath,
  'gateway-url': GATEWAY,
  image: 'base.img',
  'output-dir': 'out',
  ...extra
})

describe('the job summary of a bake that failed, then of the rerun that completed it', () => {
  let failed: ReturnType<typeof runAction>

  beforeAll(async () => {
    // debugfs crashes on its third write: two devices are complete when the step fails.
    const fake = makeFakeDebugfs(path.join(await scratchDir('credbake-summary-fake-'), 'fake'), { mode: 'segv', failAt: 3 })
    failed = runAction(bakeInputs(), { cwd: workspace, env: fake.env })
  })

  it('a failed step: what failed, how far it got, and that a rerun resumes keeping the complete devices', () => {
    expect(failed.status, failed.stdout + failed.stderr).not.toBe(0)
    expect(failed.stdout).toMatch(/::error::.*SM-03/)
    const summary = text(failed.summary)
    expect(summary).toMatch(/credbake: bake failed/)
    expect(summary).toMatch(/SM-03/)
    expect(summary).toMatch(/Failure (image|tool) problem \(exit code 4 in the CLI\)/)
    expect(summary).toContain('Output dir out')
    expect(summary).toContain('Of the 4 devices in scope, 2 were baked in this run before it stopped')
    expect(summary).toContain('Run the step again with the same inputs: it resumes, keeps the 2 complete devices as they are and bakes the remaining 2.')
    expect(summary).toContain('No review manifest was written for this run')
    expect(failed.summary).not.toContain(workspace)
  })

  it('the rerun: baked now and kept, the certificate to revoke by reason, server CA, gateway, base image, relative paths', () => {
    const run = runAction(bakeInputs(), { cwd: workspace })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const doc = readValidManifest(run.outputs.manifest as string)
    expect(run.outputs.devices).toBe('4')
    expect(doc.counts).toEqual({ devices: 4, superseded: 1 })

    const summary = text(run.summary)
    expect(summary).toContain('Devices 4 in the review manifest: 2 baked now, 2 kept from an earlier run')
    // The certificate issued for SM-03 before the crash: to revoke, where it is, and why.
    expect(summary).toContain('Superseded certificates: revoke them')
    expect(summary).toContain('1 certificate was issued earlier for these devices and is no longer in use. They are in out/superseded.pem')
    expect(summary).toMatch(/never-written 1 issued, but a run stopped before its output was complete/)
    expect(doc.superseded.map((entry: { reason: string; serial: string }) => [entry.serial, entry.reason])).toEqual([['SM-03', 'never-written']])
    // What every device trusts and where it connects.
    const server = new X509Certificate(readFileSync(serverCa.certPath))
    expect(summary).toContain(`Server CA ${server.subject.replace(/\n/g, ', ')} (from server-ca)`)
    expect(summary).toContain(`Server CA SHA-256 ${server.fingerprint256.replace(/:/g, '').toLowerCase()}`)
    expect(summary).toContain(`Gateway URL ${GATEWAY}`)
    // The base image by its workspace path and its SHA-256 (it is never modified).
    expect(summary).toContain('Base image base.img')
    expect(summary).toContain(`Base image SHA-256 ${sha256(path.join(workspace, 'base.img'))}`)
    expect(doc.output.image.sha256).toBe(sha256(path.join(workspace, 'base.img')))
    // Paths relative to the workspace, never the runner's absolute ones.
    expect(run.summary).not.toContain(workspace)
    expect(summary).toContain('Review manifest: out/credbake-manifest.json')
    expect(summary).toContain('Certificates for registration: out/certificates.pem')
    expect(summary).toContain('npx --no-install credbake verify --manifest out/credbake-manifest.json')
  })

  it('a rerun with nothing left to bake says 0 baked now, never "4 baked"', () => {
    const run = runAction(bakeInputs(), { cwd: workspace })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(text(run.summary)).toContain('Devices 4 in the review manifest: 0 baked now, 4 kept from an earlier run')
    expect(run.stdout).toContain('Baked 0 devices now, kept 4 from an earlier run')
    expect(run.stdout).not.toMatch(/Disk: about/)
  })
})

describe('the job summary of a step that fails before anything is issued', () => {
  it('names the input and says nothing was issued', () => {
    const run = runAction({ manifest: 'devices.csv', 'fleet-ca-cert': ca.certPath, 'output-dir': 'out-none' }, { cwd: workspace })
    expect(run.status).not.toBe(0)
    const summary = text(run.summary)
    expect(summary).toMatch(/credbake: bake failed/)
    expect(summary).toContain('Input "fleet-ca-key" is required')
    expect(summary).toContain('Failure bad input (exit code 2 in the CLI)')
    expect(summary).toContain('Input fleet-ca-key')
    expect(summary).toContain('No device was issued in this run.')
  })

  it('a merge that is refused says nothing was merged', () => {
    const run = runAction({ merge: 'nowhere/*/credbake-manifest.json' }, { cwd: workspace })
    expect(run.status).not.toBe(0)
    const summary = text(run.summary)
    expect(summary).toMatch(/credbake: merge failed/)
    expect(summary).toContain('matches no file')
    expect(summary).toContain('Nothing was merged')
  })

  it('text from inputs is escaped in the failure summary too', () => {
    const hostile = 'evil\n\n<img src=x onerror=alert(1)>.csv'
    writeFileSync(path.join(workspace, hostile), 'serial\n..\n')
    const run = runAction({ manifest: hostile, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, 'output-dir': 'out-hostile' }, { cwd: workspace })
    expect(run.status).not.toBe(0)
    expect(run.summary).toMatch(/credbake: bake failed/)
    expect(run.summary).not.toContain('<img')
    expect(run.summary).not.toMatch(/\n\s*\n/)
  })
})

describe('registration exports through the action input and the CLI flag (dist/)', () => {
  const shardOf = (dir: string) => path.join(workspace, dir)

  it('action input exports: the files, a summary table with the devices each lists, a log line each', () => {
    const run = runAction(bakeInputs({ 'output-dir': 'out-exports', exports: 'azure-dps,aws-iot' }), { cwd: workspace })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    const doc = readValidManifest(run.outputs.manifest as string)
    expect(doc.exports).toEqual(['aws-iot', 'azure-dps'])
    expect(doc.exported.map((item: { name: string }) => item.name)).toEqual(['aws-iot', 'azure-dps'])
    const summary = text(run.summary)
    expect(summary).toContain('Registration exports')
    expect(summary).toContain('aws-iot out-exports/exports/aws-iot.jsonl 4 devices')
    expect(summary).toContain('aws-iot out-exports/exports/aws-iot-template.json fleet CA')
    expect(summary).toContain('azure-dps out-exports/exports/azure-dps.jsonl 4 devices')
    expect(run.summary).not.toContain(workspace)
    expect(run.stdout).toContain('Registration export azure-dps: ')
    // One enrollment per device of the image bake, each with that device's certificate.
    const lines = readFileSync(path.join(shardOf('out-exports'), 'exports/azure-dps.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines.map((line) => line.registrationId)).toEqual(doc.devices.map((device: { deviceId: string }) => device.deviceId))
    expect(lines.map((line) => createHash('sha256').update(new X509Certificate(line.attestation.x509.clientCertificates.primary.certificate).raw).digest('hex'))).toEqual(
      doc.devices.map((device: { certificate: { sha256: string } }) => device.certificate.sha256)
    )
  })

  it('CLI --exports: the files in SHA256SUMS, one export line each; a row Azure cannot take is exit 2 before any issuance', async () => {
    const out = shardOf('out-cli-exports')
    const cli = await runCliAsync(
      ['bake', '--manifest', 'devices.csv', '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--format', 'tar', '--output-dir', out, '--exports', 'aws-iot'],
      {
        cwd: workspace
      }
    )
    expect(cli.status, cli.stderr).toBe(0)
    expect(cli.stdout).toContain(`export:           aws-iot: ${out}/exports/aws-iot.jsonl (4 devices), ${out}/exports/aws-iot-template.json`)
    const checked = spawnSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' })
    expect(checked.status, checked.stdout + checked.stderr).toBe(0)
    expect(checked.stdout).toContain('exports/aws-iot.jsonl: OK')
    const verify = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath], { cwd: workspace })
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)

    writeFileSync(path.join(workspace, 'azure-bad.csv'), 'serial,device-id\nAZ-1,ok-1\nAZ-2,bad_\n')
    const refusedDir = shardOf('out-cli-refused')
    const refused = await runCliAsync(
      [
        'bake',
        '--manifest',
        'azure-bad.csv',
        '--fleet-ca-cert',
        ca.certPath,
        '--fleet-ca-key',
        ca.keyPath,
        '--format',
        'tar',
        '--output-dir',
        refusedDir,
        '--exports',
        'azure-dps'
      ],
      { cwd: workspace }
    )
    expect(refused.status).toBe(2)
    expect(refused.stderr).toContain('azure-bad.csv:3: device-id "bad_" cannot be registered with azure-dps (input "exports")')
    expect(existsSync(path.join(refusedDir, 'credbake-journal.jsonl'))).toBe(false)
  })
})
