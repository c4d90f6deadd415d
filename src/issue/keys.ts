// Device key pairs. One native call makes the key and both encodings, which is the cheapest way
// node:crypto offers (no KeyObject round trips per device).
import { generateKeyPair, generateKeyPairSync } from 'node:crypto'
import { promisify } from 'node:util'
import type { KeyType } from '../settings/types.js'

export interface DeviceKeyPair {
  keyType: KeyType
  /** SubjectPublicKeyInfo DER: goes into the certificate. */
  spkiDer: Buffer
  /** PKCS#8 PEM, unencrypted: the device's `pkey.pem`. Secret. */
  privateKeyPem: string
}

const generateKeyPairAsync = promisify(generateKeyPair)

type KeyGenSpec =
  | { type: 'ec'; options: { namedCurve: string } }
  | { type: 'rsa'; options: { modulusLength: number; publicExponent: number } }
  | { type: 'ed25519'; options: Record<string, never> }

/** node:crypto parameters for each key type. */
export const KEY_GENERATION: Record<KeyType, KeyGenSpec> = {
  'ec-p256': { type: 'ec', options: { namedCurve: 'P-256' } },
  'ec-p384': { type: 'ec', options: { namedCurve: 'P-384' } },
  'rsa-2048': { type: 'rsa', options: { modulusLength: 2048, publicExponent: 65537 } },
  'rsa-3072': { type: 'rsa', options: { modulusLength: 3072, publicExponent: 65537 } },
  'rsa-4096': { type: 'rsa', options: { modulusLength: 4096, publicExponent: 65537 } },
  ed25519: { type: 'ed25519', options: {} }
}

export function generateDeviceKeyPair(keyType: KeyType): DeviceKeyPair {
  const spec = KEY_GENERATION[keyType]
  const publicKeyEncoding = { type: 'spki', format: 'der' } as const
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const
  // One branch per algorithm: node's overloads are typed per literal key type.
  const pair =
    spec.type === 'ec'
      ? generateKeyPairSync('ec', { ...spec.options, publicKeyEncoding, privateKeyEncoding })
      : spec.type === 'rsa'
        ? generateKeyPairSync('rsa', { ...spec.options, publicKeyEncoding, privateKeyEncoding })
        : generateKeyPairSync('ed25519', { publicKeyEncoding, privateKeyEncoding })
  return { keyType, spkiDer: pair.publicKey, privateKeyPem: pair.privateKey }
}

/** Same as generateDeviceKeyPair on libuv's thread pool: RSA keygen takes 0.1–2 s. */
export async function generateDeviceKeyPairAsync(keyType: KeyType): Promise<DeviceKeyPair> {
  const spec = KEY_GENERATION[keyType]
  const publicKeyEncoding = { type: 'spki', format: 'der' } as const
  const privateKeyEncoding = { type: 'pkcs8', format: 'pem' } as const
  const pair =
    spec.type === 'ec'
      ? await generateKeyPairAsync('ec', { ...spec.options, publicKeyEncoding, privateKeyEncoding })
      : spec.type === 'rsa'
        ? await generateKeyPairAsync('rsa', { ...spec.options, publicKeyEncoding, privateKeyEncoding })
        : await generateKeyPairAsync('ed25519', { publicKeyEncoding, privateKeyEncoding })
  return { keyType, spkiDer: pair.publicKey, privateKeyPem: pair.privateKey }
}
