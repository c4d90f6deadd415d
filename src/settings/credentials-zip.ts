// OTA Connect's credentials.zip (input credentials-zip): only two values are taken from it, the
// server CA that devices trust (root.crt) and the device gateway URL (gateway.url), the same two
// that aktualizr-cert-provider takes with -r/-u:
// - server_ca.pem, or, when the zip has none, the CA certificates of autoprov_credentials.p12;
// - autoprov.url.
// Nothing else is read, used or written: the zip also holds private keys (the p12's client key,
// targets signing keys), and those are never decrypted or copied.
//
// The zip is read by fflate (unzipSync): it finds the end of central directory (ZIP64 too), walks
// the central directory and inflates the entries asked for, each into a buffer of the size its
// header declares, so no entry can grow past that size whatever its data holds. The zip is
// untrusted input, and what makes reading it safe is the checks around that, made here: a name
// with `..`, an absolute path, a backslash or control characters, or a name given twice, refuses
// the whole zip; so do more than 4,096 entries; an entry asked for must be stored or deflated,
// unencrypted, declare at most 1 MiB and inflate to exactly what it declares, with its CRC-32
// (zlib.crc32). fflate checks neither the CRC-32 nor the encryption flag and does not expose them,
// so those two fields of each central directory record are read here (directoryFacts); a header
// that lies about an entry's size shows as a CRC-32 mismatch, since fflate stops at the declared
// size. The zip is a few KiB, read once per run.
//
// The PKCS#12 file is read with the openssl CLI (`openssl pkcs12 -nokeys -cacerts`, the p12 on
// stdin, never on disk): the certificate bags of real p12 files are encrypted with PBES2/AES
// (OpenSSL 3), 3DES or RC2-40 (OpenSSL 1.x, which Node's crypto cannot decrypt without OpenSSL's
// legacy provider), and openssl handles all of them (RC2 with -legacy). With -nokeys it skips
// the shrouded key bags without decrypting them. OTA Connect's p12 has an empty password.
import { spawnSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { crc32 } from 'node:zlib'
import { unzipSync } from 'fflate'
import { InputError, messageOf } from '../errors.js'
import { INPUT_LIMITS, readBoundedSync, whyUnreadable } from '../util/bounded-read.js'
import { escapeText } from '../util/log-text.js'
import { readPemBlocks, toPem } from '../util/pem.js'
import type { PemSource } from './types.js'

const INPUT = 'credentials-zip'
export const SERVER_CA_ENTRY = 'server_ca.pem'
export const GATEWAY_URL_ENTRY = 'autoprov.url'
export const P12_ENTRY = 'autoprov_credentials.p12'

/** Largest zip accepted: OTA Connect's are a few KiB. */
export const MAX_ZIP_BYTES = INPUT_LIMITS.credentialsZip
/** Largest entry read (uncompressed). */
export const MAX_ENTRY_BYTES = 1 << 20
/** Highest compression ratio accepted for an entry that inflates to more than 64 KiB. */
const MAX_RATIO = 200
const MAX_ENTRIES = 4096

export interface ZipCredentials {
  serverCa?: PemSource
  gatewayUrl?: string
}

/** An entry as fflate lists it, with the two fields of its central directory record fflate does not report. */
export interface ZipEntry {
  name: string
  /** Compression method: 0 stored, 8 deflated. */
  method: number
  compressedSize: number
  size: number
  /** General purpose bit flags (bit 0: encrypted). */
  flags: number
  crc: number
}

function fail(zip: string, message: string, cause?: unknown): InputError {
  return new InputError(`Input "${INPUT}" (${escapeText(zip)}): ${message}`, { input: INPUT, file: zip, ...(cause ? { cause } : {}) })
}

/**
 * Read what `need` asks for from the zip at `zip`. The zip is always checked (a corrupt or hostile
 * zip is refused even when explicit inputs make its entries unnecessary); a missing entry is an
 * error only when it is needed.
 */
export function readCredentialsZip(zip: string, need: { serverCa: boolean; gatewayUrl: boolean }): ZipCredentials {
  let bytes: Buffer
  try {
    // Opened without blocking and checked with fstat: a FIFO or a device is refused, not waited on.
    bytes = readBoundedSync(zip, { maxBytes: MAX_ZIP_BYTES, what: "a credentials.zip (OTA Connect's are a few KiB)" })
  } catch (error) {
    throw fail(zip, `cannot read it: ${whyUnreadable(error)}.`, error)
  }
  const entries = listEntries(bytes, zip)
  const find = (name: string): ZipEntry | undefined => entries.get(name)

  const result: ZipCredentials = {}
  if (need.gatewayUrl) {
    const entry = find(GATEWAY_URL_ENTRY)
    if (!entry) throw fail(zip, `it holds no ${GATEWAY_URL_ENTRY} (the device gateway URL); give gateway-url instead.`)
    result.gatewayUrl = gatewayUrlOf(readEntry(bytes, entry, zip), zip)
  }
  if (need.serverCa) {
    const pem = find(SERVER_CA_ENTRY)
    const p12 = find(P12_ENTRY)
    if (pem) {
      result.serverCa = { input: INPUT, text: readEntry(bytes, pem, zip).toString('utf8'), origin: `${zip} (entry ${SERVER_CA_ENTRY})` }
    } else if (p12) {
      result.serverCa = { input: INPUT, text: caCertificatesOfP12(readEntry(bytes, p12, zip), zip), origin: `${zip} (CA certificates of ${P12_ENTRY})` }
    } else {
      throw fail(zip, `it holds neither ${SERVER_CA_ENTRY} nor ${P12_ENTRY} (the server CA for root.crt); give server-ca instead.`)
    }
  }
  return result
}

/** The entries of the zip by name; refuses the zip on anything malformed or unsafe. */
export function listEntries(bytes: Buffer, zip: string): Map<string, ZipEntry> {
  const facts = directoryFacts(bytes, zip)
  const entries = new Map<string, ZipEntry>()
  try {
    // fflate calls the filter once per central directory record, in the order directoryFacts read them.
    unzipSync(bytes, {
      filter: ({ name, compression, size, originalSize }) => {
        checkName(name, zip)
        if (entries.has(name)) throw fail(zip, `it holds "${name}" twice; refusing an ambiguous zip.`)
        const fact = facts[entries.size]
        if (!fact) throw fail(zip, 'not a valid zip file (its central directory reads two ways).')
        entries.set(name, { name, method: compression, compressedSize: size, size: originalSize, ...fact })
        return false
      }
    })
  } catch (error) {
    if (error instanceof InputError) throw error
    throw fail(zip, `not a valid zip file (${messageOf(error)}).`, error)
  }
  if (entries.size !== facts.length) throw fail(zip, 'not a valid zip file (its central directory reads two ways).')
  return entries
}

/**
 * The general purpose flags and CRC-32 of each central directory record, in order: the two fields
 * fflate neither checks nor reports. Found the way fflate finds them (the last end of central
 * directory record, its ZIP64 form when there is one), each record's signature and length checked.
 */
function directoryFacts(bytes: Buffer, zip: string): Pick<ZipEntry, 'flags' | 'crc'>[] {
  const corrupt = (what: string): InputError => fail(zip, `not a valid zip file (${what}).`)
  let eocd = -1
  for (let at = bytes.length - 22; at >= Math.max(0, bytes.length - 22 - 0xffff); at--) {
    if (bytes.readUInt32LE(at) === 0x06054b50) {
      eocd = at
      break
    }
  }
  if (eocd < 0) throw corrupt('no end of central directory record')
  if (bytes.readUInt16LE(eocd + 4) !== 0) throw corrupt('a multi-part zip')
  let count = bytes.readUInt16LE(eocd + 10)
  let cdOffset = bytes.readUInt32LE(eocd + 16)
  let cdEnd = eocd
  // ZIP64: a locator right before the record points to the ZIP64 end of central directory record.
  if (eocd >= 20 && bytes.readUInt32LE(eocd - 20) === 0x07064b50) {
    const zip64 = bytes.readUInt32LE(eocd - 12)
    if (zip64 + 56 > eocd - 20 || bytes.readUInt32LE(zip64) !== 0x06064b50) throw corrupt('a damaged ZIP64 end of central directory record')
    count = bytes.readUInt32LE(zip64 + 32)
    cdOffset = bytes.readUInt32LE(zip64 + 48)
    cdEnd = zip64
  }
  if (count > MAX_ENTRIES) throw corrupt(`${count} entries`)
  if (cdOffset > cdEnd) throw corrupt('the central directory lies outside the file')
  const facts: Pick<ZipEntry, 'flags' | 'crc'>[] = []
  let at = cdOffset
  for (let i = 0; i < count; i++) {
    if (at + 46 > cdEnd || bytes.readUInt32LE(at) !== 0x02014b50) throw corrupt(`central directory entry ${i + 1} is damaged`)
    facts.push({ flags: bytes.readUInt16LE(at + 8), crc: bytes.readUInt32LE(at + 16) })
    at += 46 + bytes.readUInt16LE(at + 28) + bytes.readUInt16LE(at + 30) + bytes.readUInt16LE(at + 32)
    if (at > cdEnd) throw corrupt(`central directory entry ${i + 1} is damaged`)
  }
  return facts
}

function checkName(name: string, zip: string): void {
  const shown = JSON.stringify(name)
  if (name === '' || /[\u0000-\u001f]/.test(name)) throw fail(zip, `an entry has an empty name or control characters; refusing the zip.`)
  if (name.startsWith('/') || name.includes('\\') || /^[A-Za-z]:/.test(name)) {
    throw fail(zip, `entry ${shown} has an absolute path or a backslash; refusing the zip.`)
  }
  if (name.split('/').includes('..')) throw fail(zip, `entry ${shown} has a ".." path component; refusing the zip.`)
}

/** The uncompressed bytes of `entry`, at most MAX_ENTRY_BYTES, CRC-checked. */
export function readEntry(bytes: Buffer, entry: ZipEntry, zip: string): Buffer {
  if (entry.flags & 0x1) throw fail(zip, `entry ${entry.name} is encrypted; credbake reads only unencrypted entries.`)
  if (entry.method !== 0 && entry.method !== 8) {
    throw fail(zip, `entry ${entry.name} uses compression method ${entry.method}; only stored and deflated entries are read.`)
  }
  const bomb = (what: string): InputError => fail(zip, `entry ${entry.name} ${what}; it cannot be OTA Connect's (a zip bomb?). Refusing the zip.`)
  // fflate inflates into a buffer of the declared size: the declared size is the cap.
  if (entry.size > MAX_ENTRY_BYTES || (entry.method === 0 && entry.compressedSize > MAX_ENTRY_BYTES)) {
    throw bomb(`inflates to more than ${MAX_ENTRY_BYTES} bytes`)
  }
  if (entry.method === 8 && entry.size > 64 << 10 && entry.size > entry.compressedSize * MAX_RATIO) {
    throw bomb(`inflates ${Math.round(entry.size / Math.max(1, entry.compressedSize))} times its size`)
  }
  const corrupt = (what: string): InputError => fail(zip, `entry ${entry.name} is damaged (${what}).`)
  let content: Uint8Array | undefined
  try {
    content = unzipSync(bytes, { filter: (info) => info.name === entry.name })[entry.name]
  } catch (error) {
    // A stored block past the declared size: fflate cannot place it in the buffer.
    if (error instanceof RangeError) throw bomb(`inflates to more than the ${entry.size} bytes its header declares`)
    throw corrupt(`deflate data: ${messageOf(error)}`)
  }
  if (content === undefined) throw corrupt('it cannot be found again')
  if (content.length !== entry.size) throw corrupt(`${content.length} bytes where the central directory says ${entry.size}`)
  // Also what shows a header that understates the size: fflate stopped at the declared size.
  if (crc32(content) !== entry.crc) throw corrupt('CRC-32 mismatch')
  return Buffer.from(content.buffer, content.byteOffset, content.length)
}

function gatewayUrlOf(content: Buffer, zip: string): string {
  const value = content.toString('utf8').trim()
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw fail(zip, `its ${GATEWAY_URL_ENTRY} is not a URL.`)
  }
  if (url.protocol !== 'https:') {
    throw fail(
      zip,
      `its ${GATEWAY_URL_ENTRY} must be an https URL; got "${value}". aktualizr connects to the device gateway with mutual TLS, presenting the device certificate in the TLS handshake: over ${url.protocol.replace(/:$/, '')} the device would never authenticate. Give gateway-url to override it.`
    )
  }
  return value
}

