// Issues one device credential in two steps: buildTbs (key pair or a CSR's public key, and the
// TBSCertificate built with the lean DER encoder from the compiled profile), then assemble (the
// certificate around a signature of the fleet CA's signer; sealSigned checks a signature from
// outside the process first). issueCredential does both with an in-memory CA key, which is what
// issuance workers do when the signer allows it.
import { createPublicKey, sign, verify, type KeyObject } from 'node:crypto'
import { AsnConvert } from '@peculiar/asn1-schema'
import { CertificationRequest } from '@peculiar/asn1-csr'
import type { FleetCa } from '../ca/types.js'
import { FleetCaError, ManifestError, messageOf } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { badSignatureError, signatureProblem } from '../signer/signature-check.js'
import { INPUT_LIMITS, readBoundedTextSync, whyUnreadable } from '../util/bounded-read.js'
import { sha256Hex } from '../util/hash.js'
import { escapeText } from '../util/log-text.js'
import { randomChunk } from '../util/random.js'
import { labelsOf, readPemBlocks, toPem } from '../util/pem.js'
import { SIGNATURE_HASHES, keyFacts, keyFamilyOf } from '../x509/algorithms.js'
import { bitString, childrenOf, encodingOf, explicit, readSingle, sequence, smallInteger, splitSpki, TAG, tlv, x509Time } from '../x509/der.js'
import { generateDeviceKeyPair } from './keys.js'
import { compileProfile, type CompiledProfile } from './profile.js'
import { renderSubject } from './subject.js'
import type { CertificateProfile } from '../shapes/profile.js'
import type { IssuedCredential } from './types.js'
import { describeLifetime, isoSeconds, lifetimeInput, validityFor } from '../x509/validity.js'

/** [0] EXPLICIT Version v3(2): the same 5 bytes in every certificate. */
const VERSION_V3 = explicit(0, smallInteger(2))

// Profiles are frozen data; compile each once per process (workers compile their own copy).
const compiledProfiles = new WeakMap<CertificateProfile, CompiledProfile>()

function compiled(profile: CertificateProfile): CompiledProfile {
  let result = compiledProfiles.get(profile)
  if (!result) {
    result = compileProfile(profile)
    compiledProfiles.set(profile, result)
  }
  return result
}

/** A device certificate before its signature: what the signer signs, and the rest of the credential. */
export interface UnsignedCredential {
  device: Device
  /** DER of the TBSCertificate: the bytes the fleet CA signs. */
  tbs: Buffer
  /** PKCS#8 PEM of a generated key; absent for CSR rows. Secret. */
  privateKeyPem?: string
  serialNumber: string
  subject: string
  publicKeySha256: string
  notBefore: Date
  notAfter: Date
}

/**
 * The TBSCertificate of one device per the profile. Generates a key pair of `profile.keyType`, or,
 * when `device.csr` is set, verifies that CSR and certifies its public key (no private key then).
 */
export function buildTbs(ca: FleetCa, profile: CertificateProfile, device: Device, now: Date = new Date()): UnsignedCredential {
  const template = compiled(profile)
  const keyPair = device.csr === undefined ? generateDeviceKeyPair(profile.keyType) : undefined
  const spkiDer = keyPair ? keyPair.spkiDer : publicKeyFromCsr(device, profile)

  const subject = renderSubject(template.subject, device)
  const { notBefore, notAfter } = validityFor(profile.lifetime, now, profile.backdateSeconds, ca.notBefore)
  // loadFleetCa checked this at start; a long run can still drift past the CA's end.
  if (notAfter.getTime() > ca.notAfter.getTime()) {
    throw new FleetCaError(
      `device ${device.serial}: the lifetime (${describeLifetime(profile.lifetime)}) would end ${isoSeconds(notAfter)}, after the fleet CA expires on ${isoSeconds(ca.notAfter)}`,
      { input: lifetimeInput(profile.lifetime), serial: device.serial }
    )
  }
  const serial = randomSerial(profile.serialNumberBytes)
  const context = { device, subjectPublicKey: splitSpki(spkiDer).subjectPublicKey }
  const extensions = template.extensions.map((extension) => (typeof extension === 'function' ? extension(context) : extension))

  const tbs = sequence(
    VERSION_V3,
    tlv(TAG.integer, serial),
    ca.signatureAlgorithmDer,
    ca.subjectDer,
    sequence(x509Time(notBefore), x509Time(notAfter)),
    subject.der,
    spkiDer,
    explicit(3, sequence(...extensions))
  )
  return {
    device,
    tbs,
    ...(keyPair ? { privateKeyPem: keyPair.privateKeyPem } : {}),
    serialNumber: serial.toString('hex'),
    subject: subject.text,
    publicKeySha256: sha256Hex(spkiDer),
    notBefore,
    notAfter
  }
}

