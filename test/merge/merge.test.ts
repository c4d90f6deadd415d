// Issue 10, items 2 and 6: `credbake merge` and the action input `merge`. Three shards of one
// 30-device manifest, each baked by the CLI (dist/cli.js) into its own output-dir, merge into
// exactly the manifest's devices; every refusal names what differs; the action's summary shows a
// row per shard, and a bake's summary says how to verify.
import { spawnSync } from 'node:child_process'
import { createHash, X509Certificate } from 'node:crypto'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliAsync, type ChildResult } from '../helpers/faults.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { splitPems } from '../helpers/outputs.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction } from '../helpers/run.js'
import { buildGptImage, MiB, scratchDir } from '../helpers/images.js'

const SERIALS = Array.from({ length: 30 }, (_, i) => `MG-${String(i + 1).padStart(2, '0')}`)

let ca: CaFixture
let otherCa: CaFixture
let work: string
/** The workspace of the action test: shards/shard-N/ as download-artifact leaves them. */
let workspace: string
let deviceManifest: string
const shardManifest = (index: number): string => path.join(workspace, 'shards', `shard-${index}`, 'credbake-manifest.json')

function bake(manifest: string, out: string, extra: string[] = [], fleet: CaFixture = ca): Promise<ChildResult> {
  return runCliAsync(['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.certPath, '--fleet-ca-key', fleet.keyPath, '--format', 'tar', '--output-dir', out, ...extra])
}

async function bakeOk(manifest: string, out: string, extra: string[] = [], fleet: CaFixture = ca): Promise<string> {
  const result = await bake(manifest, out, extra, fleet)
  expect(result.status, result.stderr).toBe(0)
  return path.join(out, 'credbake-manifest.json')
}

function merge(out: string, manifests: string[]): Promise<ChildResult> {
  return runCliAsync(['merge', '--output-dir', out, ...manifests], { cwd: work })
}

const certSha256 = (pem: string): string => createHash('sha256').update(new X509Certificate(pem).raw).digest('hex')

beforeAll(async () => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Merge Test Root' })
  otherCa = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Another Merge Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-merge-'))
  workspace = path.join(work, 'ws')
  mkdirSync(workspace)
  deviceManifest = path.join(work, 'devices.csv')
  writeFileSync(deviceManifest, `serial\n${SERIALS.join('\n')}\n`)
  for (const index of [1, 2, 3]) await bakeOk(deviceManifest, path.join(workspace, 'shards', `shard-${index}`), ['--shard', `${index}/3`])
}, 120_000)

afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

describe('credbake merge', () => {
  it('merges 3 shards into exactly the manifest devices, with certificates.pem, SHA256SUMS and links that resolve from DIR', async () => {
    const out = path.join(work, 'merged')
    const result = await merge(out, [3, 1, 2].map(shardManifest))
    expect(result.status, result.stderr).toBe(0)
    const manifest = readValidManifest(path.join(out, 'credbake-manifest.json'))

    const serials = manifest.devices.map((device: any) => device.serial)
    expect([...serials].sort()).toEqual(SERIALS)
    expect(new Set(serials).size).toBe(SERIALS.length)
    expect(manifest.counts).toEqual({ devices: 30, superseded: 0 })
    expect(manifest.shard).toEqual({ index: 1, count: 1 })
    expect(manifest.merged.map((shard: any) => shard.shard)).toEqual(['1/3', '2/3', '3/3'])
    const perShard = [1, 2, 3].map((index) => JSON.parse(readFileSync(shardManifest(index), 'utf8')))
    expect(manifest.merged.map((shard: any) => shard.devices)).toEqual(perShard.map((shard) => shard.counts.devices))
    expect(manifest.source.manifest.sha256).toBe(createHash('sha256').update(readFileSync(deviceManifest)).digest('hex'))
    for (const shard of perShard) expect(shard.source.manifest.sha256).toBe(manifest.source.manifest.sha256)

    // certificates.pem holds exactly the active certificates, in manifest order.
    const pems = splitPems(readFileSync(path.join(out, 'certificates.pem'), 'utf8'))
    expect(pems.map(certSha256)).toEqual(manifest.devices.map((device: any) => device.certificate.sha256))
    expect(readFileSync(path.join(out, 'superseded.pem'), 'utf8')).toBe('')

    // Every output path resolves from DIR: sha256sum -c passes there, one line per output.
    const check = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' })
    expect(check.status, check.stdout + check.stderr).toBe(0)
    expect(check.stdout.trim().split('\n')).toHaveLength(30)
    // Hard links: the shard's file and the merged one are the same inode.
    const device = perShard[0].devices[0]
    expect(statSync(path.join(out, device.output.path)).ino).toBe(statSync(path.join(workspace, 'shards/shard-1', device.output.path)).ino)
    expect(result.stdout).toMatch(/devices:\s+30/)

    // The merged review verifies as one bake's would.
    const verify = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
    expect(verify.stdout).toMatch(/30 passed, 0 failed/)
  })

  // tmpfs is another file system than TMPDIR here: links fail with EXDEV and files are copied.
  const shm = '/dev/shm'
  const otherFs = existsSync(shm) && statSync(shm).dev !== statSync(os.tmpdir()).dev
  it.skipIf(!otherFs)('merges dir outputs onto another file system by copying, keeping every file and its mode', async () => {
    const manifests = [1, 2].map((index) => path.join(work, `dir-shard-${index}`))
    for (const [index, dir] of manifests.entries()) await bakeOk(deviceManifest, dir, ['--shard', `${index + 1}/2`, '--format', 'dir'])
    const out = mkdtempSync(path.join(shm, 'credbake-merge-test-'))
    try {
      const result = await merge(
        out,
        manifests.map((dir) => path.join(dir, 'credbake-manifest.json'))
      )
      expect(result.status, result.stderr).toBe(0)
      const manifest = readValidManifest(path.join(out, 'credbake-manifest.json'))
      expect(manifest.devices.map((device: any) => device.serial).sort()).toEqual(SERIALS)
      const check = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' })
      expect(check.status, check.stdout + check.stderr).toBe(0)
      for (const device of manifest.devices) {
        for (const file of device.files) {
          const copied = statSync(path.join(out, device.output.path, file.path))
          expect((copied.mode & 0o7777).toString(8).padStart(4, '0')).toBe(file.mode)
        }
      }
      const verify = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
      expect(verify.status, verify.stdout + verify.stderr).toBe(0)
    } finally {
      rmSync(out, { recursive: true, force: true })
    }
  })

  it('merges image shards with their bmap files (zst, partition of a GPT image)', async () => {
    const scratch = await scratchDir('credbake-merge-img-')
    try {
      const image = await buildGptImage(scratch, { rootSize: 16 * MiB })
      const few = path.join(scratch, 'few.csv')
      writeFileSync(few, `serial\n${SERIALS.slice(0, 6).join('\n')}\n`)
      const shards: string[] = []
      for (const index of [1, 2]) {
        const out = path.join(scratch, `img-shard-${index}`)
        const result = await runCliAsync([
          'bake',
          '--manifest',
          few,
          '--fleet-ca-cert',
          ca.certPath,
          '--fleet-ca-key',
          ca.keyPath,
          '--image',
          image.path,
          '--partition',
          'label=rootfs',
          '--format',
          'image',
          '--compress',
          'zst',
          '--bmap',
          '--shard',
          `${index}/2`,
          '--output-dir',
          out
        ])
        expect(result.status, result.stderr).toBe(0)
        shards.push(path.join(out, 'credbake-manifest.json'))
      }
      const merged = path.join(scratch, 'merged')
      const result = await merge(merged, shards)
      expect(result.status, result.stderr).toBe(0)
      const manifest = readValidManifest(path.join(merged, 'credbake-manifest.json'))
      expect(manifest.devices).toHaveLength(6)
      for (const device of manifest.devices) {
        expect(device.output.bmap).toBeDefined()
        expect(statSync(path.join(merged, device.output.bmap.path)).isFile()).toBe(true)
      }
      const check = spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: merged, encoding: 'utf8' })
      expect(check.status, check.stdout + check.stderr).toBe(0)
      expect(check.stdout.trim().split('\n')).toHaveLength(12) // each image and its bmap
      expect(manifest.output).toEqual(JSON.parse(readFileSync(shards[0]!, 'utf8')).output)
    } finally {
      rmSync(scratch, { recursive: true, force: true })
    }
  })

  it('merges a 1/1 manifest alone, and replaces an earlier merge in the same DIR', async () => {
    const whole = await bakeOk(deviceManifest, path.join(work, 'whole'))
    const out = path.join(work, 'merged-whole')
    for (let run = 0; run < 2; run++) {
      const result = await merge(out, [whole])
      expect(result.status, result.stderr).toBe(0)
    }
    const manifest = readValidManifest(path.join(out, 'credbake-manifest.json'))
    expect(manifest.devices).toHaveLength(30)
    expect(spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out }).status).toBe(0)
  })

  describe('refuses, exit 2, naming merge and the files, writing nothing', () => {
    async function refused(name: string, manifests: string[]): Promise<string> {
      const out = path.join(work, `refused-${name}`)
      const result = await merge(out, manifests)
      expect(result.status, result.stderr).toBe(2)
      expect(result.stderr).toContain('Input "merge"')
      expect(() => statSync(out)).toThrow()
      return result.stderr
    }

    it('shards of a different device manifest', async () => {
      const changed = path.join(work, 'devices-changed.csv')
      writeFileSync(changed, `serial\n${SERIALS.join('\n')}\nMG-99\n`)
      const other = await bakeOk(changed, path.join(work, 'other-manifest'), ['--shard', '2/3'])
      const stderr = await refused('manifest', [shardManifest(1), other, shardManifest(3)])
      expect(stderr).toMatch(/different device manifest/)
      expect(stderr).toContain('other-manifest/credbake-manifest.json')
    })

    it('shards of a different fleet CA', async () => {
      const other = await bakeOk(deviceManifest, path.join(work, 'other-ca'), ['--shard', '2/3'], otherCa)
      const stderr = await refused('ca', [shardManifest(1), other, shardManifest(3)])
      expect(stderr).toMatch(/different fleet CA/)
      expect(stderr).toContain('Another Merge Root')
    })

    it('shards of a different certificate profile (validity-days)', async () => {
      const other = await bakeOk(deviceManifest, path.join(work, 'other-profile'), ['--shard', '2/3', '--validity-days', '30'])
      const stderr = await refused('profile', [shardManifest(1), other, shardManifest(3)])
      expect(stderr).toMatch(/different certificate profile/)
      expect(stderr).toContain('30 days')
      expect(stderr).not.toMatch(/different fleet CA|different device manifest/)
    })

    it('shards of a different format', async () => {
      const other = await bakeOk(deviceManifest, path.join(work, 'other-format'), ['--shard', '2/3', '--format', 'dir'])
      const stderr = await refused('format', [shardManifest(1), other, shardManifest(3)])
      expect(stderr).toMatch(/different output format/)
      expect(stderr).toContain('dir')
    })

    it('shards whose devices got another gateway URL', async () => {
      const other = await bakeOk(deviceManifest, path.join(work, 'other-gateway'), ['--shard', '2/3', '--gateway-url', 'https://other.example.com'])
      const stderr = await refused('gateway', [shardManifest(1), other, shardManifest(3)])
      expect(stderr).toMatch(/different installed files \/var\/sota\/import\/gateway\.url in .*shards\/shard-1\/credbake-manifest\.json and .*other-gateway/)
    })

    it('overlapping serials: two copies of the same shard', async () => {
      const copy = path.join(work, 'shard-1-copy')
      cpSync(path.dirname(shardManifest(1)), copy, { recursive: true })
      const stderr = await refused('overlap', [shardManifest(1), path.join(copy, 'credbake-manifest.json'), shardManifest(2), shardManifest(3)])
      // The cause first, then the overlap it makes, once per pair of shards (not a line per serial).
      const problems = stderr.split('\n').filter((line) => line.startsWith('  - '))
      expect(problems[0]).toMatch(/shard 1\/3 is given 2 times/)
      const doc = JSON.parse(readFileSync(shardManifest(1), 'utf8'))
      expect(problems).toHaveLength(2)
      expect(problems[1]).toContain(`${doc.devices.length} serials are in both`)
      expect(problems[1]).toContain(doc.devices[0].serial)
    })

    it('an incomplete set, naming the missing 2/3', async () => {
      const stderr = await refused('incomplete', [shardManifest(1), shardManifest(3)])
      expect(stderr).toMatch(/missing shard 2\/3/)
    })

    it('a file that is not a credbake manifest, and a shard whose outputs were not downloaded', async () => {
      const notOurs = path.join(work, 'package.json')
      writeFileSync(notOurs, JSON.stringify({ name: 'x', version: '1.0.0' }))
      const stripped = path.join(work, 'manifest-only')
      mkdirSync(stripped)
      cpSync(shardManifest(2), path.join(stripped, 'credbake-manifest.json'))
      const stderr = await refused('foreign', [shardManifest(1), path.join(stripped, 'credbake-manifest.json'), shardManifest(3), notOurs])
      expect(stderr).toMatch(/package\.json is not a credbake review manifest/)
      expect(stderr).toMatch(/manifest-only\/credbake-manifest\.json: device MG-\d+'s output overlays\/MG-\d+\.tar\.gz is missing/)
    })
  })
})

