// Issue 18, item 1: output-dir is a trust boundary. Other jobs, restored caches and downloaded
// artifacts put things there; credbake reaches nothing in it through a symbolic link and touches
// nothing outside it because a journal record says so. Each scenario as a user (or an attacker)
// meets it, through the CLI (dist/cli.js) and, for the journal link, the action (dist/index.js).
import { createHash } from 'node:crypto'
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { credbakeTempDirs, readJournalFile, runCliAsync, startAction, type ChildResult } from '../helpers/faults.js'
import { checkOutputDir, privateKeysUnder } from './invariants.js'

let ca: CaFixture
let work: string
let tmp: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Boundary Test Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-boundary-'))
  tmp = path.join(work, 'tmp')
  mkdirSync(tmp)
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

const SERIALS = ['BD-1', 'BD-2', 'BD-3']

function manifestOf(serials: string[], name = `m-${serials.length}-${serials[0]}.csv`): string {
  const file = path.join(work, name)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return file
}

function bake(out: string, extra: string[] = [], serials = SERIALS): Promise<ChildResult> {
  return runCliAsync(['bake', '--manifest', manifestOf(serials), '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, ...extra], {
    env: { TMPDIR: tmp }
  })
}

/** Every file under `dir` (never following links) with its mode and SHA-256: what must not change. */
function snapshot(dir: string): Record<string, string> {
  const result: Record<string, string> = {}
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    const info = lstatSync(path.join(dir, name))
    const what = info.isSymbolicLink()
      ? 'link'
      : info.isDirectory()
        ? 'dir'
        : createHash('sha256')
            .update(readFileSync(path.join(dir, name)))
            .digest('hex')
    result[name] = `${(info.mode & 0o7777).toString(8)} ${what}`
  }
  return result
}

/** A refusal: exit 5, one message naming `named`, no stack trace, nothing left behind. */
function expectRefused(result: ChildResult, out: string, named: string): void {
  expect(result.status, result.stderr).toBe(5)
  expect(result.stderr).toContain(named)
  expect(result.stderr).not.toMatch(/\n\s+at /)
  expect(existsSync(path.join(out, 'credbake.lock')), 'the lock is released').toBe(false)
  expect(credbakeTempDirs(tmp)).toEqual([])
  expect(privateKeysUnder(tmp)).toEqual([])
}

/** A place outside output-dir holding what a planted link points to. */
function outside(name: string): { dir: string; before: Record<string, string> } {
  const dir = path.join(work, `outside-${name}`)
  mkdirSync(dir)
  writeFileSync(path.join(dir, 'precious.txt'), 'precious, no final newline')
  chmodSync(path.join(dir, 'precious.txt'), 0o640)
  writeFileSync(path.join(dir, 'BD-1.tar.gz'), 'not an overlay')
  writeFileSync(path.join(dir, `.BD-1.tar.gz.tmp-${4_000_000}-0badc0de`), 'looks like a temp file of a killed run')
  return { dir, before: snapshot(dir) }
}

async function bakedOutputDir(name: string): Promise<string> {
  const out = path.join(work, name)
  const first = await bake(out)
  expect(first.status, first.stderr).toBe(0)
  return out
}

