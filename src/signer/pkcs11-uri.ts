// RFC 7512 PKCS#11 URIs: `pkcs11:` path attributes separated by ";" (which token, which object),
// then optionally "?" and query attributes separated by "&" (module, PIN). Values are
// percent-encoded; `id` is raw bytes, every other value UTF-8 text.
import { FleetCaError } from '../errors.js'
import { keyUriScheme } from '../settings/types.js'

export interface Pkcs11Uri {
  token?: string
  manufacturer?: string
  model?: string
  serial?: string
  /** CK_SLOT_ID (decimal in the URI). */
  slotId?: bigint
  slotDescription?: string
  slotManufacturer?: string
  libraryManufacturer?: string
  libraryDescription?: string
  /** "M" or "M.N". */
  libraryVersion?: string
  /** CKA_LABEL. */
  object?: string
  /** CKA_ID, raw bytes. */
  id?: Buffer
  type?: 'private' | 'public' | 'cert' | 'secret-key' | 'data'
  modulePath?: string
  moduleName?: string
  /** The user PIN written into the URI (discouraged: URIs end up in logs). Secret. */
  pinValue?: string
  /** A file holding the PIN (RFC 7512 pin-source; file: URIs and plain paths). */
  pinSource?: string
}

const PATH_ATTRIBUTES: Record<string, keyof Pkcs11Uri> = {
  token: 'token',
  manufacturer: 'manufacturer',
  model: 'model',
  serial: 'serial',
  'slot-id': 'slotId',
  'slot-description': 'slotDescription',
  'slot-manufacturer': 'slotManufacturer',
  'library-manufacturer': 'libraryManufacturer',
  'library-description': 'libraryDescription',
  'library-version': 'libraryVersion',
  object: 'object',
  id: 'id',
  type: 'type'
}

const QUERY_ATTRIBUTES: Record<string, keyof Pkcs11Uri> = {
  'module-path': 'modulePath',
  'module-name': 'moduleName',
  'pin-value': 'pinValue',
  'pin-source': 'pinSource'
}

const TYPES = ['private', 'public', 'cert', 'secret-key', 'data'] as const

function fail(reason: string): never {
  // Never quote the URI: it may hold a PIN.
  throw new FleetCaError(`fleet-ca-key: not a valid pkcs11: URI (RFC 7512): ${reason}`, { input: 'fleet-ca-key' })
}

/** Percent-decoding to bytes; anything else outside the URI's character set is refused. */
export function percentDecode(value: string, attribute: string): Buffer {
  const bytes: number[] = []
  for (let i = 0; i < value.length; i += 1) {
    const char = value[i] as string
    if (char === '%') {
      const hex = value.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) fail(`attribute ${attribute} has a "%" not followed by two hex digits`)
      bytes.push(parseInt(hex, 16))
      i += 2
    } else {
      bytes.push(...Buffer.from(char, 'utf8'))
    }
  }
  return Buffer.from(bytes)
}

function text(bytes: Buffer, attribute: string): string {
  const decoded = new TextDecoder('utf-8', { fatal: false }).decode(bytes)
  if (decoded.includes('\uFFFD')) fail(`attribute ${attribute} is not UTF-8 once percent-decoded`)
  return decoded
}

export function isPkcs11Uri(reference: string): boolean {
  return keyUriScheme(reference) === 'pkcs11'
}

export function parsePkcs11Uri(reference: string): Pkcs11Uri {
  if (!isPkcs11Uri(reference)) fail('it must start with "pkcs11:"')
  const body = reference.slice('pkcs11:'.length)
  if (/[\s]/.test(body)) fail('it contains white space (percent-encode spaces as %20)')
  const queryAt = body.indexOf('?')
  const pathPart = queryAt < 0 ? body : body.slice(0, queryAt)
  const queryPart = queryAt < 0 ? '' : body.slice(queryAt + 1)
  const uri: Pkcs11Uri = {}
  const seen = new Set<string>()
  const take = (part: string, separator: string, table: Record<string, keyof Pkcs11Uri>, where: string): void => {
    if (part === '') return
    for (const piece of part.split(separator)) {
      if (piece === '') continue
      const equals = piece.indexOf('=')
      if (equals <= 0) fail(`the ${where} attribute "${piece.slice(0, 40).replace(/=.*/, '')}" has no "=value"`)
      const name = piece.slice(0, equals).toLowerCase()
      const raw = piece.slice(equals + 1)
      const field = table[name]
      if (!field) {
        // RFC 7512 §2.3: vendor attributes start with "x-"; they are ignored here.
        if (name.startsWith('x-')) continue
        const other = (where === 'path' ? QUERY_ATTRIBUTES : PATH_ATTRIBUTES)[name]
        fail(other ? `${name} is a ${where === 'path' ? 'query' : 'path'} attribute (${where === 'path' ? 'after "?"' : 'before "?"'})` : `unknown ${where} attribute "${name}"`)
      }
      if (seen.has(name)) fail(`attribute ${name} appears twice`)
      seen.add(name)
      const bytes = percentDecode(raw, name)
      switch (field) {
        case 'id':
          uri.id = bytes
          break
        case 'slotId': {
          const value = text(bytes, name)
          if (!/^[0-9]+$/.test(value)) fail('slot-id must be a decimal number')
          uri.slotId = BigInt(value)
          break
        }
        case 'type': {
          const value = text(bytes, name)
          if (!(TYPES as readonly string[]).includes(value)) fail(`type must be one of ${TYPES.join(', ')}`)
          uri.type = value as Pkcs11Uri['type']
          break
        }
        case 'libraryVersion': {
          const value = text(bytes, name)
          if (!/^[0-9]+(\.[0-9]+)?$/.test(value)) fail('library-version must be M or M.N')
          uri.libraryVersion = value
          break
        }
        default:
          ;(uri as Record<string, unknown>)[field] = text(bytes, name)
      }
    }
  }
  take(pathPart, ';', PATH_ATTRIBUTES, 'path')
  take(queryPart, '&', QUERY_ATTRIBUTES, 'query')
  if (uri.pinValue !== undefined && uri.pinSource !== undefined) fail('give pin-value or pin-source, not both')
  return uri
}
