// Issue 4, item 4: partition full, disk full, read-only output-dir and a tool that crashes
// mid-write. Each must end with a clear error (non-zero exit, message naming the cause and the
// input or device), the failed device's partial output removed, the devices before it intact and
// recorded in the journal, nothing left in TMPDIR, and a rerun after fixing the cause must
// complete the job with every certificate accounted for.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { buildBareExt4, cleanupScratch, makeFileSystem, MiB, run, scratchDir } from '../helpers/images.js'
import {
  bindReadOnly,
  credbakeTempDirs,
  fillLeaving,
  makeFakeDebugfs,
  mountTmpfs,
  PAGE,
  readJournalFile,
  remount,
  runCliAsync,
  tempLeftovers,
  unmount,
  type ChildResult,
  type FakeDebugfsMode
} from '../helpers/faults.js'
import { checkOutputDir, digestOf } from './invariants.js'

let ca: CaFixture
let work: string
const mounts: string[] = []

/** Whether this machine lets the test mount a size-limited tmpfs (root in a container usually can). */
function probeTmpfs(): string | undefined {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'credbake-mount-probe-'))
  try {
    const problem = mountTmpfs(dir, MiB)
    if (!problem) unmount(dir)
    return problem
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
const MOUNT_PROBLEM = probeTmpfs()
if (MOUNT_PROBLEM) console.warn(`disk-full and read-only tests skipped: ${MOUNT_PROBLEM}`)

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Faults Test Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-faults-'))
})
afterAll(async () => {
  for (const dir of mounts.reverse()) unmount(dir)
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

// ---- helpers ------------------------------------------------------------------------------------

function writeManifest(name: string, text: string): string {
  const file = path.join(work, name)
  writeFileSync(file, text)
  return file
}

function serialsCsv(prefix: string, count: number): { text: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(2, '0')}`)
  return { text: `serial\n${serials.join('\n')}\n`, serials }
}

function privateTmp(name: string): string {
  const dir = path.join(work, `tmp-${name}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

function bakeArgs(manifest: string, out: string, extra: string[] = []): string[] {
  return ['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, ...extra]
}

const sha256File = digestOf

/** Per serial, the last 'written' record of the journal: its certificate and output. */
function lastWritten(out: string): Map<string, { cert: string; path: string; sha256: string }> {
  const map = new Map<string, { cert: string; path: string; sha256: string }>()
  for (const r of readJournalFile(out).records) {
    if (r.type === 'written') map.set(r.serial, { cert: r.certificateSha256, path: r.output.path, sha256: r.output.sha256 })
  }
  return map
}

/**
 * Problems with what a failed run left in output-dir: temp files, a lock, torn journal lines,
 * recorded outputs that are gone or changed, finished-looking outputs the journal does not know,
 * and credbake-* folders in the temp root.
 */
function leftoverProblems(out: string, tmp: string, outputFolder: string): string[] {
  const problems: string[] = []
  for (const name of tempLeftovers(out)) problems.push(`temporary file left: ${name}`)
  if (existsSync(path.join(out, 'credbake.lock'))) problems.push('credbake.lock left behind')
  for (const name of credbakeTempDirs(tmp)) problems.push(`temp folder left in TMPDIR: ${name}`)
  const journal = readJournalFile(out)
  for (const torn of journal.torn) problems.push(`journal line ${torn.line} is torn: ${torn.text.slice(0, 60)}…`)
  if (journal.unterminated) problems.push('journal does not end with a newline (torn last record)')
  for (const line of journal.badChecksums) problems.push(`journal line ${line} fails its checksum`)
  const written = lastWritten(out)
  for (const [serial, entry] of written) {
    const file = path.join(out, entry.path)
    if (!existsSync(file)) problems.push(`${serial}: recorded output ${entry.path} is missing`)
    else if (sha256File(file) !== entry.sha256) problems.push(`${serial}: recorded output ${entry.path} changed`)
  }
  const recordedPaths = new Set([...written.values()].map((entry) => entry.path))
  const folder = path.join(out, outputFolder)
  if (existsSync(folder)) {
    for (const name of readdirSync(folder)) {
      if (name.startsWith('.')) continue
      const relative = `${outputFolder}/${name}`
      if (!recordedPaths.has(relative)) problems.push(`${relative} looks finished but the journal does not record it`)
    }
  }
  return problems
}

/** The common shape of every fault: exit code, a message naming what is wrong, no stack trace. */
function expectCleanError(result: ChildResult, exitCode: number, patterns: RegExp[]): void {
  const message = result.stderr
  expect(result.status, `the run must fail; stderr:\n${message}`).not.toBe(0)
  // Soft from here on: one test reports every way the failure is unclear.
  expect.soft(result.status, `exit code; stderr:\n${message}`).toBe(exitCode)
  for (const pattern of patterns) expect.soft(message, 'the error names the cause').toMatch(pattern)
  expect.soft(message, 'no stack trace / unexpected error').not.toMatch(/unexpected error|\n\s+at |Unhandled/)
  // The per-device temporary copy is gone by the time the message is read: naming it misleads.
  expect.soft(message, 'the message points at a temporary file that no longer exists').not.toMatch(/\.tmp-\d+-[0-9a-f]+/)
}

function issuedFor(out: string, serial: string): string[] {
  return readJournalFile(out).records.flatMap((r) => (r.type === 'issued' && r.serial === serial ? [r.certificate.sha256] : []))
}

/** The ext4 free-block count as dumpe2fs reports it. */
function freeBlocks(image: string): number {
  const text = run('dumpe2fs', ['-h', image])
  return Number(/^Free blocks:\s+(\d+)/m.exec(text)?.[1])
}

/**
 * A bare ext4 image (1 KiB blocks, no reserved blocks) with exactly `free` blocks left, filled
 * by a file put in with mkfs.ext4 -d (non-zero bytes, so it is not made sparse).
 */
async function nearlyFullExt4(dir: string, free: number, file = 'nearly-full.ext4'): Promise<string> {
  const image = path.join(dir, file)
  const spec = (filler: number) => ({
    fs: 'ext4' as const,
    size: 4 * MiB,
    label: 'rootfs',
    blockSize: 1024,
    mkfsArgs: ['-m', '0'],
    files: { 'etc/hostname': 'device\n', 'var/lib/.keep': '', 'filler.bin': Buffer.alloc(filler, 0x5a) }
  })
  makeFileSystem(image, spec(0))
  let filler = (freeBlocks(image) - free) * 1024
  for (let attempt = 0; attempt < 5; attempt++) {
    makeFileSystem(image, spec(filler))
    const left = freeBlocks(image)
    if (left === free) return image
    filler += (left - free) * 1024
  }
  throw new Error(`could not make an ext4 image with exactly ${free} free blocks`)
}

// ---- partition full -------------------------------------------------------------------------

describe('partition full', () => {
  // A normal bundle (2 new directories, client.pem, pkey.pem) takes 4 blocks of 1 KiB; a device
  // whose SAN carries a 6,000-character URI needs about 8 more for its client.pem. With 7 blocks
  // free in the base image's file system, that device's credentials do not fit in its copy.
  it('a device whose credentials do not fit in the room left: clear error, earlier devices kept, rerun with a fixed manifest completes', async () => {
    const dir = await scratchDir('credbake-pfull-')
    const image = await nearlyFullExt4(dir, 7)
    const tmp = privateTmp('pfull')
    const out = path.join(work, 'out-pfull')
    const longUri = `urn:example:${'x'.repeat(6000)}`
    const rows = (big: string) => `serial,uri\nPF-01,urn:example:1\nPF-02,urn:example:2\nPF-03,${big}\nPF-04,urn:example:4\n`
    const manifest = writeManifest('pfull.csv', rows(longUri))
    const args = bakeArgs(manifest, out, ['--image', image, '--san', 'URI:{uri}'])

    const failed = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expectCleanError(failed, 5, [/PF-03/, /too full|no space|full/i, /partition|file system/i])
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['PF-01.img', 'PF-02.img'])
    expect.soft(leftoverProblems(out, tmp, 'images')).toEqual([])
    expect(existsSync(path.join(out, 'credbake-manifest.json')), 'no manifest claims success').toBe(false)
    expect(issuedFor(out, 'PF-03'), 'the certificate of the failed device is journaled').toHaveLength(1)
    const before = lastWritten(out)

    // The fix: PF-03's SAN shortened. Same settings otherwise, so the run resumes.
    writeFileSync(manifest, rows('urn:example:3'))
    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['PF-01', 'PF-02', 'PF-03', 'PF-04'], tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    const after = lastWritten(out)
    for (const serial of ['PF-01', 'PF-02']) expect(after.get(serial), `${serial} kept, not redone`).toEqual(before.get(serial))
    expect([...check.superseded.entries()]).toEqual([[issuedFor(out, 'PF-03')[0], 'never-written']])
  })

  // Every device gets a copy of the same base image, so a base whose partition is already full
  // fails on the first device: nothing may be claimed, and the certificate issued for it must
  // stay on record. The fix is a roomier base image; that is a different image (different
  // settings), so the rerun must say so and, with resume false + overwrite, complete.
  it('a base image whose partition is full: the first device fails, nothing is claimed, the issued certificate stays on record', async () => {
    const dir = await scratchDir('credbake-pfull0-')
    const full = await nearlyFullExt4(dir, 2, 'full.ext4')
    const tmp = privateTmp('pfull0')
    const out = path.join(work, 'out-pfull0')
    const { text, serials } = serialsCsv('PZ', 3)
    const manifest = writeManifest('pfull0.csv', text)

    const failed = await runCliAsync(bakeArgs(manifest, out, ['--image', full]), { env: { TMPDIR: tmp } })
    expectCleanError(failed, 5, [/PZ-01/, /too full|no space|full/i])
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    expect(existsSync(path.join(out, 'images')) ? readdirSync(path.join(out, 'images')) : []).toEqual([])
    expect.soft(leftoverProblems(out, tmp, 'images')).toEqual([])
    const lost = issuedFor(out, 'PZ-01')
    expect(lost).toHaveLength(1)

    const roomy = (await buildBareExt4(dir, { size: 8 * MiB, file: 'roomy.ext4' })).path
    const refused = await runCliAsync(bakeArgs(manifest, out, ['--image', roomy]), { env: { TMPDIR: tmp } })
    expectCleanError(refused, 2, [/output-dir/, /different settings/, /image/i])

    const rerun = await runCliAsync(bakeArgs(manifest, out, ['--image', roomy, '--no-resume', '--overwrite']), { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    expect(check.superseded.size).toBe(1)
    expect(['never-written', 'overwritten']).toContain(check.superseded.get(lost[0] as string))
  })
})

// ---- disk full ------------------------------------------------------------------------------

describe.skipIf(MOUNT_PROBLEM)('disk full (output-dir on a 2 MiB tmpfs)', () => {
  function smallDisk(name: string): { mount: string; out: string; filler: string } {
    const mount = path.join(work, `disk-${name}`)
    const problem = mountTmpfs(mount, 2 * MiB)
    if (problem) throw new Error(problem)
    mounts.push(mount)
    return { mount, out: path.join(mount, 'out'), filler: path.join(mount, 'filler.bin') }
  }

  // 96 KiB free: the 40 issued records (one group commit) fit, then the disk fills after about a
  // dozen 4 KiB overlay files.
  // The preflight would refuse these runs up front (that is tested in test/pipeline/preflight.test.ts);
  // here the disk fills up during the run, as it does beside another job, so it is switched off.
  const FILLS_UP_DURING_THE_RUN = { CREDBAKE_DISK_PREFLIGHT: 'off' }

  it('fills up while writing outputs: clear error, completed devices recorded, rerun after freeing space completes', async () => {
    const { out, filler } = smallDisk('outputs')
    const tmp = privateTmp('disk-outputs')
    const { text, serials } = serialsCsv('DF', 40)
    const manifest = writeManifest('disk-outputs.csv', text)
    fillLeaving(filler, 24 * PAGE)

    const failed = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp, ...FILLS_UP_DURING_THE_RUN } })
    expectCleanError(failed, 5, [/full/i, /output-dir/, /ENOSPC/])
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    const written = lastWritten(out)
    const present = readdirSync(path.join(out, 'overlays')).filter((name) => !name.startsWith('.'))
    expect(present.length, 'some devices were completed before the disk filled').toBeGreaterThan(0)
    expect.soft(leftoverProblems(out, tmp, 'overlays')).toEqual([])
    expect.soft(written.size, 'every completed output is recorded in the journal').toBe(present.length)

    rmSync(filler)
    const rerun = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
  })

  // Room for the outputs and the journal, not for the review manifest and certificates.pem.
  it('fills up while writing the review manifest: clear error, no half manifest, rerun after freeing space completes', async () => {
    const { text, serials } = serialsCsv('DM', 40)
    const manifest = writeManifest('disk-manifest.csv', text)
    // Measure the pages a run needs for journal + outputs (and its review) on an unlimited dir.
    const probeOut = path.join(work, 'disk-manifest-probe')
    const probe = await runCliAsync(bakeArgs(manifest, probeOut, ['--format', 'tar']))
    expect(probe.status, probe.stderr).toBe(0)
    const pages = (file: string) => Math.ceil(statSync(file).size / PAGE)
    const overlayPages = readdirSync(path.join(probeOut, 'overlays')).reduce((sum, name) => sum + pages(path.join(probeOut, 'overlays', name)), 0)
    const journalPages = pages(path.join(probeOut, 'credbake-journal.jsonl'))
    const reviewPages = pages(path.join(probeOut, 'credbake-manifest.json')) + pages(path.join(probeOut, 'certificates.pem'))
    const leave = overlayPages + journalPages + 1 /* lock */ + 3 /* slack */
    expect(reviewPages, 'the review needs more than the slack left').toBeGreaterThan(6)

    const { out, filler } = smallDisk('manifest')
    const tmp = privateTmp('disk-manifest')
    fillLeaving(filler, leave * PAGE)
    const failed = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp, ...FILLS_UP_DURING_THE_RUN } })
    expectCleanError(failed, 5, [/full/i, /output-dir|credbake-manifest\.json|certificates\.pem/])
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    expect.soft(leftoverProblems(out, tmp, 'overlays')).toEqual([])
    expect(lastWritten(out).size, 'all 40 outputs were completed and recorded').toBe(40)

    rmSync(filler)
    const rerun = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(rerun.stderr).toMatch(/40 of 40 devices were already complete/)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    expect(check.superseded.size).toBe(0)
  })
})

