// Deterministic regression tests for the product bugs the fuzzing found (fixed in c3d36cc), run in
// a sandboxed child on every available Node (see test/helpers/corpus.ts): each input below once
// hung, crashed or let a raw library error escape. The properties in *.fuzz.test.ts look for more
// of the same; these pin the exact inputs. If one of them breaks again and cannot be fixed at
// once, mark it `it.fails` and add a KnownBug entry to the property (support.ts) meanwhile.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CORPUS_DIR, Sandbox, describeResult, disposeSandboxBundle, sandboxNodes, type SandboxResult } from '../helpers/corpus.js'

// The sandbox bundle of this file (see test/helpers/corpus.ts).
afterAll(disposeSandboxBundle)

const pki = (name: string): string => readFileSync(path.join(CORPUS_DIR, 'pki', name), 'utf8')
const image = (name: string): string => path.join(CORPUS_DIR, 'images', name)

function mergeBomb(depth: number): string {
  const lines = ['defaults:', '  l0: &l0 {region: eu}']
  for (let k = 1; k <= depth; k++) lines.push(`  l${k}: &l${k} {<<: [*l${k - 1}, *l${k - 1}]}`)
  return `${lines.join('\n')}\ndevices:\n  - serial: SN-1\n    <<: *l${depth}\n`
}

/** The call answered with a typed CredbakeError of `kind` naming `input`. */
function expectTyped(result: SandboxResult, kind: string, input: string): void {
  expect(result.status === 'reply' && result.outcome.status, describeResult(result)).toBe('typed')
  if (result.status === 'reply' && result.outcome.status === 'typed') {
    expect(result.outcome.kind, describeResult(result)).toBe(kind)
    expect(result.outcome.input, describeResult(result)).toBe(input)
  }
}

describe.each(sandboxNodes())('fuzzing finds on $label', ({ binary }) => {
  let sandbox: Sandbox
  beforeAll(async () => {
    sandbox = await Sandbox.start({ node: binary })
  })
  afterAll(() => sandbox?.stop())

  // yaml-merge-expansion: mapEntries() expanded "<<" merges once per reference, recursively
  // (2^depth work): 30 levels, 1.3 KB of YAML, never finished.
  it('a 30-level "<<: [*prev, *prev]" chain answers within 2 s', async () => {
    const result = await sandbox.call('parseManifest', [mergeBomb(30), 'bomb.yaml', 'yaml'], 2_000)
    expect(result.status === 'reply' && result.outcome.status, describeResult(result)).toBe('ok')
  })

  // yaml-parser-stack-overflow: parseDocument() ran without a nesting limit; the yaml Parser's
  // recursion overflowed and "RangeError: Maximum call stack size exceeded" escaped.
  it('3,000 nested "- " before a quoted key end in a ManifestError', async () => {
    const text = `${'- '.repeat(3000)}"serial": "0"\n- "serial": "A"\n`
    expectTyped(await sandbox.call('parseManifest', [text, 'deep.yaml', 'yaml'], 10_000), 'manifest', 'manifest')
  })

  // yaml-reparse-abort: after that overflow, readSliced() parsed the text again in readWhole(), and
  // Node 20 (V8 11.3) aborted: "FATAL ERROR: RegExpCompiler Allocation failed - process out of
  // memory" (SIGABRT, exit 134), e.g. `node dist/cli.js bake --manifest deep.yaml` on a 6 KB file.
  it('3,000 nested "- " before a plain key end in a ManifestError (no abort)', async () => {
    expectTyped(await sandbox.call('parseManifest', [`${'- '.repeat(3000)}serial: A\n`, 'deep.yaml', 'yaml'], 10_000), 'manifest', 'manifest')
  })

  // ca-extension-parse: checkIsCa() / subjectKeyIdentifier() parsed extension values outside any
  // try: AsnSchemaValidationError, TypeError, Error escaped ("unexpected error", exit 1).
  // ca-public-key-decode: checkKeyMatches() read X509Certificate.publicKey outside any try:
  // "error:03000072:digital envelope routines::decode error" escaped.
  it.each([
    ['basicConstraints value is a SET', 'ca-bad-basic-constraints.crt'],
    ['keyUsage value is an OCTET STRING', 'ca-bad-key-usage.crt'],
    ['subjectKeyIdentifier value is a BIT STRING', 'ca-bad-ski.crt'],
    ['EC public key off the curve', 'ca-bad-public-key.crt']
  ])('a CA certificate whose %s → FleetCaError (input fleet-ca-cert)', async (_what, file) => {
    const result = await sandbox.call('loadFleetCa', [pki(file), pki('ca.key'), undefined, { kind: 'days', days: 365 }], 10_000)
    expectTyped(result, 'fleet-ca', 'fleet-ca-cert')
  })

  // read-position-out-of-range: readAt() passed positions computed from on-disk values straight to
  // FileHandle.read; Node 24 threw RangeError ERR_OUT_OF_RANGE, Node 20 silently read at offset 0.
  it.each([
    // The backup-GPT probe for 4096-byte sectors read at (floor(size/4096)-1)*4096 = -4096.
    ['a protective MBR in a 3 KiB file', 'pmbr-3k.img'],
    // readGptAt() did not check entriesLba: 2^60 * 512 is not a safe integer.
    ['GPT headers (valid CRCs) with the entry array at LBA 2^60', 'gpt-entries-lba-huge.img']
  ])('%s → ImageError (input image)', async (_what, file) => {
    expectTyped(await sandbox.call('readDiskLayout', [image(file)], 10_000), 'image', 'image')
  })
})
