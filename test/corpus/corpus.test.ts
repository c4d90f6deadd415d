// The bad-input corpus (issue 4, item 5) as table tests. Every case of cases.json runs through
// the CLI's main() in this process, with a fresh output-dir, and must end with
//   - a non-zero exit, equal to EXIT_CODES[kind] when the case names the error kind;
//   - stderr naming each expected input as a word (paths are blanked first, so a file name such
//     as images/x.img cannot count as naming "image"), matching the case's message pattern, and
//     not the "unexpected error" path;
//   - no credbake-manifest.json in the output-dir and no success lines on stdout;
//   - no certificate issued (no "issued" record in the journal): bad input is refused up front.
// The same cases then run once more through the bundled CLI in a forked Node 24 (the action's
// runtime), where some Node-version-dependent bugs only show. Image cases also run at the image
// layer (readDiskLayout + selectPartition) directly, so they check something even before the image
// sink (src/formats/image.ts) lands.
//
// Cases with a "bug" field reproduce a known product bug and run as it.fails (on the Node majors
// in "bugNodes", or all): when the bug is fixed the test fails, and the "bug" field should be
// deleted. Cases with "isolate" hang or kill the process today, so they run only in a sandboxed
// child, which is killed at the timeout.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { main } from '../../src/cli/main.js'
import { CredbakeError } from '../../src/errors.js'
import { prepareBaseImage } from '../../src/image/compress.js'
import { readDiskLayout, selectPartition } from '../../src/image/table.js'
import { parsePartitionSelector } from '../../src/settings/parse.js'
import {
  CORPUS_DIR,
  ROOT,
  Sandbox,
  bugShowsOn,
  caseArgv,
  describeResult,
  expand,
  expectedExitCode,
  loadCorpus,
  namesInput,
  sandboxNodes,
  withoutPaths,
  type CorpusCase,
  disposeSandboxBundle
} from '../helpers/corpus.js'

// The sandbox bundle of this file (see test/helpers/corpus.ts).
afterAll(disposeSandboxBundle)

const cases = loadCorpus()
const imageSinkLanded = existsSync(path.join(ROOT, 'src/formats/image.ts'))
let work: string
let savedEnv: Record<string, string | undefined>

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-corpus-'))
  // main() takes any flag not given from CREDBAKE_<NAME>: a developer's environment must not
  // fill in what a case leaves out.
  savedEnv = {}
  for (const name of Object.keys(process.env)) {
    if (name.startsWith('CREDBAKE_')) {
      savedEnv[name] = process.env[name]
      delete process.env[name]
    }
  }
})
afterAll(() => {
  rmSync(work, { recursive: true, force: true })
  Object.assign(process.env, savedEnv)
})

let dirCounter = 0
function caseDirs(id: string): { out: string; tmp: string } {
  const base = path.join(work, `${++dirCounter}-${id}`)
  const tmp = path.join(base, 'tmp')
  mkdirSync(tmp, { recursive: true })
  return { out: path.join(base, 'out'), tmp }
}

async function runMain(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = ''
  let stderr = ''
  const code = await main(argv, { stdout: (text) => void (stdout += text), stderr: (text) => void (stderr += text) })
  return { code, stdout, stderr }
}

/** The corpus contract for one finished run. */
function checkRun(testCase: CorpusCase, run: { code: number; stdout: string; stderr: string }, dirs: { out: string; tmp: string }, where: string): void {
  const context = `${where}: case ${testCase.id} (${testCase.description})\nexit ${run.code}\nstderr: ${run.stderr.slice(0, 3000)}`
  expect(run.code, context).not.toBe(0)
  const exit = expectedExitCode(testCase.expect.kind)
  if (exit !== undefined) expect(run.code, context).toBe(exit)
  expect(run.stderr, context).not.toMatch(/unexpected error/)
  const stderr = withoutPaths(run.stderr, dirs)
  for (const input of testCase.expect.inputs) expect(namesInput(stderr, input), `${context}\nstderr does not name input "${input}"`).toBe(true)
  if (testCase.expect.message) expect(run.stderr, context).toMatch(new RegExp(testCase.expect.message, 'i'))
  expect(existsSync(path.join(dirs.out, 'credbake-manifest.json')), `${context}\na credbake-manifest.json was written`).toBe(false)
  expect(run.stdout, `${context}\nstdout reports success`).not.toMatch(/^manifest:/m)
  // Bad input is found before the first certificate is issued: nothing to revoke afterwards.
  const journal = path.join(dirs.out, 'credbake-journal.jsonl')
  const issued = existsSync(journal)
    ? readFileSync(journal, 'utf8')
        .split('\n')
        .filter((line) => line.includes('"type":"issued"')).length
    : 0
  expect(issued, `${context}\n${issued} certificate(s) were issued before the bad input was noticed`).toBe(0)
}

