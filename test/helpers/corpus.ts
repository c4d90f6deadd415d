// Shared by the bad-input corpus (test/corpus) and the property-based fuzzing (test/fuzz):
//  - the corpus index (cases.json) and how its flags expand into a `credbake bake` argv;
//  - a sandbox: the product code bundled (rolldown, a dependency of vitest's vite) and run in a
//    forked Node process (Node 20 or the Node 24 of test/node24), one call per IPC message, with a
//    per-call timeout, a heap cap and crash detection. Synchronous parsers cannot be interrupted
//    by a timer in their own process, so "never a hang" can only be checked from outside.
import { fork, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { EXIT_CODES, type ErrorKind } from '../../src/errors.js'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const CORPUS_DIR = path.join(ROOT, 'test/corpus')
export const NODE24_BINARY = path.join(ROOT, 'test/node24/node_modules/node/bin/node')

/** Passphrase of pki/ca.enc.key and pki/ca.legacy-enc.key (throwaway test keys, see test/corpus/README.md). */
export const CORPUS_PASSPHRASE = 'corpus-passphrase'

// ---- the corpus index ---------------------------------------------------------------------------

export interface CorpusCase {
  /** Unique, kebab-case; the test name. */
  id: string
  /** manifest | pem | passphrase | image | option: what kind of input is bad. */
  area: 'manifest' | 'pem' | 'passphrase' | 'image' | 'option'
  description: string
  /**
   * Flags on top of the base (good manifest, good CA, a fresh output-dir): `null` removes a flag.
   * Values may use {corpus} (this folder), {out} (the case's output-dir) and {tmp} (a scratch dir).
   */
  flags?: Record<string, string | null>
  /** Extra raw argv appended after the flags (e.g. an unknown flag). */
  args?: string[]
  /** Start from the image base (adds `image: {corpus}/images/good-gpt.img`) instead of the tar base. */
  imageBase?: boolean
  expect: {
    /** The error kind whose EXIT_CODES entry the exit status must be; any non-zero when absent. */
    kind?: ErrorKind
    /** Input / flag names stderr must name (as a word). */
    inputs: string[]
    /** Regular expression (case-insensitive) stderr must match. */
    message?: string
  }
  /**
   * A known product bug this case currently trips (see test/corpus/README.md): the case runs as
   * `it.fails` until the bug is fixed.
   */
  bug?: string
  /** Node majors that show the bug (e.g. [24]); all when absent. */
  bugNodes?: number[]
  /**
   * Run the case only in a sandboxed child, killed after `timeoutMs`: it hangs ("hang") or kills
   * the process ("crash") today, which would take the test runner down with it.
   */
  isolate?: { reason: 'hang' | 'crash'; timeoutMs: number }
}

/** Whether the case's known bug shows on Node `major`. */
export function bugShowsOn(testCase: CorpusCase, major: number): boolean {
  return testCase.bug !== undefined && (testCase.bugNodes === undefined || testCase.bugNodes.includes(major))
}

export function loadCorpus(): CorpusCase[] {
  return JSON.parse(readFileSync(path.join(CORPUS_DIR, 'cases.json'), 'utf8')) as CorpusCase[]
}

export const BASE_FLAGS: Record<string, string> = {
  manifest: '{corpus}/manifests/good.csv',
  'fleet-ca-cert': '{corpus}/pki/ca.crt',
  'fleet-ca-key': '{corpus}/pki/ca.key',
  'output-dir': '{out}'
}
export const IMAGE_BASE_FLAGS: Record<string, string> = { ...BASE_FLAGS, image: '{corpus}/images/good-gpt.img' }

export function expand(value: string, dirs: { out: string; tmp: string }): string {
  return value.replaceAll('{corpus}', CORPUS_DIR).replaceAll('{out}', dirs.out).replaceAll('{tmp}', dirs.tmp)
}

/** `bake --flag value ...` for a case. */
export function caseArgv(testCase: Pick<CorpusCase, 'flags' | 'args' | 'imageBase'>, dirs: { out: string; tmp: string }): string[] {
  const flags: Record<string, string | null> = { ...(testCase.imageBase ? IMAGE_BASE_FLAGS : BASE_FLAGS), ...testCase.flags }
  const argv = ['bake']
  for (const [name, value] of Object.entries(flags)) {
    if (value === null) continue
    argv.push(`--${name}`, expand(value, dirs))
  }
  return [...argv, ...(testCase.args ?? []).map((arg) => expand(arg, dirs))]
}

export function expectedExitCode(kind: ErrorKind | undefined): number | undefined {
  return kind === undefined ? undefined : EXIT_CODES[kind]
}

/**
 * True when `text` names `input` as a word, or as the flag `--input` ("fleet-ca-key" does not
 * count inside "fleet-ca-key-passphrase").
 */
export function namesInput(text: string, input: string): boolean {
  const escaped = input.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|[^A-Za-z0-9-]|[^A-Za-z0-9]--)${escaped}($|[^A-Za-z0-9-])`, 'i').test(text)
}

/** stderr with the corpus, output and temp paths replaced, so a file name cannot "name" an input. */
export function withoutPaths(text: string, dirs: { out: string; tmp: string }): string {
  return text.replaceAll(dirs.out, '<out>').replaceAll(dirs.tmp, '<tmp>').replaceAll(CORPUS_DIR, '<corpus>').replaceAll(os.tmpdir(), '<tmpdir>')
}

/** The environment without CREDBAKE_* variables (main() reads flags from them). */
export function withoutCredbakeEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('CREDBAKE_')))
}

// ---- the sandbox ----------------------------------------------------------------------------------

export interface SandboxRequest {
  id: number
  target: string
  args: unknown[]
}

export type SandboxOutcome =
  | { status: 'ok'; value: unknown }
  | { status: 'typed'; name: string; kind: string; input: string | null; message: string }
  | { status: 'raw'; name: string; code: string | null; message: string; stack: string }

export interface SandboxReply {
  id: number
  outcome: SandboxOutcome
  /** Time the call took inside the child. */
  ms: number
  /** Peak resident set of the child so far (process.resourceUsage().maxRSS), KiB. */
  maxRssKiB: number
}

/** What the parent saw: a reply, or the child hung (killed at the timeout) or died. */
export type SandboxResult =
  | ({ status: 'reply' } & SandboxReply)
  | { status: 'timeout'; ms: number }
  | { status: 'died'; code: number | null; signal: string | null; stderr: string }

let bundlePromise: Promise<string> | undefined
let bundleDir: string | undefined

/** Removes the bundle of this test file (call from a root-level afterAll). */
export function disposeSandboxBundle(): void {
  if (bundleDir) rmSync(bundleDir, { recursive: true, force: true })
  bundleDir = undefined
  bundlePromise = undefined
}

/**
 * Bundles test/fuzz/sandbox-entry.ts (and the product code it imports) into one ESM file in a
 * temp folder, once per test file (disposeSandboxBundle removes it). Only a not-yet-landed image
 * sink is left external.
 */
export function sandboxBundle(): Promise<string> {
  bundlePromise ??= (async () => {
    const { build } = (await import('rolldown')) as typeof import('rolldown')
    const dir = mkdtempSync(path.join(os.tmpdir(), 'credbake-sandbox-bundle-'))
    bundleDir = dir
    // Fallback for a worker that ends without running afterAll hooks.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    const imageSinkLanded = existsSync(path.join(ROOT, 'src/formats/image.ts'))
    await build({
      input: path.join(ROOT, 'test/fuzz/sandbox-entry.ts'),
      platform: 'node',
      logLevel: 'silent',
      external: (id) => !imageSinkLanded && /[/\\]sink[/\\]image(\.js)?$/.test(id),
      output: { dir, format: 'esm', entryFileNames: 'sandbox.mjs', chunkFileNames: '[name]-[hash].mjs' }
    })
    return path.join(dir, 'sandbox.mjs')
  })()
  return bundlePromise
}

export interface SandboxOptions {
  /** Node binary; default this process's. */
  node?: string
  /** --max-old-space-size for the child, MiB (default 256: the design's memory budget). */
  heapMiB?: number
  cwd?: string
}

/** A forked child running the bundled product code; restarts itself after a timeout or a crash. */
export class Sandbox {
  private child: ChildProcess | undefined
  private ready: Promise<void> | undefined
  private nextId = 1
  private stderr = ''
  private scratch: string | undefined
  /** Node version of the child, e.g. "v24.1.0". */
  version = ''

  private constructor(
    private readonly bundle: string,
    private readonly options: SandboxOptions
  ) {}

  static async start(options: SandboxOptions = {}): Promise<Sandbox> {
    const sandbox = new Sandbox(await sandboxBundle(), options)
    await sandbox.spawn()
    return sandbox
  }

  private spawn(): Promise<void> {
    this.stderr = ''
    this.removeScratch()
    this.scratch = mkdtempSync(path.join(os.tmpdir(), 'credbake-sandbox-'))
    const child = fork(this.bundle, [], {
      execPath: this.options.node ?? process.execPath,
      execArgv: [`--max-old-space-size=${this.options.heapMiB ?? 256}`],
      serialization: 'advanced',
      cwd: this.options.cwd ?? os.tmpdir(),
      env: { ...withoutCredbakeEnv(), SANDBOX_SCRATCH_DIR: this.scratch },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc']
    })
    child.stderr?.on('data', (chunk: Buffer) => {
      if (this.stderr.length < 16_384) this.stderr += chunk.toString('utf8')
    })
    this.child = child
    this.ready = new Promise((resolve, reject) => {
      const onMessage = (message: { ready?: boolean; node?: string }): void => {
        if (!message.ready) return
        this.version = message.node ?? ''
        child.off('message', onMessage)
        resolve()
      }
      child.on('message', onMessage)
      child.once('exit', (code, signal) => reject(new Error(`sandbox child exited before it was ready (${code ?? signal}): ${this.stderr}`)))
    })
    return this.ready
  }

  /** Starts a new child if the last one was killed or died (so a timed run does not pay for it). */
  async ensureRunning(): Promise<void> {
    if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) await this.spawn()
    await this.ready
  }

  /** One call of `target(...args)` in the child, ended after `timeoutMs`. */
  async call(target: string, args: unknown[], timeoutMs = 10_000): Promise<SandboxResult> {
    await this.ensureRunning()
    const child = this.child as ChildProcess
    const id = this.nextId++
    const started = performance.now()
    return new Promise<SandboxResult>((resolve) => {
      const cleanup = (): void => {
        clearTimeout(timer)
        child.off('message', onMessage)
        child.off('exit', onExit)
      }
      const onMessage = (message: SandboxReply): void => {
        if (message.id !== id) return
        cleanup()
        resolve({ status: 'reply', ...message })
      }
      const onExit = (code: number | null, signal: NodeJS.Signals | null): void => {
        cleanup()
        this.child = undefined
        resolve({ status: 'died', code, signal, stderr: this.stderr })
      }
      const timer = setTimeout(() => {
        cleanup()
        child.kill('SIGKILL')
        this.child = undefined
        resolve({ status: 'timeout', ms: performance.now() - started })
      }, timeoutMs)
      child.on('message', onMessage)
      child.on('exit', onExit)
      child.send({ id, target, args } satisfies SandboxRequest)
    })
  }

  stop(): void {
    this.child?.kill('SIGKILL')
    this.child = undefined
    this.removeScratch()
  }

  /** The child's scratch folder: a killed child cannot remove it itself. */
  private removeScratch(): void {
    if (this.scratch) rmSync(this.scratch, { recursive: true, force: true })
    this.scratch = undefined
  }
}

/** Short description of a sandbox result for assertion messages. */
export function describeResult(result: SandboxResult): string {
  if (result.status === 'timeout') return `no answer within ${Math.round(result.ms)} ms (a hang): the child was killed`
  if (result.status === 'died') return `the child died (exit ${result.code}, signal ${result.signal}): ${result.stderr.slice(-2000)}`
  const { outcome } = result
  if (outcome.status === 'ok') return `ok: ${JSON.stringify(outcome.value).slice(0, 300)}`
  if (outcome.status === 'typed') return `${outcome.name} (${outcome.kind}, input ${outcome.input}): ${outcome.message.slice(0, 500)}`
  return `RAW ${outcome.name}${outcome.code ? ` [${outcome.code}]` : ''}: ${outcome.message.slice(0, 500)}\n${outcome.stack.split('\n').slice(0, 8).join('\n')}`
}

/**
 * Node binaries to run the sandboxed checks on: this one, plus Node 24 (test/node24) when this is
 * not 24, plus this machine's Node 20 when this is not 20: credbake supports both.
 */
export function sandboxNodes(): Array<{ label: string; binary: string }> {
  const major = process.versions.node.split('.')[0]
  const nodes = [{ label: `node${major}`, binary: process.execPath }]
  if (major !== '24' && existsSync(NODE24_BINARY)) nodes.push({ label: 'node24', binary: NODE24_BINARY })
  if (major !== '20') {
    const node20 = ['/usr/local/bin/node', '/usr/bin/node'].find(
      (candidate) => existsSync(candidate) && spawnSync(candidate, ['--version'], { encoding: 'utf8' }).stdout.startsWith('v20.')
    )
    if (node20) nodes.push({ label: 'node20', binary: node20 })
  }
  return nodes
}
