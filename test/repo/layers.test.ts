// The layers of src/ run one way: each folder imports only from folders below it in LAYERS (and
// from itself), with one exception that is written down, and no module imports itself round a
// cycle. Static and dynamic (import()) imports both count. CONTRIBUTING.md describes the layers.
import { readdirSync, readFileSync, statSync } from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../helpers/run.js'

/** Bottom first. Root files of src/ (errors.ts, version.ts, main.ts, ...) are named without ".ts". */
const LAYERS = [
  // Neutral: anything may import them.
  ['errors', 'version', 'util', 'placement'],
  // The stages, in the order data flows through a bake.
  ['settings'],
  ['shapes'],
  ['x509'],
  ['manifest'],
  ['signer'],
  ['ca'],
  ['issue'],
  ['bundle'],
  ['image'],
  ['formats'],
  ['journal'],
  // The fleet CRL from the journal (what a bake signs after it, and which devices it holds as revoked).
  ['crl'],
  ['exports'],
  ['review'],
  ['pipeline'],
  ['verify'],
  // `credbake revoke` and `credbake crl`: an output-dir's revocations and CRL, its review rewritten.
  ['revocation'],
  ['merge'],
  ['demo'],
  // The adapters: the CLI, the action and the bundles' entry points.
  ['cli', 'cli.ts', 'main', 'post', 'index', 'workers']
].map((names) => names.map((name) => name.replace(/\.ts$/, '')))

/**
 * Imports allowed against the layers, each with its reason. The settings check the `format` input
 * against the format registry (its names, defaults and what each format takes); the registry
 * cannot sit below the settings, as its records open sinks and read outputs.
 */
const ALLOWED_UPWARD = new Set(['settings -> formats'])

const SRC = path.join(ROOT, 'src')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const file = path.join(dir, name)
    if (statSync(file).isDirectory()) return sourceFiles(file)
    return file.endsWith('.ts') ? [file] : []
  })
}

/** The folder of src/ a module is in; a root module by its name. */
function layerName(file: string): string {
  const parts = path.relative(SRC, file).split(path.sep)
  return parts.length > 1 ? (parts[0] as string) : (parts[0] as string).replace(/\.ts$/, '')
}

function rank(name: string): number {
  return LAYERS.findIndex((names) => names.includes(name))
}

const IMPORT = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|import\(\s*'(\.[^']+)'\s*\)/g

function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8')
  return [...text.matchAll(IMPORT)].map((match) => path.resolve(path.dirname(file), (match[1] ?? match[2]) as string).replace(/\.js$/, '.ts'))
}

const files = sourceFiles(SRC)
const graph = new Map(files.map((file) => [file, importsOf(file)]))

describe('the layers of src/', () => {
  it('every folder and root module of src/ has a layer', () => {
    const unplaced = [...new Set(files.map(layerName))].filter((name) => rank(name) === -1)
    expect(unplaced).toEqual([])
  })

  it('imports run downwards only (one written exception)', () => {
    const upward = new Set<string>()
    const listed: string[] = []
    for (const [file, targets] of graph) {
      for (const target of targets) {
        const from = layerName(file)
        const to = layerName(target)
        // Within one layer (the neutral modules, the adapters) any direction is fine.
        if (rank(to) <= rank(from)) continue
        upward.add(`${from} -> ${to}`)
        listed.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`)
      }
    }
    expect(
      [...upward].filter((edge) => !ALLOWED_UPWARD.has(edge)),
      listed.join('\n')
    ).toEqual([])
    expect(upward.size).toBeLessThanOrEqual(1)
  })

  it('no module imports itself round a cycle', () => {
    const state = new Map<string, 'open' | 'done'>()
    const stack: string[] = []
    const cycles: string[] = []
    const visit = (file: string): void => {
      state.set(file, 'open')
      stack.push(file)
      for (const target of graph.get(file) ?? []) {
        if (!graph.has(target)) continue
        if (state.get(target) === 'open') cycles.push([...stack.slice(stack.indexOf(target)), target].map((item) => path.relative(SRC, item)).join(' -> '))
        else if (!state.has(target)) visit(target)
      }
      stack.pop()
      state.set(file, 'done')
    }
    for (const file of files) if (!state.has(file)) visit(file)
    expect(cycles).toEqual([])
  })
})
