// A reference TBSCertificate built the straightforward way, with @peculiar/asn1-x509 objects,
// from the same inputs as issueCredential (the random serial and key are passed in). The
// equivalence test compares it byte for byte with the lean encoder; the benchmark times both.
import { sign, type KeyObject } from 'node:crypto'
import { AsnConvert, OctetString } from '@peculiar/asn1-schema'
import {
  AlgorithmIdentifier,
  AttributeTypeAndValue,
  AttributeValue,
  AuthorityKeyIdentifier,
  BasicConstraints,
  Certificate,
  ExtendedKeyUsage,
  Extension,
  Extensions,
  GeneralName,
  KeyIdentifier,
  KeyUsage,
  KeyUsageFlags,
  Name,
  RelativeDistinguishedName,
  SubjectAlternativeName,
  SubjectKeyIdentifier,
  SubjectPublicKeyInfo,
  TBSCertificate,
  Validity,
  Version,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_extKeyUsage,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  id_kp_clientAuth
} from '@peculiar/asn1-x509'
import { createHash } from 'node:crypto'

export interface ReferenceInputs {
  serial: Buffer
  signatureAlgorithmDer: Buffer
  issuerDer: Buffer
  notBefore: Date
  notAfter: Date
  /** RDNs in encoded order: [oid, value, 'utf8' | 'printable' | 'ia5']. */
  subject: Array<[string, string, 'utf8' | 'printable' | 'ia5']>
  spkiDer: Buffer
  rsaKey: boolean
  caKeyIdentifier: Buffer
  /** SAN entries, already rendered. */
  san?: GeneralName[]
}

function extension(extnID: string, critical: boolean, value: unknown): Extension {
  return new Extension({ extnID, critical, extnValue: new OctetString(AsnConvert.serialize(value)) })
}

export function referenceTbs(inputs: ReferenceInputs): Buffer {
  const spki = AsnConvert.parse(inputs.spkiDer, SubjectPublicKeyInfo)
  const keyUsage = new KeyUsage(KeyUsageFlags.digitalSignature | (inputs.rsaKey ? KeyUsageFlags.keyEncipherment : 0))
  const extensions = [
    extension(id_ce_basicConstraints, true, new BasicConstraints({ cA: false })),
    extension(id_ce_keyUsage, true, keyUsage),
    extension(id_ce_extKeyUsage, false, new ExtendedKeyUsage([id_kp_clientAuth])),
    extension(id_ce_subjectKeyIdentifier, false, new SubjectKeyIdentifier(createHash('sha1').update(new Uint8Array(spki.subjectPublicKey)).digest())),
    extension(id_ce_authorityKeyIdentifier, false, new AuthorityKeyIdentifier({ keyIdentifier: new KeyIdentifier(inputs.caKeyIdentifier) })),
    ...(inputs.san ? [extension(id_ce_subjectAltName, false, new SubjectAlternativeName(inputs.san))] : [])
  ]
  const subject = new Name(
    inputs.subject.map(
      ([type, value, kind]) =>
        new RelativeDistinguishedName([
          new AttributeTypeAndValue({
            type,
            value: new AttributeValue(kind === 'utf8' ? { utf8String: value } : kind === 'printable' ? { printableString: value } : { ia5String: value })
          })
        ])
    )
  )
  const tbs = new TBSCertificate({
    version: Version.v3,
    serialNumber: new Uint8Array(inputs.serial).buffer,
    signature: AsnConvert.parse(inputs.signatureAlgorithmDer, AlgorithmIdentifier),
    issuer: AsnConvert.parse(inputs.issuerDer, Name),
    validity: new Validity({ notBefore: inputs.notBefore, notAfter: inputs.notAfter }),
    subject,
    subjectPublicKeyInfo: spki,
    extensions: new Extensions(extensions)
  })
  return Buffer.from(AsnConvert.serialize(tbs))
}

/** The whole certificate the object-model way: what the lean encoder is benchmarked against. */
export function referenceCertificate(inputs: ReferenceInputs, caKey: KeyObject, hash: string | null): Buffer {
  const tbsDer = referenceTbs(inputs)
  const signature = sign(hash, tbsDer, caKey)
  const certificate = new Certificate({
    tbsCertificate: AsnConvert.parse(tbsDer, TBSCertificate),
    signatureAlgorithm: AsnConvert.parse(inputs.signatureAlgorithmDer, AlgorithmIdentifier),
    signatureValue: new Uint8Array(signature).buffer
  })
  return Buffer.from(AsnConvert.serialize(certificate))
}
