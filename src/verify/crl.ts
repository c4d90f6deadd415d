// verify's check of crl.pem: when an output-dir has one, it must be the fleet CA's (signature,
// issuer, authorityKeyIdentifier, one signature algorithm), not older than the CRL the manifest
// records, and list exactly the manifest's superseded and revoked certificates, each with its
// reason (a revocation's own reason wins over the superseded one). nextUpdate is not judged:
// verify checks what a bake wrote, and a CRL ages by design (refresh it, docs/revocation-and-registries.md).
import { verify, type X509Certificate } from 'node:crypto'
import { lstat, readFile } from 'node:fs/promises'
import path from 'node:path'
import { messageOf } from '../errors.js'
import { CRL_PEM_FILE, type ManifestCrl, type RevokedCertificate, type SupersededReason } from '../shapes/review.js'
import { sha256Hex } from '../util/hash.js'
import { readPemBlocks } from '../util/pem.js'
import { contentsOf, decodeOid, readSingle } from '../x509/der.js'
import { normalizeSerialHex, readCrl, type ParsedCrl } from '../x509/crl.js'
import { CRL_REASON_CODES, crlReasonForSuperseded, type CrlReason } from '../x509/crl-reasons.js'
import { EXTENSION_OID, SIGNATURE_HASHES } from '../x509/algorithms.js'
import { parseCertificate } from './certificates.js'

const REASON_NAMES = new Map<number, string>(Object.entries(CRL_REASON_CODES).map(([name, code]) => [code, name]))
/** Most differences listed one by one; the rest counted. */
const SHOWN = 20

export interface CrlExpectation {
  /** The fleet CA certificate's SHA-256 (the header's fleetCa.sha256). */
  fleetCaSha256: string
  /** What the manifest records of its last CRL, if anything. */
  crl?: ManifestCrl
  /** Per superseded certificate serial number (hex), its superseded reason. */
  superseded: ReadonlyMap<string, SupersededReason>
  revoked: readonly RevokedCertificate[]
}

/** Problems with output-dir's crl.pem (none when there is none and the manifest records none). */
export async function crlProblems(outputDir: string, trust: readonly X509Certificate[], expected: CrlExpectation): Promise<string[]> {
  const file = path.join(outputDir, CRL_PEM_FILE)
  const info = await lstat(file).catch(() => undefined)
  if (!info) return expected.crl ? [`${CRL_PEM_FILE} is missing: the manifest records CRL number ${expected.crl.number}`] : []
  if (!info.isFile()) return [`${CRL_PEM_FILE} is not a regular file`]
  let crl: ParsedCrl
  let der: Buffer
  try {
    const blocks = readPemBlocks(await readFile(file, 'utf8'))
    if ('problem' in blocks) return [`${CRL_PEM_FILE} is not PEM: ${blocks.problem}`]
    const crls = blocks.filter((block) => block.label === 'X509 CRL')
    if (crls.length !== 1 || blocks.length !== 1) return [`${CRL_PEM_FILE} must hold one X509 CRL block, it holds ${blocks.map((block) => block.label).join(', ') || 'none'}`]
    der = (crls[0] as { der: Buffer }).der
    crl = readCrl(der)
  } catch (error) {
    return [`${CRL_PEM_FILE} cannot be read as a CRL: ${messageOf(error)}`]
  }
  const problems = issuerProblems(crl, trust, expected.fleetCaSha256)
  if (expected.crl) {
    if (crl.number === undefined || crl.number < BigInt(expected.crl.number))
      problems.push(`${CRL_PEM_FILE} has CRL number ${crl.number ?? 'none'}, older than number ${expected.crl.number} the manifest records`)
    else if (crl.number === BigInt(expected.crl.number) && sha256Hex(der) !== expected.crl.sha256)
      problems.push(`${CRL_PEM_FILE} is not the CRL number ${expected.crl.number} the manifest records (SHA-256 ${expected.crl.sha256})`)
  }
  problems.push(...entryProblems(crl, expected))
  return problems
}

