// The journal records of one device's certificate and output, made the same way on the main
// thread (image sinks) and in device workers (tar, dir), so both paths journal alike.
import { sanOfCertificate } from '../issue/san.js'
import type { IssuedCredential } from '../issue/types.js'
import type { IssuedRecord, WrittenRecord } from '../journal/records.js'
import type { SinkOutput } from '../shapes/output.js'
import type { DeviceBasisMaker } from './basis.js'

export type Replaces = NonNullable<IssuedRecord['replaces']>

export function issuedRecord(run: string, basisMaker: DeviceBasisMaker, credential: IssuedCredential, replaces: Replaces | undefined): IssuedRecord {
  const basis = basisMaker.of(credential.device)
  // The subjectAltName as the certificate holds it, for the review (only when the profile has one).
  const san = basis.sanSha256 === null ? undefined : sanOfCertificate(credential.certificateDer)
  return {
    type: 'issued',
    run,
    at: new Date().toISOString(),
    serial: credential.device.serial,
    basis,
    certificate: {
      serialNumber: credential.serialNumber,
      sha256: credential.sha256,
      subject: credential.subject,
      publicKeySha256: credential.publicKeySha256,
      notBefore: credential.notBefore.toISOString(),
      notAfter: credential.notAfter.toISOString(),
      keySource: credential.privateKeyPem === undefined ? 'csr' : 'generated',
      ...(san !== undefined ? { san } : {}),
      pem: credential.certificatePem
    },
    ...(replaces ? { replaces } : {})
  }
}

export function writtenRecord(run: string, serial: string, certificateSha256: string, output: SinkOutput): WrittenRecord {
  return {
    type: 'written',
    run,
    at: new Date().toISOString(),
    serial,
    certificateSha256,
    output: {
      path: output.path,
      size: output.size,
      sha256: output.sha256,
      ...(output.partition ? { partition: output.partition } : {}),
      ...(output.bmap ? { bmap: output.bmap } : {})
    },
    files: output.files.map((file) => ({ ...file }))
  }
}
