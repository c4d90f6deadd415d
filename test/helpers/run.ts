// Runs the bundled action and CLI the way a runner / a user does: a separate Node process on
// dist/, inputs as INPUT_* variables with hyphens kept, outputs and summary as files.
// Each runAction's runner folder (GITHUB_OUTPUT, the summary, RUNNER_TEMP, the default workspace)
// is removed after the test file (a root-level afterAll registered by importing this module).
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll } from 'vitest'

export const ROOT = path.resolve(import.meta.dirname, '../..')
export const ACTION = path.join(ROOT, 'dist/index.js')
export const CLI = path.join(ROOT, 'dist/cli.js')

/** GitHub's runtime for `runs.using: node24`, from the npm package node@24 (see test/global-setup.ts). */
export const NODE24 = path.join(ROOT, 'test/node24/node_modules/node/bin/node')
/** This machine's Node 20: vitest itself may run on either, so find it by version, not by execPath. */
export const NODE20 = findNode20()

function findNode20(): string {
  if (process.version.startsWith('v20.')) return process.execPath
  for (const candidate of ['/usr/local/bin/node', '/usr/bin/node']) {
    if (existsSync(candidate) && spawnSync(candidate, ['--version']).stdout.toString().startsWith('v20.')) return candidate
  }
  throw new Error('no Node 20 found for the end-to-end tests')
}

export const NODES: Array<[string, string]> = [
  ['node20', NODE20],
  ['node24', NODE24]
]

const runnerDirs: string[] = []

/** Removes every runner folder runAction made in this test file (runs after the file by itself). */
export function cleanupRuns(): void {
  for (const dir of runnerDirs.splice(0)) rmSync(dir, { recursive: true, force: true })
}
afterAll(cleanupRuns)

/**
 * The temp root the suite runs in (test/global-setup.ts points TMPDIR to a folder of its own):
 * children started with a fresh environment get it too, so what they leave is seen.
 */
export function tempEnv(): Record<string, string> {
  return process.env.TMPDIR ? { TMPDIR: process.env.TMPDIR } : {}
}

export interface ActionRun {
  status: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  outputsText: string
  summary: string
  runnerTemp: string
}

export function runAction(
  inputs: Record<string, string>,
  opts: {
    node?: string
    cwd?: string
    env?: Record<string, string>
    /** The action's entry point (a copied action's dist/index.js); default this repository's. */
    script?: string
    /** HOME in the runner folder, so nothing of this machine's home is seen. */
    isolatedHome?: boolean
  } = {}
): ActionRun {
  const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-runner-'))
  runnerDirs.push(work)
  const outputFile = path.join(work, 'github_output')
  const summaryFile = path.join(work, 'step_summary')
  const runnerTemp = path.join(work, 'runner_temp')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  mkdirSync(runnerTemp, { recursive: true })
  const env: Record<string, string> = {
    ...tempEnv(),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: opts.isolatedHome ? work : (process.env.HOME ?? work),
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: opts.cwd ?? work,
    RUNNER_TEMP: runnerTemp,
    GITHUB_ACTIONS: 'true',
    ...opts.env
  }
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.toUpperCase().replace(/ /g, '_')}`] = value
  const result = spawnSync(opts.node ?? NODE20, [opts.script ?? ACTION], { cwd: opts.cwd ?? work, env, encoding: 'utf8', maxBuffer: 64 << 20 })
  const outputsText = readFileSync(outputFile, 'utf8')
  return {
    status: result.status,
    stdout: result.stdout,
    stderr: result.stderr,
    outputs: parseOutputs(outputsText),
    outputsText,
    summary: readFileSync(summaryFile, 'utf8'),
    runnerTemp
  }
}

/** GITHUB_OUTPUT holds `name<<DELIMITER\nvalue\nDELIMITER` blocks. */
export function parseOutputs(text: string): Record<string, string> {
  const outputs: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^([^<=]+)<<(.+)$/.exec(lines[i] ?? '')
    if (!match) continue
    const [, name, delimiter] = match as unknown as [string, string, string]
    const value: string[] = []
    for (i++; i < lines.length && lines[i] !== delimiter; i++) value.push(lines[i] ?? '')
    outputs[name] = value.join('\n')
  }
  return outputs
}

export interface CliRun {
  status: number | null
  stdout: string
  stderr: string
}

export function runCli(args: string[], opts: { node?: string; cwd?: string; env?: Record<string, string> } = {}): CliRun {
  const result = spawnSync(opts.node ?? NODE20, [CLI, ...args], {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    encoding: 'utf8',
    maxBuffer: 64 << 20
  })
  return { status: result.status, stdout: result.stdout, stderr: result.stderr }
}
