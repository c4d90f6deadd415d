// The guard against a run that stops without settling: a child Node process whose work never
// settles and holds no handle would exit 0; with the guard it exits 1 with the message. The guard
// is transpiled from src/ and loaded in a plain `node` child (the real beforeExit behaviour).
import { spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import ts from 'typescript'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/run.js'

const GUARD = ts.transpileModule(readFileSync(path.join(ROOT, 'src/util/unsettled.ts'), 'utf8'), {
  compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 }
}).outputText

/** Run `body` in a child with `failIfUnsettled` in scope (as the guard module's export). */
function child(body: string): { status: number | null; stderr: string; stdout: string } {
  const script = `const { failIfUnsettled } = await import('data:text/javascript,' + encodeURIComponent(${JSON.stringify(GUARD)}));\n${body}`
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 })
  return { status: result.status, stderr: result.stderr, stdout: result.stdout }
}

describe('failIfUnsettled', () => {
  it('a run that never settles and holds nothing: exit 1 and the message, once', () => {
    const result = child(`failIfUnsettled(new Promise(() => {}), (m) => process.stderr.write(m + '\\n'))`)
    expect(result.status).toBe(1)
    expect(result.stderr.match(/internal error: the run stopped before it finished/g)).toHaveLength(1)
  })

  it('without the guard the same process exits 0 (what the guard is for)', () => {
    const result = child(`new Promise(() => {})`)
    expect(result.status).toBe(0)
  })

  it('a run that settles (resolved or rejected after a timer): no message, its own exit code', () => {
    const resolved = child(`failIfUnsettled(new Promise((r) => setTimeout(() => r(3), 20)), (m) => process.stderr.write(m)).then((c) => { process.exitCode = c })`)
    expect(resolved).toMatchObject({ status: 3, stderr: '' })
    const rejected = child(`failIfUnsettled(new Promise((_, j) => setTimeout(() => j(new Error('x')), 20)), (m) => process.stderr.write(m)).catch(() => { process.exitCode = 5 })`)
    expect(rejected).toMatchObject({ status: 5, stderr: '' })
  })
})
