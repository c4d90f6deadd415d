// Issue 18, item 2: SIGINT, SIGTERM and SIGHUP stop a run cleanly, as a user at a terminal or a
// runner cancelling a job sends them. Through the CLI (dist/cli.js) and the action (dist/index.js,
// as a runner starts it): the first signal stops issuing, the devices in flight land or roll back,
// everything is released, one line says what was done and that a rerun resumes, exit 128 + the
// signal's number. Afterwards no PRIVATE KEY is anywhere under TMPDIR or RUNNER_TEMP, there is no
// lock, and a rerun completes and `credbake verify` passes. A second signal stops at once, still
// removing the secret temp folder.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeIntermediateCa, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { credbakeTempDirs, makeFakeDebugfs, readJournalFile, runCliAsync, startAction, startCli, tempLeftovers, type ChildResult, type RunningChild } from '../helpers/faults.js'
import { parseOutputs } from '../helpers/run.js'
import { checkOutputDir, privateKeysUnder } from './invariants.js'

let root: CaFixture
let fleet: CaFixture
let work: string

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Signal Test Root' })
  fleet = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Signal Test Fleet CA' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-signals-'))
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

function deviceManifest(name: string, prefix: string, count: number): { file: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(5, '0')}`)
  const file = path.join(work, name)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return { file, serials }
}

async function waitFor(condition: () => boolean, what: string, child?: RunningChild, ms = 60_000): Promise<void> {
  let exited = false
  void child?.done.then(() => (exited = true))
  const deadline = Date.now() + ms
  while (!condition()) {
    if (exited) throw new Error(`the run ended before ${what}: make the job longer`)
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const journalHasWritten = (out: string): boolean => {
  try {
    return readFileSync(path.join(out, 'credbake-journal.jsonl'), 'latin1').includes('"type":"written"')
  } catch {
    return false
  }
}

const EXIT = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 } as const

/** The one line a clean stop prints: what was done, that a rerun resumes; and no stack trace. */
function expectStopLine(text: string, signal: keyof typeof EXIT): void {
  const lines = text.split('\n').filter((line) => line.includes(`stopped by ${signal}`))
  expect(lines, text).toHaveLength(1)
  expect(lines[0]).toMatch(new RegExp(`stopped by ${signal}: [\\d,]+ of [\\d,]+ devices are baked and journaled .*Run the same command again to resume\\.$`))
  expect(text).not.toMatch(/\n\s+at /)
}

/** What every stopped run must leave: no key in the temp roots, no credbake-* folder there, no lock, no temp files. */
function expectReleased(out: string, tempRoots: string[]): void {
  for (const root of tempRoots) {
    expect(privateKeysUnder(root), `PRIVATE KEY under ${root}`).toEqual([])
    expect(credbakeTempDirs(root), `secret temp folders left in ${root}`).toEqual([])
  }
  expect(existsSync(path.join(out, 'credbake.lock')), 'the lock was released').toBe(false)
  expect(tempLeftovers(out)).toEqual([])
}

async function verifyPasses(out: string): Promise<void> {
  const verify = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', root.certPath])
  expect(verify.status, verify.stdout + verify.stderr).toBe(0)
}

describe('the CLI stopped by a signal during a tar bake', () => {
  // SIGHUP (a closed terminal) is checked as far as the stop itself; SIGTERM and SIGINT through the
  // rerun and `credbake verify`.
  it.each([
    ['SIGTERM', true],
    ['SIGINT', true],
    ['SIGHUP', false]
  ] as const)('%s: the batch in flight lands, nothing is left, exit code, one line; the rerun completes', async (signal, full) => {
    const { file: manifest, serials } = deviceManifest(`tar-${signal}.csv`, `T${signal.slice(3, 5)}`, 1000)
    const out = path.join(work, `tar-${signal}`)
    const tmp = path.join(work, `tmp-tar-${signal}`)
    mkdirSync(tmp)
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out, '--format', 'tar']
    const child = startCli(args, { env: { TMPDIR: tmp } })
    await waitFor(() => journalHasWritten(out), 'the first outputs', child)
    child.kill(signal)
    const result = await child.done
    expect(result.status, result.stderr).toBe(EXIT[signal])
    expectStopLine(result.stderr, signal)
    expectReleased(out, [tmp])

    // What the line says is what the journal holds: every output it names landed and is journaled.
    const journal = readJournalFile(out)
    const written = journal.records.filter((r) => r.type === 'written')
    const said = Number(/: ([\d,]+) of/.exec(result.stderr)![1]!.replace(/,/g, ''))
    expect(written.length).toBe(said)
    expect(written.length).toBeLessThan(serials.length)
    expect(journal.badChecksums).toEqual([])
    expect(existsSync(path.join(out, 'credbake-manifest.json')), 'a stopped run writes no manifest').toBe(false)
    for (const record of written) expect(existsSync(path.join(out, record.output.path)), record.output.path).toBe(true)

    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(rerun.stderr).toContain(`${said} of ${serials.length} devices were already complete`)
    expectReleased(out, [tmp])
    if (full) await verifyPasses(out)
  })
})

describe('the CLI stopped by a signal during an image bake', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s while debugfs writes: the devices in flight land, the rest is not started; the rerun completes and verifies', async (signal) => {
    const { file: manifest, serials } = deviceManifest(`image-${signal}.csv`, `I${signal.slice(3, 5)}`, 6)
    const dir = await scratchDir('credbake-signal-img-')
    const image = await buildBareExt4(dir, { size: 8 * MiB, label: 'rootfs' })
    const tmp = path.join(work, `tmp-image-${signal}`)
    mkdirSync(tmp)
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'sleep', sleepMs: 400 })
    const out = path.join(work, `image-${signal}`)
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out, '--image', image.path]
    const child = startCli(args, { env: { TMPDIR: tmp, CREDBAKE_IMAGE_IN_FLIGHT: '2', ...fake.env } })
    await waitFor(() => fake.writeRuns() >= 1, 'debugfs to write the first device', child)
    child.kill(signal)
    const result = await child.done
    expect(result.status, result.stderr).toBe(EXIT[signal])
    expectStopLine(result.stderr, signal)
    expectReleased(out, [tmp])
    const written = readJournalFile(out).records.filter((r) => r.type === 'written')
    // The device being written when the signal came landed; at most the window's second one too.
    expect(written.length).toBeGreaterThanOrEqual(1)
    expect(written.length).toBeLessThanOrEqual(2)
    expect(fake.writeRuns()).toBe(written.length)
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(written.map((r) => path.basename(r.output.path)).sort())

    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(checkOutputDir({ outputDir: out, rootPem: root.certPem, untrustedPems: [fleet.certPem], serials, tempRoots: [tmp] }).problems).toEqual([])
    await verifyPasses(out)
  })

  it('a second signal stops at once: the secret temp folder (holding the device key for debugfs) is removed, the lock released; the rerun resumes', async () => {
    const { file: manifest, serials } = deviceManifest('image-twice.csv', 'TW', 3)
    const dir = await scratchDir('credbake-signal-twice-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const tmp = path.join(work, 'tmp-image-twice')
    mkdirSync(tmp)
    // debugfs takes 5 s: the first SIGTERM waits for it, the second does not.
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'sleep', sleepMs: 5_000 })
    const out = path.join(work, 'image-twice')
    const args = ['bake', '--manifest', manifest, '--fleet-ca-cert', fleet.chainPath, '--fleet-ca-key', fleet.keyPath, '--output-dir', out, '--image', image.path]
    const child = startCli(args, { env: { TMPDIR: tmp, ...fake.env } })
    await waitFor(() => fake.writeRuns() >= 1, 'debugfs to write the first device', child)
    expect(privateKeysUnder(tmp).length, 'the device key is in the secret temp folder while debugfs reads it').toBeGreaterThan(0)
    child.kill('SIGTERM')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(child.pid && existsSync(`/proc/${child.pid}`), 'the first signal waits for the device in flight').toBe(true)
    child.kill('SIGTERM')
    const result: ChildResult = await child.done
    for (const pid of fake.pids()) {
      try {
        process.kill(pid, 'SIGKILL') // the orphaned (fake) debugfs
      } catch {
        // already gone
      }
    }
    expect(result.status, result.stderr).toBe(143)
    const line = result.stderr.split('\n').filter((l) => l.includes('stopped at once'))
    expect(line, result.stderr).toHaveLength(1)
    expect(line[0]).toMatch(/second signal \(SIGTERM\): removed (the lock and the secret temp folder|the secret temp folder and the lock); .*Run the same command again/)
    expect(privateKeysUnder(tmp)).toEqual([])
    expect(credbakeTempDirs(tmp)).toEqual([])
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)

    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(checkOutputDir({ outputDir: out, rootPem: root.certPem, untrustedPems: [fleet.certPem], serials, tempRoots: [tmp] }).problems).toEqual([])
    await verifyPasses(out)
  })
})

describe('verify stopped by a signal', () => {
  it('SIGTERM: its temp folder is removed at once, exit 143, one line', async () => {
    const { file: manifest } = deviceManifest('verify.csv', 'VF', 1500)
    const out = path.join(work, 'verify-out')
    const baked = await runCliAsync(['bake', '--manifest', manifest, '--fleet-ca-cert', root.certPath, '--fleet-ca-key', root.keyPath, '--output-dir', out, '--format', 'tar'])
    expect(baked.status, baked.stderr).toBe(0)
    const tmp = path.join(work, 'tmp-verify')
    mkdirSync(tmp)
    const child = startCli(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', root.certPath], { env: { TMPDIR: tmp } })
    await waitFor(() => credbakeTempDirs(tmp).length > 0, 'verify to make its temp folder', child)
    child.kill('SIGTERM')
    const result = await child.done
    expect(result.status, result.stdout + result.stderr).toBe(143)
    expect(result.stderr.split('\n').filter((line) => line.includes('stopped by SIGTERM'))).toEqual([
      'credbake: stopped by SIGTERM: removed the secret temp folder; what was in flight did not finish. Run the same command again.'
    ])
    expect(credbakeTempDirs(tmp)).toEqual([])
  })
})

describe('the action stopped by a signal', () => {
  it('SIGINT (what a runner sends first on cancel): exit 130, one warning line, RUNNER_TEMP holds no key and nothing else; the rerun completes and the post step finds nothing', async () => {
    const { file: manifest } = deviceManifest('action.csv', 'AC', 1000)
    const dir = mkdtempSync(path.join(work, 'runner-'))
    const runnerTemp = path.join(dir, 'runner_temp')
    mkdirSync(runnerTemp)
    const files = (step: string): { outputFile: string; summaryFile: string; runnerTemp: string; workspace: string } => {
      const result = { outputFile: path.join(dir, `${step}-output`), summaryFile: path.join(dir, `${step}-summary`), runnerTemp, workspace: dir }
      writeFileSync(result.outputFile, '')
      writeFileSync(result.summaryFile, '')
      return result
    }
    const state = path.join(dir, 'state')
    writeFileSync(state, '')
    const inputs = { manifest, 'fleet-ca-cert': fleet.chainPem, 'fleet-ca-key': fleet.keyPem, 'output-dir': 'out', format: 'tar' }
    const out = path.join(dir, 'out')
    const child = startAction(inputs, files('main'), { env: { GITHUB_STATE: state } })
    await waitFor(() => journalHasWritten(out), 'the first outputs', child)
    child.kill('SIGINT')
    const result = await child.done
    expect(result.status, result.stdout + result.stderr).toBe(130)
    const lines = result.stdout.split('\n').filter((line) => line.includes('stopped by SIGINT'))
    expect(lines, result.stdout).toHaveLength(1)
    expect(lines[0]).toMatch(/^::warning::credbake: stopped by SIGINT: [\d,]+ of 1,000 devices are baked and journaled .*Run the same command again to resume\.$/)
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /)
    expect(privateKeysUnder(runnerTemp)).toEqual([])
    expect(readdirSync(runnerTemp)).toEqual([])
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)

    // The post step (the net for SIGKILL) has nothing left to do.
    const saved = parseOutputs(readFileSync(state, 'utf8'))
    const post = await startAction({}, files('post'), { env: Object.fromEntries(Object.entries(saved).map(([name, value]) => [`STATE_${name}`, value])) }).done
    expect(post.status, post.stdout + post.stderr).toBe(0)
    expect(post.stdout).toContain('credbake post: nothing left behind by the main step.')

    const rerun = await startAction(inputs, files('rerun')).done
    expect(rerun.status, rerun.stdout + rerun.stderr).toBe(0)
    expect(readdirSync(runnerTemp)).toEqual([])
    await verifyPasses(out)
  })
})
