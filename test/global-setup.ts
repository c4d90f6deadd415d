// Makes sure what the end-to-end tests need exists before any test runs:
// - dist/ (built by `npm run bundle`; committed, but a checkout may be mid-edit),
// - the Node 24 binary from the npm package node@24 (test/node24), GitHub's action runtime.
// And gives the suite its own temp root: TMPDIR (and RUNNER_TEMP, when the suite runs on a runner)
// point to a fresh folder that every test worker and every child they spawn (the CLI, the action,
// Node 24, openssl, the image tools) inherits. After the suite that folder must be empty: what a
// test or a credbake run left in it is listed and fails the run (a CI machine is reused, and a
// left folder may hold device keys). The folder is removed either way.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')

export default function setup(): () => void {
  const node24 = path.join(root, 'test/node24/node_modules/node/bin/node')
  if (!existsSync(node24)) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: path.join(root, 'test/node24'), stdio: 'inherit' })
  }

  const saved = { TMPDIR: process.env.TMPDIR, RUNNER_TEMP: process.env.RUNNER_TEMP }
  const tempRoot = mkdtempSync(path.join(os.tmpdir(), 'credbake-test-tmp-'))
  process.env.TMPDIR = tempRoot
  if (saved.RUNNER_TEMP !== undefined) process.env.RUNNER_TEMP = tempRoot

  return () => {
    restore('TMPDIR', saved.TMPDIR)
    restore('RUNNER_TEMP', saved.RUNNER_TEMP)
    const leftovers = describeLeftovers(tempRoot)
    try {
      rmSync(tempRoot, { recursive: true, force: true })
    } catch (error) {
      leftovers.push(`(and ${tempRoot} itself could not be removed: ${(error as Error).message})`)
    }
    if (leftovers.length > 0) {
      console.error(
        `\nThe suite left ${leftovers.length} entr${leftovers.length === 1 ? 'y' : 'ies'} in its temp root ${tempRoot} (now removed): every test must remove what it creates.\n  ${leftovers.join('\n  ')}\n`
      )
      // vitest 4 logs an error thrown from a globalSetup teardown but still exits 0; it only
      // ever raises the exit code, so this makes `npm test` fail.
      process.exitCode = 1
    }
  }
}

function restore(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name]
  else process.env[name] = value
}

/** Each entry of `dir`, with a few of the names inside a folder so the creator can be found. */
function describeLeftovers(dir: string): string[] {
  let names: string[]
  try {
    names = readdirSync(dir).sort()
  } catch {
    return []
  }
  return names.map((name) => {
    const full = path.join(dir, name)
    try {
      if (!statSync(full).isDirectory()) return name
      const inside = readdirSync(full).sort()
      const shown = inside.slice(0, 5).join(', ')
      return `${name}/ (${inside.length} entr${inside.length === 1 ? 'y' : 'ies'}${inside.length ? `: ${shown}${inside.length > 5 ? ', …' : ''}` : ''})`
    } catch {
      return name
    }
  })
}