// ---- read-only output-dir -------------------------------------------------------------------

describe.skipIf(MOUNT_PROBLEM)('read-only output-dir', () => {
  it('the whole output-dir read-only: refused before any certificate is issued; writable again, the rerun completes', async () => {
    const mount = path.join(work, 'ro-whole')
    const problem = mountTmpfs(mount, 8 * MiB)
    if (problem) throw new Error(problem)
    mounts.push(mount)
    const out = path.join(mount, 'out')
    const tmp = privateTmp('ro-whole')
    const first = serialsCsv('RO', 3)
    const all = serialsCsv('RO', 6)
    const manifest = writeManifest('ro-whole.csv', first.text)
    const done = await runCliAsync(bakeArgs(manifest, out, ['--format', 'dir']), { env: { TMPDIR: tmp } })
    expect(done.status, done.stderr).toBe(0)
    const before = lastWritten(out)
    const journalBefore = readFileSync(path.join(out, 'credbake-journal.jsonl'))

    writeFileSync(manifest, all.text)
    remount(mount, 'ro')
    let failed: ChildResult
    try {
      failed = await runCliAsync(bakeArgs(manifest, out, ['--format', 'dir']), { env: { TMPDIR: tmp } })
    } finally {
      remount(mount, 'rw')
    }
    expectCleanError(failed, 5, [/output-dir/, /read-only|EROFS/i])
    expect(readFileSync(path.join(out, 'credbake-journal.jsonl')).equals(journalBefore), 'nothing was issued').toBe(true)
    expect.soft(leftoverProblems(out, tmp, 'devices')).toEqual([])

    const rerun = await runCliAsync(bakeArgs(manifest, out, ['--format', 'dir']), { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: all.serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    for (const serial of first.serials) expect(lastWritten(out).get(serial)).toEqual(before.get(serial))
  })

  it('the outputs folder read-only mid-job: the device fails with a clear error, earlier devices kept, rerun completes', async () => {
    const mount = path.join(work, 'ro-folder')
    const problem = mountTmpfs(mount, 8 * MiB)
    if (problem) throw new Error(problem)
    mounts.push(mount)
    const out = path.join(mount, 'out')
    const tmp = privateTmp('ro-folder')
    const first = serialsCsv('RF', 3)
    const all = serialsCsv('RF', 6)
    const manifest = writeManifest('ro-folder.csv', first.text)
    const done = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp } })
    expect(done.status, done.stderr).toBe(0)
    const before = lastWritten(out)

    // output-dir itself stays writable (journal, lock); overlays/ becomes read-only.
    writeFileSync(manifest, all.text)
    const overlays = path.join(out, 'overlays')
    const roProblem = bindReadOnly(overlays)
    if (roProblem) throw new Error(roProblem)
    let failed: ChildResult
    try {
      failed = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp } })
    } finally {
      unmount(overlays)
    }
    expectCleanError(failed, 5, [/RF-04/, /read-only/i, /EROFS/])
    expect.soft(leftoverProblems(out, tmp, 'overlays')).toEqual([])
    expect(issuedFor(out, 'RF-04'), "RF-04's certificate is journaled").toHaveLength(1)
    expect(existsSync(path.join(overlays, 'RF-04.tar.gz'))).toBe(false)

    const rerun = await runCliAsync(bakeArgs(manifest, out, ['--format', 'tar']), { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: all.serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    for (const serial of first.serials) expect(lastWritten(out).get(serial)).toEqual(before.get(serial))
    // The failed run's certificates (its whole group commit) were never written anywhere.
    for (const reason of check.superseded.values()) expect(reason).toBe('never-written')
    expect(check.superseded.size).toBeGreaterThanOrEqual(1)
  })
})

