// Issue 18, item 9: fuzzing output-dir as a trust boundary, through the CLI (dist/cli.js, a real
// process per run, so signals are real too). Three properties:
//   - random link/file/folder states at every name credbake touches in output-dir;
//   - random journal mutations whose checksums are recomputed (as anyone can), path fields above all;
//   - random signals (SIGINT, SIGTERM, SIGHUP, sometimes a second one) at random times during tar
//     and image bakes.
// Invariants after each run: nothing outside output-dir changed; no private key outside 0600 files
// in output-dir (none in TMPDIR at all); no stack trace; the exit code is success, a typed refusal
// or the signal's; and once the user does what the message says (removes what was planted, restores
// the journal), a rerun completes and `credbake verify` passes.
//
// Bounds: each property has a run count and a time limit (support.ts; FUZZ_SCALE multiplies both):
// 6 + 6 + 4 runs, at most 9 + 9 + 14 s, about half a minute on 2 cores. Replay with FUZZ_SEED=<seed>.
import { createHash } from 'node:crypto'
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { gunzipSync } from 'node:zlib'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { credbakeTempDirs, runCliAsync, startCli, type ChildResult } from '../helpers/faults.js'
import { privateKeysUnder } from '../robustness/invariants.js'
import { FUZZ_SEED, runProperty } from './support.js'

let ca: CaFixture
let work: string
let tmp: string
/** A completed tar bake of BASE_SERIALS, copied as the starting point of each run. */
let template: string
let image: string
let counter = 0

const BASE_SERIALS = ['F-1', 'F-2', 'F-3']
/** Manifests a run may use: the same devices, one left out (retirement), one new. */
const MANIFESTS = [
  ['F-1', 'F-2', 'F-3'],
  ['F-1', 'F-2'],
  ['F-2', 'F-3', 'F-4']
]