/** Needs the image sink: a case that gets past the settings with an image. */
function needsImageSink(testCase: CorpusCase): boolean {
  return testCase.area === 'image' && testCase.expect.kind !== 'input'
}

describe('corpus index', () => {
  it('has at least 40 cases with unique ids, covering every area', () => {
    expect(cases.length).toBeGreaterThanOrEqual(40)
    expect(new Set(cases.map((c) => c.id)).size).toBe(cases.length)
    for (const area of ['manifest', 'pem', 'passphrase', 'image', 'option']) {
      expect(cases.filter((c) => c.area === area).length, area).toBeGreaterThan(0)
    }
    for (const format of ['csv', 'json', 'jsonl', 'yaml']) {
      expect(cases.filter((c) => c.id.startsWith(`manifest-${format}-`)).length, format).toBeGreaterThan(0)
    }
  })

  it('refers only to files that exist', () => {
    const missingOnPurpose = /no-such/
    for (const testCase of cases) {
      for (const value of Object.values(testCase.flags ?? {})) {
        if (value === null || !value.startsWith('{corpus}/') || missingOnPurpose.test(value)) continue
        expect(existsSync(expand(value, { out: '', tmp: '' })), `${testCase.id}: ${value}`).toBe(true)
      }
    }
  })
})

describe('control: the base flags bake successfully', () => {
  it('tar base', async () => {
    const dirs = caseDirs('control-tar')
    const run = await runMain(caseArgv({}, dirs))
    expect(run.code, run.stderr).toBe(0)
    expect(existsSync(path.join(dirs.out, 'credbake-manifest.json'))).toBe(true)
  })

  it.skipIf(!imageSinkLanded)('image base (good-gpt.img, default partition)', async () => {
    const dirs = caseDirs('control-image')
    const run = await runMain(caseArgv({ imageBase: true }, dirs))
    expect(run.code, run.stderr).toBe(0)
    expect(existsSync(path.join(dirs.out, 'credbake-manifest.json'))).toBe(true)
  })
})

const MAJOR = Number(process.versions.node.split('.')[0])

describe(`bad input through main(), in process (${process.version})`, () => {
  for (const testCase of cases) {
    const name = `${testCase.id}: ${testCase.description}`
    if (testCase.isolate) {
      // It would hang or kill this process: see "isolated cases" below.
      it.skip(`${name} [${testCase.isolate.reason}: runs isolated below]`, () => undefined)
      continue
    }
    if (needsImageSink(testCase) && !imageSinkLanded) {
      it.skip(`${name} [needs src/formats/image.ts]`, () => undefined)
      continue
    }
    const known = bugShowsOn(testCase, MAJOR)
    ;(known ? it.fails : it)(known ? `${name} [known bug: ${testCase.bug}]` : name, async () => {
      const dirs = caseDirs(testCase.id)
      const run = await runMain(caseArgv(testCase, dirs))
      checkRun(testCase, run, dirs, `in-process main() on ${process.version}`)
    })
  }
})

