// Loads the fleet CA (certificate, optional chain) and refuses, before any device is issued, a CA
// that would produce certificates a server rejects: not a CA, signer key not matching, not valid
// now, or ending before the requested device lifetime does. The private key stays in its signer
// (src/signer): this file only checks that the signer holds the certificate's key.
import { X509Certificate, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import {
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  KeyUsageFlags,
  SubjectKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth,
  anyExtendedKeyUsage,
  type Name
} from '@peculiar/asn1-x509'
import { FleetCaError, messageOf } from '../errors.js'
import { keyFacts } from '../x509/algorithms.js'
import { childrenOf, encodingOf, readSingle, splitSpki, TAG } from '../x509/der.js'
import { formatName } from '../x509/name.js'
import { describeDuration, describeLifetime, isoSeconds, lifetimeEnd, lifetimeInput } from '../x509/validity.js'
import type { Lifetime, PemSource } from '../settings/types.js'
import { checkSignerHash, checkSignerKey, checkTestSignature } from '../signer/check.js'
import { openPemSigner, PRIVATE_KEY_TYPES } from '../signer/pem.js'
import { openSigner } from '../signer/registry.js'
import type { CaSigner, SignerOpenContext } from '../signer/types.js'
import { sha1, sha256Hex } from '../util/hash.js'
import { describeOrigin, labelsOf, parsePem, toPem, type PemBlock } from '../util/pem.js'
import type { FleetCa } from './types.js'

export interface LoadFleetCaInput {
  cert: PemSource
  /** The signer of the fleet CA key; or `key` (a PEM key, opened here as an in-memory signer). */
  signer?: CaSigner
  key?: PemSource
  passphrase?: string
  lifetime: Lifetime
  /** Defaults to the current time. */
  now?: Date
}

/** One parsed certificate of fleet-ca-cert, with what the checks need. */
interface ParsedCertificate {
  index: number
  der: Buffer
  node: X509Certificate
  asn1: Certificate
  subjectDer: Buffer
  issuerDer: Buffer
  subjectPublicKey: Buffer
  subject: string
  notBefore: Date
  notAfter: Date
  /** Decoded here, under parseCertificate's error handling, so the checks below cannot throw raw library errors. */
  publicKey: KeyObject
  basicConstraints?: BasicConstraints
  keyUsage?: KeyUsage
  extendedKeyUsage?: ExtendedKeyUsage
  subjectKeyIdentifier?: Buffer
}

/**
 * Reads and checks fleet-ca-cert, and that the signer (or the PEM `key`) holds its key: the public
 * keys must be equal. The test signature is asynchronous: see checkFleetCaSigner / openFleetCa.
 */
export function loadFleetCa(input: LoadFleetCaInput): FleetCa {
  const now = input.now ?? new Date()
  const certificates = readCertificates(input.cert)
  const signer = input.signer ?? (input.key ? openPemSigner(input.key, input.passphrase) : undefined)
  if (!signer) throw new FleetCaError('fleet-ca-key is required', { input: 'fleet-ca-key' })

  const ca = certificates[0] as ParsedCertificate
  checkSignerKey(signer, certificates, describeOrigin(input.cert))
  const facts = keyFacts(ca.publicKey)
  if ('unsupported' in facts) throw new FleetCaError(`${describeOrigin(input.cert)}: the fleet CA's key: ${facts.unsupported}`, { input: input.cert.input })
  checkSignerHash(signer, facts.hash)
  checkChainOrder(certificates, input.cert)
  checkIsCa(ca, input.cert)
  for (const certificate of certificates) checkValidNow(certificate, now, input.cert)
  checkLifetime(ca, input.lifetime, now)

  return {
    der: ca.der,
    pem: toPem('CERTIFICATE', ca.der),
    chainPems: certificates.slice(1).map((certificate) => toPem('CERTIFICATE', certificate.der)),
    isIntermediate: !ca.subjectDer.equals(ca.issuerDer),
    subjectDer: ca.subjectDer,
    subject: ca.subject,
    keyIdentifier: subjectKeyIdentifier(ca) ?? sha1(ca.subjectPublicKey),
    sha256: sha256Hex(ca.der),
    notBefore: ca.notBefore,
    notAfter: ca.notAfter,
    keyDescription: facts.description,
    publicKey: ca.publicKey,
    signatureHash: facts.hash,
    signatureAlgorithmDer: facts.signatureAlgorithmDer,
    signatureAlgorithmName: facts.signatureAlgorithmName
  }
}

/** A test signature by the signer must verify with the CA certificate's public key. */
export async function checkFleetCaSigner(ca: FleetCa, signer: CaSigner): Promise<void> {
  await checkTestSignature(signer, ca.publicKey, ca.signatureHash)
}

export interface OpenFleetCaInput {
  cert: PemSource
  /** fleet-ca-key: a PEM key (text) or a key URI. */
  key: PemSource
  passphrase?: string
  pkcs11Module?: string
  lifetime: Lifetime
  now?: Date
  warn?: (message: string) => void
}

/**
 * Opens the signer named by fleet-ca-key, loads and checks the fleet CA against it and makes a test
 * signature. The caller closes the signer; on failure it is closed here.
 */
export async function openFleetCa(input: OpenFleetCaInput): Promise<{ ca: FleetCa; signer: CaSigner }> {
  const context: SignerOpenContext = {
    origin: input.key.origin,
    ...(input.passphrase ? { passphrase: input.passphrase } : {}),
    ...(input.pkcs11Module ? { pkcs11Module: input.pkcs11Module } : {}),
    ...(input.warn ? { warn: input.warn } : {})
  }
  // The certificate is read first: its errors need no token, KMS or program.
  context.certificatePublicKey = readCertificates(input.cert)[0]?.publicKey
  const signer = await openSigner(input.key.text, context)
  try {
    const ca = loadFleetCa({ cert: input.cert, signer, lifetime: input.lifetime, ...(input.now ? { now: input.now } : {}) })
    await checkFleetCaSigner(ca, signer)
    return { ca, signer }
  } catch (error) {
    await signer.close().catch(() => undefined)
    throw error
  }
}

function readCertificates(source: PemSource): ParsedCertificate[] {
  const blocks = parsePem(source.text, source, FleetCaError)
  const certificateBlocks = blocks.filter((block) => block.label === 'CERTIFICATE')
  if (certificateBlocks.length === 0) {
    const swapped = blocks.some((block) => block.label in PRIVATE_KEY_TYPES) ? ' (it holds a private key: are fleet-ca-cert and fleet-ca-key swapped?)' : ''
    throw new FleetCaError(`${describeOrigin(source)}: expected a CERTIFICATE block, found ${labelsOf(blocks)}${swapped}`, { input: source.input })
  }
  return certificateBlocks.map((block, index) => parseCertificate(block, index, source))
}

function parseCertificate(block: PemBlock, index: number, source: PemSource): ParsedCertificate {
  try {
    const node = new X509Certificate(block.der)
    const asn1 = AsnConvert.parse(block.der, Certificate)
    // Slice the Names out of the DER as they are: device certificates must repeat the issuer
    // byte for byte, which re-encoding a parsed Name does not guarantee.
    const root = readSingle(block.der)
    const [tbs] = childrenOf(block.der, root)
    if (!tbs) throw new Error('no TBSCertificate')
    const fields = childrenOf(block.der, tbs)
    const offset = fields[0]?.tag === 0xa0 ? 1 : 0
    const [issuer, , subject, spki] = fields.slice(offset + 2)
    if (!issuer || !subject || !spki || issuer.tag !== TAG.sequence || subject.tag !== TAG.sequence) throw new Error('malformed TBSCertificate')
    const extension = (oid: string): ArrayBuffer | undefined => asn1.tbsCertificate.extensions?.find((candidate) => candidate.extnID === oid)?.extnValue.buffer
    const decode = <T>(oid: string, type: new () => T, name: string): T | undefined => {
      const value = extension(oid)
      if (value === undefined) return undefined
      try {
        return AsnConvert.parse(value, type)
      } catch (error) {
        throw new Error(`its ${name} extension cannot be decoded (${messageOf(error)})`)
      }
    }
    const ski = decode(id_ce_subjectKeyIdentifier, SubjectKeyIdentifier, 'subjectKeyIdentifier')
    let publicKey: KeyObject
    try {
      publicKey = node.publicKey
    } catch (error) {
      throw new Error(`its public key cannot be decoded (${messageOf(error)})`)
    }
    return {
      index,
      der: block.der,
      node,
      asn1,
      publicKey,
      basicConstraints: decode(id_ce_basicConstraints, BasicConstraints, 'basicConstraints'),
      keyUsage: decode(id_ce_keyUsage, KeyUsage, 'keyUsage'),
      extendedKeyUsage: decode(id_ce_extKeyUsage, ExtendedKeyUsage, 'extendedKeyUsage'),
      subjectKeyIdentifier: ski ? Buffer.from(ski.buffer) : undefined,
      subjectDer: Buffer.from(encodingOf(block.der, subject)),
      issuerDer: Buffer.from(encodingOf(block.der, issuer)),
      subjectPublicKey: Buffer.from(splitSpki(encodingOf(block.der, spki)).subjectPublicKey),
      subject: nameText(asn1.tbsCertificate.subject),
      notBefore: asn1.tbsCertificate.validity.notBefore.getTime(),
      notAfter: asn1.tbsCertificate.validity.notAfter.getTime()
    }
  } catch (error) {
    throw new FleetCaError(`${describeOrigin(source)}: certificate ${index + 1} (line ${block.line}) is not a valid X.509 certificate: ${messageOf(error)}`, {
      input: source.input,
      cause: error
    })
  }
}

function nameText(name: Name): string {
  return formatName(
    name.map((rdn) =>
      rdn.map((attribute) => ({
        oid: attribute.type,
        // Values that are no directory string come back as hex: RFC 4514 writes those as #hex.
        value: attribute.value.anyValue ? `#${attribute.value.toString()}` : attribute.value.toString()
      }))
    )
  )
}

/** Each certificate after the first must be the issuer of the one before it. */
function checkChainOrder(certificates: ParsedCertificate[], source: PemSource): void {
  for (let i = 0; i + 1 < certificates.length; i += 1) {
    const child = certificates[i] as ParsedCertificate
    const parent = certificates[i + 1] as ParsedCertificate
    if (!(child.node.checkIssued(parent.node) && child.node.verify(parent.publicKey))) {
      throw new FleetCaError(
        `${describeOrigin(source)}: certificate ${i + 1} (${child.subject}) was not issued by certificate ${i + 2} (${parent.subject}); ` +
          'list the signing CA first, then each issuer in order up to the root',
        { input: source.input }
      )
    }
  }
}

function checkIsCa(ca: ParsedCertificate, source: PemSource): void {
  const fail = (reason: string): never => {
    throw new FleetCaError(`${describeOrigin(source)}: the fleet CA certificate (${ca.subject}) is not a CA: ${reason}`, { input: source.input })
  }

  if (!ca.basicConstraints) fail('it has no basicConstraints extension (CA:TRUE is required)')
  else if (!ca.basicConstraints.cA) fail('its basicConstraints say CA:FALSE')

  const usage = ca.keyUsage
  if (usage) {
    if (!(usage.toNumber() & KeyUsageFlags.keyCertSign)) fail(`its keyUsage (${usage.toJSON().join(', ') || 'none'}) lacks keyCertSign`)
  }

  // OpenSSL (and so most TLS servers) applies a CA's extendedKeyUsage to the certificates below
  // it: a CA limited to, say, serverAuth makes every device certificate fail client authentication.
  const purposes = ca.extendedKeyUsage
  if (purposes) {
    if (!purposes.includes(id_kp_clientAuth) && !purposes.includes(anyExtendedKeyUsage)) {
      throw new FleetCaError(
        `${describeOrigin(source)}: the fleet CA certificate (${ca.subject}) has an extendedKeyUsage without clientAuth (${purposes.join(', ')}); ` +
          'TLS servers would reject every device certificate it signs',
        { input: source.input }
      )
    }
  }
}

function checkValidNow(certificate: ParsedCertificate, now: Date, source: PemSource): void {
  const which = certificate.index === 0 ? 'the fleet CA certificate' : `certificate ${certificate.index + 1} of the chain`
  const validity = `valid ${isoSeconds(certificate.notBefore)} to ${isoSeconds(certificate.notAfter)}`
  if (now.getTime() > certificate.notAfter.getTime()) {
    throw new FleetCaError(
      `${describeOrigin(source)}: ${which} (${certificate.subject}) expired ${describeDuration(now.getTime() - certificate.notAfter.getTime())} ago (${validity})`,
      { input: source.input }
    )
  }
  if (now.getTime() < certificate.notBefore.getTime()) {
    throw new FleetCaError(
      `${describeOrigin(source)}: ${which} (${certificate.subject}) is not valid yet: it starts in ${describeDuration(certificate.notBefore.getTime() - now.getTime())} (${validity}); check this machine's clock`,
      { input: source.input }
    )
  }
}

/** Device certificates must not outlive the CA that signs them. */
function checkLifetime(ca: ParsedCertificate, lifetime: Lifetime, now: Date): void {
  const end = lifetimeEnd(lifetime, now)
  const overrun = end.getTime() - ca.notAfter.getTime()
  if (overrun <= 0) return
  const input = lifetimeInput(lifetime)
  const maxDays = Math.floor((ca.notAfter.getTime() - now.getTime()) / 86_400_000)
  const suggestion =
    maxDays >= 1
      ? `set validity-days to at most ${maxDays}, or not-after to ${isoSeconds(ca.notAfter)} or earlier`
      : `the fleet CA ends in less than a day: set not-after to ${isoSeconds(ca.notAfter)} or earlier`
  throw new FleetCaError(
    `the requested lifetime (${input}: ${describeLifetime(lifetime)}, ending ${isoSeconds(end)}) ends ${describeDuration(overrun)} after the fleet CA certificate ` +
      `(${ca.subject}) expires on ${isoSeconds(ca.notAfter)}; device certificates must not outlive their CA: ${suggestion}, or use a fleet CA valid for longer`,
    { input }
  )
}

function subjectKeyIdentifier(ca: ParsedCertificate): Buffer | undefined {
  const identifier = ca.subjectKeyIdentifier
  return identifier && identifier.length > 0 ? identifier : undefined
}