describe('a planted link as credbake-journal.jsonl', () => {
  it('pointing at a file without a final newline: refused naming it; the file is neither cut, nor widened to 0644, nor filled', async () => {
    const out = path.join(work, 'journal-link')
    mkdirSync(out)
    const place = outside('journal-link')
    symlinkSync(path.join(place.dir, 'precious.txt'), path.join(out, 'credbake-journal.jsonl'))
    const result = await bake(out)
    expectRefused(result, out, `${path.join(out, 'credbake-journal.jsonl')} is a symbolic link (to ${path.join(place.dir, 'precious.txt')})`)
    expect(snapshot(place.dir)).toEqual(place.before)
    expect(existsSync(path.join(out, 'overlays')), 'nothing was baked').toBe(false)
  })

  it('dangling: refused; its target is not created', async () => {
    const out = path.join(work, 'journal-dangling')
    mkdirSync(out)
    const target = path.join(work, 'nowhere', 'journal.jsonl')
    symlinkSync(target, path.join(out, 'credbake-journal.jsonl'))
    expectRefused(await bake(out), out, 'credbake-journal.jsonl is a symbolic link')
    expect(existsSync(path.dirname(target))).toBe(false)
  })

  it('a hard link of the journal is refused too (the other name would receive the same writes)', async () => {
    const out = await bakedOutputDir('journal-hardlink')
    const other = path.join(work, 'journal-other-name.jsonl')
    linkSync(path.join(out, 'credbake-journal.jsonl'), other)
    const before = readFileSync(other)
    expectRefused(await bake(out), out, 'has 2 hard links')
    expect(readFileSync(other).equals(before)).toBe(true)
  })

  it('through the action (dist/index.js): the step fails naming the link, RUNNER_TEMP stays empty', async () => {
    const dir = mkdtempSync(path.join(work, 'runner-'))
    const runnerTemp = path.join(dir, 'runner_temp')
    mkdirSync(runnerTemp)
    const out = path.join(dir, 'out')
    mkdirSync(out)
    const target = path.join(dir, 'elsewhere', 'journal.jsonl')
    symlinkSync(target, path.join(out, 'credbake-journal.jsonl'))
    const files = { outputFile: path.join(dir, 'output'), summaryFile: path.join(dir, 'summary'), runnerTemp, workspace: dir }
    writeFileSync(files.outputFile, '')
    writeFileSync(files.summaryFile, '')
    const result = await startAction({ manifest: manifestOf(SERIALS), 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, 'output-dir': 'out', format: 'tar' }, files).done
    expect(result.status).toBe(1)
    expect(result.stdout).toMatch(/::error::.*credbake-journal\.jsonl is a symbolic link/)
    expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(path.dirname(target))).toBe(false)
    expect(readdirSync(runnerTemp)).toEqual([])
  })
})

/** Rewrite the journal line of `type` for `serial` with `change`, its checksum recomputed as anyone can. */
function forgeRecord(out: string, type: string, serial: string, change: (record: any) => void): number {
  const file = path.join(out, 'credbake-journal.jsonl')
  const lines = readFileSync(file, 'utf8').split('\n')
  const index = lines.findIndex((line) => line.startsWith(`{"type":"${type}"`) && line.includes(`"serial":"${serial}"`))
  expect(index).toBeGreaterThanOrEqual(0)
  const record = JSON.parse(lines[index]!)
  delete record.sum
  change(record)
  const json = JSON.stringify(record)
  lines[index] = `${json.slice(0, -1)},"sum":"${createHash('sha256').update(json).digest('hex').slice(0, 32)}"}`
  writeFileSync(file, lines.join('\n'))
  expect(readJournalFile(out).badChecksums, 'the forged line checks out').toEqual([])
  return index + 1
}

