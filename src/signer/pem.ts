// The in-memory signer: a PEM private key (PKCS#8, encrypted PKCS#8, SEC1 EC, PKCS#1 RSA, legacy
// OpenSSL-encrypted) held as a KeyObject. The only signer with `inProcessKey`: issuance workers
// sign where they build each certificate, which is the fastest path.
import { createPrivateKey, createPublicKey, sign, type KeyObject } from 'node:crypto'
import { FleetCaError } from '../errors.js'
import { keyFacts } from '../x509/algorithms.js'
import { describeOrigin, labelsOf, parsePem, toPem, type PemBlock, type PemOrigin } from '../util/pem.js'
import type { CaSigner, SignerFactory } from './types.js'

export const PRIVATE_KEY_TYPES: Record<string, 'pkcs8' | 'sec1' | 'pkcs1'> = {
  'PRIVATE KEY': 'pkcs8',
  'ENCRYPTED PRIVATE KEY': 'pkcs8',
  'EC PRIVATE KEY': 'sec1',
  'RSA PRIVATE KEY': 'pkcs1'
}

/** A PEM key's text and where it came from ("input fleet-ca-key" or its path). */
export interface PemKeySource extends PemOrigin {
  text: string
}

/** Reads the one private key of a PEM text; FleetCaError naming fleet-ca-key(-passphrase) otherwise. */
export function readPrivateKey(source: PemKeySource, passphrase: string | undefined): KeyObject {
  const blocks = parsePem(source.text, source, FleetCaError)
  // `openssl ecparam -genkey` writes an EC PARAMETERS block first: ignore such companions.
  const keyBlocks = blocks.filter((block) => block.label in PRIVATE_KEY_TYPES)
  const where = describeOrigin(source)
  if (keyBlocks.length === 0) {
    const hint = blocks.some((block) => block.label === 'CERTIFICATE')
      ? ' (it holds a certificate: are fleet-ca-cert and fleet-ca-key swapped?)'
      : blocks.some((block) => block.label === 'PUBLIC KEY')
        ? ' (a public key cannot sign; give the private key)'
        : ''
    throw new FleetCaError(`${where}: expected a private key (PRIVATE KEY, ENCRYPTED PRIVATE KEY, EC PRIVATE KEY or RSA PRIVATE KEY), found ${labelsOf(blocks)}${hint}`, {
      input: source.input
    })
  }
  if (keyBlocks.length > 1) throw new FleetCaError(`${where}: holds ${keyBlocks.length} private keys; give exactly one`, { input: source.input })
  const block = keyBlocks[0] as PemBlock
  const type = PRIVATE_KEY_TYPES[block.label] as 'pkcs8' | 'sec1' | 'pkcs1'
  // Legacy OpenSSL encryption ("Proc-Type: 4,ENCRYPTED") lives in PEM headers, so node needs the PEM.
  const legacyEncrypted = (block.headers['Proc-Type'] ?? '').includes('ENCRYPTED')
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || legacyEncrypted

  if (encrypted && !passphrase) {
    throw new FleetCaError(`${where} is encrypted; set fleet-ca-key-passphrase to its passphrase`, { input: 'fleet-ca-key-passphrase' })
  }
  try {
    if (legacyEncrypted) return createPrivateKey({ key: pemWithHeaders(block), format: 'pem', passphrase })
    return createPrivateKey({ key: block.der, format: 'der', type, ...(encrypted ? { passphrase } : {}) })
  } catch (error) {
    if (encrypted) {
      // Never echo the passphrase or any detail derived from it.
      throw new FleetCaError(`${where} could not be decrypted with fleet-ca-key-passphrase (wrong passphrase, or a damaged key)`, {
        input: 'fleet-ca-key-passphrase'
      })
    }
    throw new FleetCaError(`${where}: the ${block.label} block is not a valid ${type.toUpperCase()} private key`, { input: source.input, cause: error })
  }
}

function pemWithHeaders(block: PemBlock): string {
  const headers = Object.entries(block.headers).map(([name, value]) => `${name}: ${value}\n`)
  return toPem(block.label, block.der).replace('-----\n', `-----\n${headers.join('')}\n`)
}

/** A signer around a private KeyObject (synchronous: nothing to wait for). */
export function pemSigner(key: KeyObject, origin: PemOrigin): CaSigner {
  const facts = keyFacts(key)
  if ('unsupported' in facts) throw new FleetCaError(`${describeOrigin(origin)}: ${facts.unsupported}`, { input: origin.input })
  const hash = facts.hash
  return {
    description: `the key in ${describeOrigin(origin)}`,
    publicKey: createPublicKey(key),
    hash,
    // EC signatures from node:crypto are already DER (r, s), as X.509 wants; Ed25519 takes no hash.
    sign: async (tbs) => sign(hash, tbs, key),
    concurrency: 1,
    inProcessKey: key,
    close: async () => {}
  }
}

/** Opens a PEM key given as text (the settings read a path into text already). */
export function openPemSigner(source: PemKeySource, passphrase: string | undefined): CaSigner {
  return pemSigner(readPrivateKey(source, passphrase), source)
}

export const pemSignerFactory: SignerFactory = {
  name: 'pem',
  accepts: (reference) => reference.includes('-----BEGIN'),
  open: async (reference, context) => openPemSigner({ text: reference, input: 'fleet-ca-key', origin: context.origin ?? 'input fleet-ca-key' }, context.passphrase)
}
