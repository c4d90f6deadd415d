// Small builders shared by the issuance tests (fixtures themselves come from test/helpers/pki.ts).
import { loadFleetCa } from '../../src/ca/load.js'
import type { FleetCa } from '../../src/ca/types.js'
import type { Device } from '../../src/manifest/types.js'
import type { Lifetime, PemSource } from '../../src/settings/types.js'
import type { CertFixture } from '../helpers/pki.js'

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
  return loadFleetCa({
    cert: pemFile('fleet-ca-cert', fixture.chainPath, fixture.chainPem),
    key: pemFile('fleet-ca-key', fixture.keyPath, fixture.keyPem),
    lifetime,
    ...(now ? { now } : {})
  })
}
