// The device certificate profile as data (design "Certificate profile"). buildProfile writes the
// extension list with OIDs, criticality and value text, the output manifest records it verbatim,
// and compileProfile turns that same list into DER templates: the encoder walks the data, so what
// reviewers read is what gets encoded. Value text is a small language per extension, in the spirit
// of smallstep's certificate templates:
//   basicConstraints        "CA:FALSE"
//   keyUsage                "digitalSignature[, keyEncipherment ...]"    (RFC 5280 bit names)
//   extendedKeyUsage        "clientAuth[, serverAuth ...]"
//   subjectKeyIdentifier    "sha1(subjectPublicKey)"                     (RFC 5280 §4.2.1.2 method 1)
//   authorityKeyIdentifier  "keyid:AB:CD:..."                            (the fleet CA's key identifier)
//   subjectAltName          a SAN template (src/issue/san.ts)
import type { FleetCa } from '../ca/types.js'
import { InputError } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { KEY_TYPES, type KeyType, type Lifetime } from '../settings/types.js'
import { colonHex, sha1 } from '../util/hash.js'
import { EXTENSION_OID, keyFamilyOf } from '../x509/algorithms.js'
import { bitString, DER_TRUE, implicitPrimitive, octetString, oid, sequence } from '../x509/der.js'
import { renderSan, validateSanTemplate } from './san.js'
import { validateSubjectTemplate, type SubjectTemplate } from './subject.js'
import type { CertificateProfile, ExtensionSpec } from '../shapes/profile.js'
import { DEFAULT_BACKDATE_SECONDS, validateLifetime } from '../x509/validity.js'

export const PROFILE_NAME = 'credbake-device-v1'

/** RFC 5280 §4.1.2.2 allows 20 octets; 16 random ones give ≥ 64 bits of entropy with room. */
export const SERIAL_NUMBER_BYTES = 16

export interface ProfileOptions {
  keyType: KeyType
  /** DN template; default in settings is "CN={device-id}". */
  subject: string
  san?: string
  lifetime: Lifetime
}

/** The design's profile for this key type and CA. Validates the templates and lifetime first. */
export function buildProfile(opts: ProfileOptions, ca: FleetCa): CertificateProfile {
  if (!(KEY_TYPES as readonly string[]).includes(opts.keyType)) {
    throw new InputError(`key-type "${String(opts.keyType)}" is not one of ${KEY_TYPES.join(', ')}`, { input: 'key-type' })
  }
  validateSubjectTemplate(opts.subject)
  if (opts.san !== undefined) validateSanTemplate(opts.san)
  validateLifetime(opts.lifetime)

  const extension = (name: ExtensionSpec['name'], critical: boolean, value: string): ExtensionSpec => ({ name, oid: EXTENSION_OID[name], critical, value })
  const extensions: ExtensionSpec[] = [
    extension('basicConstraints', true, 'CA:FALSE'),
    // keyEncipherment only means something for RSA keys (RSA key transport); RFC 5480 and
    // RFC 8410 do not allow it on EC and Ed25519 keys.
    extension('keyUsage', true, keyFamilyOf(opts.keyType) === 'rsa' ? 'digitalSignature, keyEncipherment' : 'digitalSignature'),
    extension('extendedKeyUsage', false, 'clientAuth'),
    extension('subjectKeyIdentifier', false, 'sha1(subjectPublicKey)'),
    extension('authorityKeyIdentifier', false, `keyid:${colonHex(ca.keyIdentifier)}`)
  ]
  // RFC 5280 §4.2.1.6: non-critical, since the subject is never empty.
  if (opts.san !== undefined) extensions.push(extension('subjectAltName', false, opts.san))

  return deepFreeze({
    name: PROFILE_NAME,
    keyType: opts.keyType,
    subject: opts.subject,
    ...(opts.san !== undefined ? { san: opts.san } : {}),
    lifetime: { ...opts.lifetime },
    backdateSeconds: DEFAULT_BACKDATE_SECONDS,
    serialNumberBytes: SERIAL_NUMBER_BYTES,
    signatureAlgorithm: ca.signatureAlgorithmName,
    extensions
  })
}

