// The review-export seam (src/exports/registry.ts): an export written here, in the test alone, is
// one object handed to the review and to merge. It gets every active device and superseded
// certificate in manifest order and the run's header; its files are listed in SHA256SUMS (and
// `sha256sum -c` agrees); merge regenerates it from the merged entries and carries the file it
// made from the fleet CA alone; `credbake verify` checks the listed files. A registration export
// (src/exports/registration.ts over aws-iot) goes through the same seam.
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { awsIotExport } from '../../src/exports/aws-iot.js'
import { REVIEW_EXPORTS } from '../../src/exports/registry.js'
import { registrationExport } from '../../src/exports/registration.js'
import type { ReviewExport } from '../../src/exports/types.js'
import { mergeShards } from '../../src/merge/merge.js'
import { writeReviewFromJournal } from '../../src/review/from-journal.js'
import type { ManifestHeader } from '../../src/shapes/review.js'
import { AtomicStream } from '../../src/util/atomic-stream.js'
import { runCliAsync } from '../helpers/faults.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'

/** One line per active device, one per superseded certificate, and a file from the fleet CA alone. */
const testExport: ReviewExport = {
  name: 'test-export',
  always: false,
  files: ['exports/test.txt', 'exports/test-ca.txt'],
  runFiles: ['exports/test-ca.txt'],
  open(run) {
    const stream = new AtomicStream(path.join(run.outputDir, 'exports/test.txt'))
    spawnSync('mkdir', ['-p', path.join(run.outputDir, 'exports')])
    stream.push(`format ${run.header.output.format}, fleet CA ${run.header.fleetCa.sha256}\n`)
    return {
      device: (device) => stream.push(`${device.serial} ${device.deviceId} ${device.output.path} ${new X509Certificate(device.certificatePem).subject.replace(/\n/g, ',')}\n`),
      superseded: (entry) => stream.push(`superseded ${entry.serial} ${entry.reason}\n`),
      drain: () => stream.flushIfFull(),
      commit: async (before) => {
        await stream.commit()
        const digest = (file: string): string => spawnSync('sha256sum', [file], { encoding: 'utf8' }).stdout.slice(0, 64)
        const written = [{ path: 'exports/test.txt', sha256: digest(path.join(run.outputDir, 'exports/test.txt')) }]
        // What the exports before it listed: certificates.pem and superseded.pem list nothing; in a
        // merge, the file carried from the shards is listed after this export's own, as in a bake.
        expect(before.map((file) => file.path)).toEqual([])
        if (run.fleetCaPem !== undefined) {
          writeFileSync(path.join(run.outputDir, 'exports/test-ca.txt'), `${new X509Certificate(run.fleetCaPem).fingerprint256}\n`)
          written.push({ path: 'exports/test-ca.txt', sha256: digest(path.join(run.outputDir, 'exports/test-ca.txt')) })
        }
        return written
      },
      abandon: () => stream.abandon()
    }
  }
}

/** The registry's exports with `added` before SHA256SUMS (which lists the files of those before it). */
const withExports = (...added: ReviewExport[]): ReviewExport[] => [...REVIEW_EXPORTS.slice(0, -1), ...added, REVIEW_EXPORTS.at(-1)!]

let ca: CaFixture
let work: string
const shardDir = (index: number): string => path.join(work, `shard-${index}`)

