// Certificate checks of `credbake verify`: the device certificate found in the output chains to
// the trust given (node:crypto signature checks, intermediates taken from the bundle's chain
// file), matches its manifest entry and the profile in the manifest header, and the private key
// found beside it is the certificate's key.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto'
import { ecSpkiOfPkcs8 } from '../issue/keys.js'
import { AsnConvert } from '@peculiar/asn1-schema'
import {
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  KeyUsage,
  SubjectKeyIdentifier,
  id_kp_OCSPSigning,
  id_kp_clientAuth,
  id_kp_codeSigning,
  id_kp_emailProtection,
  id_kp_serverAuth,
  id_kp_timeStamping,
  type Name
} from '@peculiar/asn1-x509'
import { InputError, messageOf } from '../errors.js'
import { splitSpki } from '../issue/der.js'
import { formatName } from '../issue/subject.js'
import type { ManifestDevice, ManifestHeader } from '../review/types.js'
import { colonHex, sha1, sha256Hex } from '../util/hash.js'
import { readPemBlocks } from '../util/pem.js'
import { INPUT_LIMITS, readBoundedText } from '../util/bounded-read.js'

const PURPOSES: Record<string, string> = {
  serverAuth: id_kp_serverAuth,
  clientAuth: id_kp_clientAuth,
  codeSigning: id_kp_codeSigning,
  emailProtection: id_kp_emailProtection,
  timeStamping: id_kp_timeStamping,
  OCSPSigning: id_kp_OCSPSigning
}

/** The certificates of a PEM file given as --fleet-ca-cert (the trust anchors). */
export async function loadTrust(file: string): Promise<X509Certificate[]> {
  let text: string
  try {
    text = await readBoundedText(file, { maxBytes: INPUT_LIMITS.pem, what: 'a PEM file' })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    throw new InputError(`fleet-ca-cert ${file} cannot be read: ${code === 'ENOENT' ? 'it does not exist' : messageOf(error)}`, { input: 'fleet-ca-cert', file })
  }
  const certificates = certificatesIn(text)
  if (typeof certificates === 'string') throw new InputError(`fleet-ca-cert ${file}: ${certificates}`, { input: 'fleet-ca-cert', file })
  return certificates
}

/** The CERTIFICATE blocks of a PEM text, or a sentence saying why there are none. */
export function certificatesIn(text: string): X509Certificate[] | string {
  const blocks = readPemBlocks(text)
  if ('problem' in blocks) return blocks.problem
  const certificates: X509Certificate[] = []
  for (const block of blocks.filter((b) => b.label === 'CERTIFICATE')) {
    try {
      certificates.push(new X509Certificate(block.der))
    } catch (error) {
      return `the certificate at line ${block.line} cannot be parsed (${messageOf(error)})`
    }
  }
  return certificates.length > 0 ? certificates : 'it holds no CERTIFICATE block'
}

function nameText(name: Name): string {
  return formatName(name.map((rdn) => rdn.map((a) => ({ oid: a.type, value: a.value.anyValue ? `#${a.value.toString()}` : a.value.toString() }))))
}

function same(a: X509Certificate, b: X509Certificate): boolean {
  return a.raw.equals(b.raw)
}

function spkiOf(certificate: X509Certificate): Buffer {
  return certificate.publicKey.export({ type: 'spki', format: 'der' })
}

/** The chain from `leaf` up to a certificate in `trust`, each link's signature checked; or why there is none. */
function chainToTrust(leaf: X509Certificate, trust: readonly X509Certificate[], intermediates: readonly X509Certificate[]): X509Certificate[] | string {
  const candidates = [...trust, ...intermediates]
  const chain = [leaf]
  let current = leaf
  for (let depth = 0; depth < 8; depth++) {
    if (depth > 0 && trust.some((t) => same(t, current))) return chain
    const issuer = candidates.find((c) => !same(c, current) && current.checkIssued(c) && current.verify(c.publicKey))
    if (!issuer) {
      if (depth === 0 && candidates.some((c) => current.checkIssued(c))) return `its signature does not verify with the public key of its issuer (${current.issuer.replace(/\n/g, ', ')})`
      return `it does not chain to fleet-ca-cert (issuer ${current.issuer.replace(/\n/g, ', ')} is not there or did not sign it)`
    }
    if (!issuer.ca) return `its issuer ${issuer.subject.replace(/\n/g, ', ')} is not a CA`
    chain.push(issuer)
    current = issuer
  }
  return 'its chain is longer than 8 certificates'
}

