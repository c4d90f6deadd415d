// Makes sure what the end-to-end tests need exists before any test runs:
// - dist/ (built by `npm run bundle`; committed, but a checkout may be mid-edit),
// - the Node 24 binary from the npm package node@24 (test/node24), GitHub's action runtime.
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')

export default function setup(): void {
  const node24 = path.join(root, 'test/node24/node_modules/node/bin/node')
  if (!existsSync(node24)) {
    execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: path.join(root, 'test/node24'), stdio: 'inherit' })
  }
}
