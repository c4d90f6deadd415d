// action.yml, the README's input table and package.json's version must agree with src/settings/inputs.ts.
// UPDATE_ACTION_YML=1 npx vitest run test/settings/action-yml.test.ts rewrites action.yml's inputs
// and runs, and the README's input table.
import { readFileSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse, stringify } from 'yaml'
import { INPUTS } from '../../src/settings/inputs.js'
import { VERSION } from '../../src/version.js'

const root = path.resolve(import.meta.dirname, '../..')
const actionPath = path.join(root, 'action.yml')

/** What action.yml adds to the description of an input a bake needs and a merge does not. */
const REQUIRED_TO_BAKE = 'Required to bake (not with merge).'

/**
 * No input is required in action.yml: a merge job (input `merge`) sets none of manifest and the
 * fleet CA inputs, and a runner cannot express "unless merge". The settings parser enforces them
 * for a bake (test/settings/parse.test.ts); the description says so.
 */
function expectedInputs(): Record<string, Record<string, unknown>> {
  const inputs: Record<string, Record<string, unknown>> = {}
  for (const input of INPUTS) {
    inputs[input.name] = {
      description: input.requiredToBake ? `${input.description} ${REQUIRED_TO_BAKE}` : input.description,
      required: false,
      ...(input.default === undefined ? {} : { default: input.default })
    }
  }
  return inputs
}

/**
 * How the runner starts the action: dist/index.js as the main step, and again as the post step at
 * the end of the job, even a failed or cancelled one (src/post.ts removes what a killed main step
 * left: the secret temp folder and the output-dir lock).
 */
const RUNS = { using: 'node24', main: 'dist/index.js', post: 'dist/index.js', 'post-if': 'always()' }

const readmePath = path.join(root, 'README.md')
const START = '<!-- inputs:start -->'
const END = '<!-- inputs:end -->'

function inputTable(): string {
  const rows = INPUTS.map((input) => {
    const fallback = input.requiredToBake ? 'required to bake' : input.default === undefined ? '' : `\`${input.default}\``
    return `| \`${input.name}\` | ${input.description.replace(/\|/g, '\\|')} | ${fallback} |`
  })
  return ['| input / flag | meaning | default |', '|---|---|---|', ...rows].join('\n')
}

function readmeWithTable(readme: string): string {
  const start = readme.indexOf(START)
  const end = readme.indexOf(END)
  if (start < 0 || end < start) throw new Error('README.md lacks the inputs markers')
  return `${readme.slice(0, start + START.length)}\n${inputTable()}\n${readme.slice(end)}`
}

describe('action.yml', () => {
  if (process.env.UPDATE_ACTION_YML === '1') {
    it('is rewritten from the input table, with the README table', () => {
      const action = parse(readFileSync(actionPath, 'utf8')) as Record<string, unknown>
      action.inputs = expectedInputs()
      action.runs = RUNS
      writeFileSync(actionPath, stringify(action, { lineWidth: 0 }))
      writeFileSync(readmePath, readmeWithTable(readFileSync(readmePath, 'utf8')))
    })
    return
  }
  const action = parse(readFileSync(actionPath, 'utf8')) as {
    runs: Record<string, string>
    inputs: Record<string, unknown>
    outputs: Record<string, { description: string }>
    branding: { icon: string; color: string }
  }

  it('runs dist/index.js on node24, as the main step and as a post step that always runs', () => {
    expect(action.runs).toEqual(RUNS)
  })

  it('documents every input with its description and default', () => {
    expect(action.inputs).toEqual(expectedInputs())
  })

  it('requires no input: a merge job sets neither manifest nor the fleet CA inputs, a bake is checked by the parser', () => {
    const inputs = action.inputs as Record<string, { required: boolean; description: string }>
    for (const name of ['manifest', 'fleet-ca-cert', 'fleet-ca-key']) {
      expect(inputs[name]?.required, name).toBe(false)
      expect(inputs[name]?.description, name).toContain(REQUIRED_TO_BAKE)
    }
    expect(Object.entries(inputs).filter(([, input]) => input.required)).toEqual([])
  })

  it('documents every output of the design', () => {
    // The design's five, and the CRL's two (added with input crl).
    expect(Object.keys(action.outputs).sort()).toEqual(['certificates', 'crl', 'crl-number', 'devices', 'fleet-ca-sha256', 'manifest', 'output-dir'])
    for (const output of Object.values(action.outputs)) expect(output.description.length).toBeGreaterThan(10)
  })

  it('has branding', () => {
    expect(action.branding.icon).toBeTruthy()
    expect(action.branding.color).toBeTruthy()
  })

  it('lists every input in the README, as the input table says', () => {
    const readme = readFileSync(readmePath, 'utf8')
    expect(readme).toBe(readmeWithTable(readme))
    for (const input of INPUTS) expect(readme).toContain(`| \`${input.name}\``)
  })

  it('has the package version', () => {
    const pkg = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string }
    expect(VERSION).toBe(pkg.version)
  })
})
