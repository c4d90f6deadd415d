// The bundled manifest validator (src/verify/schema.ts: ajv's standalone code, generated at build
// time) against ajv compiling the schema at run time with ajv-formats, the reference: on a real manifest and on many mutations of it, both must
// say valid or invalid alike; the problems it reports name the right place.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import Ajv2020 from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { validateManifest } from '../../src/verify/schema.js'
import { cleanupPki, makeRootCa } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'
import { runCliAsync, seededRng } from '../helpers/faults.js'

const ajv = new Ajv2020.default({ allErrors: true, strict: true })
addFormats.default(ajv)
const reference = ajv.compile(JSON.parse(readFileSync(path.join(ROOT, 'schema/manifest.schema.json'), 'utf8')))

let work: string
let manifest: any

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-verify-schema-'))
  const ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Schema Test Root' })
  writeFileSync(path.join(work, 'devices.csv'), 'serial\nSC-01\nSC-02\n')
  const result = await runCliAsync([
    'bake',
    '--manifest',
    path.join(work, 'devices.csv'),
    '--fleet-ca-cert',
    ca.certPath,
    '--fleet-ca-key',
    ca.keyPath,
    '--gateway-url',
    'https://gw.example.com',
    '--format',
    'tar',
    '--output-dir',
    path.join(work, 'out')
  ])
  expect(result.status, result.stderr).toBe(0)
  manifest = JSON.parse(readFileSync(path.join(work, 'out', 'credbake-manifest.json'), 'utf8'))
})

afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T
}

/** Every [parent, key] pair in the document. */
function slots(value: unknown, out: Array<[any, string | number]> = []): Array<[any, string | number]> {
  if (Array.isArray(value)) value.forEach((item, i) => (out.push([value, i]), slots(item, out)))
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push([value, k]), slots(v, out)
  return out
}

const REPLACEMENTS: unknown[] = [
  null,
  true,
  0,
  -1,
  1.5,
  7,
  21,
  '',
  'x',
  '0600',
  '0999',
  'a'.repeat(64),
  '/abs',
  'images/a.img',
  '2026-01-01T00:00:00Z',
  'yesterday',
  [],
  [1],
  {},
  { extra: 1 },
  'gz',
  'never'
]

describe('the bundled manifest validator', () => {
  it('accepts a manifest credbake wrote, as ajv does', () => {
    expect(reference(manifest)).toBe(true)
    expect(validateManifest(manifest)).toEqual([])
  })

  it('agrees with ajv on 600 seeded mutations (replaced values, removed and added properties)', () => {
    const rng = seededRng(10)
    const int = (n: number): number => Math.floor(rng.next() * n)
    let invalid = 0
    for (let round = 0; round < 600; round++) {
      const doc = clone(manifest)
      const all = slots(doc)
      const [parent, key] = all[int(all.length)]!
      const what = int(3)
      if (what === 0) parent[key] = clone(REPLACEMENTS[int(REPLACEMENTS.length)])
      else if (what === 1 && !Array.isArray(parent)) delete parent[key]
      else if (!Array.isArray(parent)) parent[`unexpected${round}`] = 1
      else parent.push(clone(parent[0]))
      const theirs = reference(doc)
      const ours = validateManifest(doc)
      expect(ours.length === 0, `round ${round}: ${JSON.stringify(ours)} vs ajv ${ajv.errorsText(reference.errors)}`).toBe(theirs)
      if (!theirs) invalid++
    }
    // The mutations are not all harmless: most must be invalid.
    expect(invalid).toBeGreaterThan(300)
  })

  it('names the path and the reason', () => {
    const doc = clone(manifest)
    doc.devices[1].files[0].mode = '0999'
    doc.shard.index = 0
    doc.output.format = 'floppy'
    const problems = validateManifest(doc)
    expect(problems).toContainEqual({ path: '/shard/index', message: 'must be at least 1, is 0' })
    expect(problems.some((p) => p.path === '/output/format' && p.message.startsWith('must be one of "image", "partition", "tar", "dir"'))).toBe(true)
    expect(problems.some((p) => p.path === '/devices/1/files/0/mode')).toBe(true)
  })

  it('the committed validators are what scripts/build-validators.mjs makes of the schema now', () => {
    const check = spawnSync(process.execPath, [path.join(ROOT, 'scripts/build-validators.mjs'), '--check'], { encoding: 'utf8' })
    expect(check.status, check.stderr).toBe(0)
    // Standalone code: nothing compiled at run time.
    expect(readFileSync(path.join(ROOT, 'src/verify/manifest-validators.generated.js'), 'utf8')).not.toMatch(/new Function|\beval\(/)
  })
})
