// Property: PEM/DER loading never lets a library error escape. parsePem on any text ends in blocks
// or an InputError/FleetCaError naming the input; loadFleetCa on a mutated certificate, key,
// encrypted key or chain (bit flips, truncations, TLV tag/length rewrites, base64 and label edits)
// ends in a loaded CA or a typed error (FleetCaError / InputError) naming fleet-ca-cert,
// fleet-ca-key, fleet-ca-key-passphrase or the lifetime input: never a raw TypeError, RangeError
// or asn1 schema error, never a hang.
import { readFileSync } from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, it } from 'vitest'
import { CORPUS_DIR, CORPUS_PASSPHRASE, Sandbox, sandboxNodes, disposeSandboxBundle } from '../helpers/corpus.js'
import { byteMutation, derOfPem, mutateBytes, mutateText, pemOf, textMutation } from './arbitraries.js'
import { CALL_TIMEOUT_MS, judge, newStats, runProperty, summary, type Judge, type KnownBug } from './support.js'

// The sandbox bundle of this file (see test/helpers/corpus.ts).
afterAll(disposeSandboxBundle)

const pki = (name: string): string => readFileSync(path.join(CORPUS_DIR, 'pki', name), 'utf8')
const CA_CERT = pki('ca.crt')
const CA_KEY = pki('ca.key')
const CA_ENC_KEY = pki('ca.enc.key')
const CA_LEGACY_KEY = pki('ca.legacy-enc.key')
const INTERMEDIATE_CERT = pki('intermediate.crt')
const INTERMEDIATE_KEY = pki('intermediate.key')
const LIFETIME = { kind: 'days', days: 365 } as const

/**
 * Known bugs PEM/DER input can trip: none open. (ca-extension-parse and ca-public-key-decode were
 * found here and fixed in c3d36cc; regressions.test.ts pins them.) While a newly found bug is
 * open, add a KnownBug here so the suite stays green and counts it.
 */
const KNOWN_BUGS: KnownBug[] = []

const PEM_RULE: Judge = { kinds: ['input', 'fleet-ca'], inputs: ['fleet-ca-cert', 'fleet-ca-key'] }
const CA_RULE: Judge = {
  kinds: ['input', 'fleet-ca'],
  inputs: ['fleet-ca-cert', 'fleet-ca-key', 'fleet-ca-key-passphrase', 'validity-days', 'not-after'],
  knownBugs: KNOWN_BUGS
}

/** A PEM with its DER mutated, re-encoded (optionally with odd line widths). */
function mutatedPem(pem: string) {
  const { label, der, headers } = derOfPem(pem)
  return fc.record({ mutations: fc.array(byteMutation, { minLength: 1, maxLength: 3 }), width: fc.constantFrom(64, 64, 64, 76, 1, 1000) }).map(({ mutations, width }) => {
    const body = pemOf(label, mutateBytes(der, mutations), width)
    return { text: headers ? body.replace('-----\n', `-----\n${headers}`) : body, mutations }
  })
}

/** A PEM with its text mutated (base64 characters, lines, labels, escapes). */
function mutatedPemText(pem: string) {
  return fc.array(textMutation, { minLength: 1, maxLength: 3 }).map((mutations) => ({ text: mutateText(pem, mutations), mutations }))
}

