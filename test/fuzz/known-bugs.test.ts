// Deterministic reproductions of the product bugs the fuzzing found, as it.fails: each states
// what SHOULD happen, fails today, and starts passing (so it.fails turns red) when the bug is
// fixed. Then: turn it.fails into it, and delete the matching KnownBug entry from the fuzz
// property (support.ts explains the allow-list) so the property guards the fix.
import { existsSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadFleetCa } from '../../src/ca/load.js'
import { FleetCaError } from '../../src/errors.js'
import { CORPUS_DIR, NODE24_BINARY, Sandbox, describeResult, sandboxNodes, disposeSandboxBundle } from '../helpers/corpus.js'

// The sandbox bundle of this file (see test/helpers/corpus.ts).
afterAll(disposeSandboxBundle)

const pki = (name: string): string => readFileSync(path.join(CORPUS_DIR, 'pki', name), 'utf8')
const image = (name: string): string => path.join(CORPUS_DIR, 'images', name)

function mergeBomb(depth: number): string {
  const lines = ['defaults:', '  l0: &l0 {region: eu}']
  for (let k = 1; k <= depth; k++) lines.push(`  l${k}: &l${k} {<<: [*l${k - 1}, *l${k - 1}]}`)
  return `${lines.join('\n')}\ndevices:\n  - serial: SN-1\n    <<: *l${depth}\n`
}

describe.each(sandboxNodes())('manifest readers on $label', ({ binary }) => {
  let sandbox: Sandbox
  beforeAll(async () => {
    sandbox = await Sandbox.start({ node: binary })
  })
  afterAll(() => sandbox?.stop())

  // src/manifest/yaml.ts mapEntries(): "<<" merges are expanded recursively, once per reference,
  // with no memo and no bound: 2^depth work. 30 levels (1.3 KB of YAML) never finish.
  it.fails('yaml-merge-expansion: a 30-level "<<: [*prev, *prev]" chain answers within 2 s', async () => {
    const result = await sandbox.call('parseManifest', [mergeBomb(30), 'bomb.yaml', 'yaml'], 2_000)
    expect(result.status, describeResult(result)).toBe('reply')
  })

  // src/manifest/yaml.ts: parseDocument() is called without a try (and without a nesting limit);
  // the yaml library's Parser recursion overflows on a few thousand nested block sequences.
  it.fails('yaml-parser-stack-overflow: 3,000 nested "- " end in a ManifestError', async () => {
    const text = `${'- '.repeat(3000)}"serial": "0"\n- "serial": "A"\n`
    const result = await sandbox.call('parseManifest', [text, 'deep.yaml', 'yaml'], 10_000)
    expect(result.status === 'reply' && result.outcome.status, describeResult(result)).toBe('typed')
  })
})

describe.skipIf(!process.version.startsWith('v20.'))('manifest reader on Node 20', () => {
  let sandbox: Sandbox
  beforeAll(async () => {
    sandbox = await Sandbox.start()
  })
  afterAll(() => sandbox?.stop())

  // After the overflow above, readSliced() falls back to readWhole(), which parses the same text
  // again; on Node 20 (V8 11.3) that second parse aborts the process:
  // "FATAL ERROR: RegExpCompiler Allocation failed - process out of memory" (SIGABRT, exit 134).
  // `node dist/cli.js bake --manifest deep.yaml ...` dies the same way on a 6 KB manifest.
  it.fails('yaml-reparse-abort: 3,000 nested "- " before a plain key do not kill the process', async () => {
    const result = await sandbox.call('parseManifest', [`${'- '.repeat(3000)}serial: A\n`, 'deep.yaml', 'yaml'], 10_000)
    expect(result.status, describeResult(result)).toBe('reply')
  })
})

describe('fleet CA loading (src/ca/load.ts)', () => {
  const load = (certFile: string): unknown => {
    try {
      return loadFleetCa({
        cert: { input: 'fleet-ca-cert', text: pki(certFile), origin: certFile },
        key: { input: 'fleet-ca-key', text: pki('ca.key'), origin: 'ca.key' },
        lifetime: { kind: 'days', days: 365 }
      })
    } catch (error) {
      return error
    }
  }

  // checkIsCa() and subjectKeyIdentifier() call AsnConvert.parse on extension values outside any
  // try: the library's AsnSchemaValidationError / TypeError / Error escape, and the CLI prints
  // "unexpected error" (exit 1) without naming fleet-ca-cert.
  it.fails.each([
    ['basicConstraints value is a SET', 'ca-bad-basic-constraints.crt'],
    ['keyUsage value is an OCTET STRING', 'ca-bad-key-usage.crt'],
    ['subjectKeyIdentifier value is a BIT STRING', 'ca-bad-ski.crt']
  ])('ca-extension-parse: %s → FleetCaError (input fleet-ca-cert)', (_what, file) => {
    const error = load(file)
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as FleetCaError).input).toBe('fleet-ca-cert')
  })

  // checkKeyMatches() reads X509Certificate.publicKey outside any try: a certificate whose
  // SubjectPublicKeyInfo OpenSSL cannot decode (EC point off the curve) escapes as
  // "error:03000072:digital envelope routines::decode error".
  it.fails('ca-public-key-decode: an EC public key off the curve → FleetCaError (input fleet-ca-cert)', () => {
    const error = load('ca-bad-public-key.crt')
    expect(error).toBeInstanceOf(FleetCaError)
    expect((error as FleetCaError).input).toBe('fleet-ca-cert')
  })
})

describe.skipIf(!existsSync(NODE24_BINARY))('partition-table reader on Node 24 (src/image/table.ts, src/image/io.ts)', () => {
  let sandbox: Sandbox
  beforeAll(async () => {
    sandbox = await Sandbox.start({ node: NODE24_BINARY })
  })
  afterAll(() => sandbox?.stop())

  // readAt() hands FileHandle.read positions computed from on-disk values. Node 24 throws
  // RangeError ERR_OUT_OF_RANGE for a negative or unsafe position; Node 20 silently treats it as
  // -1 ("current position", i.e. offset 0 for a handle only ever read positionally) and parses
  // the wrong bytes.
  it.fails.each([
    // The backup-GPT probe for 4096-byte sectors reads at (floor(size/4096)-1)*4096 = -4096.
    ['a protective MBR in a 3 KiB file', 'pmbr-3k.img'],
    // readGptAt() never checks entriesLba: 2^60 * 512 is not a safe integer.
    ['GPT headers (valid CRCs) with the entry array at LBA 2^60', 'gpt-entries-lba-huge.img']
  ])('read-position-out-of-range: %s → ImageError', async (_what, file) => {
    const result = await sandbox.call('readDiskLayout', [image(file)], 10_000)
    expect(result.status === 'reply' && result.outcome.status, describeResult(result)).toBe('typed')
  })
})
