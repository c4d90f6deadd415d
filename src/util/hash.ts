// Digests used for fingerprints and key identifiers. Thin wrappers so call sites read as intent.
import * as crypto from 'node:crypto'
import { createHash } from 'node:crypto'

// crypto.hash (Node 20.12+, 21.7+) digests in one call without a Hash object: a bake takes about
// ten small digests per device. Older Nodes take the Hash object.
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array | string, encoding: 'hex' | 'buffer') => string | Buffer }).hash

export function sha256(data: Uint8Array): Buffer {
  return oneShot ? (oneShot('sha256', data, 'buffer') as Buffer) : createHash('sha256').update(data).digest()
}

/** Lower-case hex, no separators: the form the output manifest records. Text is hashed as UTF-8. */
export function sha256Hex(data: Uint8Array | string): string {
  return oneShot ? (oneShot('sha256', data, 'hex') as string) : createHash('sha256').update(data).digest('hex')
}

/** SHA-1 only where a standard asks for it (RFC 5280 key identifiers), never for integrity. */
export function sha1(data: Uint8Array): Buffer {
  return createHash('sha1').update(data).digest()
}

/** "ab:cd:..." upper-case, as openssl and most UIs show fingerprints and key identifiers. */
export function colonHex(data: Uint8Array | string): string {
  const hex = typeof data === 'string' ? data : Buffer.from(data).toString('hex')
  return (hex.toUpperCase().match(/../g) ?? []).join(':')
}
