// Issue 18, item 5: merge like bake. A merge killed at any point (SIGKILL) is rerun to the same
// result; merges started together: one wins, the others exit 6 with the lock message; a merge
// stopped by SIGTERM releases everything and says so; the merge folder is a trust boundary as a
// bake's output-dir is, and a shard's outputs are never reached through a link. Through the CLI.
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runCliAsync, startCli, type ChildResult, type RunningChild } from '../helpers/faults.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'

const DEVICES = 900
const SHARDS = 3

let ca: CaFixture
let work: string
let shardManifests: string[]
/** The merged review of an undisturbed merge, to compare every other result with. */
let reference: Review

beforeAll(async () => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Merge Robustness Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-merge-robust-'))
  const manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial\n${Array.from({ length: DEVICES }, (_, i) => `MR-${String(i + 1).padStart(5, '0')}`).join('\n')}\n`)
  shardManifests = []
  for (let index = 1; index <= SHARDS; index++) {
    const out = path.join(work, 'shards', `shard-${index}`)
    const result = await runCliAsync([
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
      `${index}/${SHARDS}`,
      '--output-dir',
      out
    ])
    expect(result.status, result.stderr).toBe(0)
    shardManifests.push(path.join(out, 'credbake-manifest.json'))
  }
  const out = path.join(work, 'reference')
  const result = await merge(out)
  expect(result.status, result.stderr).toBe(0)
  reference = review(out)
}, 180_000)

afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

const mergeArgs = (out: string): string[] => ['merge', '--output-dir', out, ...shardManifests]
const merge = (out: string): Promise<ChildResult> => runCliAsync(mergeArgs(out), { cwd: work })

interface Review {
  devices: string[]
  sums: string
  certificates: string
  superseded: string
  files: string[]
}

/** What a merge result is, without its time stamps: devices in order, SHA256SUMS, the bundles, the files in DIR. */
function review(out: string): Review {
  const manifest = JSON.parse(readFileSync(path.join(out, 'credbake-manifest.json'), 'utf8'))
  return {
    devices: manifest.devices.map((device: any) => `${device.serial} ${device.certificate.sha256} ${device.output.path} ${device.output.sha256}`),
    sums: readFileSync(path.join(out, 'SHA256SUMS'), 'utf8'),
    certificates: readFileSync(path.join(out, 'certificates.pem'), 'utf8'),
    superseded: readFileSync(path.join(out, 'superseded.pem'), 'utf8'),
    files: readdirSync(out, { recursive: true, encoding: 'utf8' }).sort()
  }
}

async function waitFor(condition: () => boolean, what: string, child: RunningChild): Promise<boolean> {
  let exited = false
  void child.done.then(() => (exited = true))
  const deadline = Date.now() + 60_000
  while (!condition()) {
    if (exited) return false
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  return true
}

const placed = (out: string): number => {
  try {
    return readdirSync(path.join(out, 'overlays')).length
  } catch {
    return 0
  }
}

describe('a merge killed at any point', () => {
  it('is rerun to the same result, whatever it left (a lock, the marker, some links, temp review files)', async () => {
    const out = path.join(work, 'killed')
    // Kill moments, each in a rerun of the last killed one: as soon as the lock exists, once the
    // marker is written, after some links, after most of them.
    const moments: Array<[string, (dir: string) => boolean]> = [
      ['the lock', (dir) => existsSync(path.join(dir, 'credbake.lock'))],
      ['the marker', (dir) => existsSync(path.join(dir, '.credbake-merge-incomplete'))],
      ['some links', (dir) => placed(dir) >= 10],
      ['most links', (dir) => placed(dir) >= DEVICES / 2]
    ]
    const log: string[] = []
    let killed = 0
    for (const [what, condition] of moments) {
      const child = startCli(mergeArgs(out), { cwd: work })
      const reached = await waitFor(() => condition(out), what, child)
      child.kill('SIGKILL')
      const result = await child.done
      if (reached && result.killed) killed++
      else expect(result.status, `merge ended by itself before ${what}: ${result.stderr}`).toBe(0)
      log.push(`${what}: ${result.killed ? 'killed' : `exited ${result.status}`}, left ${readdirSync(out).sort().join(' ')} (${placed(out)} overlays)`)
    }
    expect(killed, log.join('\n')).toBeGreaterThanOrEqual(3)
    const rerun = await merge(out)
    expect(rerun.status, `${log.join('\n')}\n${rerun.stderr}`).toBe(0)
    expect(review(out)).toEqual(reference)
    expect(existsSync(path.join(out, '.credbake-merge-incomplete')), 'the marker goes once the merge completes').toBe(false)
    const verify = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
    expect(verify.status, verify.stdout + verify.stderr).toBe(0)
  })
})

describe('merges started together', () => {
  it('one wins, the others exit 6 with the lock message and no stack trace', async () => {
    const out = path.join(work, 'together')
    const results = await Promise.all([1, 2, 3, 4].map(() => merge(out)))
    const statuses = results.map((result) => result.status).sort()
    expect(statuses, results.map((result) => result.stderr).join('\n---\n')).toEqual([0, 6, 6, 6])
    for (const result of results.filter((r) => r.status === 6)) {
      expect(result.stderr).toMatch(/Another credbake run \(pid \d+ on .*\) is merging into output-dir .*together/)
      expect(result.stderr).not.toMatch(/\n\s+at |unexpected error|EEXIST/)
    }
    expect(review(out)).toEqual(reference)
  })
})

describe("a merge that finds another merge's write probe", () => {
  // Merges started together each make a probe in DIR before they try the lock; the one holding the
  // lock must not take such a name for content (it refused with exit 2, "not empty").
  it('is not refused: the temporary name is not content', async () => {
    const out = path.join(work, 'probed')
    mkdirSync(out)
    writeFileSync(path.join(out, '.credbake-probe.tmp-4242-0a1b2c3d'), '')
    const result = await merge(out)
    expect(result.status, result.stderr).toBe(0)
    expect(review(out)).toEqual(reference)
  })
})

describe('a merge stopped by SIGTERM', () => {
  it('removes what it placed, releases the lock, says so in one line, exits 143; the rerun completes to the same result', async () => {
    const out = path.join(work, 'stopped')
    const child = startCli(mergeArgs(out), { cwd: work })
    const reached = await waitFor(() => placed(out) >= 10, 'some links', child)
    expect(reached, 'the merge ended before the signal: make it longer').toBe(true)
    child.kill('SIGTERM')
    const result = await child.done
    expect(result.status, result.stderr).toBe(143)
    const lines = result.stderr.split('\n').filter((line) => line.includes('stopped by SIGTERM'))
    expect(lines).toEqual([expect.stringMatching(/^credbake: merge stopped by SIGTERM: nothing was merged .* the lock is released\. Run the same command again to merge\.$/)])
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    expect(placed(out)).toBe(0)
    const rerun = await merge(out)
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(review(out)).toEqual(reference)
  })
})

describe('the merge folder and the shards are a trust boundary', () => {
  it("a planted link at DIR's overlays/ is refused (exit 5) naming it; what it points to is left alone", async () => {
    const out = path.join(work, 'linked-dir')
    mkdirSync(out)
    const elsewhere = path.join(work, 'elsewhere-merge')
    mkdirSync(elsewhere)
    writeFileSync(path.join(elsewhere, 'keep.txt'), 'keep')
    symlinkSync(elsewhere, path.join(out, 'overlays'))
    const result = await merge(out)
    expect(result.status, result.stderr).toBe(5)
    expect(result.stderr).toContain(`${path.join(out, 'overlays')} is a symbolic link (to ${elsewhere})`)
    expect(readdirSync(elsewhere)).toEqual(['keep.txt'])
    expect(lstatSync(path.join(out, 'overlays')).isSymbolicLink()).toBe(true)
  })

  it('a shard whose overlays/ is a link is refused (exit 2) naming it: outputs are never hard-linked from elsewhere', async () => {
    const copy = path.join(work, 'shard-linked')
    mkdirSync(copy)
    for (const name of readdirSync(path.dirname(shardManifests[0]!))) {
      if (name === 'overlays') symlinkSync(path.join(path.dirname(shardManifests[0]!), 'overlays'), path.join(copy, 'overlays'))
      else writeFileSync(path.join(copy, name), readFileSync(path.join(path.dirname(shardManifests[0]!), name)))
    }
    const out = path.join(work, 'from-linked-shard')
    const result = await runCliAsync(['merge', '--output-dir', out, path.join(copy, 'credbake-manifest.json'), ...shardManifests.slice(1)], { cwd: work })
    expect(result.status, result.stderr).toBe(2)
    expect(result.stderr).toContain(`${path.join(copy, 'overlays')} is a symbolic link`)
    expect(existsSync(out)).toBe(false)
  })
})
