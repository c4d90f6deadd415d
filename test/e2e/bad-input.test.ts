// Bad input: a non-zero exit, a message naming the input, and no manifest that claims success.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, keyFormats, makeExpiredCa, makeNonCaCert, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction, runCli } from '../helpers/run.js'

let ca: CaFixture
let otherCa: CaFixture
let work: string
let goodManifest: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256' })
  otherCa = makeRootCa({ keyType: 'ec-p256' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-bad-'))
  goodManifest = write('good.csv', 'serial\nA1\nA2\n')
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

function write(name: string, text: string): string {
  const file = path.join(work, name)
  writeFileSync(file, text)
  return file
}

interface Case {
  name: string
  inputs: () => Record<string, string>
  /** Text the error must contain: the input's name, and for manifests the file:line. */
  expect: RegExp[]
}

const cases: Case[] = [
  { name: 'malformed CSV', inputs: () => ({ manifest: write('bad.csv', 'serial,region\nA1,"eu\nA2,us\n') }), expect: [/manifest|bad\.csv/] },
  { name: 'malformed JSON', inputs: () => ({ manifest: write('bad.json', '[{"serial": "A1"},\n{"serial": }]') }), expect: [/bad\.json:2/] },
  { name: 'malformed YAML', inputs: () => ({ manifest: write('bad.yaml', '- serial: A1\n- serial: [A2\n') }), expect: [/bad\.yaml/] },
  { name: 'empty manifest', inputs: () => ({ manifest: write('empty.csv', 'serial\n') }), expect: [/empty\.csv/, /no devices|empty/i] },
  { name: 'duplicate serial', inputs: () => ({ manifest: write('dup.csv', 'serial\nA1\nA2\nA1\n') }), expect: [/dup\.csv:4/, /A1/] },
  { name: 'serial with a slash', inputs: () => ({ manifest: write('slash.jsonl', '{"serial":"A1"}\n{"serial":"a/b"}\n') }), expect: [/slash\.jsonl:2/, /serial/] },
  { name: 'serial ..', inputs: () => ({ manifest: write('dots.csv', 'serial\n..\n') }), expect: [/dots\.csv:2/, /serial/] },
  {
    name: 'CA certificate that is not a CA',
    inputs: () => {
      const leaf = makeNonCaCert()
      return { 'fleet-ca-cert': leaf.certPem, 'fleet-ca-key': leaf.keyPem }
    },
    expect: [/fleet-ca-cert/, /not a CA|CA:TRUE|basicConstraints/i]
  },
  { name: 'key not matching the certificate', inputs: () => ({ 'fleet-ca-key': otherCa.keyPem }), expect: [/fleet-ca-key/, /match/i] },
  {
    name: 'encrypted key, no passphrase',
    inputs: () => ({ 'fleet-ca-key': keyFormats(ca.key, { passphrase: 'pw-1234' }).encryptedPkcs8.pem }),
    expect: [/fleet-ca-key-passphrase/]
  },
  {
    name: 'encrypted key, wrong passphrase',
    inputs: () => ({ 'fleet-ca-key': keyFormats(ca.key, { passphrase: 'pw-1234' }).encryptedPkcs8.pem, 'fleet-ca-key-passphrase': 'wrong-one' }),
    expect: [/fleet-ca-key-passphrase/]
  },
  {
    name: 'expired CA',
    inputs: () => {
      const old = makeExpiredCa()
      return { 'fleet-ca-cert': old.certPem, 'fleet-ca-key': old.keyPem }
    },
    expect: [/fleet-ca-cert/, /expired/i]
  },
  { name: 'unknown key type', inputs: () => ({ 'key-type': 'dsa-1024' }), expect: [/key-type/, /ec-p256/] },
  { name: 'lifetime past the CA', inputs: () => ({ 'validity-days': '20000' }), expect: [/validity-days|not-after|fleet-ca-cert/] },
  { name: 'unwritable output-dir', inputs: () => ({ 'output-dir': path.join(write('a-file', 'x'), 'sub') }), expect: [/output-dir/] },
  { name: 'missing manifest file', inputs: () => ({ manifest: path.join(work, 'nope.csv') }), expect: [/manifest/, /nope\.csv/] },
  { name: 'bad not-after', inputs: () => ({ 'not-after': 'next tuesday' }), expect: [/not-after/, /RFC 3339/] },
  { name: 'bad shard', inputs: () => ({ shard: '3/2' }), expect: [/shard/] }
]

describe('bad input', () => {
  it.each(cases)('$name', (testCase) => {
    const out = path.join(work, `out-${testCase.name.replace(/\W+/g, '-')}`)
    const inputs = { manifest: goodManifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, 'output-dir': out, ...testCase.inputs() }
    if (!inputs['output-dir'].startsWith(out)) inputs['output-dir'] = inputs['output-dir']
    const run = runAction(inputs)
    expect(run.status, run.stdout).not.toBe(0)
    const errors = run.stdout.split('\n').filter((line) => line.startsWith('::error'))
    expect(errors.length, run.stdout).toBeGreaterThan(0)
    for (const pattern of testCase.expect) expect(errors.join('\n')).toMatch(pattern)
    expect(existsSync(path.join(inputs['output-dir'], 'credbake-manifest.json'))).toBe(false)
    expect(run.outputs.manifest).toBeUndefined()
  })

  it('annotates a bad manifest row at its file and line', () => {
    const manifest = write('annotate.csv', 'serial\nOK1\nbad serial\n')
    const run = runAction({ manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, 'output-dir': path.join(work, 'o-annot') }, { cwd: work })
    expect(run.stdout).toMatch(/::error file=annotate\.csv,line=3::/)
  })

  it('the CLI exits with the documented codes', () => {
    const base = ['bake', '--manifest', goodManifest, '--fleet-ca-cert', ca.certPath, '--output-dir', path.join(work, 'cli-out')]
    expect(runCli([...base, '--fleet-ca-key', otherCa.keyPath]).status).toBe(3)
    expect(runCli([...base, '--fleet-ca-key', ca.keyPath, '--key-type', 'dsa']).status).toBe(2)
    expect(runCli([...base, '--fleet-ca-key', ca.keyPath, '--bogus-flag', 'x']).status).toBe(2)
    const ok = runCli([...base, '--fleet-ca-key', ca.keyPath])
    expect(ok.status, ok.stderr).toBe(0)
    expect(ok.stdout).toContain('devices:          2')
  })
})
