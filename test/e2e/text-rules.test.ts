// The text rules (docs/input-limits.md) as a user meets them through the CLI: a bidi override in a
// field the subject uses stops the run before anything is issued; a Windows device name as a
// serial too; device IDs that differ only in case bake, with one warning.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { readJournalFile } from '../helpers/faults.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runCli } from '../helpers/run.js'

let ca: CaFixture
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-text-'))
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function bake(name: string, text: string, extra: string[] = []): { status: number | null; stderr: string; out: string } {
  const manifest = path.join(work, name)
  writeFileSync(manifest, text)
  const out = path.join(work, `out-${name}`)
  const result = runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, ...extra])
  return { status: result.status, stderr: result.stderr, out }
}

function issued(out: string): number {
  return readJournalFile(out).records.filter((record) => record.type === 'issued').length
}

describe('text rules through the CLI', () => {
  it('a right-to-left override in a subject field: exit 2 naming row and field, nothing issued', () => {
    const run = bake('bidi.jsonl', '{"serial": "B-1", "site": "Berlin"}\n{"serial": "B-2", "site": "nilreB\\u202eBerlin"}\n', ['--subject', 'CN={device-id},L={site}'])
    expect(run.status, run.stderr).toBe(2)
    expect(run.stderr).toContain('bidi.jsonl:2: field "site": value "nilreB\\u202eBerlin" contains a bidi control (U+202E), which reorders the text around it')
    expect(run.stderr).not.toContain('\u202e')
    expect(issued(run.out)).toBe(0)
  })

  it('the same character in a field no template uses is kept, and the bake runs', () => {
    const run = bake('note.jsonl', '{"serial": "N-1", "note": "left\\u202eright"}\n')
    expect(run.status, run.stderr).toBe(0)
    expect(issued(run.out)).toBe(1)
  })

  it('NUL.txt as a serial: exit 2, nothing issued', () => {
    const run = bake('win.csv', 'serial\nW-1\nNUL.txt\n')
    expect(run.status, run.stderr).toBe(2)
    expect(run.stderr).toMatch(/win\.csv:3: serial "NUL\.txt" is a device name Windows reserves \(NUL\)/)
    expect(issued(run.out)).toBe(0)
  })

  it('device IDs that differ only in case: baked, with one warning naming them', () => {
    const run = bake('case.csv', 'serial,device-id\nC-1,Gateway-7\nC-2,gateway-7\nC-3,other\n')
    expect(run.status, run.stderr).toBe(0)
    const warnings = run.stderr.split('\n').filter((line) => line.startsWith('warning:'))
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/case\.csv: two device IDs differ only in case: "Gateway-7" \(line 2\) and "gateway-7" \(line 3\)/)
    expect(issued(run.out)).toBe(3)
  })
})
