// Property: whatever bytes or text the manifest readers get (random, or a valid CSV/JSON/JSONL/YAML
// manifest mutated), they end in devices or in a ManifestError (input "manifest"): never another
// exception, never a hang, never unbounded memory. Run in a sandboxed child on every available
// Node (see support.ts for bounds and replay).
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Sandbox, sandboxNodes, disposeSandboxBundle } from '../helpers/corpus.js'
import { manifestSpec, mutateText, renderManifest, textMutation, type ManifestFormat, type TextMutation } from './arbitraries.js'
import { CALL_TIMEOUT_MS, judge, newStats, runProperty, summary, type Judge, type KnownBug } from './support.js'

// The sandbox bundle of this file (see test/helpers/corpus.ts).
afterAll(disposeSandboxBundle)

const EXTENSIONS: Record<ManifestFormat, string> = { csv: 'csv', json: 'json', jsonl: 'jsonl', yaml: 'yaml' }

/**
 * Known bugs a manifest input can trip: none open. (yaml-merge-expansion, yaml-parser-stack-overflow
 * and yaml-reparse-abort were found here and fixed in c3d36cc; regressions.test.ts pins them.)
 * While a newly found bug is open, add a KnownBug here so the suite stays green and counts it.
 */
const KNOWN_BUGS: KnownBug[] = []

const RULE: Judge = {
  kinds: ['manifest'],
  inputs: ['manifest'],
  knownBugs: KNOWN_BUGS,
  checkValue: (value) => {
    expect((value as { devices: number }).devices).toBeGreaterThan(0)
  }
}

describe.each(sandboxNodes())('manifest readers on $label', ({ label, binary }) => {
  let sandbox: Sandbox
  const major = Number(label.replace('node', ''))
  beforeAll(async () => {
    sandbox = await Sandbox.start({ node: binary })
  })
  afterAll(() => sandbox?.stop())

  it('random text in every format', async () => {
    const stats = newStats()
    const text = fc.oneof(
      fc.string({ maxLength: 400, unit: 'binary' }),
      fc.string({ maxLength: 400, unit: fc.constantFrom('a', '1', '.', '-', ',', '"', '\n', ':', ' ', '[', ']', '{', '}', '&', '*', '<', '#') })
    )
    await sandbox.ensureRunning()
    await runProperty(
      `random manifest text on ${label}`,
      fc.tuple(text, fc.constantFrom<ManifestFormat>('csv', 'json', 'jsonl', 'yaml')),
      async ([body, format]) => judge(await sandbox.call('parseManifest', [body, `m.${EXTENSIONS[format]}`, format], CALL_TIMEOUT_MS), RULE, stats, major),
      { numRuns: 400, timeLimitMs: 4_000 }
    )
    console.info(summary(`random manifest text on ${label}`, stats))
  })

  it('random bytes through the file reader (decoding, BOM, UTF-16, extension)', async () => {
    const stats = newStats()
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 600 }),
      // Byte-order marks and UTF-16 in front of something that looks like a manifest.
      fc.tuple(fc.constantFrom([0xef, 0xbb, 0xbf], [0xff, 0xfe], [0xfe, 0xff], []), fc.uint8Array({ maxLength: 200 })).map(([bom, rest]) => Uint8Array.from([...bom, ...rest]))
    )
    await sandbox.ensureRunning()
    await runProperty(
      `random manifest bytes on ${label}`,
      fc.tuple(bytes, fc.constantFrom('m.csv', 'm.json', 'm.jsonl', 'm.yaml', 'm.yml', 'M.CSV', 'm.txt', 'm')),
      async ([body, name]) => judge(await sandbox.call('readManifest', [body, name], CALL_TIMEOUT_MS), RULE, stats, major),
      { numRuns: 250, timeLimitMs: 3_000 }
    )
    console.info(summary(`random manifest bytes on ${label}`, stats))
  })

  it('mutated valid manifests (csv, json, jsonl, yaml; wrapped, merged, anchored)', async () => {
    const stats = newStats()
    await sandbox.ensureRunning()
    await runProperty(
      `mutated manifests on ${label}`,
      manifestSpec,
      async (spec) => {
        const text = mutateText(renderManifest(spec), spec.mutations)
        judge(await sandbox.call('parseManifest', [text, `m.${EXTENSIONS[spec.format]}`, spec.format], CALL_TIMEOUT_MS), RULE, stats, major, text)
      },
      { numRuns: 400, timeLimitMs: 4_000 }
    )
    console.info(summary(`mutated manifests on ${label}`, stats))
  })

  it('YAML built from anchors, aliases and merges, mutated', async () => {
    // The shapes where a reader that expands aliases can blow up: chains of anchors each merging
    // or aliasing earlier ones, up to 2^40 references if expanded naively (a reader that resolves
    // each anchor once answers at once). yaml-merge-expansion lived here.
    const MAX_EXPANSION = 2 ** 40
    const stats = newStats()
    const aliasSpec = fc.record({
      depth: fc.integer({ min: 1, max: 30 }),
      fanout: fc.integer({ min: 1, max: 3 }),
      style: fc.constantFrom('merge', 'alias-value', 'alias-item'),
      mutations: fc.array(textMutation, { maxLength: 3 })
    })
    const render = ({ depth: wanted, fanout, style, mutations }: { depth: number; fanout: number; style: string; mutations: TextMutation[] }): string => {
      const depth = fanout === 1 ? wanted : Math.min(wanted, Math.floor(Math.log(MAX_EXPANSION) / Math.log(fanout)))
      const lines = ['defaults:', '  l0: &l0 {region: eu}']
      for (let k = 1; k <= depth; k++) {
        const refs = Array.from({ length: fanout }, () => `*l${k - 1}`).join(', ')
        lines.push(style === 'merge' ? `  l${k}: &l${k} {<<: [${refs}], k${k}: v}` : `  l${k}: &l${k} [${refs}]`)
      }
      lines.push('devices:')
      if (style === 'alias-item') lines.push(`  - *l${depth}`)
      lines.push('  - serial: SN-1', style === 'merge' ? `    <<: *l${depth}` : `    region: *l${depth}`)
      return mutateText(`${lines.join('\n')}\n`, mutations)
    }
    await sandbox.ensureRunning()
    await runProperty(
      `YAML aliases on ${label}`,
      aliasSpec,
      async (spec) => {
        const text = render(spec)
        judge(await sandbox.call('parseManifest', [text, 'm.yaml', 'yaml'], CALL_TIMEOUT_MS), RULE, stats, major, text)
      },
      { numRuns: 120, timeLimitMs: 4_000 }
    )
    console.info(summary(`YAML aliases on ${label}`, stats))
  })
})