/** Signed by the fleet CA of the manifest, with its subject as issuer and its key identifier. */
function issuerProblems(crl: ParsedCrl, trust: readonly X509Certificate[], fleetCaSha256: string): string[] {
  const ca = trust.find((certificate) => sha256Hex(certificate.raw) === fleetCaSha256)
  if (!ca) return [`${CRL_PEM_FILE} cannot be checked: fleet-ca-cert does not hold the manifest's fleet CA (SHA-256 ${fleetCaSha256})`]
  const parsed = parseCertificate(ca.raw)
  const problems: string[] = []
  if (crl.version !== 2) problems.push(`${CRL_PEM_FILE} is a v${crl.version} CRL, not v2`)
  if (!crl.issuerDer.equals(parsed.subjectDer)) problems.push(`${CRL_PEM_FILE}'s issuer is not the fleet CA's subject (${ca.subject.replace(/\n/g, ', ')})`)
  if (!crl.innerSignatureAlgorithmDer.equals(crl.signatureAlgorithmDer)) problems.push(`${CRL_PEM_FILE}'s two signature algorithms differ`)
  const algorithm = readSingle(crl.signatureAlgorithmDer)
  const oidNode = readSingle(crl.signatureAlgorithmDer.subarray(algorithm.contentStart))
  const hash = SIGNATURE_HASHES[decodeOid(contentsOf(crl.signatureAlgorithmDer.subarray(algorithm.contentStart), oidNode))]
  let signed = false
  try {
    signed = hash !== undefined && verify(hash, crl.tbs, ca.publicKey, crl.signature)
  } catch {
    signed = false
  }
  if (!signed) problems.push(`${CRL_PEM_FILE}'s signature does not verify with the fleet CA's public key`)
  const ski = parsed.extensions.find((extension) => extension.oid === EXTENSION_OID.subjectKeyIdentifier)
  if (ski) {
    const keyId = contentsOf(ski.value, readSingle(ski.value))
    if (!crl.authorityKeyIdentifier?.equals(keyId))
      problems.push(
        `${CRL_PEM_FILE}'s authorityKeyIdentifier is ${crl.authorityKeyIdentifier?.toString('hex') ?? 'missing'}, the fleet CA's key identifier is ${keyId.toString('hex')}`
      )
  }
  if (crl.number === undefined) problems.push(`${CRL_PEM_FILE} has no cRLNumber`)
  return problems
}

/** Exactly the superseded and revoked certificates, each with its reason. */
function entryProblems(crl: ParsedCrl, expected: CrlExpectation): string[] {
  const wanted = new Map<string, { reason: CrlReason; why: string }>()
  for (const [serialNumber, reason] of expected.superseded) {
    const key = normalizeSerialHex(serialNumber) ?? serialNumber
    wanted.set(key, { reason: crlReasonForSuperseded(reason), why: `superseded (${reason})` })
  }
  for (const revoked of expected.revoked) {
    const key = normalizeSerialHex(revoked.serialNumber) ?? revoked.serialNumber
    wanted.set(key, { reason: revoked.reason as CrlReason, why: `revoked (device ${revoked.serial})` })
  }
  const differences: string[] = []
  const listed = new Set<string>()
  for (const entry of crl.entries) {
    const key = normalizeSerialHex(entry.serialNumber) ?? entry.serialNumber
    if (listed.has(key)) differences.push(`certificate ${key} is listed twice`)
    listed.add(key)
    const want = wanted.get(key)
    if (!want) {
      differences.push(`certificate ${key} is listed, but the manifest has it neither superseded nor revoked`)
      continue
    }
    const code = CRL_REASON_CODES[want.reason]
    if (entry.reasonCode !== code)
      differences.push(`certificate ${key}, ${want.why}, is listed with reason ${REASON_NAMES.get(entry.reasonCode) ?? entry.reasonCode}, not ${want.reason}`)
  }
  for (const [key, want] of wanted) if (!listed.has(key)) differences.push(`certificate ${key}, ${want.why}, is not listed`)
  if (differences.length === 0) return []
  const more = differences.length > SHOWN ? ` (and ${differences.length - SHOWN} more)` : ''
  return [
    `${CRL_PEM_FILE} does not list exactly the manifest's superseded and revoked certificates: ${differences.slice(0, SHOWN).join('; ')}${more}; run credbake crl to sign a current one`
  ]
}
