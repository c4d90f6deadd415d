// What shapes each certificate and its files, as the journal records it: the run's basis (key
// type, lifetime, profile, bundle inputs) and each device's (device ID, rendered subject and SAN,
// CSR). A device is resumed only when both are unchanged; the same functions compute them when a
// certificate is issued and when a later run compares, so they cannot drift apart.
import { readFileSync } from 'node:fs'
import type { CertificateProfile } from '../shapes/profile.js'
import { renderSan, validateSanTemplate, type SanTemplate } from '../issue/san.js'
import { renderSubject, validateSubjectTemplate, type SubjectTemplate } from '../issue/subject.js'
import { describeLifetime } from '../x509/validity.js'
import type { DeviceBasis, RunBasis } from '../journal/records.js'
import type { Device } from '../manifest/types.js'
import type { Settings } from '../settings/types.js'
import { sha256Hex } from '../util/hash.js'

/** `ostreeOs`: the stateroot whose var holds the files (sysroot paths), when there is one. */
export function runBasis(settings: Settings, profile: CertificateProfile, ostreeOs?: string): RunBasis {
  return {
    keyType: settings.keyType,
    lifetime: describeLifetime(profile.lifetime),
    profileSha256: profileDigest(profile),
    layout: settings.layout,
    credentialsDir: settings.credentialsDir,
    serverCaSha256: settings.serverCa ? sha256Hex(Buffer.from(settings.serverCa.text)) : null,
    gatewayUrl: settings.gatewayUrl ?? null,
    // Only when set, so that the bases of runs without it are what they always were.
    ...(ostreeOs === undefined ? {} : { ostreeOs })
  }
}

/**
 * The rest of the profile: extensions, serial size, backdating, signature algorithm. Key type,
 * lifetime, subject and SAN are compared on their own (the subject and SAN as rendered), so a
 * template edit that renders the same names keeps the certificates it would reproduce.
 */
function profileDigest(profile: CertificateProfile): string {
  const { keyType: _keyType, lifetime: _lifetime, subject: _subject, san: _san, extensions, ...rest } = profile
  const shaping = { ...rest, extensions: extensions.filter((extension) => extension.name !== 'subjectAltName') }
  return sha256Hex(Buffer.from(JSON.stringify(shaping)))
}

/** Computes device bases for one profile (templates parsed once). */
export class DeviceBasisMaker {
  private readonly subject: SubjectTemplate
  private readonly san?: SanTemplate

  constructor(profile: CertificateProfile) {
    this.subject = validateSubjectTemplate(profile.subject)
    if (profile.san !== undefined) this.san = validateSanTemplate(profile.san)
  }

  of(device: Device): DeviceBasis {
    return {
      deviceId: device.deviceId,
      subject: renderSubject(this.subject, device).text,
      sanSha256: this.san ? sha256Hex(renderSan(this.san, device)) : null,
      csrSha256: device.csr === undefined ? null : csrDigest(device.csr)
    }
  }
}

function csrDigest(file: string): string {
  try {
    return sha256Hex(readFileSync(file))
  } catch {
    // Unreadable now: issuance reports it with the row's file:line; here it only means "changed".
    return 'unreadable'
  }
}

/** Stable text of a basis, compared as a whole and stored compactly per device. */
export function basisKey(basis: RunBasis | DeviceBasis): string {
  return JSON.stringify(basis)
}