describe('a forged journal record, its checksum recomputed', () => {
  // BD-3 leaves the manifest on the next run: without the check, retirement removes what its
  // written record names.
  it.each([
    ['../x', 'it has a ".." part'],
    ['overlays/../../x', 'it has a ".." part'],
    ['ABSOLUTE', 'it is absolute'],
    ['credbake-journal.jsonl', 'it is not FOLDER/NAME'],
    ['overlays/BD-1.tar.gz', "its name is not the device's serial BD-3"]
  ])('written path %s: journal damage (exit 5) naming the line; nothing is removed', async (forged, why) => {
    const base = await bakedOutputDir(`forged-${forged.replace(/[^a-z0-9]/gi, '_')}`)
    // Inside a parent of its own, so that ../x is a file of the test.
    const parent = path.join(work, `forged-parent-${forged.replace(/[^a-z0-9]/gi, '_')}`)
    mkdirSync(parent)
    const out = path.join(parent, 'out')
    renameSync(base, out)
    const victim = path.join(parent, 'x')
    writeFileSync(victim, 'precious')
    const value = forged === 'ABSOLUTE' ? victim : forged
    const line = forgeRecord(out, 'written', 'BD-3', (record) => (record.output.path = value))
    const before = snapshot(parent)
    const result = await bake(out, [], ['BD-1', 'BD-2'])
    expectRefused(
      result,
      out,
      `${path.join(out, 'credbake-journal.jsonl')} is damaged at line ${line}: its written record of device BD-3 names the output path ${JSON.stringify(value)}`
    )
    expect(result.stderr).toContain(why)
    expect(readFileSync(victim, 'utf8')).toBe('precious')
    expect(snapshot(parent)).toEqual(before)
  })

  // Found by the fuzzing (test/fuzz/boundary.fuzz.test.ts): an issued record's serial changed to
  // "../x" reached the review manifest as a device serial, which then failed its schema.
  it.each(['../x', 'BD-2'])('an issued record whose serial became %s, for a written output of BD-1, is damage', async (serial) => {
    const out = await bakedOutputDir(`forged-serial-${serial.replace(/[^A-Z0-9-]/g, '_')}`)
    forgeRecord(out, 'issued', 'BD-1', (record) => (record.serial = serial))
    const result = await bake(out)
    expectRefused(result, out, `its written record of device BD-1 names a certificate the journal issued to device ${serial}`)
    expect(result.stderr).toMatch(/is damaged at line \d+/)
  })

  it('a retired record with a forged path is damage too', async () => {
    const out = await bakedOutputDir('forged-retired')
    // A first run without BD-3 retires it for real; then the retired record is forged.
    const dropped = await bake(out, [], ['BD-1', 'BD-2'])
    expect(dropped.status, dropped.stderr).toBe(0)
    const line = forgeRecord(out, 'retired', 'BD-3', (record) => (record.path = '../x'))
    expectRefused(await bake(out, [], ['BD-1', 'BD-2']), out, `damaged at line ${line}: its retired record of device BD-3 names the output path "../x"`)
  })
})