beforeAll(async () => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Boundary Fuzz Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-fuzz-boundary-'))
  tmp = path.join(work, 'tmp')
  mkdirSync(tmp)
  template = path.join(work, 'template')
  const result = await bake(template, BASE_SERIALS)
  expect(result.status, result.stderr).toBe(0)
  image = (await buildBareExt4(await scratchDir('credbake-fuzz-img-'), { size: 8 * MiB })).path
  console.info(`boundary fuzz: seed ${FUZZ_SEED}`)
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

function manifestFile(serials: string[]): string {
  const file = path.join(work, `m-${createHash('sha256').update(serials.join(',')).digest('hex').slice(0, 12)}.csv`)
  if (!existsSync(file)) writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return file
}

function bakeArgs(out: string, serials: string[], extra: string[] = []): string[] {
  return ['bake', '--manifest', manifestFile(serials), '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, '--format', 'tar', ...extra]
}

function bake(out: string, serials: string[], extra: string[] = []): Promise<ChildResult> {
  return runCliAsync(bakeArgs(out, serials, extra), { env: { TMPDIR: tmp } })
}

/** A fresh case folder: `out` (output-dir) beside `outside`, what links point to and what must not change. */
function newCase(): { root: string; out: string; outside: string } {
  const root = path.join(work, `case-${++counter}`)
  const outside = path.join(root, 'outside')
  mkdirSync(path.join(outside, 'dir'), { recursive: true })
  writeFileSync(path.join(outside, 'file.txt'), 'precious, no final newline')
  chmodSync(path.join(outside, 'file.txt'), 0o640)
  writeFileSync(path.join(outside, 'dir', 'F-1.tar.gz'), 'not an overlay')
  writeFileSync(path.join(outside, 'dir', `.F-2.tar.gz.tmp-${4_000_000}-0badc0de`), 'temp-looking')
  writeFileSync(path.join(root, 'x'), 'precious too')
  return { root, out: path.join(root, 'out'), outside }
}

/** Every entry under `dir` (links not followed): mode, kind, SHA-256. */
function snapshot(dir: string): string {
  const lines: string[] = []
  for (const name of readdirSync(dir, { recursive: true, encoding: 'utf8' }).sort()) {
    if (name === 'out' || name.startsWith(`out${path.sep}`)) continue
    const info = lstatSync(path.join(dir, name))
    const what = info.isSymbolicLink()
      ? 'link'
      : info.isDirectory()
        ? 'dir'
        : createHash('sha256')
            .update(readFileSync(path.join(dir, name)))
            .digest('hex')
    lines.push(`${name} ${(info.mode & 0o7777).toString(8)} ${what}`)
  }
  return lines.join('\n')
}

/** Regular files under output-dir that hold a private key (plain or in a gzip) but are readable by others. */
function keysNot0600(out: string): string[] {
  if (!existsSync(out)) return []
  const wrong: string[] = []
  for (const name of readdirSync(out, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(out, name)
    const info = lstatSync(file)
    if (!info.isFile()) continue
    const bytes = readFileSync(file)
    let text = bytes.toString('latin1')
    try {
      text += gunzipSync(bytes).toString('latin1')
    } catch {
      // not a gzip
    }
    if (text.includes('PRIVATE KEY') && (info.mode & 0o077) !== 0) wrong.push(`${name} (${(info.mode & 0o777).toString(8)})`)
  }
  return wrong
}

/** The invariants of every run, whatever its outcome; returns nothing, throws what is wrong. */
function checkRun(result: ChildResult, context: { root: string; out: string; before: string; allowed: number[] }): void {
  const problems: string[] = []
  if (result.status === null || !context.allowed.includes(result.status))
    problems.push(`exit ${result.status} (signal ${result.signal}), expected one of ${context.allowed.join(', ')}`)
  if (/\n\s+at |unexpected error/.test(result.stderr)) problems.push('a stack trace or an unexpected error')
  if (snapshot(context.root) !== context.before) problems.push('something outside output-dir changed')
  const keys = privateKeysUnder(tmp)
  if (keys.length) problems.push(`PRIVATE KEY in TMPDIR: ${keys.join(', ')}`)
  if (credbakeTempDirs(tmp).length) problems.push(`secret temp folders left: ${credbakeTempDirs(tmp).join(', ')}`)
  const wide = keysNot0600(context.out)
  if (wide.length) problems.push(`keys in files readable by others: ${wide.join(', ')}`)
  if (existsSync(path.join(context.out, 'credbake.lock')) && lstatSync(path.join(context.out, 'credbake.lock')).isFile() && result.status !== 6) {
    // A lock file left by the run itself (a planted one may stay when the run refused before taking it).
    const text = readFileSync(path.join(context.out, 'credbake.lock'), 'utf8')
    if (text.includes('"processStart"') && !text.includes('"pid":4000000')) problems.push('the run left its lock')
  }
  if (problems.length) throw new Error(`${problems.join('; ')}\n--- stderr ---\n${result.stderr}`)
}

async function rerunCompletes(out: string, serials: string[], extra: string[] = []): Promise<void> {
  const rerun = await bake(out, serials, extra)
  if (rerun.status !== 0) throw new Error(`the rerun failed (exit ${rerun.status}):\n${rerun.stderr}`)
  const verify = await runCliAsync(['verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', ca.certPath], { env: { TMPDIR: tmp } })
  if (verify.status !== 0) throw new Error(`verify failed after the rerun (exit ${verify.status}):\n${verify.stdout}${verify.stderr}`)
}

// ---- 1. random link/file/folder states ---------------------------------------------------------

/** Every name credbake reads, writes, hashes, links or removes in a tar bake's output-dir. */
const NAMES = [
  'credbake-journal.jsonl',
  'credbake.lock',
  'credbake-manifest.json',
  'certificates.pem',
  'superseded.pem',
  'SHA256SUMS',
  'overlays',
  'overlays/F-1.tar.gz',
  'overlays/F-3.tar.gz',
  `overlays/.F-2.tar.gz.tmp-4000000-0badc0de`,
  `overlays/.staging.tmp-4000000-0badc0de`,
  `.credbake-manifest.json.tmp-4000000-0badc0de`,
  'devices',
  'images'
] as const

const STATES = ['keep', 'absent', 'file', 'folder', 'link-file', 'link-dir', 'dangling'] as const
type State = (typeof STATES)[number]

function plant(out: string, outside: string, name: string, state: State, content: string): void {
  const target = path.join(out, name)
  // A name inside a folder that is no longer a real folder cannot be planted.
  const parent = path.dirname(target)
  if (!existsSync(parent) || !lstatSync(parent).isDirectory() || lstatSync(parent).isSymbolicLink()) return
  if (state === 'keep') return
  rmSync(target, { recursive: true, force: true })
  switch (state) {
    case 'absent':
      return
    case 'file':
      return writeFileSync(target, content)
    case 'folder':
      mkdirSync(target)
      return writeFileSync(path.join(target, 'inside.txt'), content)
    case 'link-file':
      return symlinkSync(path.join(outside, 'file.txt'), target)
    case 'link-dir':
      return symlinkSync(path.join(outside, 'dir'), target)
    case 'dangling':
      return symlinkSync(path.join(outside, 'missing', 'x'), target)
  }
}

/** What a user does after a refusal that names something planted: takes it away. */
function removePlanted(out: string, planted: Array<[string, State]>): void {
  for (const [name, state] of [...planted].reverse()) {
    if (state === 'keep' || state === 'absent') continue
    // Inside a folder that was itself replaced: gone with it.
    const parent = path.dirname(path.join(out, name))
    if (!existsSync(parent) || lstatSync(parent).isSymbolicLink() || !lstatSync(parent).isDirectory()) continue
    rmSync(path.join(out, name), { recursive: true, force: true })
  }
}

describe('output-dir as a trust boundary, fuzzed', () => {
  it('random link, file and folder states at every name credbake touches', async () => {
    const outcomes: Record<string, number> = {}
    const plan = fc.record({
      fromBake: fc.boolean(),
      states: fc.array(fc.tuple(fc.constantFrom(...NAMES), fc.constantFrom(...STATES), fc.string({ maxLength: 40 })), { minLength: 1, maxLength: 4 }),
      manifest: fc.constantFrom(...MANIFESTS)
    })
    await runProperty(
      'random states in output-dir',
      plan,
      async ({ fromBake, states, manifest }) => {
        const { root, out, outside } = newCase()
        if (fromBake) cpSync(template, out, { recursive: true })
        else mkdirSync(out)
        // Names in path order, so a folder is planted before what is inside it.
        const planted = [...states]
          .sort((a, b) => a[0].localeCompare(b[0]))
          .map(([name, state, content]): [string, State] => {
            plant(out, outside, name, state, content)
            return [name, state]
          })
        const before = snapshot(root)
        const result = await bake(out, manifest)
        checkRun(result, { root, out, before, allowed: [0, 5] })
        outcomes[String(result.status)] = (outcomes[String(result.status)] ?? 0) + 1
        if (result.status === 5 && !/symbolic link|not a folder|not a regular file|damaged|Could not write the output/.test(result.stderr)) {
          throw new Error(`a refusal that names no planted path:\n${result.stderr}`)
        }
        removePlanted(out, planted)
        await rerunCompletes(out, manifest)
      },
      { numRuns: 6, timeLimitMs: 9_000 }
    )
    console.info(`random states in output-dir: outcomes by exit code ${JSON.stringify(outcomes)}`)
  })

  // ---- 2. random journal mutations, checksums recomputed ---------------------------------------

  it('random journal mutations with recomputed checksums (path fields above all)', async () => {
    const outcomes: Record<string, number> = {}
    const value = fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom(
          '../x',
          'overlays/../../x',
          'ABSOLUTE',
          'overlays/../credbake-journal.jsonl',
          'credbake-journal.jsonl',
          'overlays/F-2.tar.gz',
          'overlays/F-1.tar.gz',
          'overlays',
          'overlays/',
          'overlays//F-1.tar.gz',
          'overlays/./F-1.tar.gz',
          'overlays/F-1.tar.gz/..',
          '..\\x',
          'overlays/F-1.tar.gz\u0000',
          '',
          '.',
          'images/F-1.tar.gz',
          'devices/F-1'
        )
      },
      { weight: 1, arbitrary: fc.oneof(fc.string({ maxLength: 12 }), fc.integer(), fc.constant(null)) }
    )
    const mutation = fc.record({
      record: fc.constantFrom('written', 'retired', 'issued', 'new-written', 'new-retired'),
      serial: fc.constantFrom('F-1', 'F-2', 'F-3'),
      field: fc.constantFrom('output.path', 'output.path', 'output.bmap.path', 'path', 'serial', 'certificateSha256', 'output.sha256'),
      value
    })
    await runProperty(
      'journal mutations',
      fc.record({ mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }), manifest: fc.constantFrom(...MANIFESTS) }),
      async ({ mutations, manifest }) => {
        const { root, out } = newCase()
        cpSync(template, out, { recursive: true })
        const journal = path.join(out, 'credbake-journal.jsonl')
        const original = readFileSync(journal)
        writeFileSync(journal, mutateJournal(original.toString('utf8'), mutations, path.join(root, 'x')))
        const before = snapshot(root)
        const result = await bake(out, manifest)
        checkRun(result, { root, out, before, allowed: [0, 5] })
        outcomes[String(result.status)] = (outcomes[String(result.status)] ?? 0) + 1
        if (result.status === 5) {
          if (!/credbake-journal\.jsonl is damaged at line \d+/.test(result.stderr)) throw new Error(`exit 5 without naming the damaged line:\n${result.stderr}`)
          // What the message says: restore the journal from a copy.
          writeFileSync(journal, original)
        }
        await rerunCompletes(out, manifest)
      },
      { numRuns: 6, timeLimitMs: 9_000 }
    )
    console.info(`journal mutations: outcomes by exit code ${JSON.stringify(outcomes)}`)
  })

  // ---- 3. random signals at random times ----------------------------------------------------------

  it('random signals at random times during tar and image bakes', async () => {
    const outcomes: Record<string, number> = {}
    const EXIT: Record<string, number> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 }
    const signal = fc.constantFrom('SIGINT', 'SIGTERM', 'SIGHUP') as fc.Arbitrary<'SIGINT' | 'SIGTERM' | 'SIGHUP'>
    const plan = fc.record({
      format: fc.constantFrom('tar', 'tar', 'image'),
      first: signal,
      second: fc.option(signal, { nil: undefined }),
      // Uniform (fast-check leans towards 0, which is Node's start-up, before any handler exists).
      at: fc.noBias(fc.integer({ min: 0, max: 1_500 })),
      gap: fc.noBias(fc.integer({ min: 0, max: 300 }))
    })
    await runProperty(
      'random signals',
      plan,
      async ({ format, first, second, at, gap }) => {
        const { root, out } = newCase()
        const serials = format === 'tar' ? Array.from({ length: 300 }, (_, i) => `SG-${i}`) : ['SI-1', 'SI-2', 'SI-3']
        const extra = format === 'image' ? ['--image', image, '--format', 'image'] : []
        const before = snapshot(root)
        const child = startCli(bakeArgs(out, serials, extra), { env: { TMPDIR: tmp } })
        await new Promise((resolve) => setTimeout(resolve, at))
        child.kill(first)
        if (second) {
          await new Promise((resolve) => setTimeout(resolve, gap))
          child.kill(second)
        }
        const result = await child.done
        // Exit 0: done before the signal. A signal during Node's start-up, before credbake's
        // handlers exist, ends the process by the signal itself (it holds nothing yet).
        const allowed = [0, EXIT[first]!, ...(second ? [EXIT[second]!] : [])]
        if (result.status === null && (result.signal === first || result.signal === second)) {
          outcomes['killed before start-up'] = (outcomes['killed before start-up'] ?? 0) + 1
          checkRun({ ...result, status: 0 }, { root, out, before, allowed: [0] })
        } else {
          checkRun(result, { root, out, before, allowed })
          outcomes[`${format} ${result.status}`] = (outcomes[`${format} ${result.status}`] ?? 0) + 1
          const stops = result.stderr.split('\n').filter((line) => /stopped (by|at once)/.test(line))
          if (result.status !== 0 && stops.length !== 1) throw new Error(`expected one line saying what was done:\n${result.stderr}`)
        }
        await rerunCompletes(out, serials, extra)
      },
      { numRuns: 4, timeLimitMs: 14_000 }
    )
    console.info(`random signals: outcomes ${JSON.stringify(outcomes)}`)
  })
})