function iso(date: Date): string {
  return date.toISOString()
}

/**
 * Problems of the device certificate `pemText` (from the bundle's certificate file; further
 * certificates in it, and those of `chainPem`, are intermediates) against its manifest entry, the
 * header's profile and `trust`. `name` is how messages call the file, e.g. "client.pem".
 */
export function checkCertificate(
  name: string,
  pemText: string,
  device: ManifestDevice,
  header: ManifestHeader,
  trust: readonly X509Certificate[],
  chainPem?: string
): { problems: string[]; certificate?: X509Certificate } {
  const found = certificatesIn(pemText)
  if (typeof found === 'string') return { problems: [`${name} holds no readable certificate: ${found}`] }
  const [certificate, ...more] = found as [X509Certificate, ...X509Certificate[]]
  const fromChain = chainPem === undefined ? [] : certificatesIn(chainPem)
  const intermediates = [...more, ...(typeof fromChain === 'string' ? [] : fromChain)]
  const problems: string[] = []
  const entry = device.certificate
  const sha256 = sha256Hex(certificate.raw)
  if (sha256 !== entry.sha256) problems.push(`${name} holds certificate ${sha256}, the manifest records ${entry.sha256}`)
  const serial = certificate.serialNumber.toLowerCase().padStart(32, '0')
  if (serial !== entry.serialNumber) problems.push(`${name}: serial number ${serial}, the manifest records ${entry.serialNumber}`)
  const publicKeySha256 = sha256Hex(spkiOf(certificate))
  if (publicKeySha256 !== entry.publicKeySha256) problems.push(`${name}: public key SHA-256 ${publicKeySha256}, the manifest records ${entry.publicKeySha256}`)

  let asn1: Certificate
  try {
    asn1 = AsnConvert.parse(certificate.raw, Certificate)
  } catch (error) {
    problems.push(`${name}: the certificate cannot be decoded (${messageOf(error)})`)
    return { problems, certificate }
  }
  const subject = nameText(asn1.tbsCertificate.subject)
  if (subject !== entry.subject) problems.push(`${name}: subject "${subject}", the manifest records "${entry.subject}"`)
  const notBefore = asn1.tbsCertificate.validity.notBefore.getTime()
  const notAfter = asn1.tbsCertificate.validity.notAfter.getTime()
  if (iso(notBefore) !== iso(new Date(entry.notBefore))) problems.push(`${name}: valid from ${iso(notBefore)}, the manifest records ${entry.notBefore}`)
  if (iso(notAfter) !== iso(new Date(entry.notAfter))) problems.push(`${name}: valid until ${iso(notAfter)}, the manifest records ${entry.notAfter}`)

  const chain = chainToTrust(certificate, trust, intermediates)
  if (typeof chain === 'string') problems.push(`${name}: ${chain}`)
  else {
    const issuer = chain[1]!
    if (sha256Hex(issuer.raw) !== header.fleetCa.sha256) problems.push(`${name}: issued by ${issuer.subject.replace(/\n/g, ', ')} (SHA-256 ${sha256Hex(issuer.raw)}), not by the manifest's fleet CA (${header.fleetCa.sha256})`)
    if (notBefore.getTime() < new Date(issuer.validFrom).getTime() || notAfter.getTime() > new Date(issuer.validTo).getTime()) {
      problems.push(`${name}: validity ${iso(notBefore)}..${iso(notAfter)} is not within its CA's (${iso(new Date(issuer.validFrom))}..${iso(new Date(issuer.validTo))})`)
    }
    problems.push(...profileProblems(name, certificate, asn1, header))
  }
  return { problems, certificate }
}