/**
 * The CA certificates (not the client certificate) of a PKCS#12 file with an empty password, as
 * PEM. The p12 goes to openssl on stdin; its key bags are never decrypted (-nokeys).
 */
function caCertificatesOfP12(p12: Buffer, zip: string): string {
  const run = (legacy: boolean): { ok: boolean; stdout: string; stderr: string; missing: boolean } => {
    const result = spawnSync('openssl', ['pkcs12', ...(legacy ? ['-legacy'] : []), '-nokeys', '-cacerts', '-passin', 'pass:'], {
      input: p12,
      encoding: 'buffer',
      maxBuffer: 4 << 20,
      timeout: 30_000
    })
    const missing = (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
    return { ok: result.status === 0, stdout: result.stdout?.toString('utf8') ?? '', stderr: result.stderr?.toString('utf8') ?? '', missing }
  }
  let result = run(false)
  if (result.missing) {
    throw fail(zip, `it has no ${SERVER_CA_ENTRY}, and reading the CA of ${P12_ENTRY} needs the openssl command, which is not on PATH. Install openssl or give server-ca.`)
  }
  // RC2-40 certificate bags (p12 files made by OpenSSL 1.x) need OpenSSL 3's legacy provider.
  if (!result.ok && /unsupported|RC2|legacy/i.test(result.stderr)) {
    const legacy = run(true)
    if (legacy.ok) result = legacy
  }
  if (!result.ok) {
    const why = /mac verify|invalid password|password/i.test(result.stderr)
      ? "it is protected by a password (OTA Connect's has none)"
      : /asn1|decod|header|wrong tag|not enough data/i.test(result.stderr)
        ? 'it is not a valid PKCS#12 file'
        : 'openssl could not read it'
    throw fail(zip, `it has no ${SERVER_CA_ENTRY}, and its ${P12_ENTRY} cannot be read: ${why}. Give server-ca instead.`)
  }
  const blocks = readPemBlocks(result.stdout)
  const certificates = 'problem' in blocks ? [] : blocks.filter((block) => block.label === 'CERTIFICATE')
  if (certificates.length === 0) {
    throw fail(zip, `it has no ${SERVER_CA_ENTRY}, and its ${P12_ENTRY} holds no CA certificate (only the client certificate). Give server-ca instead.`)
  }
  for (const block of certificates) {
    try {
      new X509Certificate(block.der)
    } catch (error) {
      throw fail(zip, `a CA certificate in its ${P12_ENTRY} is not a valid X.509 certificate (${messageOf(error)}).`)
    }
  }
  return certificates.map((block) => toPem('CERTIFICATE', block.der)).join('')
}