describe('a planted folder link in output-dir', () => {
  it('overlays/ → another folder: refused before anything is issued; the temp clean-up, retirement and new outputs never reach it', async () => {
    const out = await bakedOutputDir('overlays-link')
    // The real overlays go aside, a link takes their place; BD-3 leaves the manifest (retirement).
    const place = outside('overlays-link')
    for (const name of readdirSync(path.join(out, 'overlays'))) renameSync(path.join(out, 'overlays', name), path.join(place.dir, `moved-${name}`))
    rmSync(path.join(out, 'overlays'), { recursive: true })
    symlinkSync(place.dir, path.join(out, 'overlays'))
    const before = snapshot(place.dir)
    const issuedBefore = readJournalFile(out).records.filter((r) => r.type === 'issued').length
    const result = await bake(out, [], ['BD-1', 'BD-2', 'BD-4'])
    expectRefused(result, out, `${path.join(out, 'overlays')} is a symbolic link (to ${place.dir})`)
    expect(snapshot(place.dir)).toEqual(before)
    expect(readJournalFile(out).records.filter((r) => r.type === 'issued').length, 'nothing was issued').toBe(issuedBefore)
  })

  it('images/ → another folder (an image bake): refused; no 0600 device image lands outside output-dir', async () => {
    const dir = await scratchDir('credbake-boundary-img-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const out = path.join(work, 'images-link')
    mkdirSync(out)
    const place = outside('images-link')
    symlinkSync(place.dir, path.join(out, 'images'))
    const result = await bake(out, ['--image', image.path])
    expectRefused(result, out, `${path.join(out, 'images')} is a symbolic link`)
    expect(snapshot(place.dir)).toEqual(place.before)
  })

  it('devices/ → another folder (a dir bake): refused', async () => {
    const out = path.join(work, 'devices-link')
    mkdirSync(out)
    const place = outside('devices-link')
    symlinkSync(place.dir, path.join(out, 'devices'))
    expectRefused(await bake(out, ['--format', 'dir']), out, `${path.join(out, 'devices')} is a symbolic link`)
    expect(snapshot(place.dir)).toEqual(place.before)
  })

  it('a link at a name credbake replaces (credbake-manifest.json) is refused naming it', async () => {
    const out = await bakedOutputDir('manifest-link')
    const place = outside('manifest-link')
    rmSync(path.join(out, 'credbake-manifest.json'))
    symlinkSync(path.join(place.dir, 'precious.txt'), path.join(out, 'credbake-manifest.json'))
    expectRefused(await bake(out), out, 'credbake-manifest.json is a symbolic link')
    expect(snapshot(place.dir)).toEqual(place.before)
  })
})

describe('a link at an output of its own name', () => {
  it('is never read through on resume: the output is redone in its place (0600), what the link pointed to is unchanged', async () => {
    const out = await bakedOutputDir('output-link')
    const place = outside('output-link')
    // The link points at a copy of the real overlay: following it, resume would take it for intact.
    cpSync(path.join(out, 'overlays', 'BD-2.tar.gz'), path.join(place.dir, 'copy.tar.gz'))
    rmSync(path.join(out, 'overlays', 'BD-2.tar.gz'))
    symlinkSync(path.join(place.dir, 'copy.tar.gz'), path.join(out, 'overlays', 'BD-2.tar.gz'))
    const before = snapshot(place.dir)
    const result = await bake(out)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/1 devices were issued anew \(output missing or modified\)/)
    const info = lstatSync(path.join(out, 'overlays', 'BD-2.tar.gz'))
    expect(info.isFile()).toBe(true)
    expect(info.mode & 0o777).toBe(0o600)
    expect(snapshot(place.dir)).toEqual(before)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: SERIALS }).problems).toEqual([])
  })
})

describe('output-dir itself', () => {
  it('writable by group and others: narrowed to 0755 with a warning, then used', async () => {
    const out = path.join(work, 'wide')
    mkdirSync(out)
    chmodSync(out, 0o777)
    const result = await bake(out)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/warning: output-dir .*wide was writable by its group and others \(mode 0777\): narrowed to 0755/)
    expect(statSync(out).mode & 0o7777).toBe(0o755)
  })

  it('an output folder writable by its group: narrowed with a warning naming it', async () => {
    const out = await bakedOutputDir('wide-overlays')
    chmodSync(path.join(out, 'overlays'), 0o775)
    const result = await bake(out)
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/warning: .*wide-overlays\/overlays was writable by its group \(mode 0775\): narrowed to 0755/)
  })

  it('a shared folder (sticky, 1777, as /tmp) is refused', async () => {
    const out = path.join(work, 'sticky')
    mkdirSync(out)
    chmodSync(out, 0o1777)
    const result = await bake(out)
    expectRefused(result, out, 'is a shared folder (mode 1777, sticky)')
    expect(statSync(out).mode & 0o7777, 'left as it was').toBe(0o1777)
  })

  it.skipIf(process.getuid?.() !== 0)('a folder of another user is refused', async () => {
    const out = path.join(work, 'foreign')
    mkdirSync(out)
    chownSync(out, 65534, 65534)
    expectRefused(await bake(out), out, 'belongs to user 65534')
  })

  it('a symbolic link is refused: give the folder itself', async () => {
    const real = path.join(work, 'real-out')
    mkdirSync(real)
    const out = path.join(work, 'linked-out')
    symlinkSync(real, out)
    const result = await bake(out)
    expect(result.status, result.stderr).toBe(5)
    expect(result.stderr).toContain(`Input "output-dir" (${out}) is a symbolic link (to ${real})`)
    expect(readdirSync(real)).toEqual([])
  })
})