beforeAll(async () => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Seam Test Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-seam-'))
  const manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial,device-id\n${Array.from({ length: 12 }, (_, i) => `SEAM-${i + 1},dev-${i + 1}`).join('\n')}\n`)
  for (const index of [1, 2]) {
    const args = [
      'bake',
      '--manifest',
      manifest,
      '--fleet-ca-cert',
      ca.certPath,
      '--fleet-ca-key',
      ca.keyPath,
      '--format',
      'tar',
      '--shard',
      `${index}/2`,
      '--output-dir',
      shardDir(index)
    ]
    const first = await runCliAsync(args)
    expect(first.status, first.stderr).toBe(0)
    // A second run that issues some devices anew: superseded certificates for the exports to see.
    const again = await runCliAsync([...args, '--no-resume', '--overwrite'])
    expect(again.status, again.stderr).toBe(0)
  }
}, 120_000)

afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

/** The shard's review written again from its journal, now asking for `names` besides the usual exports. */
async function reviewWith(index: number, names: string[], exports: readonly ReviewExport[]): Promise<ManifestHeader> {
  const dir = shardDir(index)
  const manifest = JSON.parse(readFileSync(path.join(dir, 'credbake-manifest.json'), 'utf8'))
  const { devices, counts, exported, certificates, superseded, supersededCertificates, ...rest } = manifest
  const header: ManifestHeader = { ...rest, exports: names }
  const scope = new Set<string>(devices.map((device: { serial: string }) => device.serial))
  await writeReviewFromJournal(dir, header, scope, { fleetCaPem: ca.certPem, exports })
  return header
}

const sha256sumCheck = (dir: string) => spawnSync('sha256sum', ['--strict', '-c', 'SHA256SUMS'], { cwd: dir, encoding: 'utf8' })

describe('the review export seam', () => {
  it('a review hands the export every device and superseded certificate and the header; SHA256SUMS lists its files', async () => {
    await reviewWith(1, ['test-export'], withExports(testExport))
    const dir = shardDir(1)
    const manifest = JSON.parse(readFileSync(path.join(dir, 'credbake-manifest.json'), 'utf8'))
    expect(manifest.exports).toEqual(['test-export'])
    const lines = readFileSync(path.join(dir, 'exports/test.txt'), 'utf8').trimEnd().split('\n')
    expect(lines[0]).toBe(`format tar, fleet CA ${manifest.fleetCa.sha256}`)
    // Each in manifest order (the review interleaves the two lists as the journal does).
    expect(lines.slice(1).filter((line) => !line.startsWith('superseded '))).toEqual(
      manifest.devices.map((device: any) => `${device.serial} ${device.deviceId} ${device.output.path} CN=${device.deviceId}`)
    )
    expect(lines.slice(1).filter((line) => line.startsWith('superseded '))).toEqual(manifest.superseded.map((entry: any) => `superseded ${entry.serial} ${entry.reason}`))
    expect(manifest.superseded.length).toBeGreaterThan(0)
    expect(readFileSync(path.join(dir, 'exports/test-ca.txt'), 'utf8')).toBe(`${new X509Certificate(ca.certPem).fingerprint256}\n`)
    const sums = readFileSync(path.join(dir, 'SHA256SUMS'), 'utf8').trimEnd().split('\n')
    expect(sums.slice(-2).map((line) => line.slice(66))).toEqual(['exports/test.txt', 'exports/test-ca.txt'])
    expect(sums).toHaveLength(manifest.devices.length + 2)
    const checked = sha256sumCheck(dir)
    expect(checked.status, checked.stdout + checked.stderr).toBe(0)
  })

  it('credbake verify checks the listed export files: intact passes, a changed one fails', async () => {
    const dir = shardDir(1)
    const verify = () => runCliAsync(['verify', '--manifest', path.join(dir, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath, '--output-dir', dir])
    const intact = await verify()
    expect(intact.status, intact.stdout + intact.stderr).toBe(0)
    const file = path.join(dir, 'exports/test-ca.txt')
    const before = readFileSync(file)
    writeFileSync(file, 'changed\n')
    const changed = await verify()
    expect(changed.status).toBe(7)
    expect(changed.stdout + changed.stderr).toContain('exports/test-ca.txt')
    writeFileSync(file, before)
  })

  it('merge regenerates the export from the merged entries and carries the file made from the fleet CA', async () => {
    await reviewWith(2, ['test-export'], withExports(testExport))
    const out = path.join(work, 'merged')
    const result = await mergeShards({ outputDir: out, manifests: [1, 2].map((index) => path.join(shardDir(index), 'credbake-manifest.json')), exports: withExports(testExport) })
    const manifest = JSON.parse(readFileSync(result.manifestPath, 'utf8'))
    expect(manifest.exports).toEqual(['test-export'])
    const lines = readFileSync(path.join(out, 'exports/test.txt'), 'utf8').trimEnd().split('\n')
    expect(lines.slice(1).filter((line) => !line.startsWith('superseded '))).toEqual(
      manifest.devices.map((device: any) => `${device.serial} ${device.deviceId} ${device.output.path} CN=${device.deviceId}`)
    )
    expect(lines.slice(1).filter((line) => line.startsWith('superseded '))).toHaveLength(manifest.superseded.length)
    expect(readFileSync(path.join(out, 'exports/test-ca.txt'), 'utf8')).toBe(readFileSync(path.join(shardDir(1), 'exports/test-ca.txt'), 'utf8'))
    const checked = sha256sumCheck(out)
    expect(checked.status, checked.stdout + checked.stderr).toBe(0)
    expect(checked.stdout).toContain('exports/test-ca.txt: OK')
  })

  it('a registration export (aws-iot) is one line of the list: its JSONL and template, listed and merged alike', async () => {
    const aws = registrationExport(awsIotExport)
    // Registered: one line of REVIEW_EXPORTS, made the same way as here.
    expect(REVIEW_EXPORTS.find((item) => item.name === 'aws-iot')?.files).toEqual(aws.files)
    for (const index of [1, 2]) await reviewWith(index, ['aws-iot'], REVIEW_EXPORTS)
    const out = path.join(work, 'merged-aws')
    const result = await mergeShards({ outputDir: out, manifests: [1, 2].map((index) => path.join(shardDir(index), 'credbake-manifest.json')) })
    const manifest = JSON.parse(readFileSync(result.manifestPath, 'utf8'))
    const lines = readFileSync(path.join(out, 'exports/aws-iot.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line))
    expect(lines.map((line) => line.ThingName)).toEqual(manifest.devices.map((device: any) => device.deviceId))
    expect(lines.map((line) => new X509Certificate(line.CertificatePem).subject)).toEqual(manifest.devices.map((device: any) => `CN=${device.deviceId}`))
    expect(JSON.parse(readFileSync(path.join(out, 'exports/aws-iot-template.json'), 'utf8')).Resources.certificate.Properties.CACertificatePem).toBe(ca.certPem)
    const checked = sha256sumCheck(out)
    expect(checked.status, checked.stdout + checked.stderr).toBe(0)
    expect(checked.stdout).toContain('exports/aws-iot.jsonl: OK')
    expect(checked.stdout).toContain('exports/aws-iot-template.json: OK')
  })
})

describe('commonNameOf (what a registry takes as the device identity)', () => {
  it('reads the first CN of RFC 4514 text, unescaped', async () => {
    const { commonNameOf } = await import('../../src/x509/name.js')
    expect(commonNameOf('CN=dev-1,O=Acme')).toBe('dev-1')
    expect(commonNameOf('O=Acme,CN=x')).toBe('x')
    expect(commonNameOf('CN=a\\,b\\+c+UID=7,O=Acme')).toBe('a,b+c')
    expect(commonNameOf('CN=\\23hash \\C3\\A9\\ ,O=A')).toBe('#hash é ')
    expect(commonNameOf('2.5.4.3=oid-form')).toBe('oid-form')
    expect(commonNameOf('O=Acme')).toBeUndefined()
  })
})
