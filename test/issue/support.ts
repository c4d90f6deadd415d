// Small builders shared by the issuance tests (fixtures themselves come from test/helpers/pki.ts).
import type { KeyObject } from 'node:crypto'
import { loadFleetCa } from '../../src/ca/load.js'
import type { FleetCa } from '../../src/ca/types.js'
import { issueCredential as issueWithKey } from '../../src/issue/issue.js'
import type { CertificateProfile } from '../../src/shapes/profile.js'
import type { IssuedCredential } from '../../src/issue/types.js'
import { readPrivateKey } from '../../src/signer/pem.js'
import type { Device } from '../../src/manifest/types.js'
import type { Lifetime, PemSource } from '../../src/settings/types.js'
import type { CertFixture } from '../helpers/pki.js'
import { createDevicePool } from '../../src/pipeline/device-pool.js'
import type { CaSigner } from '../../src/signer/types.js'

export function pemText(input: string, text: string): PemSource {
  return { input, text, origin: `input ${input}` }
}

export function pemFile(input: string, path: string, text: string): PemSource {
  return { input, text, origin: path }
}

export function makeDevice(serial: string, fields: Record<string, string> = {}, extra: Partial<Device> = {}): Device {
  const deviceId = fields['device-id'] ?? serial
  return {
    serial,
    deviceId,
    fields: { serial, 'device-id': deviceId, ...fields },
    source: { file: 'devices.csv', line: 2 },
    ...extra
  }
}

export const DAYS_30: Lifetime = { kind: 'days', days: 30 }

/** Loads a fixture CA as the fleet CA: its chain as fleet-ca-cert, its PKCS#8 key as fleet-ca-key. */
export function loadFixtureCa(fixture: CertFixture, lifetime: Lifetime = DAYS_30, now?: Date): FleetCa {
  const key = pemFile('fleet-ca-key', fixture.keyPath, fixture.keyPem)
  const ca = loadFleetCa({ cert: pemFile('fleet-ca-cert', fixture.chainPath, fixture.chainPem), key, lifetime, ...(now ? { now } : {}) })
  // FleetCa holds no private key: the tests keep each fixture CA's key beside it.
  caKeys.set(ca, readPrivateKey(key, undefined))
  return ca
}

const caKeys = new WeakMap<FleetCa, KeyObject>()

/** The private key of a CA loaded by loadFixtureCa. */
export function caKeyOf(ca: FleetCa): KeyObject {
  const key = caKeys.get(ca)
  if (!key) throw new Error('not a CA from loadFixtureCa')
  return key
}

/** issueCredential signing with the fixture CA's in-memory key (as issuance workers do). */
export function issueCredential(ca: FleetCa, profile: CertificateProfile, device: Device, now: Date = new Date()): IssuedCredential {
  return issueWithKey(ca, profile, device, now, caKeyOf(ca))
}

/**
 * Certificates for `devices` as a bake issues them (the device pool on this thread: with a signer
 * that has no in-memory key, TBSCertificates signed by `signer`, each signature checked and sealed),
 * in device order, as PEM.
 */
export async function issueThroughPool(ca: FleetCa, profile: CertificateProfile, signer: CaSigner, devices: Device[]): Promise<string[]> {
  const pool = createDevicePool(
    { ca, profile, now: new Date(), bundle: { layout: 'aktualizr', credentialsDir: '/var/sota/import', chainPems: [] }, run: 'test' },
    { concurrency: 1, devices: devices.length, signer }
  )
  try {
    const batch = await pool.issue(devices.map((device) => ({ device })))
    return batch.issued.map((line) => (JSON.parse(line) as { certificate: { pem: string } }).certificate.pem)
  } finally {
    await pool.close()
  }
}
