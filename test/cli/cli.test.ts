// The command line as a user meets it, through the bundled CLI (`node dist/cli.js`): flags take
// every value the action's inputs take, help and version on every command, a suggestion for a
// mistyped flag and never the option parser's own text, one exit code for one kind of mistake,
// merge expanding a quoted glob and leading its refusals with the cause, and the progress line a
// terminal keeps at the end (through a pseudo-terminal made by util-linux `script`).
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { readValidManifest } from '../helpers/manifest-schema.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { CLI, NODE20, ROOT, runCli, type CliRun } from '../helpers/run.js'

const VERSION = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version

let ca: CaFixture
let work: string
let manifest: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=CLI Test Fleet' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-cli-'))
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, ['serial', ...Array.from({ length: 30 }, (_, i) => `CL-${String(i + 1).padStart(2, '0')}`), ''].join('\n'))
})
afterAll(async () => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
  await cleanupScratch()
})

function bake(out: string, extra: string[] = [], cwd = work): CliRun {
  return runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, ...extra], { cwd })
}

/** A refusal a user can act on: exit 2, one line on stderr naming what was wrong, nothing on stdout, no parser text or stack. */
function expectRefused(result: CliRun, ...expected: Array<string | RegExp>): void {
  expect(result.status, result.stdout + result.stderr).toBe(2)
  expect(result.stdout).toBe('')
  const lines = result.stderr.trimEnd().split('\n')
  expect(lines, result.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(/^credbake: error: /)
  for (const text of expected) expect(lines[0]).toMatch(typeof text === 'string' ? new RegExp(text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : text)
  // node:util parseArgs's own wording, and any stack trace, never reach the user.
  expect(result.stderr).not.toMatch(/Unknown option '|does not take an argument|Unexpected argument '|ERR_PARSE_ARGS|\n\s+at /)
}

describe('flags take every value the action input takes', () => {
  it('resume: --resume=false, --resume false and --no-resume; a resumed run prints no empty disk line', () => {
    const out = path.join(work, 'out-resume')
    const first = bake(out, ['--format', 'tar'])
    expect(first.status, first.stderr).toBe(0)
    expect(first.stdout).toMatch(/^devices: +30 in the review manifest: 30 baked now$/m)
    expect(first.stderr).toMatch(/^Disk: about .* needed for 30 outputs/m)

    // resume: false into a non-empty output-dir is refused, naming overwrite, in every spelling.
    for (const spelling of [['--resume=false'], ['--resume', 'false'], ['--no-resume'], ['--resume=False']]) {
      const refused = bake(out, ['--format', 'tar', ...spelling])
      expect(refused.status, spelling.join(' ')).toBe(2)
      expect(refused.stderr).toMatch(/not empty and resume is false: set overwrite: true/)
    }
    // With overwrite (true as a bare switch, or as a value), every device is issued anew.
    const again = bake(out, ['--format', 'tar', '--resume', 'false', '--overwrite', 'true'])
    expect(again.status, again.stderr).toBe(0)
    expect(again.stdout).toMatch(/^devices: +30 in the review manifest: 30 baked now$/m)
    expect(again.stdout).toMatch(/^superseded: +30 certificates to revoke, in .*superseded\.pem$/m)
    const third = bake(out, ['--format', 'tar', '--no-resume', '--overwrite'])
    expect(third.status, third.stderr).toBe(0)
    expect(readValidManifest(path.join(out, 'credbake-manifest.json')).counts.superseded).toBe(60)

    // resume: true, written out: everything is kept, and no "about 0 KiB needed for 0 outputs".
    const resumed = bake(out, ['--format', 'tar', '--resume', 'true'])
    expect(resumed.status, resumed.stderr).toBe(0)
    expect(resumed.stdout).toMatch(/^devices: +30 in the review manifest: 0 baked now, 30 kept from an earlier run$/m)
    expect(resumed.stderr).toMatch(/30 of 30 devices were already complete/)
    expect(resumed.stderr).not.toMatch(/Disk:|0 outputs/)
  })

  it('bmap: --bmap true, --bmap=true and a bare --bmap write block maps; --bmap false and --no-bmap do not', async () => {
    const dir = await scratchDir('credbake-cli-bmap-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const small = path.join(work, 'two.csv')
    writeFileSync(small, 'serial\nBM-01\nBM-02\n')
    const run = (name: string, flags: string[]): string[] => {
      const out = path.join(dir, name)
      const result = runCli(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--image', image.path, '--output-dir', out, ...flags])
      expect(result.status, `${flags.join(' ')}: ${result.stderr}`).toBe(0)
      return readdirSync(path.join(out, 'images')).sort()
    }
    const withMaps = ['BM-01.img', 'BM-01.img.bmap', 'BM-02.img', 'BM-02.img.bmap']
    const without = ['BM-01.img', 'BM-02.img']
    expect(run('space', ['--bmap', 'true'])).toEqual(withMaps)
    expect(run('equals', ['--bmap=true'])).toEqual(withMaps)
    expect(run('bare', ['--bmap'])).toEqual(withMaps)
    expect(run('false', ['--bmap', 'false'])).toEqual(without)
    expect(run('no', ['--no-bmap'])).toEqual(without)
  })

  it('verify reports an images/ folder that is a symbolic link as a finding, and reads nothing through it (not even the bmap)', async () => {
    const dir = await scratchDir('credbake-cli-linked-')
    const image = await buildBareExt4(dir, { size: 8 * MiB })
    const small = path.join(dir, 'two.csv')
    writeFileSync(small, 'serial\nLK-01\nLK-02\n')
    const out = path.join(dir, 'out')
    const baked = runCli(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--image', image.path, '--output-dir', out, '--bmap'])
    expect(baked.status, baked.stderr).toBe(0)
    // images/ becomes a link to a copy whose bmaps are FIFOs: read through the link, they would say so (or hang).
    renameSync(path.join(out, 'images'), path.join(out, 'images-real'))
    symlinkSync('images-real', path.join(out, 'images'))
    for (const serial of ['LK-01', 'LK-02']) {
      rmSync(path.join(out, 'images-real', `${serial}.img.bmap`))
      spawnSync('mkfifo', [path.join(out, 'images-real', `${serial}.img.bmap`)])
    }
    const verified = runCli(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath])
    expect(verified.status, verified.stderr).toBe(7)
    const lines = verified.stdout.split('\n').filter((line) => /^LK-0\d: /.test(line))
    expect(lines).toEqual(['LK-01', 'LK-02'].map((serial) => `${serial}: images/ in output-dir is a symbolic link (to "images-real"); verify does not follow links`))
    expect(verified.stderr).not.toMatch(/unexpected error|\n\s+at /)
  })

  it('a value a true/false flag cannot take is refused naming the flag', () => {
    expectRefused(bake(path.join(work, 'never'), ['--bmap=yes']), '--bmap takes true or false', '"yes"')
    expectRefused(bake(path.join(work, 'never'), ['--resume', 'no']), 'unexpected argument "no"', '--resume takes true or false')
    expectRefused(bake(path.join(work, 'never'), ['--no-resume=false']), '--no-resume takes no value')
    expectRefused(bake(path.join(work, 'never'), ['--subject']), '--subject needs a value')
    expect(existsSync(path.join(work, 'never'))).toBe(false)
  })
})

describe('help, version and mistyped flags', () => {
  it('bake --help lists what bake takes, and not --merge', () => {
    const help = runCli(['bake', '--help'])
    expect(help.status).toBe(0)
    expect(help.stdout).toMatch(/^ {2}--manifest VALUE$/m)
    expect(help.stdout).toMatch(/^ {2}--resume\[=true\|false\] \/ --no-resume$/m)
    expect(help.stdout).toMatch(/^ {2}--bmap\[=true\|false\] \/ --no-bmap$/m)
    expect(help.stdout).not.toMatch(/--merge/)
    // ... and bake refuses it, pointing at the command that merges.
    expectRefused(runCli(['bake', '--merge', 'shards/*/credbake-manifest.json']), 'credbake bake takes no --merge', 'credbake merge --output-dir DIR')
    // Every command has its own help, -h too.
    for (const command of ['verify', 'merge', 'inspect', 'demo']) {
      const own = runCli([command, '-h'])
      expect(own.status, command).toBe(0)
      expect(own.stdout).toMatch(new RegExp(`^Usage: credbake ${command}`))
    }
  })

  it('-v and --version, at the top and after every command', () => {
    for (const args of [['-v'], ['--version'], ['-V'], ['bake', '-v'], ['bake', '--version'], ['verify', '-v'], ['merge', '--version'], ['inspect', '-v'], ['demo', '-v']]) {
      const result = runCli(args)
      expect(result.status, args.join(' ')).toBe(0)
      expect(result.stdout, args.join(' ')).toBe(`${VERSION}\n`)
    }
  })

  it('a mistyped flag or command gets the closest one, never the parser text', () => {
    expectRefused(bake(path.join(work, 'never'), ['--manfest', 'x.csv']), 'unknown option --manfest. Did you mean --manifest?')
    expectRefused(runCli(['bake', '--fleet_ca_cert', 'ca.pem']), 'Did you mean --fleet-ca-cert?')
    expectRefused(runCli(['bake', '--fleet-ca']), 'Did you mean --fleet-ca-cert, --fleet-ca-key or --fleet-ca-key-passphrase?')
    expectRefused(runCli(['verify', '--jsn']), 'unknown option --jsn. Did you mean --json?')
    expectRefused(runCli(['bake', '--json']), '--json is an option of credbake verify and credbake inspect')
    expectRefused(runCli(['inspect', 'a.img', 'b.img']), 'unexpected argument "b.img"', 'takes at most 1 IMAGE')
    expectRefused(runCli(['bkae']), 'unknown command "bkae". Did you mean bake?')
    expectRefused(runCli(['--manifest', 'x.csv']), 'the first argument is the command')
  })
})

describe('one exit code for one kind of mistake', () => {
  it('a missing image exits 2 in inspect as in bake, naming the file', () => {
    const missing = path.join(work, 'nothere.img')
    const inspected = runCli(['inspect', missing])
    expectRefused(inspected, 'nothere.img', 'does not exist')
    const baked = bake(path.join(work, 'never'), ['--image', missing])
    expect(baked.status).toBe(2)
    expect(baked.stderr).toMatch(/nothere\.img/)
    const folder = runCli(['inspect', work])
    expectRefused(folder, 'is not a regular file')
  })
})

describe('merge', () => {
  let shards: string

  beforeAll(() => {
    shards = path.join(work, 'shards')
    for (const index of [1, 2]) {
      const result = bake(path.join(shards, `shard-${index}`), ['--format', 'tar', '--shard', `${index}/2`])
      expect(result.status, result.stderr).toBe(0)
    }
  })

  it('expands a quoted glob itself, as the action input does', () => {
    // spawn passes the argument as it is: no shell expands it.
    const result = runCli(['merge', '--output-dir', 'review', 'shards/*/credbake-manifest.json'], { cwd: work })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toContain('Merging 2 shard manifests: shards/shard-1/credbake-manifest.json, shards/shard-2/credbake-manifest.json')
    const doc = readValidManifest(path.join(work, 'review', 'credbake-manifest.json'))
    expect(doc.devices).toHaveLength(30)
    expect(doc.merged.map((shard: { shard: string }) => shard.shard)).toEqual(['1/2', '2/2'])
    // ** too, and a glob that matches nothing is refused naming it.
    const deep = runCli(['merge', '--output-dir', 'review', '**/shard-?/credbake-manifest.json'], { cwd: work })
    expect(deep.status, deep.stderr).toBe(0)
    expectRefused(runCli(['merge', '--output-dir', 'review', 'nowhere/*/credbake-manifest.json'], { cwd: work }), '"nowhere/*/credbake-manifest.json" matches no file')
    rmSync(path.join(work, 'review'), { recursive: true, force: true })
  })

  it('given one shard twice, says so first, and the overlap it makes once', () => {
    cpSync(path.join(shards, 'shard-1'), path.join(shards, 'shard-1-again'), { recursive: true })
    try {
      const result = runCli(['merge', '--output-dir', 'review-twice', 'shards/*/credbake-manifest.json'], { cwd: work })
      expect(result.status, result.stderr).toBe(2)
      const problems = result.stderr.split('\n').filter((line) => line.startsWith('  - '))
      expect(problems[0]).toBe('  - shard 1/2 is given 2 times: shards/shard-1-again/credbake-manifest.json, shards/shard-1/credbake-manifest.json')
      const devices = readValidManifest(path.join(shards, 'shard-1', 'credbake-manifest.json')).devices.length
      expect(devices).toBeGreaterThan(3)
      expect(problems).toHaveLength(2)
      expect(problems[1]).toMatch(
        new RegExp(
          `^ {2}- ${devices} serials are in both shards/shard-1-again/credbake-manifest.json and shards/shard-1/credbake-manifest.json: CL-\\d+, CL-\\d+, CL-\\d+ and ${devices - 3} more$`
        )
      )
      expect(existsSync(path.join(work, 'review-twice'))).toBe(false)
    } finally {
      rmSync(path.join(shards, 'shard-1-again'), { recursive: true, force: true })
    }
  })
})

describe('progress on a terminal', () => {
  it('the last progress line stays, with the rate and the total time', () => {
    const out = path.join(work, 'out-tty')
    const command = [NODE20, CLI, 'bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--format', 'tar', '--output-dir', out]
      .map((arg) => `'${arg.replace(/'/g, `'\\''`)}'`)
      .join(' ')
    // script gives the command a pseudo-terminal (stderr is a TTY) and copies what it shows to stdout.
    const result = spawnSync('script', ['-qec', command, '/dev/null'], { cwd: work, encoding: 'utf8', env: { ...process.env, TERM: 'dumb' } })
    expect(result.status, result.stdout + result.stderr).toBe(0)
    const shown = result.stdout.replace(/\r\n/g, '\n')
    const final = /\rbaked 30\/30 devices \(100%\), [\d.,]+ devices\/s \(\d+s in all\) *\n/.exec(shown)
    expect(final, JSON.stringify(shown)).not.toBeNull()
    // Nothing erases it afterwards (the live line used to be cleared with spaces).
    const after = shown.slice((final?.index ?? 0) + (final?.[0].length ?? 0))
    expect(after).not.toMatch(/\r {10,}\r/)
    expect(after).toMatch(/^devices: +30 in the review manifest: 30 baked now$/m)
  })

  it('in a log (no terminal) a short run prints no progress line at all', () => {
    const result = bake(path.join(work, 'out-log'), ['--format', 'tar'])
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).not.toMatch(/baked \d+\/\d+ devices/)
    expect(result.stderr).not.toContain('\r')
  })
})

describe('a folder for the merge outputs', () => {
  it('is made only by a merge that succeeds', () => {
    mkdirSync(path.join(work, 'empty-shards'), { recursive: true })
    expectRefused(runCli(['merge', '--output-dir', 'never-merged', 'empty-shards/*.json'], { cwd: work }), 'matches no file')
    expect(existsSync(path.join(work, 'never-merged'))).toBe(false)
  })
})