type Mutation = { record: string; serial: string; field: string; value: unknown }

/** The journal with each mutation applied to the first matching record, every checksum recomputed. */
function mutateJournal(text: string, mutations: Mutation[], victim: string): string {
  const records = text
    .trimEnd()
    .split('\n')
    .map((line) => {
      const record = JSON.parse(line)
      delete record.sum
      return record
    })
  for (const { record: type, serial, field, value } of mutations) {
    const resolved = value === 'ABSOLUTE' ? victim : value
    if (type === 'new-written' || type === 'new-retired') {
      // A whole forged record for a certificate the journal issued.
      const issued = records.find((r) => r.type === 'issued' && r.serial === serial)
      const written = records.find((r) => r.type === 'written' && r.serial === serial)
      if (!issued || !written) continue
      records.push(
        type === 'new-written'
          ? { ...structuredClone(written), output: { ...written.output, path: resolved } }
          : { type: 'retired', run: written.run, at: written.at, serial, certificateSha256: written.certificateSha256, path: resolved }
      )
      continue
    }
    const target = records.find((r) => r.type === type && r.serial === serial)
    if (!target) continue
    setField(target, field, resolved)
  }
  return records
    .map((record) => {
      const json = JSON.stringify(record)
      return `${json.slice(0, -1)},"sum":"${createHash('sha256').update(json).digest('hex').slice(0, 32)}"}\n`
    })
    .join('')
}

function setField(record: Record<string, any>, field: string, value: unknown): void {
  const parts = field.split('.')
  let at: Record<string, any> = record
  for (const part of parts.slice(0, -1)) {
    if (at[part] === undefined || at[part] === null || typeof at[part] !== 'object') at[part] = {}
    at = at[part]
  }
  at[parts[parts.length - 1]!] = value
}
