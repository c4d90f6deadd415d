// tar and dir bakes large enough for the worker pool (from the bundle): workers issue, build and
// write the outputs, the main thread journals. Checked with the independent readers of the
// robustness suite (GNU tar, openssl, node:crypto), plus the order journal-before-key in the file.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { readJournalFile, tempLeftovers } from '../helpers/faults.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { cleanupPki, makeRootCa } from '../helpers/pki.js'
import { NODE20, NODES, ROOT, runAction, runCli } from '../helpers/run.js'
import { checkOutputDir } from '../robustness/invariants.js'

const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-pool-'))
afterAll(async () => {
  rmSync(work, { recursive: true, force: true })
  cleanupPki()
  await cleanupScratch()
})
const ca = makeRootCa({ subject: '/CN=pool test fleet root' })

function manifest(name: string, count: number): { file: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `${name.toUpperCase()}-${String(i + 1).padStart(4, '0')}`)
  const file = path.join(work, `${name}.csv`)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return { file, serials }
}

function bake(file: string, out: string, extra: string[] = [], env: Record<string, string> = {}) {
  return runCli(['bake', '--manifest', file, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, ...extra], {
    env: { TMPDIR: work, ...env }
  })
}

/** Every `written` record comes after its certificate's `issued` record, and each is there once. */
function journalOrderProblems(out: string): string[] {
  const problems: string[] = []
  const issuedAt = new Map<string, number>()
  const { records } = readJournalFile(out)
  records.forEach((record: any, index) => {
    if (record.type === 'issued') issuedAt.set(record.certificate.sha256, index)
    if (record.type === 'written' && !(issuedAt.get(record.certificateSha256)! < index)) problems.push(`written ${record.serial} before its issued record`)
  })
  return problems
}

describe('the device pool (workers write tar and dir outputs)', () => {
  it('tar: 450 devices in several batches, every certificate journaled before its output, all verify', () => {
    const { file, serials } = manifest('tar', 450)
    const out = path.join(work, 'out-tar')
    const run = bake(file, out)
    expect(run.status, run.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [work] })
    expect(check.problems).toEqual([])
    expect(check.issued).toHaveLength(450)
    expect(journalOrderProblems(out)).toEqual([])
  })

  it.each(NODES)('the action (dist/index.js) under %s: 250 devices through its workers', (_name, node) => {
    const { file, serials } = manifest(`action-${_name.replace(/\W/g, '')}`, 250)
    const out = path.join(work, `out-action-${_name.replace(/\W/g, '')}`)
    const run = runAction({ manifest: file, 'fleet-ca-cert': ca.certPath, 'fleet-ca-key': ca.keyPath, 'output-dir': out }, { node })
    expect(run.status, run.stderr + run.stdout).toBe(0)
    expect(run.outputs.devices).toBe('250')
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [work, run.runnerTemp] }).problems).toEqual([])
  })

  it('the workers run dist/device-worker.js, the bundle beside the CLI', () => {
    // A copy of the CLI whose worker bundle only says it ran: the run must fail with its message.
    const dist = path.join(work, 'dist-copy')
    mkdirSync(dist, { recursive: true })
    copyFileSync(path.join(ROOT, 'dist/cli.js'), path.join(dist, 'cli.js'))
    writeFileSync(path.join(dist, 'device-worker.js'), "throw new Error('the device worker bundle ran')\n")
    const { file } = manifest('bundle', 250)
    const run = spawnSync(
      NODE20,
      [path.join(dist, 'cli.js'), 'bake', '--manifest', file, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', path.join(work, 'out-bundle')],
      {
        encoding: 'utf8',
        env: { ...process.env, TMPDIR: work }
      }
    )
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('the device worker bundle ran')
  })

  it('images: 200 devices issued by the workers and written by the main thread, every certificate journaled before its output', async () => {
    // The same per-device step as tar and dir (two worker threads issue and build the bundles);
    // the bundles cross to this side's image sink, which writes them with debugfs.
    const image = await buildBareExt4(await scratchDir('credbake-pool-image-'), { size: 4 * MiB })
    const { file, serials } = manifest('image', 200)
    const out = path.join(work, 'out-image')
    const run = bake(file, out, ['--image', image.path, '--concurrency', '2'])
    expect(run.status, run.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [work] })
    expect(check.problems).toEqual([])
    expect(check.issued).toHaveLength(200)
    expect(journalOrderProblems(out)).toEqual([])
  })

  it('dir: 300 device trees with their modes', () => {
    const { file, serials } = manifest('dir', 300)
    const out = path.join(work, 'out-dir')
    const run = bake(file, out, ['--format', 'dir', '--gateway-url', 'https://gw.example.com'])
    expect(run.status, run.stderr).toBe(0)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [work] }).problems).toEqual([])
  })

  it('an exec: signer: workers build, this thread gets signatures, workers seal and write', () => {
    const { file, serials } = manifest('exec', 200)
    const out = path.join(work, 'out-exec')
    const signer = path.join(ROOT, 'test/fixtures/signers/openssl-signer.mjs')
    const run = runCli(['bake', '--manifest', file, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', `exec:${signer}`, '--output-dir', out], {
      env: { TMPDIR: work, CREDBAKE_TEST_SIGNER_KEY: ca.keyPath }
    })
    expect(run.status, run.stderr).toBe(0)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [work] }).problems).toEqual([])
    expect(journalOrderProblems(out)).toEqual([])
  })

  it('a write that fails mid-run in a worker: the run stops naming the device, what landed is journaled, a rerun completes', () => {
    const { file, serials } = manifest('fail', 400)
    const out = path.join(work, 'out-fail')
    // A non-empty folder where device 300's overlay goes: its rename fails in the worker.
    const blocker = path.join(out, 'overlays', 'FAIL-0300.tar.gz')
    mkdirSync(blocker, { recursive: true })
    writeFileSync(path.join(blocker, 'in-the-way'), 'x')

    const failed = bake(file, out)
    expect(failed.status).toBe(5)
    expect(failed.stderr).toMatch(/FAIL-0300/)
    const { records } = readJournalFile(out)
    const written = records.filter((record: any) => record.type === 'written')
    expect(written.length).toBeGreaterThan(0)
    expect(written.length).toBeLessThan(400)
    expect(written.some((record: any) => record.serial === 'FAIL-0300')).toBe(false)
    expect(journalOrderProblems(out)).toEqual([])
    expect(tempLeftovers(out)).toEqual([])

    rmSync(blocker, { recursive: true })
    const rerun = bake(file, out)
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [work] })
    expect(check.problems).toEqual([])
    // Devices written before the failure were kept, not issued again.
    expect(rerun.stdout + rerun.stderr).toMatch(new RegExp(`${written.length} of 400 devices were already complete`))
  })
})