/** The certificate's extensions against the header's profile: each present, critical as recorded, with that value. */
function profileProblems(name: string, certificate: X509Certificate, asn1: Certificate, header: ManifestHeader): string[] {
  const problems: string[] = []
  const extensions = asn1.tbsCertificate.extensions ?? []
  const expected = header.profile.extensions
  for (const spec of expected) {
    const extension = extensions.find((e) => e.extnID === spec.oid)
    if (!extension) {
      problems.push(`${name}: the ${spec.name} extension is missing`)
      continue
    }
    if (extension.critical !== spec.critical) problems.push(`${name}: ${spec.name} is ${extension.critical ? '' : 'not '}critical, the profile says ${spec.critical ? 'critical' : 'not critical'}`)
    const value = extension.extnValue.buffer
    let actual: string
    let wanted = spec.value
    try {
      switch (spec.name) {
        case 'basicConstraints':
          actual = AsnConvert.parse(value, BasicConstraints).cA ? 'CA:TRUE' : 'CA:FALSE'
          break
        case 'keyUsage':
          actual = AsnConvert.parse(value, KeyUsage).toJSON().sort().join(', ')
          wanted = spec.value.split(',').map((v) => v.trim()).filter(Boolean).sort().join(', ')
          break
        case 'extendedKeyUsage':
          actual = [...AsnConvert.parse(value, ExtendedKeyUsage)].map((o) => Object.keys(PURPOSES).find((k) => PURPOSES[k] === o) ?? o).sort().join(', ')
          wanted = spec.value.split(',').map((v) => v.trim()).filter(Boolean).sort().join(', ')
          break
        case 'subjectKeyIdentifier': {
          const keyId = Buffer.from(AsnConvert.parse(value, SubjectKeyIdentifier).buffer)
          // Method 1 of RFC 5280 §4.2.1.2: SHA-1 of the subjectPublicKey BIT STRING's value.
          actual = keyId.equals(sha1(splitSpki(spkiOf(certificate)).subjectPublicKey)) ? 'sha1(subjectPublicKey)' : `keyid:${colonHex(keyId)}`
          break
        }
        case 'authorityKeyIdentifier': {
          const keyId = AsnConvert.parse(value, AuthorityKeyIdentifier).keyIdentifier
          actual = keyId ? `keyid:${colonHex(Buffer.from(keyId.buffer))}` : 'no keyid'
          break
        }
        default:
          // subjectAltName: a per-device template; its presence and criticality are what the profile fixes.
          continue
      }
    } catch (error) {
      problems.push(`${name}: the ${spec.name} extension cannot be decoded (${messageOf(error)})`)
      continue
    }
    if (actual !== wanted) problems.push(`${name}: ${spec.name} is ${actual}, the profile says ${spec.value}`)
  }
  const known = new Set(expected.map((e) => e.oid))
  for (const extension of extensions) if (!known.has(extension.extnID)) problems.push(`${name}: extension ${extension.extnID} is not in the profile`)
  return problems
}

/** A problem when `keyPem` is not the private key of `certificate` (undefined when it is). */
export function checkKeyMatches(name: string, keyPem: Buffer, certificate: X509Certificate): string | undefined {
  let publicDer: Buffer
  try {
    publicDer = fastSpki(keyPem) ?? createPublicKey(createPrivateKey(keyPem)).export({ type: 'spki', format: 'der' })
  } catch (error) {
    return `${name} cannot be read as a private key (${messageOf(error).split('\n')[0]})`
  }
  return publicDer.equals(spkiOf(certificate)) ? undefined : `${name} does not match the certificate`
}

/** The SPKI of a one-block PKCS#8 PEM of credbake's EC layout, without OpenSSL's decoders. */
function fastSpki(keyPem: Buffer): Buffer | undefined {
  const match = /^-----BEGIN PRIVATE KEY-----\r?\n([A-Za-z0-9+/=\r\n]+)-----END PRIVATE KEY-----\r?\n?$/.exec(keyPem.toString('latin1'))
  return match ? ecSpkiOfPkcs8(Buffer.from(match[1] as string, 'base64')) : undefined
}
