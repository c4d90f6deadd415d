// Runs the action as a runner does, from a copy of action.yml + dist/ alone in an empty folder
// (no node_modules anywhere above it), with INPUT_* variables and GITHUB_OUTPUT/STEP_SUMMARY files.
import { spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseOutputs, ROOT, tempEnv } from '../helpers/run.js'

const folders: string[] = []

/** A folder holding only action.yml and dist/ (removed by cleanupActionCopies). */
export function copyAction(): string {
  const folder = mkdtempSync(path.join(os.tmpdir(), 'credbake-action-copy-'))
  folders.push(folder)
  cpSync(path.join(ROOT, 'action.yml'), path.join(folder, 'action.yml'))
  cpSync(path.join(ROOT, 'dist'), path.join(folder, 'dist'), { recursive: true })
  if (existsSync(path.join(folder, 'node_modules'))) throw new Error('unexpected node_modules')
  return folder
}

export function cleanupActionCopies(): void {
  for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true })
}

export interface CopiedRun {
  status: number | null
  stdout: string
  stderr: string
  outputs: Record<string, string>
  outputsText: string
  summary: string
}

export function runCopiedAction(folder: string, node: string, inputs: Record<string, string>, env: Record<string, string> = {}): CopiedRun {
  const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-runner-'))
  folders.push(work)
  const outputFile = path.join(work, 'github_output')
  const summaryFile = path.join(work, 'step_summary')
  const runnerTemp = path.join(work, 'runner_temp')
  writeFileSync(outputFile, '')
  writeFileSync(summaryFile, '')
  mkdirSync(runnerTemp)
  const childEnv: Record<string, string> = {
    ...tempEnv(),
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: work,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_WORKSPACE: work,
    RUNNER_TEMP: runnerTemp,
    GITHUB_ACTIONS: 'true',
    ...env
  }
  for (const [name, value] of Object.entries(inputs)) childEnv[`INPUT_${name.toUpperCase().replace(/ /g, '_')}`] = value
  const result = spawnSync(node, [path.join(folder, 'dist/index.js')], { cwd: work, env: childEnv, encoding: 'utf8', maxBuffer: 64 << 20 })
  const outputsText = readFileSync(outputFile, 'utf8')
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, outputs: parseOutputs(outputsText), outputsText, summary: readFileSync(summaryFile, 'utf8') }
}
