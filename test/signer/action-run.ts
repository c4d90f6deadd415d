// Runs the action as a runner does, from a copy of action.yml + dist/ alone in an empty folder
// (no node_modules anywhere above it), with INPUT_* variables and GITHUB_OUTPUT/STEP_SUMMARY files.
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { ROOT, runAction, type ActionRun } from '../helpers/run.js'

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

export type CopiedRun = ActionRun

/** The copied action run by `node`, from a runner folder of its own with HOME inside it. */
export function runCopiedAction(folder: string, node: string, inputs: Record<string, string>, env: Record<string, string> = {}): CopiedRun {
  return runAction(inputs, { node, env, script: path.join(folder, 'dist/index.js'), isolatedHome: true })
}
