// Issue 4, "Tests" 1: SIGKILL `credbake bake` at 20 random moments, rerun into the same output-dir
// after each kill, then let a run complete, and check that nothing was lost and nothing is left
// over. The kill moments come from a seeded RNG whose seed is printed; rerun a failure with
// CREDBAKE_KILL_SEED=<seed>. Each format calibrates its window with one clean run first.
import { createPublicKey, X509Certificate } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, makeIntermediateCa, type CaFixture } from '../helpers/pki.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { credbakeTempDirs, listTree, makeFakeDebugfs, readJournalFile, runCliAsync, seededRng, seedFromEnv, startCli, tempLeftovers } from '../helpers/faults.js'
import { checkOutputDir } from './invariants.js'

const SEED = seedFromEnv('CREDBAKE_KILL_SEED')
const KILLS = 20

let root: CaFixture
let fleet: CaFixture
let work: string

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Kill Test Root' })
  fleet = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Kill Test Fleet CA' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-kill-'))
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

function deviceManifest(name: string, prefix: string, count: number): { file: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(4, '0')}`)
  const file = path.join(work, name)
  writeFileSync(file, `serial,region\n${serials.map((s, i) => `${s},${i % 2 ? 'eu' : 'us'}`).join('\n')}\n`)
  return { file, serials }
}

interface Scenario {
  format: 'tar' | 'image'
  /** tar: more devices than one journal group commit (64), so kills land in several batches. */
  devices: number
  args: () => Promise<string[]>
}

const scenarios: Scenario[] = [
  { format: 'tar', devices: 300, args: async () => ['--format', 'tar', '--gateway-url', 'https://gw.example.com:443'] },
  {
    format: 'image',
    devices: 12,
    args: async () => {
      const image = await buildBareExt4(await scratchDir('credbake-kill-img-'), { size: 8 * MiB, label: 'rootfs' })
      return ['--image', image.path, '--format', 'image']
    }
  }
]

describe.each(scenarios)('SIGKILL at $format', (scenario) => {
  it(`loses no certificate and leaves nothing behind after ${KILLS} kills and a final run`, async () => {
    // One seed for the file, a distinct stream per format.
    const rng = seededRng(SEED ^ (scenario.format === 'tar' ? 0x7a11 : 0x1ba9e))
    console.log(`kill test (${scenario.format}): seed ${SEED} — reproduce with CREDBAKE_KILL_SEED=${SEED}`)
    const { file: manifest, serials } = deviceManifest(`${scenario.format}.csv`, scenario.format.toUpperCase(), scenario.devices)
    const tmp = path.join(work, `tmp-${scenario.format}`)
    mkdirSync(tmp)
    const env = { TMPDIR: tmp }
    const extra = await scenario.args()
    const argsFor = (out: string): string[] => ['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out, ...extra]

    // Calibrate on this machine, now: a clean run of the whole job, then a rerun that finds every
    // device complete (start-up, verification and the review: the fixed cost of any run).
    const calibrationDir = path.join(work, `calibrate-${scenario.format}`)
    const full = await runCliAsync(argsFor(calibrationDir), { env })
    expect(full.status, full.stderr).toBe(0)
    const again = await runCliAsync(argsFor(calibrationDir), { env })
    expect(again.status, again.stderr).toBe(0)
    const fixedMs = again.ms
    const perDeviceMs = Math.max(0, full.ms - again.ms) / scenario.devices

    const out = path.join(work, `out-${scenario.format}`)
    const log: string[] = []
    let killedMidRun = 0
    for (let i = 0; i < KILLS; i++) {
      // A random moment between the start and the expected end of this run, which has the devices
      // not yet written left to do: start-up, writing, the review and clean-up all get hit.
      const before = readJournalFile(out)
      const writtenSerials = new Set(before.records.flatMap((r) => (r.type === 'written' ? [r.serial] : [])))
      const expectedMs = fixedMs + perDeviceMs * (scenario.devices - writtenSerials.size)
      const delay = Math.round(rng.between(0, 1.05 * expectedMs))
      const result = await startCli(argsFor(out), { env }).killAfter(delay)
      const journal = readJournalFile(out)
      log.push(
        `#${i + 1} kill at ${delay} of ~${Math.round(expectedMs)} ms: ${result.killed ? 'killed' : `exited ${result.status}`}; journal ${journal.records.length} records` +
          `, ${journal.records.filter((r) => r.type === 'issued').length} issued, ${journal.records.filter((r) => r.type === 'written').length} written` +
          `, ${tempLeftovers(out).length} temp files, ${credbakeTempDirs(tmp).length} credbake-* in TMPDIR`
      )
      if (result.killed) killedMidRun++
      else expect(result.status, `run #${i + 1} exited by itself but failed:\n${result.stderr}`).toBe(0)
    }
    console.log(`kill test (${scenario.format}), clean run ${Math.round(full.ms)} ms, complete rerun ${Math.round(fixedMs)} ms:\n  ${log.join('\n  ')}`)
    // The test means something only if kills hit running bakes (most do; a few may land after the end).
    expect(killedMidRun, log.join('\n')).toBeGreaterThanOrEqual(KILLS / 4)

    const final = await runCliAsync(argsFor(out), { env })
    expect(final.status, final.stderr).toBe(0)

    const check = checkOutputDir({ outputDir: out, rootPem: root.certPem, untrustedPems: [fleet.certPem], serials, tempRoots: [tmp] })
    console.log(
      `kill test (${scenario.format}): ${check.issued.length} certificates issued over all runs, ${check.active.size} active, ${check.superseded.size} superseded (${[
        ...new Set(check.superseded.values())
      ].join(', ')})`
    )
    expect(check.problems, `seed ${SEED}\n${log.join('\n')}`).toEqual([])
    // Every issued certificate that is not active was superseded because its run died.
    for (const reason of check.superseded.values()) expect(['never-written', 'output-redone']).toContain(reason)
  })
})