describe('the action', () => {
  it('with merge: merges the downloaded shards (no manifest or fleet CA inputs) and writes a row per shard to the summary', () => {
    const run = runAction({ merge: 'shards/*/credbake-manifest.json', 'output-dir': 'review' }, { cwd: workspace })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.outputs.devices).toBe('30')
    expect(run.outputs.manifest).toBe(path.join(workspace, 'review', 'credbake-manifest.json'))
    const manifest = readValidManifest(run.outputs.manifest!)
    expect(manifest.devices).toHaveLength(30)
    expect(spawnSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: path.join(workspace, 'review') }).status).toBe(0)
    for (const index of [1, 2, 3]) {
      const shard = JSON.parse(readFileSync(shardManifest(index), 'utf8'))
      expect(run.summary).toContain(
        `<tr><td>${index}/3</td><td align="right">${shard.counts.devices}</td><td align="right">0</td><td><code>shards/shard-${index}/credbake-manifest.json</code></td></tr>`
      )
    }
    expect(run.summary).toContain('<th>Total</th><th align="right">30</th>')
    rmSync(path.join(workspace, 'review'), { recursive: true, force: true })
  })

  it('with merge matching nothing: fails naming merge', () => {
    const run = runAction({ merge: 'nowhere/*/credbake-manifest.json' }, { cwd: workspace })
    expect(run.status).not.toBe(0)
    expect(run.stdout).toMatch(/Input "merge".*matches no file/)
  })

  it('after a bake, the summary says how to verify', () => {
    const bakeDir = path.join(work, 'action-bake')
    mkdirSync(bakeDir)
    const run = runAction({ manifest: deviceManifest, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, format: 'tar', 'output-dir': 'out' }, { cwd: bakeDir })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.summary).toContain(`npx --no-install credbake verify --manifest out/credbake-manifest.json --fleet-ca-cert ${path.relative(bakeDir, ca.certPath)}`)
  })
})