// ---------------------------------------------------------------------------------------------
// Compilation: profile data → DER building blocks.

/** What a per-device extension needs. */
export interface DeviceContext {
  device: Device
  /** The BIT STRING contents of the SubjectPublicKeyInfo (without the unused-bits octet). */
  subjectPublicKey: Buffer
}

export interface CompiledProfile {
  profile: CertificateProfile
  subject: SubjectTemplate
  /** Each extension: its whole Extension DER, fixed or per device, in profile order. */
  extensions: Array<Buffer | ((context: DeviceContext) => Buffer)>
}

type ValueEncoder = (value: string, profile: CertificateProfile) => Buffer | ((context: DeviceContext) => Buffer)

const KEY_USAGE_BITS = ['digitalSignature', 'nonRepudiation', 'keyEncipherment', 'dataEncipherment', 'keyAgreement', 'keyCertSign', 'cRLSign', 'encipherOnly', 'decipherOnly']

const KEY_PURPOSES: Record<string, string> = {
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  OCSPSigning: '1.3.6.1.5.5.7.3.9'
}

const listOf = (value: string): string[] =>
  value
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean)

/** The value language of each extension (see the file comment). */
const VALUE_ENCODERS: Record<ExtensionSpec['name'], ValueEncoder> = {
  basicConstraints: (value) => {
    // cA is DEFAULT FALSE, so DER leaves it out: an empty SEQUENCE.
    if (value !== 'CA:FALSE') throw profileError('basicConstraints', value)
    return sequence()
  },
  keyUsage: (value) => {
    const bits = listOf(value).map((name) => {
      const bit = KEY_USAGE_BITS.indexOf(name)
      if (bit === -1) throw profileError('keyUsage', value)
      return bit
    })
    return namedBitString(bits)
  },
  extendedKeyUsage: (value) =>
    sequence(
      ...listOf(value).map((name) => {
        const purpose = KEY_PURPOSES[name]
        if (!purpose) throw profileError('extendedKeyUsage', value)
        return oid(purpose)
      })
    ),
  subjectKeyIdentifier: (value) => {
    if (value !== 'sha1(subjectPublicKey)') throw profileError('subjectKeyIdentifier', value)
    return (context) => octetString(sha1(context.subjectPublicKey))
  },
  authorityKeyIdentifier: (value) => {
    const match = /^keyid:((?:[0-9A-Fa-f]{2}:)*[0-9A-Fa-f]{2})$/.exec(value)
    if (!match?.[1]) throw profileError('authorityKeyIdentifier', value)
    // AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] IMPLICIT OCTET STRING, ... }
    return sequence(implicitPrimitive(0, Buffer.from(match[1].replace(/:/g, ''), 'hex')))
  },
  subjectAltName: (value) => {
    const template = validateSanTemplate(value)
    return (context) => renderSan(template, context.device)
  }
}

/** Turns the profile's data into DER building blocks; issueCredential caches the result. */
export function compileProfile(profile: CertificateProfile): CompiledProfile {
  const extensions = profile.extensions.map((spec) => {
    const head = [oid(spec.oid), ...(spec.critical ? [DER_TRUE] : [])]
    const value = VALUE_ENCODERS[spec.name](spec.value, profile)
    return typeof value === 'function' ? (context: DeviceContext) => sequence(...head, octetString(value(context))) : sequence(...head, octetString(value))
  })
  return { profile, subject: validateSubjectTemplate(profile.subject), extensions }
}

/** DER of a named BIT STRING: trailing zero bits removed (X.690 §11.2.2). */
function namedBitString(bits: number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0))
  const highest = Math.max(...bits)
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1)
  for (const bit of bits) bytes[bit >> 3] = (bytes[bit >> 3] ?? 0) | (0x80 >> (bit & 7))
  return bitString(bytes, 7 - (highest & 7))
}

function profileError(name: string, value: string): Error {
  // Profiles come from buildProfile, so this is a programming error, not user input.
  return new Error(`certificate profile: ${name} value "${value}" is not understood`)
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    for (const child of Object.values(value)) deepFreeze(child)
    Object.freeze(value)
  }
  return value
}