describe('SIGKILL while debugfs writes a device bundle', () => {
  it('the key being written has its certificate journaled; no device key is left in TMPDIR once the next run has completed', async () => {
    const { file: manifest, serials } = deviceManifest('debugfs-kill.csv', 'DK', 3)
    const dir = await scratchDir('credbake-kill-debugfs-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const tmp = path.join(work, 'tmp-debugfs-kill')
    mkdirSync(tmp)
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'sleep', sleepMs: 5_000 })
    const out = path.join(work, 'out-debugfs-kill')
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out, '--image', image.path]

    // Kill credbake while the (slow) debugfs holds the first device's bundle files.
    const child = startCli(args, { env: { TMPDIR: tmp, ...fake.env } })
    const deadline = Date.now() + 30_000
    while (fake.writeRuns() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(fake.writeRuns(), 'debugfs was never asked to write').toBe(1)
    child.kill('SIGKILL')
    await child.done
    for (const pid of fake.pids()) {
      try {
        process.kill(pid, 'SIGKILL') // the orphaned (fake) debugfs
      } catch {
        // already gone
      }
    }
    const keysWhileDead = privateKeysUnder(tmp)
    expect(keysWhileDead.length, 'the killed run had a device key in its temp folder (expected: that is what the folder is for)').toBeGreaterThan(0)
    // Journal before key: every key handed to debugfs belongs to a certificate the journal held
    // (durably) before debugfs started, so a kill at this moment never leaves a key on an image
    // whose certificate is unrecorded.
    const journaled = readJournalFile(out)
      .records.filter((record: any) => record.type === 'issued')
      .map((record: any) => new X509Certificate(record.certificate.pem).publicKey.export({ type: 'spki', format: 'der' }).toString('hex'))
    for (const name of keysWhileDead) {
      const spki = createPublicKey(readFileSync(path.join(tmp, name), 'latin1'))
        .export({ type: 'spki', format: 'der' })
        .toString('hex')
      expect(journaled, `the key in ${name} has no certificate in the journal`).toContain(spki)
    }

    const final = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(final.status, final.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: root.certPem, untrustedPems: [fleet.certPem], serials, tempRoots: [tmp] })
    // A device private key of the killed run must not outlive the next run in TMPDIR (locally /tmp,
    // which nobody empties between jobs).
    expect({ problems: check.problems, keys: privateKeysUnder(tmp) }).toEqual({ problems: [], keys: [] })
  })
})

/** Files under `dir` that hold a PEM private key. */
function privateKeysUnder(dir: string): string[] {
  return listTree(dir).filter((name) => {
    const file = path.join(dir, name)
    try {
      return statSync(file).isFile() && /-----BEGIN (EC |RSA |ENCRYPTED )?PRIVATE KEY-----/.test(readFileSync(file, 'latin1'))
    } catch {
      return false
    }
  })
}

describe('what a killed run leaves in output-dir', () => {
  // The names a run killed at the wrong moment leaves: a per-device temp file, temp review files,
  // and the writability probe prepareOutputDir writes and removes right away.
  it('is removed by the next run: temp outputs, temp review files and the writability probe', async () => {
    const { file: manifest, serials } = deviceManifest('leftovers.csv', 'LO', 2)
    const out = path.join(work, 'out-leftovers')
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out]
    const first = await runCliAsync(args)
    expect(first.status, first.stderr).toBe(0)
    const dead = 4_000_000 // above pid_max on Linux: no process ever has it
    const planted = [
      `overlays/.LO-0001.tar.gz.tmp-${dead}-0badc0de`,
      `.credbake-manifest.json.tmp-${dead}-0badc0de`,
      `.certificates.pem.tmp-${dead}-0badc0de`,
      `.credbake-probe-${dead}`
    ]
    for (const name of planted) writeFileSync(path.join(out, name), 'left by a killed run')
    const rerun = await runCliAsync(args)
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(tempLeftovers(out)).toEqual([])
    expect(checkOutputDir({ outputDir: out, rootPem: root.certPem, untrustedPems: [fleet.certPem], serials }).problems).toEqual([])
  })
})