// ---- a tool that crashes or lies mid-write -----------------------------------------------------

describe('debugfs crashes or lies while writing the 3rd device', () => {
  const cases: Array<{ mode: FakeDebugfsMode; what: string; message: RegExp[] }> = [
    { mode: 'segv', what: 'writes part of the bundle, then dies of SIGSEGV', message: [/debugfs/, /SIGSEGV/] },
    { mode: 'exit0-error', what: 'writes part, prints an error line and exits 0', message: [/debugfs/, /checksum does not match/] },
    { mode: 'silent-partial', what: 'writes part and exits 0 without a word', message: [/read-back|debugfs/i] },
    { mode: 'wrong-mode', what: 'gives the key file mode 0644 and exits 0', message: [/pkey\.pem/, /0644/, /0600/] }
  ]

  it.each(cases)('$mode: $what', async ({ mode, message }) => {
    const dir = await scratchDir(`credbake-tool-${mode}-`)
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode, failAt: 3 })
    const tmp = privateTmp(`tool-${mode}`)
    const out = path.join(work, `out-tool-${mode}`)
    const { text, serials } = serialsCsv('TC', 4)
    const manifest = writeManifest(`tool-${mode}.csv`, text)
    const args = bakeArgs(manifest, out, ['--image', image.path])

    const failed = await runCliAsync(args, { env: { TMPDIR: tmp, ...fake.env } })
    expect(fake.writeRuns(), 'the fake debugfs was used').toBe(3)
    expectCleanError(failed, 4, [/TC-03/, ...message])
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['TC-01.img', 'TC-02.img'])
    expect.soft(leftoverProblems(out, tmp, 'images')).toEqual([])
    expect(existsSync(path.join(out, 'credbake-manifest.json'))).toBe(false)
    expect(issuedFor(out, 'TC-03')).toHaveLength(1)
    const before = lastWritten(out)
    expect([...before.keys()].sort()).toEqual(['TC-01', 'TC-02'])

    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp } }) // the real debugfs again
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    for (const serial of ['TC-01', 'TC-02']) expect(lastWritten(out).get(serial)).toEqual(before.get(serial))
    expect([...check.superseded.entries()]).toEqual([[issuedFor(out, 'TC-03')[0], 'never-written']])
  })

  it('with 2 devices in flight (the window slides): the 5th dies, 1-4 are kept and recorded, 6-8 never issued', async () => {
    const dir = await scratchDir('credbake-tool-window-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'segv', failAt: 5 })
    const tmp = privateTmp('tool-window')
    const out = path.join(work, 'out-tool-window')
    const { text, serials } = serialsCsv('TW', 8)
    const manifest = writeManifest('tool-window.csv', text)
    const args = bakeArgs(manifest, out, ['--image', image.path])

    const failed = await runCliAsync(args, { env: { TMPDIR: tmp, CREDBAKE_IMAGE_IN_FLIGHT: '2', ...fake.env } })
    expect(fake.writeRuns(), 'the fake debugfs was used').toBe(5)
    expectCleanError(failed, 4, [/TW-05/, /SIGSEGV/])
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['TW-01.img', 'TW-02.img', 'TW-03.img', 'TW-04.img'])
    expect.soft(leftoverProblems(out, tmp, 'images')).toEqual([])
    expect([...lastWritten(out).keys()].sort()).toEqual(['TW-01', 'TW-02', 'TW-03', 'TW-04'])
    expect(issuedFor(out, 'TW-05')).toHaveLength(1)
    for (const serial of ['TW-06', 'TW-07', 'TW-08']) expect(issuedFor(out, serial)).toHaveLength(0)

    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp, CREDBAKE_IMAGE_IN_FLIGHT: '2' } })
    expect(rerun.status, rerun.stderr).toBe(0)
    const check = checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [tmp] })
    expect(check.problems).toEqual([])
    expect([...check.superseded.entries()]).toEqual([[issuedFor(out, 'TW-05')[0], 'never-written']])
  })

  // "The manifest is written last, so its presence means the run finished" (README): a rerun that
  // redoes devices and then fails must not leave the previous run's manifest vouching for outputs
  // that have changed or are gone.
  it('a failed rerun leaves no earlier manifest that vouches for outputs it no longer describes', async () => {
    const dir = await scratchDir('credbake-stale-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const tmp = privateTmp('stale')
    const out = path.join(work, 'out-stale')
    const { text, serials } = serialsCsv('ST', 3)
    const manifest = writeManifest('stale.csv', text)
    const args = bakeArgs(manifest, out, ['--image', image.path])
    const first = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(first.status, first.stderr).toBe(0)

    // Two outputs lost; the rerun redoes ST-01, then debugfs crashes on ST-02.
    rmSync(path.join(out, 'images', 'ST-01.img'))
    rmSync(path.join(out, 'images', 'ST-02.img'))
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'segv', failAt: 2 })
    const failed = await runCliAsync(args, { env: { TMPDIR: tmp, ...fake.env } })
    expectCleanError(failed, 4, [/ST-02/, /debugfs/])

    const manifestFile = path.join(out, 'credbake-manifest.json')
    const lies: string[] = []
    if (existsSync(manifestFile)) {
      const doc = JSON.parse(readFileSync(manifestFile, 'utf8'))
      for (const device of doc.devices) {
        const file = path.join(out, device.output.path)
        if (!existsSync(file)) lies.push(`${device.serial}: listed output ${device.output.path} does not exist`)
        else if (sha256File(file) !== device.output.sha256) lies.push(`${device.serial}: listed output ${device.output.path} has another SHA-256 (and certificate)`)
      }
    }
    expect.soft(lies, 'credbake-manifest.json of the earlier run is still in output-dir after the failed rerun').toEqual([])

    const rerun = await runCliAsync(args, { env: { TMPDIR: tmp } })
    expect(rerun.status, rerun.stderr).toBe(0)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials, tempRoots: [tmp] }).problems).toEqual([])
  })
})