describe.each(sandboxNodes())('PEM/DER loading on $label', ({ label, binary }) => {
  let sandbox: Sandbox
  const major = Number(label.replace('node', ''))
  beforeAll(async () => {
    sandbox = await Sandbox.start({ node: binary })
  })
  afterAll(() => sandbox?.stop())

  it('parsePem: random and mutated text', async () => {
    const stats = newStats()
    const text = fc.oneof(
      fc.string({ maxLength: 300, unit: 'binary' }),
      mutatedPemText(CA_CERT + CA_KEY).map((m) => m.text),
      mutatedPemText(CA_LEGACY_KEY).map((m) => m.text),
      // Single-line secrets with literal \n escapes, CRLF, indentation.
      mutatedPemText(CA_CERT.replace(/\n/g, '\\n')).map((m) => m.text),
      mutatedPemText(CA_CERT.replace(/\n/g, '\r\n    ')).map((m) => m.text)
    )
    await sandbox.ensureRunning()
    await runProperty(
      `parsePem on ${label}`,
      fc.tuple(text, fc.constantFrom('fleet-ca-cert', 'fleet-ca-key')),
      async ([body, input]) => judge(await sandbox.call('parsePem', [body, input], CALL_TIMEOUT_MS), PEM_RULE, stats, major),
      { numRuns: 400, timeLimitMs: 3_000 }
    )
    console.info(summary(`parsePem on ${label}`, stats))
  })

  it('loadFleetCa: mutated CA certificate DER, good key', async () => {
    const stats = newStats()
    await sandbox.ensureRunning()
    await runProperty(
      `mutated CA certificate on ${label}`,
      mutatedPem(CA_CERT),
      async ({ text }) => judge(await sandbox.call('loadFleetCa', [text, CA_KEY, undefined, LIFETIME], CALL_TIMEOUT_MS), CA_RULE, stats, major),
      { numRuns: 400, timeLimitMs: 4_000 }
    )
    console.info(summary(`mutated CA certificate on ${label}`, stats))
  })

  it('loadFleetCa: mutated keys (PKCS#8, encrypted PKCS#8, legacy-encrypted SEC1), good certificate', async () => {
    const stats = newStats()
    const keys = fc.oneof(
      mutatedPem(CA_KEY).map((m) => ({ key: m.text, passphrase: undefined as string | undefined })),
      mutatedPem(CA_ENC_KEY).map((m) => ({ key: m.text, passphrase: CORPUS_PASSPHRASE as string | undefined })),
      mutatedPemText(CA_LEGACY_KEY).map((m) => ({ key: m.text, passphrase: CORPUS_PASSPHRASE as string | undefined })),
      mutatedPemText(CA_KEY).map((m) => ({ key: m.text, passphrase: undefined as string | undefined }))
    )
    await sandbox.ensureRunning()
    await runProperty(
      `mutated CA key on ${label}`,
      keys,
      async ({ key, passphrase }) => judge(await sandbox.call('loadFleetCa', [CA_CERT, key, passphrase, LIFETIME], CALL_TIMEOUT_MS), CA_RULE, stats, major),
      { numRuns: 300, timeLimitMs: 4_000 }
    )
    console.info(summary(`mutated CA key on ${label}`, stats))
  })

  it('loadFleetCa: mutated chains and random DER', async () => {
    const stats = newStats()
    const cases = fc.oneof(
      // Intermediate first, root second: mutate either certificate of the chain.
      mutatedPem(INTERMEDIATE_CERT).map((m) => ({ cert: m.text + CA_CERT, key: INTERMEDIATE_KEY })),
      mutatedPem(CA_CERT).map((m) => ({ cert: INTERMEDIATE_CERT + m.text, key: INTERMEDIATE_KEY })),
      mutatedPemText(INTERMEDIATE_CERT + CA_CERT).map((m) => ({ cert: m.text, key: INTERMEDIATE_KEY })),
      fc.uint8Array({ maxLength: 600 }).map((der) => ({ cert: pemOf('CERTIFICATE', der), key: CA_KEY })),
      fc.uint8Array({ maxLength: 300 }).map((der) => ({ cert: CA_CERT, key: pemOf(fcLabel(der), der) }))
    )
    await sandbox.ensureRunning()
    await runProperty(
      `mutated chains on ${label}`,
      cases,
      async ({ cert, key }) => judge(await sandbox.call('loadFleetCa', [cert, key, undefined, LIFETIME], CALL_TIMEOUT_MS), CA_RULE, stats, major),
      { numRuns: 300, timeLimitMs: 4_000 }
    )
    console.info(summary(`mutated chains on ${label}`, stats))
  })
})

/** A private-key label picked by the first byte, so random DER reaches every key parser. */
function fcLabel(der: Uint8Array): string {
  return ['PRIVATE KEY', 'EC PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY'][(der[0] ?? 0) % 4] as string
}