describe('image cases at the image layer (prepareBaseImage + readDiskLayout + selectPartition)', () => {
  for (const testCase of cases.filter((c) => c.area === 'image' && c.expect.kind !== 'input')) {
    const known = bugShowsOn(testCase, MAJOR)
    ;(known ? it.fails : it)(`${testCase.id}${known ? ' [known bug]' : ''}`, async () => {
      const dirs = caseDirs(`layer-${testCase.id}`)
      const flags: Record<string, string | null> = { image: `${CORPUS_DIR}/images/good-gpt.img`, ...testCase.flags }
      const image = expand(flags.image as string, dirs)
      const partition = flags.partition ?? undefined
      let error: unknown
      try {
        const prepared = await prepareBaseImage(image, dirs.tmp)
        try {
          const layout = await readDiskLayout(prepared.path)
          selectPartition(layout, parsePartitionSelector(partition === null ? undefined : partition))
        } finally {
          await prepared.cleanup()
        }
      } catch (caught) {
        error = caught
      }
      const context = `case ${testCase.id}: ${String((error as Error | undefined)?.stack ?? error)}`
      expect(error, context).toBeInstanceOf(CredbakeError)
      const typed = error as CredbakeError
      expect(typed.kind, context).toBe('image')
      // The layer may fail at the table (input image) or at the selection (input partition); a case
      // that expects "partition" must fail at the selection.
      if (testCase.expect.inputs.includes('partition')) expect(typed.input, context).toBe('partition')
      else expect(['image', 'partition'], context).toContain(typed.input)
      // Nothing may be left in the temp folder (a decompressed base image, ...).
      expect(readdirSync(dirs.tmp), context).toEqual([])
    })
  }
})

/** One case through the bundled main() in a sandboxed child on `node`. */
async function runInSandbox(sandbox: Sandbox, testCase: CorpusCase, timeoutMs: number): Promise<void> {
  const dirs = caseDirs(`${sandbox.version}-${testCase.id}`)
  const result = await sandbox.call('main', [caseArgv(testCase, dirs)], timeoutMs)
  if (result.status !== 'reply' || result.outcome.status !== 'ok') {
    throw new Error(`case ${testCase.id} on ${sandbox.version}: ${describeResult(result)}`)
  }
  checkRun(testCase, result.outcome.value as { code: number; stdout: string; stderr: string }, dirs, `bundled main() on ${sandbox.version}`)
}

// The action runs on Node 24: the same cases through the bundled CLI on each other runtime.
for (const node of sandboxNodes().filter((candidate) => candidate.binary !== process.execPath)) {
  describe(`bad input through the bundled main() on ${node.label}`, () => {
    const major = Number(node.label.replace('node', ''))
    let sandbox: Sandbox
    beforeAll(async () => {
      sandbox = await Sandbox.start({ node: node.binary })
    })
    afterAll(() => sandbox?.stop())

    for (const testCase of cases.filter((c) => !c.isolate)) {
      const name = `${testCase.id}: ${testCase.description}`
      if (needsImageSink(testCase) && !imageSinkLanded) {
        it.skip(`${name} [needs src/formats/image.ts]`, () => undefined)
        continue
      }
      const known = bugShowsOn(testCase, major)
      ;(known ? it.fails : it)(known ? `${name} [known bug: ${testCase.bug}]` : name, () => runInSandbox(sandbox, testCase, 30_000))
    }
  })
}

// Cases that hang or kill the process today: only ever in a child, on every runtime.
for (const node of sandboxNodes()) {
  describe(`isolated cases on ${node.label} (sandboxed, killed at their timeout)`, () => {
    const major = Number(node.label.replace('node', ''))
    let sandbox: Sandbox
    beforeAll(async () => {
      sandbox = await Sandbox.start({ node: node.binary })
    })
    afterAll(() => sandbox?.stop())

    for (const testCase of cases.filter((c) => c.isolate)) {
      const known = bugShowsOn(testCase, major)
      const timeoutMs = testCase.isolate?.timeoutMs ?? 30_000
      ;(known ? it.fails : it)(`${testCase.id}${known ? ` [known bug: ${testCase.bug}]` : ''}`, () => runInSandbox(sandbox, testCase, timeoutMs), timeoutMs + 30_000)
    }
  })
}
