// The action input merge's glob expansion (Node 20 has no fs.glob): *, ?, [...], ** and one
// pattern per line, relative to the workspace.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { expandGlobs } from '../../src/merge/glob.js'

let root: string
const files = [
  'shards/credbake-shard-1/credbake-manifest.json',
  'shards/credbake-shard-2/credbake-manifest.json',
  'shards/credbake-shard-10/credbake-manifest.json',
  'shards/credbake-shard-2/overlays/x.tar.gz',
  'shards/.hidden/credbake-manifest.json',
  'deep/a/b/c/credbake-manifest.json',
  'deep/credbake-manifest.json',
  'other/credbake-manifest.json'
]

beforeAll(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'credbake-glob-'))
  for (const file of files) {
    mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    writeFileSync(path.join(root, file), '{}')
  }
  // A link loop below ** must not make the walk endless.
  symlinkSync('..', path.join(root, 'deep/a/loop'))
})
afterAll(() => rmSync(root, { recursive: true, force: true }))

const rel = (found: string[]): string[] => found.map((file) => path.relative(root, file))

describe('expandGlobs', () => {
  it('* matches within one segment, not dot-files, sorted', () => {
    expect(rel(expandGlobs('shards/*/credbake-manifest.json', root))).toEqual([
      'shards/credbake-shard-1/credbake-manifest.json',
      'shards/credbake-shard-10/credbake-manifest.json',
      'shards/credbake-shard-2/credbake-manifest.json'
    ])
  })

  it('? and [...] match one character', () => {
    expect(rel(expandGlobs('shards/credbake-shard-?/credbake-manifest.json', root))).toHaveLength(2)
    expect(rel(expandGlobs('shards/credbake-shard-[2-9]/credbake-manifest.json', root))).toEqual(['shards/credbake-shard-2/credbake-manifest.json'])
    expect(rel(expandGlobs('shards/credbake-shard-[!1]*/credbake-manifest.json', root))).toEqual(['shards/credbake-shard-2/credbake-manifest.json'])
  })

  it('** matches zero or more folders, without following links', () => {
    expect(rel(expandGlobs('deep/**/credbake-manifest.json', root))).toEqual(['deep/a/b/c/credbake-manifest.json', 'deep/credbake-manifest.json'])
  })

  it('takes one pattern per line, absolute ones too, each file once; files only', () => {
    const found = rel(expandGlobs(`shards/*/credbake-manifest.json\n\n${path.join(root, 'other/*.json')}\nshards/credbake-shard-1/*\nshards/*`, root))
    expect(found).toEqual([
      'other/credbake-manifest.json',
      'shards/credbake-shard-1/credbake-manifest.json',
      'shards/credbake-shard-10/credbake-manifest.json',
      'shards/credbake-shard-2/credbake-manifest.json'
    ])
  })

  it('a pattern matching nothing gives nothing; regex characters are literal', () => {
    expect(expandGlobs('nowhere/*/credbake-manifest.json', root)).toEqual([])
    expect(expandGlobs('shards/credbake-shard-.+/credbake-manifest.json', root)).toEqual([])
  })
})
