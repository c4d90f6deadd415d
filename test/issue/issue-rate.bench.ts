// Issuance rate on one core: `npx vitest bench --run test/issue/issue-rate.bench.ts`.
// Not part of `vitest run` (no timing assertions anywhere); the numbers go into reports.
// Compares issueCredential with node:crypto alone (the floor) and with the asn1-x509 object model.
import { generateKeyPairSync, randomBytes, sign } from 'node:crypto'
import { afterAll, bench, describe } from 'vitest'
import { generateDeviceKeyPair } from '../../src/issue/keys.js'
import { buildProfile } from '../../src/issue/profile.js'
import { KEY_TYPES, type KeyType } from '../../src/settings/types.js'
import { toPem } from '../../src/util/pem.js'
import { cleanupPki, makeRootCa } from '../helpers/pki.js'
import { referenceCertificate } from './asn1-reference.js'
import { caKeyOf, issueCredential, loadFixtureCa, makeDevice } from './support.js'

afterAll(cleanupPki)

const lifetime = { kind: 'days', days: 365 } as const
const p256Ca = loadFixtureCa(makeRootCa({ keyType: 'ec-p256' }), lifetime)
const device = makeDevice('SN-BENCH', { 'device-id': '3f2b6c1e-9a4d-4f7a-8c51-0e6d2b9a7f10' })
const tbsSizedInput = randomBytes(450)

// RSA keygen dominates and varies a lot: give the slow key types fewer, longer-running samples.
const options = (keyType: KeyType) => (keyType.startsWith('rsa') ? { time: 5_000, iterations: 5 } : { time: 3_000 })

describe('device certificate issuance, EC P-256 fleet CA', () => {
  bench(
    'node:crypto only: P-256 keygen (SPKI + PKCS#8 PEM) + one signature',
    () => {
      generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: { type: 'spki', format: 'der' }, privateKeyEncoding: { type: 'pkcs8', format: 'pem' } })
      sign('sha256', tbsSizedInput, caKeyOf(p256Ca))
    },
    { time: 3_000 }
  )

  for (const keyType of KEY_TYPES) {
    const profile = buildProfile({ keyType, subject: 'CN={device-id},O=Acme', lifetime }, p256Ca)
    bench(
      `issueCredential ${keyType}`,
      () => {
        issueCredential(p256Ca, profile, device)
      },
      options(keyType)
    )
  }

  bench(
    'asn1-x509 object model: P-256 keygen + TBSCertificate/Certificate objects + sign + PEM',
    () => {
      const pair = generateDeviceKeyPair('ec-p256')
      const now = Date.now()
      const der = referenceCertificate(
        {
          serial: randomBytes(16),
          signatureAlgorithmDer: p256Ca.signatureAlgorithmDer,
          issuerDer: p256Ca.subjectDer,
          notBefore: new Date(now - 300_000),
          notAfter: new Date(now + 365 * 86_400_000),
          subject: [
            ['2.5.4.10', 'Acme', 'utf8'],
            ['2.5.4.3', device.deviceId, 'utf8']
          ],
          spkiDer: pair.spkiDer,
          rsaKey: false,
          caKeyIdentifier: p256Ca.keyIdentifier
        },
        caKeyOf(p256Ca),
        'sha256'
      )
      toPem('CERTIFICATE', der)
    },
    { time: 3_000 }
  )
})

describe('fleet CA key types (device key ec-p256)', () => {
  for (const caKeyType of ['ec-p384', 'rsa-3072', 'ed25519'] as const) {
    const ca = loadFixtureCa(makeRootCa({ keyType: caKeyType }), lifetime)
    const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id},O=Acme', lifetime }, ca)
    bench(
      `issueCredential ec-p256 under a ${caKeyType} CA`,
      () => {
        issueCredential(ca, profile, device)
      },
      { time: 3_000 }
    )
  }
})
