// Digests used for fingerprints and key identifiers. Thin wrappers so call sites read as intent.
import { createHash } from 'node:crypto'

export function sha256(data: Uint8Array): Buffer {
  return createHash('sha256').update(data).digest()
}

/** Lower-case hex, no separators: the form the output manifest records. */
export function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
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