/** The certificate: SEQUENCE { tbsCertificate, signatureAlgorithm, BIT STRING signature }. */
export function assemble(ca: FleetCa, unsigned: UnsignedCredential, signature: Uint8Array): IssuedCredential {
  const certificateDer = sequence(unsigned.tbs, ca.signatureAlgorithmDer, bitString(signature))
  return {
    device: unsigned.device,
    certificateDer,
    certificatePem: toPem('CERTIFICATE', certificateDer),
    ...(unsigned.privateKeyPem !== undefined ? { privateKeyPem: unsigned.privateKeyPem } : {}),
    serialNumber: unsigned.serialNumber,
    subject: unsigned.subject,
    sha256: sha256Hex(certificateDer),
    publicKeySha256: unsigned.publicKeySha256,
    notBefore: unsigned.notBefore,
    notAfter: unsigned.notAfter
  }
}

/**
 * The certificate around a signature from outside this process (a token, KMS or signer program),
 * after checking it with the fleet CA's public key: a bad one throws a FleetCaError naming
 * `signer` (its description), the device and the fault, and nothing is assembled.
 */
export function sealSigned(ca: FleetCa, unsigned: UnsignedCredential, signature: Uint8Array, signer: string): IssuedCredential {
  const problem = signatureProblem(ca.publicKey, ca.signatureHash, unsigned.tbs, signature)
  if (problem !== undefined) throw badSignatureError(signer, unsigned.device.serial, problem)
  return assemble(ca, unsigned, signature)
}

/** buildTbs + sign with the in-memory CA key (node:crypto; EC signatures come out DER) + assemble. */
export function issueCredential(ca: FleetCa, profile: CertificateProfile, device: Device, now: Date, caKey: KeyObject): IssuedCredential {
  const unsigned = buildTbs(ca, profile, device, now)
  return assemble(ca, unsigned, sign(ca.signatureHash, unsigned.tbs, caKey))
}

/**
 * CSPRNG serial: positive (top bit clear) with a non-zero first octet, so the INTEGER is
 * exactly `bytes` octets long (no 0x00 pad, no shortening). 8·bytes − 1 bits of entropy.
 */
export function randomSerial(bytes: number): Buffer {
  const serial = randomChunk(bytes)
  serial[0] = (serial[0] ?? 0) & 0x7f
  while (serial[0] === 0) serial[0] = (randomChunk(1)[0] ?? 0) & 0x7f
  return serial
}

/** The SubjectPublicKeyInfo of a device's CSR, after checking the CSR's self-signature. */
function publicKeyFromCsr(device: Device, profile: CertificateProfile): Buffer {
  const csrPath = device.csr as string
  const fail = (reason: string, cause?: unknown): never => {
    throw new ManifestError(`device ${device.serial}: csr ${escapeText(csrPath)}: ${reason}`, {
      file: device.source.file,
      line: device.source.line,
      serial: device.serial,
      cause
    })
  }
  let text: string
  try {
    // The manifest reader checked it already; it may have changed since (a FIFO now must not hang
    // an issuance worker, a large file must not fill its memory).
    text = readBoundedTextSync(csrPath, { maxBytes: INPUT_LIMITS.csr, what: 'a CSR' })
  } catch (error) {
    return fail(whyUnreadable(error), error)
  }

  const blocks = readPemBlocks(text)
  if ('problem' in blocks) return fail(blocks.problem)
  const block = blocks.find((candidate) => candidate.label === 'CERTIFICATE REQUEST' || candidate.label === 'NEW CERTIFICATE REQUEST')
  if (!block) return fail(`holds no CERTIFICATE REQUEST block (found ${labelsOf(blocks)})`)
  const der = block.der

  let request: CertificationRequest
  let infoDer: Buffer
  let spkiDer: Buffer
  let publicKey: KeyObject
  try {
    request = AsnConvert.parse(der, CertificationRequest)
    // The signature covers the CertificationRequestInfo bytes exactly as sent: slice, do not re-encode.
    const [info] = childrenOf(der, readSingle(der))
    if (!info) throw new Error('no CertificationRequestInfo')
    const [, , spki] = childrenOf(der, info)
    if (!spki || spki.tag !== TAG.sequence) throw new Error('no SubjectPublicKeyInfo')
    infoDer = encodingOf(der, info)
    spkiDer = Buffer.from(encodingOf(der, spki))
    publicKey = createPublicKey({ key: spkiDer, format: 'der', type: 'spki' })
  } catch (error) {
    return fail(`is not a valid PKCS#10 certificate request (${messageOf(error)})`, error)
  }

  const algorithm = request.signatureAlgorithm.algorithm
  const hash = SIGNATURE_HASHES[algorithm]
  if (hash === undefined) fail(`is signed with an unsupported algorithm (${algorithm})`)
  if (!verify(hash ?? null, infoDer, publicKey, Buffer.from(request.signature))) fail('has an invalid signature: it was altered, or not signed by its own key')

  const facts = keyFacts(publicKey)
  if ('unsupported' in facts) return fail(facts.unsupported)
  // keyUsage depends on the key family (keyEncipherment is RSA-only), and the recorded profile
  // states one keyUsage: the CSR's key must be of the family key-type names.
  if (facts.family !== keyFamilyOf(profile.keyType)) {
    fail(`has an ${facts.description} key, but key-type is ${profile.keyType}; set key-type to the CSRs' key family`)
  }
  return spkiDer
}
